//! `f32` and `f64` as SIMD lanes: one trait over pulp's type-suffixed operations
//! (`add_f32s`, `add_f64s`, …), so each kernel is written once, generic over both the
//! element type and the instruction set.

use bytemuck::Pod;
use pulp::Simd as Isa;

use crate::Real;

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
    fn vis_nan<S: Isa>(s: S, a: Self::V<S>) -> Self::M<S>;
    fn mask_and<S: Isa>(s: S, a: Self::M<S>, b: Self::M<S>) -> Self::M<S>;
    fn mask_or<S: Isa>(s: S, a: Self::M<S>, b: Self::M<S>) -> Self::M<S>;
    fn mask_any<S: Isa>(s: S, m: Self::M<S>) -> bool;
    fn reduce_sum<S: Isa>(s: S, a: Self::V<S>) -> Self;
    fn reduce_max<S: Isa>(s: S, a: Self::V<S>) -> Self;
    fn as_simd<S: Isa>(slice: &[Self]) -> (&[Self::V<S>], &[Self]);

    fn zero_counts<S: Isa>(s: S) -> Self::Counts<S>;
    /// Adds one to the counters of the lanes set in `mask`.
    fn count<S: Isa>(s: S, counts: Self::Counts<S>, mask: Self::M<S>) -> Self::Counts<S>;
    /// Writes the first `out.len()` counters.
    fn store_counts<S: Isa>(counts: Self::Counts<S>, out: &mut [u32]);
}

/// Loads `lanes` elements starting at `slice[0]`, at any alignment.
#[inline(always)]
pub(crate) fn load<T: SimdReal, S: Isa>(slice: &[T]) -> T::V<S> {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&slice[..T::lanes::<S>()]))
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
     $max:ident, $lt:ident, $eq:ident, $and:ident, $or:ident, $not:ident, $first_true:ident,
     $reduce_sum:ident, $reduce_max:ident, $as_simd:ident,
     $splat_c:ident, $add_c:ident, $select_c:ident) => {
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
            fn vis_nan<S: Isa>(s: S, a: Self::V<S>) -> Self::M<S> {
                s.$not(s.$eq(a, a))
            }
            #[inline(always)]
            fn mask_and<S: Isa>(s: S, a: Self::M<S>, b: Self::M<S>) -> Self::M<S> {
                s.$and(a, b)
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
            fn zero_counts<S: Isa>(s: S) -> Self::Counts<S> {
                s.$splat_c(0)
            }
            #[inline(always)]
            fn count<S: Isa>(s: S, counts: Self::Counts<S>, mask: Self::M<S>) -> Self::Counts<S> {
                s.$add_c(counts, s.$select_c(mask, s.$splat_c(1), s.$splat_c(0)))
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
    and_m32s,
    or_m32s,
    not_m32s,
    first_true_m32s,
    reduce_sum_f32s,
    reduce_max_f32s,
    as_simd_f32s,
    splat_u32s,
    add_u32s,
    select_u32s
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
    and_m64s,
    or_m64s,
    not_m64s,
    first_true_m64s,
    reduce_sum_f64s,
    reduce_max_f64s,
    as_simd_f64s,
    splat_u64s,
    add_u64s,
    select_u64s
);
