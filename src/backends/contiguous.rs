//! Row-major working memory for the backends whose kernels need it (SIMD, rayon, GPU):
//! inputs of any layout are used in place when they already are row-major, and copied
//! once per call otherwise, never once per step.

use std::borrow::Cow;

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::kernels::diffusion::{check_scratch, ping_pong};
use crate::{Error, Real, Result};

/// The elements of `v` as one slice. Norms do not depend on element order, so a contiguous
/// view with negative stride is used as it lies in memory; only strided views are copied.
pub(crate) fn norm_input<'a, T: Real>(v: &ArrayView1<'a, T>) -> Cow<'a, [T]> {
    match v.to_slice_memory_order() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(v.iter().copied().collect()),
    }
}

/// Runs `steps` steps of `step` (a step on row-major slices) on `grid`, through `scratch`.
/// When `grid` and `scratch` are both row-major they are used directly; otherwise the grid
/// is copied into a row-major buffer (with its own scratch) and the result copied back.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `scratch`'s shape differs from `grid`'s.
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
    let mut g: Vec<T> = grid.iter().copied().collect();
    let mut s = vec![T::zero(); g.len()];
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
/// [`Error::InvalidParameter`] if `rows × cols` overflows the address space.
pub(crate) fn julia_counts(
    rows: usize,
    cols: usize,
    fill: impl FnOnce(&mut [u32]),
) -> Result<Array2<u32>> {
    let len = rows.checked_mul(cols).ok_or_else(|| {
        Error::invalid(
            "xs, ys",
            format!("a {rows} × {cols} grid overflows the address space"),
        )
    })?;
    let mut counts = vec![0u32; len];
    fill(&mut counts);
    Array2::from_shape_vec((rows, cols), counts).map_err(|_| Error::ShapeMismatch {
        what: "julia counts",
        expected: vec![rows, cols],
        found: vec![len],
    })
}

fn shape_error<T>(what: &'static str, a: &ArrayViewMut2<'_, T>) -> Error {
    Error::ShapeMismatch {
        what,
        expected: a.shape().to_vec(),
        found: vec![a.len()],
    }
}
