//! Vector norms (book ch. 6): L1, L2, L∞ and the book's squared L2 (`Σ v²`).
//!
//! Semantics every backend keeps:
//! - sums are pairwise (or better), never a left-to-right loop, whose error grows with n
//!   (on the book's 10⁶-element f32 case the naive loop is off by 1.4e-4, pairwise by 3e-8);
//! - L2 neither overflows nor underflows where the norm itself is representable: when the
//!   plain sum of squares would, the vector is scaled by its largest magnitude first, as
//!   LAPACK's `nrm2` does (the book's `L2Squared` is the plain sum and may overflow);
//! - a NaN anywhere gives NaN, for every kind; otherwise an infinity gives +∞;
//! - the empty vector has norm 0.
//!
//! Every backend's version is here: [`reference()`] (the scalar backend), `simd.rs` (a
//! pairwise tree over vectorised leaves), `rayon.rs` (the same tree, its top levels
//! forked), `gpu.rs` with `norm.wgsl` and its two workgroup reductions (classification by
//! bits on any driver), and `case.rs` (the calls the benchmarks time).
//!
//! ```
//! use hpnum::kernels::norm::book_arange;
//! use hpnum::{Backend, NormKind, Simd};
//!
//! let v = book_arange::<f64>(1_000_000)?;
//! // The book's ‖v‖² of 0 … 10⁶ − 1, exact in f64 by the pairwise tree.
//! assert_eq!(Simd::new().norm(v.view(), NormKind::L2Squared)?, 333_332_833_333_500_000.0);
//! # Ok::<(), hpnum::Error>(())
//! ```

pub(crate) mod case;
#[cfg(feature = "gpu")]
pub(crate) mod gpu;
pub mod parts;
pub(crate) mod rayon;
pub(crate) mod simd;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod tune;

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt::Display;
use std::str::FromStr;

use ndarray::{Array1, ArrayView1, Axis};

use crate::error::{Error, Result};
use crate::kernels::kernel::{DefaultRates, Kernel, KernelInfo, Limit};
use crate::kernels::workload::Workload;
use crate::memory;
use crate::real::Real;

pub(crate) const INFO: KernelInfo = KernelInfo {
    name: "norm",
    size_label: "length",
    unit: "GB/s",
    limit: Limit::ReadBandwidth,
    // Elements per second: measured on a 2-core x86-64 machine (AVX-512); the GPU's is a
    // guess for a mid-range discrete part.
    rates: DefaultRates {
        scalar: 6.0e8,
        simd: 3.0e9,
        rayon_per_thread: 2.2e9,
        // the caller starts alone and wakes a worker (a system call) only from 64 Ki elements.
        rayon_overhead: 2e-6,
        discrete_gpu: 8e10,
    },
    bench_sizes: &[10_000, 1_000_000, 100_000_000],
    sweep: [
        (1_000, 10_000_000, 100),
        (1_000, 100_000_000, 10),
        (1_000, 100_000_000, 10),
    ],
};

impl Workload {
    /// A norm of `len` elements of `T`: `work` is elements, `memory_bytes` and
    /// `transfer_bytes` the vector read once.
    pub fn norm<T: Real>(len: usize) -> Workload {
        let bytes = (len * size_of::<T>()) as f64;
        Workload {
            kernel: Kernel::Norm,
            work: len as f64,
            transfer_bytes: bytes,
            memory_bytes: bytes,
            flops: 0.0,
        }
    }
}

/// The elements of `v` as one slice. Norms do not depend on element order, so a contiguous
/// view with negative stride is used as it lies in memory; only strided views are copied.
///
/// # Errors
/// [`Error::OutOfMemory`] if a strided view's copy cannot be allocated.
pub(crate) fn contiguous<'a, T: Real>(v: &ArrayView1<'a, T>) -> Result<Cow<'a, [T]>> {
    Ok(match v.to_slice_memory_order() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(memory::collect_vec(
            v.len(),
            v.iter().copied(),
            "contiguous copy of a strided vector",
        )?),
    })
}

/// Which norm to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormKind {
    /// Σ |vᵢ|.
    L1,
    /// √(Σ vᵢ²), computed without spurious overflow or underflow.
    L2,
    /// max |vᵢ|.
    LInf,
    /// Σ vᵢ², the book's `norm_squared`; overflows to +∞ when the sum does.
    L2Squared,
}

impl NormKind {
    /// Every kind, in a fixed order (for tests and sweeps).
    pub const ALL: [NormKind; 4] = [
        NormKind::L1,
        NormKind::L2,
        NormKind::LInf,
        NormKind::L2Squared,
    ];

    /// The command-line name: `l1`, `l2`, `linf` or `l2sq`.
    pub fn name(self) -> &'static str {
        match self {
            NormKind::L1 => "l1",
            NormKind::L2 => "l2",
            NormKind::LInf => "linf",
            NormKind::L2Squared => "l2sq",
        }
    }
}

impl Display for NormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NormKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        NormKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::invalid("kind", format!("`{s}` is not one of l1, l2, linf, l2sq"))
            })
    }
}

/// Length of the blocks that [`pairwise_sum`] adds left to right before combining pairwise.
/// Short enough that a block's own rounding error stays near that of the tree above it.
pub const PAIRWISE_BLOCK: usize = 32;

/// Σ f(vᵢ), pairwise: halves are summed recursively down to blocks of at most
/// [`PAIRWISE_BLOCK`] elements. The error bound grows with log₂ n, not n.
pub fn pairwise_sum<T: Real>(v: ArrayView1<'_, T>, f: impl Fn(T) -> T + Copy) -> T {
    if v.len() <= PAIRWISE_BLOCK {
        return v.iter().fold(T::zero(), |acc, &x| acc + f(x));
    }
    let (left, right) = v.split_at(Axis(0), v.len() / 2);
    pairwise_sum(left, f) + pairwise_sum(right, f)
}

/// The fold step of L∞ that keeps NaN once seen: `f32::max` would drop it.
#[inline(always)]
pub fn max_magnitude<T: Real>(acc: T, x: T) -> T {
    let a = x.abs();
    if a > acc || a.is_nan() { a } else { acc }
}

/// Below this largest magnitude, squares lose precision to gradual underflow, and L2 is
/// computed on the scaled vector: √(min_positive / ε) (2⁻⁴⁸⁵ in f64, about 2⁻⁵² in f32).
pub fn l2_underflow_threshold<T: Real>() -> T {
    (T::min_positive_value() / T::epsilon()).sqrt()
}

/// L2 from the vector's L∞ (`amax`) and its plain sum of squares (`sum_sq`, only computed
/// when needed), falling back to `scaled_l2` when the plain sum overflowed or would
/// underflow. `scaled_l2(amax)` computes L2 on the vector scaled by `amax` (or by a power of
/// two near it), where no square can overflow: the CPU backends return
/// `amax · √Σ (vᵢ/amax)²`, the GPU `2ˢ · √Σ (vᵢ·2⁻ˢ)²` with `2ˢ ≤ amax < 2ˢ⁺¹`, built from
/// the bits. Shared by the backends, which differ only in how they sum
/// ([`try_l2_from_parts`] where summing can fail).
pub fn l2_from_parts<T: Real>(
    amax: T,
    sum_sq: impl FnOnce() -> T,
    scaled_l2: impl FnOnce(T) -> T,
) -> T {
    let result: Result<T, Infallible> =
        try_l2_from_parts(amax, || Ok(sum_sq()), |amax| Ok(scaled_l2(amax)));
    match result {
        Ok(l2) => l2,
        Err(never) => match never {},
    }
}

/// [`l2_from_parts`] for sums that can fail (a device's): the first error is returned.
///
/// # Errors
/// What `sum_sq` or `scaled_l2` returns.
pub fn try_l2_from_parts<T: Real, E>(
    amax: T,
    sum_sq: impl FnOnce() -> Result<T, E>,
    scaled_l2: impl FnOnce(T) -> Result<T, E>,
) -> Result<T, E> {
    // NaN, 0 (including the empty vector) and +∞ are their own L2.
    if amax.is_nan() || amax == T::zero() || amax.is_infinite() {
        return Ok(amax);
    }
    if amax >= l2_underflow_threshold::<T>() {
        let s = sum_sq()?;
        if s.is_finite() {
            return Ok(s.sqrt());
        }
    }
    scaled_l2(amax)
}

/// `amax · √Σ (vᵢ/amax)²`, given that sum: each (vᵢ/amax)² ≤ 1, so the sum cannot overflow;
/// the quotient rounds once per element, which costs about one ulp of the result, not the
/// sum's range.
pub fn l2_scaled_by_amax<T: Real>(amax: T, scaled_sum_sq: T) -> T {
    amax * scaled_sum_sq.sqrt()
}

/// What one pass over a vector computes, per element `x`. Every CPU backend's norm is one
/// to three passes ([`norm_from_passes`] says which), each a pairwise tree of [`Partial`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pass<T> {
    /// Σ |x| (L1).
    SumOfMagnitudes,
    /// Σ x² (the book's L2², and L2's plain sum: NaN, an infinity or an overflow show in
    /// the sum, and a sum at or above the underflow threshold's square cannot have lost
    /// precision to squares that underflowed).
    SumOfSquares,
    /// Σ (x / scale)², for L2 of vectors whose plain squares overflow or underflow.
    SumOfScaledSquares(T),
    /// The largest |x| and whether any x is NaN (L∞, and L2's scale).
    LargestMagnitude,
}

/// A pass's result over part of a vector: the sum, the largest magnitude and whether a
/// NaN was seen (only [`Pass::LargestMagnitude`], which has no sum to carry them, tracks
/// those). Two halves' partials [`Partial::combine`]
/// into their whole's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial<T> {
    /// The pass's sum (0 for [`Pass::LargestMagnitude`]).
    pub sum: T,
    /// The largest magnitude ([`Pass::LargestMagnitude`] only).
    pub largest: T,
    /// Whether a NaN was seen ([`Pass::LargestMagnitude`] only).
    pub nan: bool,
}

impl<T: Real> Partial<T> {
    /// The partial of nothing.
    pub fn empty() -> Self {
        Partial {
            sum: T::zero(),
            largest: T::zero(),
            nan: false,
        }
    }

    /// The partial of a left part followed by a right one: the sums added (one node of the
    /// pairwise tree), the largest kept as [`max_magnitude`] keeps it (the later NaN wins, as
    /// in a left-to-right fold, so the combination of parts is the fold's bits).
    #[must_use]
    pub fn combine(self, right: Self) -> Self {
        Partial {
            sum: self.sum + right.sum,
            largest: max_magnitude(self.largest, right.largest),
            nan: self.nan || right.nan,
        }
    }
}

/// The norm `kind` from the passes `run` computes over the whole vector, in order (the one
/// place the CPU backends' L1, L2, L∞ and L2² are decided from their sums): L2 takes the
/// sum of squares and, where it is finite and at least the underflow threshold's square,
/// its root; otherwise L∞ in a second pass and, where the plain sum cannot serve, the
/// scaled sum in a third ([`try_l2_from_parts`]).
///
/// Why the sum alone decides: a square that underflows is off by at most half the
/// smallest subnormal, so n of them move a sum `S ≥ min_positive / ε` by at most
/// `n · 2⁻¹⁰⁷⁵ / S ≤ n · ε²` relatively: nothing, for any n that fits in memory. And
/// `S ≥ max x²` (rounding is monotonic), so the largest square need not be tracked, which
/// leaves one fused multiply-add per element.
///
/// # Errors
/// The first error `run` returns.
pub fn norm_from_passes<T: Real, E>(
    kind: NormKind,
    mut run: impl FnMut(Pass<T>) -> Result<Partial<T>, E>,
) -> Result<T, E> {
    match kind {
        NormKind::L1 => Ok(run(Pass::SumOfMagnitudes)?.sum),
        NormKind::L2Squared => Ok(run(Pass::SumOfSquares)?.sum),
        NormKind::LInf => largest_magnitude(&mut run),
        NormKind::L2 => {
            let p = run(Pass::SumOfSquares)?;
            if p.sum.is_nan() {
                return Ok(T::nan());
            }
            let threshold = l2_underflow_threshold::<T>();
            if p.sum.is_finite() && p.sum >= threshold * threshold {
                return Ok(p.sum.sqrt());
            }
            let amax = largest_magnitude(&mut run)?;
            try_l2_from_parts(
                amax,
                || Ok(p.sum),
                |amax| {
                    Ok(l2_scaled_by_amax(
                        amax,
                        run(Pass::SumOfScaledSquares(amax))?.sum,
                    ))
                },
            )
        }
    }
}

/// The most passes [`norm_from_passes`] takes for `kind`: three for L2 (the sum of
/// squares; where it overflowed or underflowed, L∞; where the plain sum cannot serve, the
/// scaled sum), one for the others. A computation in stages (`hpnum.dask.norm`) plans this
/// many.
pub fn most_passes(kind: NormKind) -> usize {
    match kind {
        NormKind::L2 => 3,
        NormKind::L1 | NormKind::LInf | NormKind::L2Squared => 1,
    }
}

/// L∞ by [`Pass::LargestMagnitude`]: NaN if any element is.
fn largest_magnitude<T: Real, E>(
    run: &mut impl FnMut(Pass<T>) -> Result<Partial<T>, E>,
) -> Result<T, E> {
    let p = run(Pass::LargestMagnitude)?;
    Ok(if p.nan || p.largest.is_nan() {
        T::nan()
    } else {
        p.largest
    })
}

/// Where a norm computed pass by pass stands, given the passes done so far
/// ([`next_pass`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextPass<T> {
    /// This pass is needed next, over the whole vector.
    Run(Pass<T>),
    /// The norm.
    Done(T),
}

/// What a norm computed pass by pass (over parts of the vector held in several places)
/// needs next, given the whole vector's partials of the passes done so far, in order: the
/// decisions of [`norm_from_passes`], replayed, so that the result is the same bits.
pub fn next_pass<T: Real>(kind: NormKind, done: &[Partial<T>]) -> NextPass<T> {
    let mut given = done.iter();
    match norm_from_passes(kind, |pass| given.next().copied().ok_or(pass)) {
        Ok(norm) => NextPass::Done(norm),
        Err(pass) => NextPass::Run(pass),
    }
}

/// The scalar reference's partial of one pass over `v` (any stride): sums by
/// [`pairwise_sum`], the largest magnitude by a left-to-right fold.
pub fn reference_partial<T: Real>(v: ArrayView1<'_, T>, pass: Pass<T>) -> Partial<T> {
    match pass {
        Pass::SumOfMagnitudes => Partial {
            sum: pairwise_sum(v, |x| x.abs()),
            ..Partial::empty()
        },
        Pass::SumOfSquares => Partial {
            sum: pairwise_sum(v, |x| x * x),
            ..Partial::empty()
        },
        Pass::SumOfScaledSquares(scale) => Partial {
            sum: pairwise_sum(v, |x| {
                let y = x / scale;
                y * y
            }),
            ..Partial::empty()
        },
        Pass::LargestMagnitude => {
            let largest = v.iter().fold(T::zero(), |acc, &x| max_magnitude(acc, x));
            Partial {
                sum: T::zero(),
                largest,
                nan: largest.is_nan(),
            }
        }
    }
}

/// The scalar reference for every [`NormKind`], on a view of any stride: the passes of
/// [`norm_from_passes`], each by [`reference_partial`].
pub fn reference<T: Real>(v: ArrayView1<'_, T>, kind: NormKind) -> T {
    let result: Result<T, Infallible> =
        norm_from_passes(kind, |pass| Ok(reference_partial(v, pass)));
    match result {
        Ok(norm) => norm,
        Err(never) => match never {},
    }
}

/// The book's vector: `0, 1, …, n−1` (exact in `T` up to 2²⁴ for f32, 2⁵³ for f64).
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if `n` elements cannot be allocated.
pub fn book_arange<T: Real>(n: usize) -> Result<Array1<T>> {
    memory::collect_array1(n, (0..n).map(|i| T::from_f64(i as f64)), "vector")
}

/// The reference's portable pseudo-random vector, reproducible in any language:
/// `s ← s·6364136223846793005 + 1442695040888963407 (mod 2⁶⁴)`, `k = (s >> 40) − 2²³`,
/// `x = k·2⁻²³`, exact in f32 and f64, in [−1, 1). The reference README gives its norms for
/// `seed = 12345` ([`LCG_SEED`]), `n = 10⁶`.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if `n` elements cannot be allocated.
pub fn lcg_vector<T: Real>(n: usize, seed: u64) -> Result<Array1<T>> {
    let mut state = seed;
    let values = (0..n).map(move |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let k = (state >> 40) as i64 - (1 << 23);
        T::from_f64(k as f64 / f64::from(1u32 << 23))
    });
    memory::collect_array1(n, values, "vector")
}

/// The seed of the reference's LCG vector.
pub const LCG_SEED: u64 = 12345;

#[cfg(test)]
mod tests {
    use ndarray::arr1;

    use super::*;

    #[test]
    fn l2_survives_overflow_and_underflow_of_squares() {
        let huge = arr1(&[3e300f64, 4e300]);
        assert_eq!(reference(huge.view(), NormKind::L2), 5e300);
        assert_eq!(reference(huge.view(), NormKind::L2Squared), f64::INFINITY);
        let tiny = arr1(&[3e-300f64, 4e-300]);
        let l2 = reference(tiny.view(), NormKind::L2);
        assert!((l2 / 5e-300 - 1.0).abs() < 4.0 * f64::EPSILON, "{l2}");
        let sub = arr1(&[3e-45f32, 4e-45]); // subnormal f32: 2 and 3 ulps of 0
        assert!(reference(sub.view(), NormKind::L2) > 0.0);
    }

    #[test]
    fn most_passes_is_what_the_longest_path_takes() {
        // Each pass's partial as the worst case gives it: a sum of squares that overflowed,
        // then a finite largest magnitude, then the scaled sum.
        let worst = [
            Partial {
                sum: f64::INFINITY,
                ..Partial::empty()
            },
            Partial {
                largest: 1e300,
                ..Partial::empty()
            },
            Partial {
                sum: 2.0,
                ..Partial::empty()
            },
        ];
        for kind in NormKind::ALL {
            let mut done = Vec::new();
            while let NextPass::Run(_) = next_pass(kind, &done) {
                done.push(worst[done.len()]);
            }
            assert_eq!(done.len(), most_passes(kind), "{kind}");
        }
    }

    #[test]
    fn nan_is_sticky_for_linf_wherever_it_is() {
        for pos in 0..3 {
            let mut v = arr1(&[1.0f32, f32::INFINITY, 2.0]);
            v[pos] = f32::NAN;
            for kind in NormKind::ALL {
                assert!(
                    reference(v.view(), kind).is_nan(),
                    "{kind} with NaN at {pos}"
                );
            }
        }
    }
}
