//! Julia escape counts, several vectors of pixels at a time.
//!
//! Each lane performs exactly the operations of [`crate::kernels::julia::escape_count`]
//! (no FMA), so the counts equal the scalar reference's in both precisions. A lane that
//! escapes keeps its last z and stops counting; a vector whose lanes have all escaped hands
//! its counts over and takes the row's next pixels, while the others go on (measured on the
//! book's grid in docs/performance.md: 57–62 % of one core's no-FMA peak in f64).

use ndarray::Array2;
use pulp::{Simd as Isa, WithSimd};

use super::JuliaParams;
use crate::error::Result;
use crate::interrupt::Watch;
use crate::simd::element::{SimdReal, load};
use crate::simd::isa::Level;

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

/// Iterations every vector in flight takes between two looks at which have finished: the
/// look (and a refill) costs about what an iteration does, and a vector that finished
/// early runs at most this many iterations for nothing (4, 6 and 8 measured alike, 16 and
/// 2 slower).
const BLOCK: u32 = 4;

/// A row's escape counts, `IN_FLIGHT` vectors of pixels at a time. Every [`BLOCK`]
/// iterations, a vector whose lanes have all escaped (or reached the cap) stores its counts
/// and takes the row's next vector, so that the others' long orbits do not keep its lanes
/// idle (four vectors in lockstep left a third of the lanes idle on the book's grid).
///
/// Counting is by clock: `clock` numbers the iterations the row has run, each lane keeps
/// the reading of the last iteration it was still inside the disk, and its count is that
/// reading minus the reading when its pixel was loaded. That is one blend per iteration
/// and vector, where an increment under a mask took two (the loop has eleven instructions
/// of which nine are the reference's arithmetic; measured in docs/performance.md).
#[inline(always)]
fn julia_row<T: SimdReal, S: Isa>(s: S, xs: &[T], y: T, c: (T, T), max_iter: u32, out: &mut [u32]) {
    if max_iter == 0 {
        return; // `out` holds zeros: no pixel iterates
    }
    let lanes = T::lanes::<S>();
    let four = T::splat(s, T::from_f64(4.0));
    let (c_re, c_im) = (T::splat(s, c.0), T::splat(s, c.1));
    let all = T::vless_than(s, T::splat(s, T::zero()), four);
    let none = T::vless_than(s, four, four);
    let done = usize::MAX;
    // Lanes past the row's end start at 4 + 0i, which escapes before the first iteration
    // (|z|² = 16): they neither count nor keep a vector alive.
    let load_at = |first: usize| {
        let part = &xs[first..xs.len().min(first + lanes)];
        if part.len() == lanes {
            load::<T, S>(part)
        } else {
            let mut padded = [T::from_f64(4.0); MAX_LANES];
            padded[..part.len()].copy_from_slice(part);
            load::<T, S>(&padded)
        }
    };
    let mut clock = 0u64;
    let mut re = [four; IN_FLIGHT];
    let mut im = [T::splat(s, y); IN_FLIGHT];
    let mut active = [none; IN_FLIGHT];
    // Per vector: the clock when its pixels were loaded, the reading of each lane's last
    // iteration inside the disk, and the row's pixel of its lane 0 (`done`: none left).
    let mut loaded = [0u64; IN_FLIGHT];
    let mut last_inside = [T::splat_counts(s, 0); IN_FLIGHT];
    let mut first = [done; IN_FLIGHT];
    let mut next = 0;
    for v in 0..IN_FLIGHT {
        if next < xs.len() {
            re[v] = load_at(next);
            active[v] = all;
            first[v] = next;
            next += lanes;
        }
    }
    let cap = u64::from(max_iter);
    while first.iter().any(|&f| f != done) {
        // No vector runs past the cap: the block ends at the first one to reach it.
        let block = (0..IN_FLIGHT)
            .filter(|&v| first[v] != done)
            .map(|v| cap - (clock - loaded[v]))
            .fold(u64::from(BLOCK), u64::min);
        for _ in 0..block {
            clock += 1;
            let now = T::splat_counts(s, clock);
            for v in 0..IN_FLIGHT {
                let re2 = T::vmul(s, re[v], re[v]);
                let im2 = T::vmul(s, im[v], im[v]);
                // A lane that escaped keeps its last z (below), whose |z|² ≥ 4: the test
                // alone says whether it is still iterating, and an orbit that would come
                // back inside the disk cannot count again.
                active[v] = T::vless_than(s, T::vadd(s, re2, im2), four);
                last_inside[v] = T::mark(s, last_inside[v], now, active[v]);
                // re·im and im·re are the same number (IEEE multiplication commutes): one
                // product, added to itself, gives the reference's bits.
                let re_im = T::vmul(s, re[v], im[v]);
                let new_re = T::vadd(s, T::vsub(s, re2, im2), c_re);
                let new_im = T::vadd(s, T::vadd(s, re_im, re_im), c_im);
                re[v] = T::vselect(s, active[v], new_re, re[v]);
                im[v] = T::vselect(s, active[v], new_im, im[v]);
            }
        }
        for v in 0..IN_FLIGHT {
            if first[v] == done || (T::mask_any(s, active[v]) && clock - loaded[v] < cap) {
                continue;
            }
            let end = out.len().min(first[v] + lanes);
            let counts = T::counts_since(s, last_inside[v], loaded[v]);
            T::store_counts::<S>(counts, &mut out[first[v]..end]);
            loaded[v] = clock;
            last_inside[v] = T::splat_counts(s, clock);
            im[v] = T::splat(s, y);
            if next < xs.len() {
                re[v] = load_at(next);
                active[v] = all;
                first[v] = next;
                next += lanes;
            } else {
                re[v] = four;
                active[v] = none;
                first[v] = done;
            }
        }
    }
}
