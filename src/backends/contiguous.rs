//! Row-major working memory for the backends whose kernels need it (SIMD, rayon, GPU):
//! inputs of any layout are used in place when they already are row-major, and copied
//! once per call otherwise, never once per step.

use std::borrow::Cow;

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::kernels::diffusion::{check_scratch, ping_pong};
use crate::{Error, Real, Result, memory};

/// The elements of `v` as one slice. Norms do not depend on element order, so a contiguous
/// view with negative stride is used as it lies in memory; only strided views are copied.
///
/// # Errors
/// [`Error::OutOfMemory`] if a strided view's copy cannot be allocated.
pub(crate) fn norm_input<'a, T: Real>(v: &ArrayView1<'a, T>) -> Result<Cow<'a, [T]>> {
    Ok(match v.to_slice_memory_order() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(memory::collect_vec(
            v.len(),
            v.iter().copied(),
            "contiguous copy of a strided vector",
        )?),
    })
}

/// Runs `steps` steps of `step` (a step on row-major slices) on `grid`, through `scratch`.
/// When `grid` and `scratch` are both row-major they are used directly; otherwise the grid
/// is copied into a row-major buffer (with its own scratch) and the result copied back.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `scratch`'s shape differs from `grid`'s;
/// [`Error::OutOfMemory`] if a non-row-major grid's working copies cannot be allocated.
pub(crate) fn diffuse_row_major<T: Real>(
    mut grid: ArrayViewMut2<'_, T>,
    mut scratch: ArrayViewMut2<'_, T>,
    steps: usize,
    mut step: impl FnMut(&[T], &mut [T]),
) -> Result<()> {
    check_scratch(&grid, &scratch)?;
    if let (Some(g), Some(s)) = (grid.as_slice_mut(), scratch.as_slice_mut()) {
        ping_pong(g, s, steps, &mut step, |g, s| g.copy_from_slice(s));
        return Ok(());
    }
    const WHAT: &str = "row-major copy of a strided grid";
    let mut g = memory::collect_vec(grid.len(), grid.iter().copied(), WHAT)?;
    let mut s = memory::zeroed_vec::<T>(g.len(), WHAT)?;
    ping_pong(&mut g[..], &mut s[..], steps, &mut step, |g, s| {
        g.copy_from_slice(s)
    });
    let result = Array2::from_shape_vec(grid.dim(), g).map_err(|_| shape_error("grid", &grid))?;
    grid.assign(&result);
    Ok(())
}

/// A `rows × cols` array of Julia counts, computed by `fill` into row-major memory.
///
/// # Errors
/// [`Error::OutOfMemory`] if the counts cannot be allocated.
pub(crate) fn julia_counts(
    rows: usize,
    cols: usize,
    fill: impl FnOnce(&mut [u32]),
) -> Result<Array2<u32>> {
    let mut counts = memory::zeroed_array2(rows, cols, "julia counts")?;
    match counts.as_slice_mut() {
        Some(cells) => fill(cells),
        // A fresh array is row-major: unreachable, and an error rather than a panic.
        None => return Err(shape_error("julia counts", &counts.view_mut())),
    }
    Ok(counts)
}

fn shape_error<T>(what: &'static str, a: &ArrayViewMut2<'_, T>) -> Error {
    Error::ShapeMismatch {
        what,
        expected: a.shape().to_vec(),
        found: vec![a.len()],
    }
}
