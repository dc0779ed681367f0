//! Norms as a pairwise tree over vectorised leaves.
//!
//! A leaf sums `LEAF_PER_LANE` elements per lane sequentially in each of four independent
//! accumulators (so the adds pipeline), then combines them pairwise; leaves are combined by
//! recursive halving. The error bound is that of the scalar reference's pairwise sum. The
//! tree's shape depends only on the length and the lane count, never on threads: the rayon
//! backend forks the same tree's top levels and gets the same bits.

use ndarray::ArrayView1;
use pulp::{Simd as Isa, WithSimd};

use super::{NormKind, l2_from_parts, l2_scaled_by_amax, max_magnitude};
use crate::Result;
use crate::backends::simd::{Level, SimdReal};
use crate::interrupt::Watch;

/// The SIMD backend's norm: the whole tree on one core, at `level`.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if a strided view's contiguous copy cannot be allocated.
pub(crate) fn norm<T: SimdReal>(level: Level, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
    let x = super::contiguous(&v)?;
    Reducer {
        level,
        parallel: false,
        watch: Watch::start(),
    }
    .norm(&x, kind)
}

/// Accumulators per leaf.
const ACCUMULATORS: usize = 4;

/// Elements each lane of each accumulator adds in sequence: the pairwise base case,
/// as in [`crate::kernels::norm::PAIRWISE_BLOCK`].
const LEAF_PER_LANE: usize = 32;

/// Below this many elements a subtree is not worth a rayon task.
const PARALLEL_GRAIN: usize = 1 << 16;

/// What a leaf computes from each register.
#[derive(Clone, Copy)]
enum Summand<T> {
    Abs,
    Square,
    /// (x / scale)², for L2 of vectors whose plain squares overflow or underflow.
    ScaledSquare(T),
}

impl<T: SimdReal> Summand<T> {
    #[inline(always)]
    fn vector<S: Isa>(self, s: S, x: T::V<S>) -> T::V<S> {
        match self {
            Summand::Abs => T::vabs(s, x),
            Summand::Square => T::vmul(s, x, x),
            Summand::ScaledSquare(scale) => {
                let y = T::vdiv(s, x, T::splat(s, scale));
                T::vmul(s, y, y)
            }
        }
    }

    #[inline(always)]
    fn scalar(self, x: T) -> T {
        match self {
            Summand::Abs => x.abs(),
            Summand::Square => x * x,
            Summand::ScaledSquare(scale) => (x / scale) * (x / scale),
        }
    }
}

/// A leaf's result: the sum of summands, and the largest magnitude (non-NaN-sticky; a NaN
/// shows in the sum, or in `nan` for L∞ which has no sum).
#[derive(Clone, Copy)]
struct Partial<T> {
    sum: T,
    amax: T,
    nan: bool,
}

impl<T: SimdReal> Partial<T> {
    fn combine(self, other: Self) -> Self {
        Partial {
            sum: self.sum + other.sum,
            amax: max_magnitude(self.amax, other.amax),
            nan: self.nan || other.nan,
        }
    }
}

struct Leaf<'a, T> {
    x: &'a [T],
    summand: Summand<T>,
    track_max: bool,
}

impl<T: SimdReal> WithSimd for Leaf<'_, T> {
    type Output = Partial<T>;

    #[inline(always)]
    fn with_simd<S: Isa>(self, s: S) -> Partial<T> {
        let (head, tail) = T::as_simd::<S>(self.x);
        let zero = T::splat(s, T::zero());
        let mut sums = [zero; ACCUMULATORS];
        let mut maxes = [zero; ACCUMULATORS];
        let mut nan = T::vless_than(s, zero, zero); // all false
        let mut chunks = head.chunks_exact(ACCUMULATORS);
        for chunk in &mut chunks {
            for k in 0..ACCUMULATORS {
                sums[k] = T::vadd(s, sums[k], self.summand.vector(s, chunk[k]));
                if self.track_max {
                    maxes[k] = T::vmax(s, maxes[k], T::vabs(s, chunk[k]));
                    nan = T::mask_or(s, nan, T::vis_nan(s, chunk[k]));
                }
            }
        }
        for (k, &x) in chunks.remainder().iter().enumerate() {
            sums[k] = T::vadd(s, sums[k], self.summand.vector(s, x));
            if self.track_max {
                maxes[k] = T::vmax(s, maxes[k], T::vabs(s, x));
                nan = T::mask_or(s, nan, T::vis_nan(s, x));
            }
        }
        let sum = T::vadd(
            s,
            T::vadd(s, sums[0], sums[1]),
            T::vadd(s, sums[2], sums[3]),
        );
        let max = T::vmax(
            s,
            T::vmax(s, maxes[0], maxes[1]),
            T::vmax(s, maxes[2], maxes[3]),
        );
        let mut partial = Partial {
            sum: T::reduce_sum(s, sum),
            amax: if self.track_max {
                T::reduce_max(s, max)
            } else {
                T::zero()
            },
            nan: self.track_max && T::mask_any(s, nan),
        };
        for &x in tail {
            partial.sum = partial.sum + self.summand.scalar(x);
            if self.track_max {
                partial.amax = max_magnitude(partial.amax, x);
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
    /// Leaves are skipped once it says so, and the norm is then an error.
    pub watch: Watch,
}

impl Reducer {
    fn tree<T: SimdReal>(
        self,
        x: &[T],
        summand: Summand<T>,
        track_max: bool,
        leaf_len: usize,
    ) -> Partial<T> {
        if x.len() <= leaf_len {
            if self.watch.interrupted() {
                return Partial {
                    sum: T::zero(),
                    amax: T::zero(),
                    nan: false,
                };
            }
            return self.level.dispatch(Leaf {
                x,
                summand,
                track_max,
            });
        }
        let (left, right) = x.split_at(x.len() / 2);
        let (a, b) = if self.parallel && x.len() > PARALLEL_GRAIN {
            rayon::join(
                || self.tree(left, summand, track_max, leaf_len),
                || self.tree(right, summand, track_max, leaf_len),
            )
        } else {
            (
                self.tree(left, summand, track_max, leaf_len),
                self.tree(right, summand, track_max, leaf_len),
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
        let lanes = self
            .level
            .dispatch(LaneCount::<T>(std::marker::PhantomData));
        let leaf_len = LEAF_PER_LANE * ACCUMULATORS * lanes;
        match kind {
            NormKind::L1 => self.tree(x, Summand::Abs, false, leaf_len).sum,
            NormKind::L2Squared => self.tree(x, Summand::Square, false, leaf_len).sum,
            NormKind::LInf => {
                let p = self.tree(x, Summand::Abs, true, leaf_len);
                if p.nan { T::nan() } else { p.amax }
            }
            NormKind::L2 => {
                // One pass gives both the sum of squares and L∞; the scaled second pass runs
                // only when the squares overflowed or underflowed.
                let p = self.tree(x, Summand::Square, true, leaf_len);
                if p.sum.is_nan() {
                    return T::nan();
                }
                l2_from_parts(
                    p.amax,
                    || p.sum,
                    |amax| {
                        let scaled = self.tree(x, Summand::ScaledSquare(amax), false, leaf_len);
                        l2_scaled_by_amax(amax, scaled.sum)
                    },
                )
            }
        }
    }
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
                level: Simd::new().level(),
                parallel,
                watch,
            };
            assert_eq!(
                reducer(Watch::start()).norm(&x, NormKind::L1),
                Ok(100_000.0)
            );
            assert_eq!(
                reducer(Watch::stopped()).norm(&x, NormKind::L1),
                Err(crate::Error::Interrupted)
            );
        }
    }
}
