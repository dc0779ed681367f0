//! Norms as a pairwise tree over vectorised leaves.
//!
//! A leaf sums `LEAF_PER_LANE` elements per lane sequentially in each of `ACCUMULATORS`
//! independent registers (so the adds pipeline), then combines them pairwise; leaves are
//! combined by recursive halving. The error bound is that of the scalar reference's pairwise sum. The
//! tree's shape depends only on the length and the lane count, never on threads: the rayon
//! backend forks the same tree's top levels and gets the same bits.

use ndarray::ArrayView1;
use pulp::{Simd as Isa, WithSimd};

use crate::error::Result;
use crate::interrupt::Watch;
use crate::kernels::norm::{NormKind, Partial, Pass, max_magnitude, norm_from_passes};
use crate::simd::element::{SimdReal, prefetch};
use crate::simd::isa::Level;

/// The SIMD backend's norm: the whole tree on one core, at `level`.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if a strided view's contiguous copy cannot be allocated.
pub(crate) fn norm<T: SimdReal>(level: Level, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
    let x = crate::kernels::norm::contiguous(&v)?;
    Reducer::new(level, false, size_of_val(&x[..])).norm(&x, kind)
}

/// Independent accumulators per leaf: enough chains of adds in flight to keep two vector
/// units busy whatever their latency (4 measured slower on an AVX-512 core).
const ACCUMULATORS: usize = 8;

/// Elements each lane of each accumulator adds in sequence: the pairwise base case,
/// as in [`super::PAIRWISE_BLOCK`].
const LEAF_PER_LANE: usize = 32;

/// How far ahead of its loads a leaf prefetches: a leaf's length in f64 on AVX-512, which
/// lifted one core's reads of a 10⁷-element vector from ~21 to ~28 GB/s (4 KiB ahead
/// measured a little slower, 64 KiB too; a non-temporal hint 4× slower).
const PREFETCH_BYTES: usize = 16 << 10;

/// Vectors from this size on are prefetched: beyond the last-level cache of most cores,
/// where they stream from memory. Below, the data is in cache and the prefetches only take
/// load slots: without them two cores read a 10⁶-element f64 vector 10-15 % faster and one
/// core 10⁵ elements 15 % faster, while from 3·10⁷ on they are worth 7-10 % (2026-12-07,
/// 2-vCPU AMD EPYC, the rayon backend against `np.dot` in one process, the threshold
/// switched between calls by a temporary build).
const PREFETCH_FROM_BYTES: usize = 32 << 20;

/// The cache line of every x86-64 and ARM64 core hpnum targets.
const CACHE_LINE: usize = 64;

/// Below this many elements a subtree is not worth a rayon task.
const PARALLEL_GRAIN: usize = 1 << 16;

struct Leaf<'a, T> {
    x: &'a [T],
    pass: Pass<T>,
    prefetching: bool,
}

/// `ACCUMULATORS` registers combined pairwise into one.
#[inline(always)]
fn pairwise<T: SimdReal, S: Isa>(
    s: S,
    v: [T::V<S>; ACCUMULATORS],
    op: impl Fn(T::V<S>, T::V<S>) -> T::V<S>,
) -> T::V<S> {
    let _ = s;
    let quarters = [
        op(v[0], v[1]),
        op(v[2], v[3]),
        op(v[4], v[5]),
        op(v[6], v[7]),
    ];
    op(op(quarters[0], quarters[1]), op(quarters[2], quarters[3]))
}

/// Folds `step` over `head` in `ACCUMULATORS` independent registers (register `k` takes
/// the elements `k`, `k + ACCUMULATORS`, …): the leaves' one loop, each pass's step
/// inlined into it, prefetching `PREFETCH_BYTES` ahead when `prefetching`.
#[inline(always)]
fn fold<T: SimdReal, S: Isa, A: Copy>(
    head: &[T::V<S>],
    prefetching: bool,
    init: A,
    step: impl Fn(A, T::V<S>) -> A,
) -> [A; ACCUMULATORS] {
    let mut acc = [init; ACCUMULATORS];
    let mut chunks = head.chunks_exact(ACCUMULATORS);
    for chunk in &mut chunks {
        if prefetching {
            let ahead = chunk.as_ptr().cast::<u8>().wrapping_add(PREFETCH_BYTES);
            for line in (0..size_of_val(chunk)).step_by(CACHE_LINE) {
                prefetch(ahead.wrapping_add(line));
            }
        }
        for k in 0..ACCUMULATORS {
            acc[k] = step(acc[k], chunk[k]);
        }
    }
    for (k, &x) in chunks.remainder().iter().enumerate() {
        acc[k] = step(acc[k], x);
    }
    acc
}

impl<T: SimdReal> WithSimd for Leaf<'_, T> {
    type Output = Partial<T>;

    #[inline(always)]
    fn with_simd<S: Isa>(self, s: S) -> Partial<T> {
        let (head, tail) = T::as_simd::<S>(self.x);
        let zero = T::splat(s, T::zero());
        let add = |a, b| T::vadd(s, a, b);
        let max = |a, b| T::vmax(s, a, b);
        let sum_of = |acc: [T::V<S>; ACCUMULATORS]| T::reduce_sum(s, pairwise::<T, S>(s, acc, add));
        let largest_of = |acc| T::reduce_max(s, pairwise::<T, S>(s, acc, max));
        let mut partial = Partial::empty();
        match self.pass {
            Pass::SumOfMagnitudes => {
                let acc = fold::<T, S, _>(head, self.prefetching, zero, |acc, x| {
                    T::vadd(s, acc, T::vabs(s, x))
                });
                partial.sum = sum_of(acc);
            }
            Pass::SumOfSquares => {
                // Fused: one instruction per register, which is what bounds a pass over a
                // vector in cache (the products' rounding is the tree's own business).
                let acc = fold::<T, S, _>(head, self.prefetching, zero, |acc, x| {
                    T::vmul_add(s, x, x, acc)
                });
                partial.sum = sum_of(acc);
            }
            Pass::SumOfScaledSquares(scale) => {
                let scale = T::splat(s, scale);
                let acc = fold::<T, S, _>(head, self.prefetching, zero, |acc, x| {
                    let y = T::vdiv(s, x, scale);
                    T::vmul_add(s, y, y, acc)
                });
                partial.sum = sum_of(acc);
            }
            Pass::LargestMagnitude => {
                let none = T::vless_than(s, zero, zero);
                let acc =
                    fold::<T, S, _>(head, self.prefetching, (zero, none), |(largest, nan), x| {
                        (
                            T::vmax(s, largest, T::vabs(s, x)),
                            T::mask_or(s, nan, T::vis_nan(s, x)),
                        )
                    });
                partial.largest = largest_of(acc.map(|a| a.0));
                partial.nan = acc.iter().any(|a| T::mask_any(s, a.1));
            }
        }
        for &x in tail {
            match self.pass {
                Pass::SumOfMagnitudes => partial.sum = partial.sum + x.abs(),
                Pass::SumOfSquares => partial.sum = partial.sum + x * x,
                Pass::SumOfScaledSquares(scale) => {
                    partial.sum = partial.sum + (x / scale) * (x / scale)
                }
                Pass::LargestMagnitude => {
                    partial.largest = max_magnitude(partial.largest, x);
                    partial.nan |= x.is_nan();
                }
            }
        }
        partial
    }
}

/// Reductions over one contiguous slice on one SIMD level, optionally on rayon's pool.
#[derive(Clone, Copy)]
pub(crate) struct Reducer {
    pub level: Level,
    pub parallel: bool,
    /// Whether leaves prefetch ahead of their loads: for vectors that stream from memory.
    pub prefetching: bool,
    /// Leaves are skipped once it says so, and the norm is then an error.
    pub watch: Watch,
}

impl Reducer {
    /// A reducer for a vector of `bytes` bytes, prefetching where it streams from memory.
    pub(crate) fn new(level: Level, parallel: bool, bytes: usize) -> Self {
        Reducer {
            level,
            parallel,
            prefetching: bytes >= PREFETCH_FROM_BYTES,
            watch: Watch::start(),
        }
    }

    /// The partial of `pass` over `x`, a node of the tree whose leaves have `leaf_len`
    /// elements: halves recursively, forked on rayon's pool when `parallel`.
    pub(crate) fn tree<T: SimdReal>(self, x: &[T], pass: Pass<T>, leaf_len: usize) -> Partial<T> {
        if x.len() <= leaf_len {
            if self.watch.interrupted() {
                return Partial::empty();
            }
            return self.level.dispatch(Leaf {
                x,
                pass,
                prefetching: self.prefetching,
            });
        }
        let (left, right) = x.split_at(x.len() / 2);
        let (a, b) = if self.parallel && x.len() > PARALLEL_GRAIN {
            rayon::join(
                || self.tree(left, pass, leaf_len),
                || self.tree(right, pass, leaf_len),
            )
        } else {
            (
                self.tree(left, pass, leaf_len),
                self.tree(right, pass, leaf_len),
            )
        };
        a.combine(b)
    }

    /// The norm `kind` of `x`, with the semantics of [`crate::kernels::norm`].
    ///
    /// # Errors
    /// [`crate::Error::Interrupted`] when a stop was asked for meanwhile.
    pub(crate) fn norm<T: SimdReal>(self, x: &[T], kind: NormKind) -> Result<T> {
        let value = self.norm_unchecked(x, kind);
        self.watch.check()?;
        Ok(value)
    }

    fn norm_unchecked<T: SimdReal>(self, x: &[T], kind: NormKind) -> T {
        let leaf_len = leaf_len::<T>(self.level);
        let result: Result<T, std::convert::Infallible> =
            norm_from_passes(kind, |pass| Ok(self.tree(x, pass, leaf_len)));
        match result {
            Ok(norm) => norm,
            Err(never) => match never {},
        }
    }
}

/// Elements of `T` in one leaf of the tree at `level`: the tree's shape is
/// [`crate::kernels::norm::pairwise_sum`]'s with this many elements at the bottom.
pub(crate) fn leaf_len<T: SimdReal>(level: Level) -> usize {
    LEAF_PER_LANE * ACCUMULATORS * level.dispatch(LaneCount::<T>(std::marker::PhantomData))
}

/// The lane count of `T` on a level, as an operation so that it can be dispatched.
struct LaneCount<T>(std::marker::PhantomData<T>);

impl<T: SimdReal> WithSimd for LaneCount<T> {
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: Isa>(self, _: S) -> usize {
        T::lanes::<S>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::simd::Simd;

    #[test]
    fn a_stop_skips_the_leaves_and_is_an_error() {
        let x = vec![1.0f64; 100_000];
        for parallel in [false, true] {
            let reducer = |watch| Reducer {
                watch,
                ..Reducer::new(Simd::new().level(), parallel, size_of_val(&x[..]))
            };
            assert_eq!(
                reducer(Watch::start()).norm(&x, NormKind::L1),
                Ok(100_000.0)
            );
            assert_eq!(
                reducer(Watch::stopped()).norm(&x, NormKind::L1),
                Err(crate::error::Error::Interrupted)
            );
        }
    }
}
