//! Julia escape counts, several vectors of pixels at a time.
//!
//! Each lane performs exactly the operations of [`crate::kernels::julia::escape_count`]
//! (no FMA), so the counts equal the scalar reference's in both precisions. A lane that
//! escapes keeps its last z and stops counting; a vector whose lanes have all escaped hands
//! its counts over and takes the row's next pixels, while the others go on (measured on the
//! book's grid in docs/performance.md: 57–62 % of one core's no-FMA peak in f64).

use ndarray::Array2;
use pulp::{Simd as Isa, WithSimd};

use crate::error::Result;
use crate::interrupt::Watch;
use crate::kernels::julia::JuliaParams;
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
    crate::kernels::julia::counts_row_major(params, |out, watch| {
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
    let mut row = Row::new(s, xs, y, c);
    let mut flight = Flight::<T, S>::empty(&row);
    for v in 0..IN_FLIGHT {
        row.refill(&mut flight, v, 0);
    }
    let cap = u64::from(max_iter);
    let mut clock = 0u64;
    while flight.first.iter().any(|&f| f != DONE) {
        // No vector runs past the cap: the block ends at the first one to reach it.
        let block = (0..IN_FLIGHT)
            .filter(|&v| flight.first[v] != DONE)
            .map(|v| cap - (clock - flight.loaded[v]))
            .fold(u64::from(BLOCK), u64::min);
        for _ in 0..block {
            clock += 1;
            row.iterate(&mut flight, clock);
        }
        for v in 0..IN_FLIGHT {
            let first = flight.first[v];
            let running = T::mask_any(s, flight.active[v]) && clock - flight.loaded[v] < cap;
            if first == DONE || running {
                continue;
            }
            let end = out.len().min(first + row.lanes);
            let counts = T::counts_since(s, flight.last_inside[v], flight.loaded[v]);
            T::store_counts::<S>(counts, &mut out[first..end]);
            row.refill(&mut flight, v, clock);
        }
    }
}

/// A vector's first pixel when it has none left to take.
const DONE: usize = usize::MAX;

/// One row's constants, and the next pixel a vector will take.
struct Row<'a, T: SimdReal, S: Isa> {
    s: S,
    xs: &'a [T],
    y: T,
    lanes: usize,
    four: T::V<S>,
    c_re: T::V<S>,
    c_im: T::V<S>,
    next: usize,
}

/// The vectors in flight: each one's orbit and which lanes still iterate, the clock when
/// its pixels were loaded, the reading of each lane's last iteration inside the disk, and
/// the row's pixel of its lane 0 ([`DONE`]: none left).
struct Flight<T: SimdReal, S: Isa> {
    re: [T::V<S>; IN_FLIGHT],
    im: [T::V<S>; IN_FLIGHT],
    active: [T::M<S>; IN_FLIGHT],
    loaded: [u64; IN_FLIGHT],
    last_inside: [T::Counts<S>; IN_FLIGHT],
    first: [usize; IN_FLIGHT],
}

impl<T: SimdReal, S: Isa> Flight<T, S> {
    #[inline(always)]
    fn empty(row: &Row<'_, T, S>) -> Self {
        let s = row.s;
        Flight {
            re: [row.four; IN_FLIGHT],
            im: [T::splat(s, row.y); IN_FLIGHT],
            active: [T::vless_than(s, row.four, row.four); IN_FLIGHT],
            loaded: [0; IN_FLIGHT],
            last_inside: [T::splat_counts(s, 0); IN_FLIGHT],
            first: [DONE; IN_FLIGHT],
        }
    }
}

impl<'a, T: SimdReal, S: Isa> Row<'a, T, S> {
    #[inline(always)]
    fn new(s: S, xs: &'a [T], y: T, c: (T, T)) -> Self {
        Row {
            s,
            xs,
            y,
            lanes: T::lanes::<S>(),
            four: T::splat(s, T::from_f64(4.0)),
            c_re: T::splat(s, c.0),
            c_im: T::splat(s, c.1),
            next: 0,
        }
    }

    /// Vector `v` starts afresh at `clock` on the row's next pixels, or is done. Lanes past
    /// the row's end start at 4 + 0i, which escapes before the first iteration (|z|² = 16):
    /// they neither count nor keep a vector alive.
    #[inline(always)]
    fn refill(&mut self, flight: &mut Flight<T, S>, v: usize, clock: u64) {
        let s = self.s;
        flight.loaded[v] = clock;
        flight.last_inside[v] = T::splat_counts(s, clock);
        flight.im[v] = T::splat(s, self.y);
        if self.next >= self.xs.len() {
            flight.re[v] = self.four;
            flight.active[v] = T::vless_than(s, self.four, self.four);
            flight.first[v] = DONE;
            return;
        }
        let part = &self.xs[self.next..self.xs.len().min(self.next + self.lanes)];
        flight.re[v] = if part.len() == self.lanes {
            load::<T, S>(part)
        } else {
            let mut padded = [T::from_f64(4.0); MAX_LANES];
            padded[..part.len()].copy_from_slice(part);
            load::<T, S>(&padded)
        };
        flight.active[v] = T::vless_than(s, T::splat(s, T::zero()), self.four);
        flight.first[v] = self.next;
        self.next += self.lanes;
    }

    /// Iteration `clock` of every vector in flight: the reference's arithmetic, lane by
    /// lane, on the lanes still inside the disk.
    #[inline(always)]
    fn iterate(&self, flight: &mut Flight<T, S>, clock: u64) {
        let s = self.s;
        let now = T::splat_counts(s, clock);
        for v in 0..IN_FLIGHT {
            let (re, im) = (flight.re[v], flight.im[v]);
            let re2 = T::vmul(s, re, re);
            let im2 = T::vmul(s, im, im);
            // A lane that escaped keeps its last z (below), whose |z|² ≥ 4: the test alone
            // says whether it is still iterating, and an orbit that would come back inside
            // the disk cannot count again.
            let active = T::vless_than(s, T::vadd(s, re2, im2), self.four);
            flight.active[v] = active;
            flight.last_inside[v] = T::mark(s, flight.last_inside[v], now, active);
            // re·im and im·re are the same number (IEEE multiplication commutes): one
            // product, added to itself, gives the reference's bits.
            let re_im = T::vmul(s, re, im);
            let new_re = T::vadd(s, T::vsub(s, re2, im2), self.c_re);
            let new_im = T::vadd(s, T::vadd(s, re_im, re_im), self.c_im);
            flight.re[v] = T::vselect(s, active, new_re, re);
            flight.im[v] = T::vselect(s, active, new_im, im);
        }
    }
}
