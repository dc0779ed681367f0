//! `f32` and `f64` as SIMD lanes: one trait over pulp's type-suffixed operations
//! (`add_f32s`, `add_f64s`, …), so each kernel is written once, generic over both the
//! element type and the instruction set.

use bytemuck::Pod;
use pulp::Simd as Isa;

use crate::real::Real;

/// An element type with a vector form on every pulp instruction set.
pub(crate) trait SimdReal: Real + Pod {
    /// A register of lanes.
    type V<S: Isa>: Copy + Pod;
    /// A lane mask from a comparison.
    type M<S: Isa>: Copy;
    /// Per-lane iteration counters (u32 lanes for f32, u64 lanes for f64: same width).
    type Counts<S: Isa>: Copy + Pod;

    fn lanes<S: Isa>() -> usize;
    fn splat<S: Isa>(s: S, x: Self) -> Self::V<S>;
    fn vadd<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    fn vsub<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    fn vmul<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    fn vdiv<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    fn vabs<S: Isa>(s: S, a: Self::V<S>) -> Self::V<S>;
    /// Lane-wise maximum; which operand a NaN lane yields differs by instruction set, so
    /// callers track NaN themselves ([`SimdReal::is_nan`]).
    fn vmax<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    fn vless_than<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S>;
    /// `if_true` in the lanes set in `mask`, `if_false` in the others.
    fn vselect<S: Isa>(
        s: S,
        mask: Self::M<S>,
        if_true: Self::V<S>,
        if_false: Self::V<S>,
    ) -> Self::V<S>;
    /// `a · b + c`, fused where the instruction set has it (one rounding), else two
    /// roundings: for sums whose order is not promised bit for bit (the norms).
    fn vmul_add<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    fn vis_nan<S: Isa>(s: S, a: Self::V<S>) -> Self::M<S>;
    fn mask_or<S: Isa>(s: S, a: Self::M<S>, b: Self::M<S>) -> Self::M<S>;
    fn mask_any<S: Isa>(s: S, m: Self::M<S>) -> bool;
    fn reduce_sum<S: Isa>(s: S, a: Self::V<S>) -> Self;
    fn reduce_max<S: Isa>(s: S, a: Self::V<S>) -> Self;
    fn as_simd<S: Isa>(slice: &[Self]) -> (&[Self::V<S>], &[Self]);

    /// Every counter `n` (modulo the lanes' width: counters are clock readings that wrap).
    fn splat_counts<S: Isa>(s: S, n: u64) -> Self::Counts<S>;
    /// `now` in the lanes set in `mask`, `last` in the others: one blend, where counting
    /// with an add and a select took two instructions.
    fn mark<S: Isa>(
        s: S,
        last: Self::Counts<S>,
        now: Self::Counts<S>,
        mask: Self::M<S>,
    ) -> Self::Counts<S>;
    /// `counts - since`, wrapping, lane by lane.
    fn counts_since<S: Isa>(s: S, counts: Self::Counts<S>, since: u64) -> Self::Counts<S>;
    /// Writes the first `out.len()` counters.
    fn store_counts<S: Isa>(counts: Self::Counts<S>, out: &mut [u32]);
}

/// Loads `lanes` elements starting at `slice[0]`, at any alignment.
#[inline(always)]
pub(crate) fn load<T: SimdReal, S: Isa>(slice: &[T]) -> T::V<S> {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&slice[..T::lanes::<S>()]))
}

/// Asks the core to start bringing the cache line that holds `p` into its L2 cache, for a
/// read soon: streaming reductions issue it a fixed distance ahead of their loads, which
/// keeps more lines in flight than the hardware prefetcher does alone (measured on the
/// norms in docs/performance.md; into L1 as well measured a little slower from DRAM). A
/// no-op off x86-64.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT1 is a hint: it reads nothing the program sees and never faults,
    // whatever the address (Intel SDM vol. 2B, PREFETCHh), so `p` may lie past the end of
    // its allocation, as the distance ahead makes it near a slice's end (the test
    // `norm_of_a_vector_that_ends_at_an_unmapped_page` runs one there).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Stores a register into `slice[..lanes]`, at any alignment.
#[inline(always)]
pub(crate) fn store<T: SimdReal, S: Isa>(slice: &mut [T], v: T::V<S>) {
    let lanes = T::lanes::<S>();
    bytemuck::cast_slice_mut::<T, u8>(&mut slice[..lanes]).copy_from_slice(bytemuck::bytes_of(&v));
}

macro_rules! impl_simd_real {
    ($t:ty, $v:ident, $m:ident, $c:ident, $u:ty,
     $lanes:ident, $splat:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $abs:ident,
     $max:ident, $lt:ident, $eq:ident, $or:ident, $not:ident, $first_true:ident,
     $reduce_sum:ident, $reduce_max:ident, $as_simd:ident,
     $splat_c:ident, $add_c:ident, $select_c:ident, $select:ident, $mul_add:ident) => {
        impl SimdReal for $t {
            type V<S: Isa> = S::$v;
            type M<S: Isa> = S::$m;
            type Counts<S: Isa> = S::$c;

            #[inline(always)]
            fn lanes<S: Isa>() -> usize {
                S::$lanes
            }
            #[inline(always)]
            fn splat<S: Isa>(s: S, x: Self) -> Self::V<S> {
                s.$splat(x)
            }
            #[inline(always)]
            fn vadd<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$add(a, b)
            }
            #[inline(always)]
            fn vsub<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$sub(a, b)
            }
            #[inline(always)]
            fn vmul<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$mul(a, b)
            }
            #[inline(always)]
            fn vdiv<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$div(a, b)
            }
            #[inline(always)]
            fn vabs<S: Isa>(s: S, a: Self::V<S>) -> Self::V<S> {
                s.$abs(a)
            }
            #[inline(always)]
            fn vmax<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$max(a, b)
            }
            #[inline(always)]
            fn vless_than<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::M<S> {
                s.$lt(a, b)
            }
            #[inline(always)]
            fn vselect<S: Isa>(
                s: S,
                mask: Self::M<S>,
                if_true: Self::V<S>,
                if_false: Self::V<S>,
            ) -> Self::V<S> {
                s.$select(mask, if_true, if_false)
            }
            #[inline(always)]
            fn vmul_add<S: Isa>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S> {
                s.$mul_add(a, b, c)
            }
            #[inline(always)]
            fn vis_nan<S: Isa>(s: S, a: Self::V<S>) -> Self::M<S> {
                s.$not(s.$eq(a, a))
            }
            #[inline(always)]
            fn mask_or<S: Isa>(s: S, a: Self::M<S>, b: Self::M<S>) -> Self::M<S> {
                s.$or(a, b)
            }
            #[inline(always)]
            fn mask_any<S: Isa>(s: S, m: Self::M<S>) -> bool {
                s.$first_true(m) < S::$lanes
            }
            #[inline(always)]
            fn reduce_sum<S: Isa>(s: S, a: Self::V<S>) -> Self {
                s.$reduce_sum(a)
            }
            #[inline(always)]
            fn reduce_max<S: Isa>(s: S, a: Self::V<S>) -> Self {
                s.$reduce_max(a)
            }
            #[inline(always)]
            fn as_simd<S: Isa>(slice: &[Self]) -> (&[Self::V<S>], &[Self]) {
                S::$as_simd(slice)
            }
            #[inline(always)]
            fn splat_counts<S: Isa>(s: S, n: u64) -> Self::Counts<S> {
                // Truncation is the wrap the clock readings are defined with.
                s.$splat_c(n as $u)
            }
            #[inline(always)]
            fn mark<S: Isa>(
                s: S,
                last: Self::Counts<S>,
                now: Self::Counts<S>,
                mask: Self::M<S>,
            ) -> Self::Counts<S> {
                s.$select_c(mask, now, last)
            }
            #[inline(always)]
            fn counts_since<S: Isa>(s: S, counts: Self::Counts<S>, since: u64) -> Self::Counts<S> {
                s.$add_c(counts, s.$splat_c(since.wrapping_neg() as $u))
            }
            #[inline(always)]
            fn store_counts<S: Isa>(counts: Self::Counts<S>, out: &mut [u32]) {
                let lanes: &[$u] = bytemuck::cast_slice(core::slice::from_ref(&counts));
                for (o, &n) in out.iter_mut().zip(lanes) {
                    // Counts never exceed max_iter, a u32.
                    *o = n as u32;
                }
            }
        }
    };
}

impl_simd_real!(
    f32,
    f32s,
    m32s,
    u32s,
    u32,
    F32_LANES,
    splat_f32s,
    add_f32s,
    sub_f32s,
    mul_f32s,
    div_f32s,
    abs_f32s,
    max_f32s,
    less_than_f32s,
    equal_f32s,
    or_m32s,
    not_m32s,
    first_true_m32s,
    reduce_sum_f32s,
    reduce_max_f32s,
    as_simd_f32s,
    splat_u32s,
    add_u32s,
    select_u32s,
    select_f32s,
    mul_add_e_f32s
);
impl_simd_real!(
    f64,
    f64s,
    m64s,
    u64s,
    u64,
    F64_LANES,
    splat_f64s,
    add_f64s,
    sub_f64s,
    mul_f64s,
    div_f64s,
    abs_f64s,
    max_f64s,
    less_than_f64s,
    equal_f64s,
    or_m64s,
    not_m64s,
    first_true_m64s,
    reduce_sum_f64s,
    reduce_max_f64s,
    as_simd_f64s,
    splat_u64s,
    add_u64s,
    select_u64s,
    select_f64s,
    mul_add_e_f64s
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::isa::{Isa as InstructionSet, Level};
    use pulp::WithSimd;

    /// Julia's counters are differences of clock readings taken modulo the lanes' width:
    /// a count must come out right however far the clock has wrapped.
    struct CountAcrossWrap<T>(u64, u64, std::marker::PhantomData<T>);

    impl<T: SimdReal> WithSimd for CountAcrossWrap<T> {
        type Output = Vec<u32>;

        fn with_simd<S: Isa>(self, s: S) -> Vec<u32> {
            let (loaded, now) = (self.0, self.1);
            let inside = T::vless_than(s, T::splat(s, T::zero()), T::splat(s, T::from_f64(1.0)));
            let last = T::mark(
                s,
                T::splat_counts(s, loaded),
                T::splat_counts(s, now),
                inside,
            );
            let mut out = vec![0; T::lanes::<S>()];
            T::store_counts::<S>(T::counts_since(s, last, loaded), &mut out);
            out
        }
    }

    #[test]
    fn counts_survive_the_clock_wrapping() {
        for isa in InstructionSet::detected() {
            let level = Level::new(isa).expect("a detected level");
            for (loaded, now) in [(0, 7), ((1 << 32) - 3, (1 << 32) + 5), (u64::MAX - 1, 6)] {
                let counts =
                    level.dispatch(CountAcrossWrap::<f32>(loaded, now, Default::default()));
                assert!(
                    counts
                        .iter()
                        .all(|&n| u64::from(n) == now.wrapping_sub(loaded)),
                    "{isa} f32 {counts:?}"
                );
                let counts =
                    level.dispatch(CountAcrossWrap::<f64>(loaded, now, Default::default()));
                assert!(
                    counts
                        .iter()
                        .all(|&n| u64::from(n) == now.wrapping_sub(loaded)),
                    "{isa} f64 {counts:?}"
                );
            }
        }
    }
}
