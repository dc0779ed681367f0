//! Julia escape counts, several vectors of pixels at a time.
//!
//! Each lane performs exactly the operations of [`crate::kernels::julia::escape_count`]
//! (no FMA), so the counts equal the scalar reference's in both precisions. A lane that
//! escapes stops counting; the row chunk stops once every lane of every vector has escaped.

use ndarray::Array2;
use pulp::{Simd as Isa, WithSimd};

use super::JuliaParams;
use crate::Result;
use crate::backends::simd::{Level, SimdReal, load};
use crate::interrupt::Watch;

/// Independent vectors iterated together: each iteration is a chain of three dependent
/// floating-point operations, so several chains in flight keep the FP units busy.
const IN_FLIGHT: usize = 4;

/// Most lanes of any level (16 f32 lanes in AVX-512), for the padded tail buffer.
const MAX_LANES: usize = 16;

/// The SIMD backend's Julia: every row on one core, at `level`.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if the counts cannot be allocated.
pub(crate) fn counts<T: SimdReal>(level: Level, params: &JuliaParams<T>) -> Result<Array2<u32>> {
    super::counts_row_major(params, |out, watch| {
        level.dispatch(JuliaRows {
            xs: params.xs(),
            ys: params.ys(),
            c: params.c(),
            max_iter: params.max_iter(),
            out,
            watch,
        })
    })
}

/// Escape counts for rows of one Julia computation: `out` holds whole rows, the first of
/// which has imaginary part `ys[0]`.
pub(crate) struct JuliaRows<'a, T> {
    pub xs: &'a [T],
    pub ys: &'a [T],
    pub c: (T, T),
    pub max_iter: u32,
    pub out: &'a mut [u32],
    /// Rows stop being computed once it says so.
    pub watch: Watch,
}

impl<T: SimdReal> WithSimd for JuliaRows<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Isa>(self, s: S) {
        let cols = self.xs.len();
        if cols == 0 {
            return;
        }
        for (row, &y) in self.out.chunks_exact_mut(cols).zip(self.ys) {
            if self.watch.interrupted() {
                return;
            }
            julia_row(s, self.xs, y, self.c, self.max_iter, row);
        }
    }
}

#[inline(always)]
fn julia_row<T: SimdReal, S: Isa>(s: S, xs: &[T], y: T, c: (T, T), max_iter: u32, out: &mut [u32]) {
    let lanes = T::lanes::<S>();
    let four = T::splat(s, T::from_f64(4.0));
    let (c_re, c_im) = (T::splat(s, c.0), T::splat(s, c.1));
    let all = T::vless_than(s, T::splat(s, T::zero()), four);
    // Tail lanes start at 4 + 0i, which escapes before the first iteration (|z|² = 16), so
    // they neither count nor keep the chunk alive.
    let mut padded = [T::from_f64(4.0); MAX_LANES];

    for (xs, out) in xs
        .chunks(lanes * IN_FLIGHT)
        .zip(out.chunks_mut(lanes * IN_FLIGHT))
    {
        let mut re = [T::splat(s, T::zero()); IN_FLIGHT];
        for (v, re) in re.iter_mut().enumerate() {
            let start = (v * lanes).min(xs.len());
            let part = &xs[start..xs.len().min(start + lanes)];
            *re = if part.len() == lanes {
                load::<T, S>(part)
            } else {
                padded[..lanes].fill(T::from_f64(4.0));
                padded[..part.len()].copy_from_slice(part);
                load::<T, S>(&padded)
            };
        }
        let mut im = [T::splat(s, y); IN_FLIGHT];
        let mut active = [all; IN_FLIGHT];
        let mut counts = [T::zero_counts(s); IN_FLIGHT];

        for _ in 0..max_iter {
            let mut any = T::vless_than(s, four, four); // all false
            for v in 0..IN_FLIGHT {
                let re2 = T::vmul(s, re[v], re[v]);
                let im2 = T::vmul(s, im[v], im[v]);
                active[v] = T::mask_and(s, active[v], T::vless_than(s, T::vadd(s, re2, im2), four));
                counts[v] = T::count(s, counts[v], active[v]);
                any = T::mask_or(s, any, active[v]);
                let re_im = T::vmul(s, re[v], im[v]);
                let im_re = T::vmul(s, im[v], re[v]);
                re[v] = T::vadd(s, T::vsub(s, re2, im2), c_re);
                im[v] = T::vadd(s, T::vadd(s, re_im, im_re), c_im);
            }
            if !T::mask_any(s, any) {
                break;
            }
        }
        for (v, counts) in counts.iter().enumerate() {
            let start = (v * lanes).min(out.len());
            let end = out.len().min(start + lanes);
            T::store_counts::<S>(*counts, &mut out[start..end]);
        }
    }
}
