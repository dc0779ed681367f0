//! One diffusion step, a row at a time, vectorised along the row.
//!
//! Interior cells of a row take their left and right neighbours from unaligned loads one
//! element either side; the first and last cell of each row wrap around and go through the
//! scalar [`cell`]. Every lane performs the reference's operations in the reference's
//! order, so the result equals [`crate::kernels::diffusion::reference_step`] bit for bit.
//! Each output row reads three input rows that stay in cache between consecutive rows, so
//! a step streams the grid from memory once.

use ndarray::ArrayViewMut2;
use pulp::{Simd as Isa, WithSimd};

use crate::error::Result;
use crate::kernels::diffusion::{DiffusionParams, cell};
use crate::simd::element::{SimdReal, load, store};
use crate::simd::isa::Level;

/// The SIMD backend's diffusion: every step on one core, at `level`.
///
/// # Errors
/// As [`crate::Backend::diffuse`].
pub(crate) fn diffuse<T: SimdReal>(
    level: Level,
    grid: ArrayViewMut2<'_, T>,
    scratch: ArrayViewMut2<'_, T>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> Result<()> {
    let (rows, cols) = grid.dim();
    let coefficient = params.coefficient();
    crate::kernels::diffusion::diffuse_row_major(grid, scratch, steps, |src, dst| {
        level.dispatch(StepRows {
            src,
            dst,
            rows,
            cols,
            first_row: 0,
            coefficient,
        })
    })
}

/// One step for a band of output rows of a row-major `rows × cols` grid: `dst` holds the
/// band's rows, starting at row `first_row` of the grid; `src` is the whole input grid.
pub(crate) struct StepRows<'a, T> {
    pub src: &'a [T],
    pub dst: &'a mut [T],
    pub rows: usize,
    pub cols: usize,
    pub first_row: usize,
    pub coefficient: T,
}

impl<T: SimdReal> WithSimd for StepRows<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Isa>(self, s: S) {
        let StepRows {
            src,
            dst,
            rows,
            cols,
            first_row,
            coefficient,
        } = self;
        if cols == 0 {
            return;
        }
        let row = |i: usize| &src[i * cols..(i + 1) * cols];
        for (offset, out) in dst.chunks_exact_mut(cols).enumerate() {
            let i = first_row + offset;
            let (up, down) = ((i + rows - 1) % rows, (i + 1) % rows);
            step_row(s, row(up), row(i), row(down), out, coefficient);
        }
    }
}

#[inline(always)]
fn step_row<T: SimdReal, S: Isa>(
    s: S,
    up: &[T],
    mid: &[T],
    down: &[T],
    out: &mut [T],
    coefficient: T,
) {
    let cols = mid.len();
    let lanes = T::lanes::<S>();
    let scalar = |j: usize| {
        let (left, right) = ((j + cols - 1) % cols, (j + 1) % cols);
        cell(mid[j], up[j], down[j], mid[left], mid[right], coefficient)
    };
    out[0] = scalar(0);
    if cols == 1 {
        return;
    }
    out[cols - 1] = scalar(cols - 1);

    let minus_four = T::splat(s, T::from_f64(-4.0));
    let factor = T::splat(s, coefficient);
    let mut j = 1;
    while j + lanes < cols {
        let g = load::<T, S>(&mid[j..]);
        let mut t = T::vmul(s, minus_four, g);
        t = T::vadd(s, t, load::<T, S>(&up[j..]));
        t = T::vadd(s, t, load::<T, S>(&down[j..]));
        t = T::vadd(s, t, load::<T, S>(&mid[j - 1..]));
        t = T::vadd(s, t, load::<T, S>(&mid[j + 1..]));
        t = T::vmul(s, t, factor);
        store::<T, S>(&mut out[j..], T::vadd(s, t, g));
        j += lanes;
    }
    for (j, o) in out.iter_mut().enumerate().take(cols - 1).skip(j) {
        *o = scalar(j);
    }
}
