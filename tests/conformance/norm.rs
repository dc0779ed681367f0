//! Norm cases: the book's values within pairwise-class bounds, any stride, exact small
//! sums, IEEE special values and subnormals at every boundary of every backend's reduction
//! (a vector lane, a 16-byte load, an invocation's run, a workgroup's block), overflow-safe
//! L2, and random vectors.

use hpnum::kernels::norm::{LCG_SEED, book_arange as arange, lcg_vector};
use hpnum::{AnyBackend, NormKind, Precision, Real};
use ndarray::{Array1, ArrayView1, Axis, s};
use proptest::prelude::*;

use crate::common;

fn norm<T: Real>(b: &dyn AnyBackend, v: ArrayView1<'_, T>, kind: NormKind) -> f64 {
    T::on(b).norm(v, kind).unwrap().as_f64()
}

/// How close a sum of `T` must come to the exact value, relative: pairwise-class.
fn accuracy<T: Real>() -> f64 {
    match T::PRECISION {
        Precision::F64 => 1e-14,
        Precision::F32 => 1e-6,
    }
}

/// The reference's LCG vector of 10⁶: every norm against its exact value (naive f32
/// summation is off by 3.7e-4 here; pairwise does far better); L∞ exactly.
pub fn lcg_accuracy<T: Real>(b: &dyn AnyBackend) {
    let exact = [
        (NormKind::L1, 4191191239615.0 / 2f64.powi(23)),
        (NormKind::L2Squared, 332990.0500470755),
        (NormKind::L2, 577.0529005620502),
        (NormKind::LInf, 8388601.0 / 2f64.powi(23)),
    ];
    let v = lcg_vector::<T>(1_000_000, LCG_SEED).unwrap();
    for (kind, want) in exact {
        let e = common::rel_err(norm(b, v.view(), kind), want);
        assert!(
            e <= accuracy::<T>(),
            "{} {kind}: relative error {e:e}",
            common::label(b)
        );
    }
    assert_eq!(norm(b, v.view(), NormKind::LInf), 8388601.0 / 2f64.powi(23));
}

/// The book's ‖v‖² of 0, 1, …, 10⁶ − 1 (exact: 333332833333500000; naive f32 is off by
/// 1.4e-4), and its L2.
pub fn book_arange<T: Real>(b: &dyn AnyBackend) {
    let exact = 333_332_833_333_500_000f64;
    let v = arange::<T>(1_000_000).unwrap();
    let (l2sq, l2) = match T::PRECISION {
        Precision::F64 => (1e-15, 1e-15),
        Precision::F32 => (1e-6, 1e-6),
    };
    let e = common::rel_err(norm(b, v.view(), NormKind::L2Squared), exact);
    assert!(e <= l2sq, "{}: {e:e}", common::label(b));
    let e = common::rel_err(norm(b, v.view(), NormKind::L2), 577349836.1769058);
    assert!(e <= l2, "{}: {e:e}", common::label(b));
}

/// A strided view equals its contiguous copy, a reversed one the vector forwards, within
/// rounding (the order of a sum may differ).
pub fn any_stride<T: Real>(b: &dyn AnyBackend) {
    let base = lcg_vector::<T>(10_007, 7).unwrap();
    for kind in NormKind::ALL {
        let strided = base.slice(s![..;3]);
        let got = norm(b, strided, kind);
        let want = norm(b, strided.to_owned().view(), kind);
        assert!(
            common::rel_err(got, want) <= accuracy::<T>(),
            "{} {kind}",
            common::label(b)
        );
        let got = norm(b, base.slice(s![..;-1]), kind);
        let want = norm(b, base.view(), kind);
        assert!(
            common::rel_err(got, want) <= accuracy::<T>(),
            "{} {kind}",
            common::label(b)
        );
    }
}

/// The empty vector's norms are 0; small integers around every block size sum exactly in
/// any order, so every backend must give the exact sums.
pub fn exact_small_sums<T: Real>(b: &dyn AnyBackend) {
    for kind in NormKind::ALL {
        assert_eq!(norm(b, Array1::<T>::zeros(0).view(), kind), 0.0);
    }
    for n in [
        1usize, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 4099,
    ] {
        let v = Array1::from_iter((0..n).map(|i| T::from_f64(((i * 37) % 19) as f64 - 9.0)));
        let l1: f64 = v.iter().map(|x| x.abs().as_f64()).sum();
        let l2sq: f64 = v.iter().map(|&x| (x * x).as_f64()).sum();
        let linf = v.iter().map(|x| x.abs().as_f64()).fold(0.0, f64::max);
        let name = common::label(b);
        assert_eq!(norm(b, v.view(), NormKind::L1), l1, "{name} n={n}");
        assert_eq!(norm(b, v.view(), NormKind::L2Squared), l2sq, "{name} n={n}");
        assert_eq!(norm(b, v.view(), NormKind::LInf), linf, "{name} n={n}");
        let l2 = norm(b, v.view(), NormKind::L2);
        assert!(common::rel_err(l2, l2sq.sqrt()) <= 1e-7, "{name} n={n}");
    }
}

/// A vector whose last element is the last byte before unmapped memory: reductions that
/// look ahead of their loads (the SIMD leaves prefetch 16 KiB ahead) must neither fault
/// nor read past the end. Small integers, so that every sum is exact.
pub fn ends_at_unmapped_memory<T: Real>(b: &dyn AnyBackend) {
    for n in [1usize, 4099, 65_536 / size_of::<T>() - 3] {
        let values = |i: usize| T::from_f64(((i * 37) % 19) as f64 - 9.0);
        common::before_unmapped_memory(n, values, |v| {
            let l1: f64 = v.iter().map(|x| x.abs().as_f64()).sum();
            let l2sq: f64 = v.iter().map(|&x| (x * x).as_f64()).sum();
            let name = common::label(b);
            assert_eq!(norm(b, v, NormKind::L1), l1, "{name} n={n}");
            assert_eq!(norm(b, v, NormKind::L2Squared), l2sq, "{name} n={n}");
            assert_eq!(norm(b, v, NormKind::LInf), 9.0, "{name} n={n}");
        });
    }
}

/// A NaN anywhere gives NaN, for every kind; an infinity gives +∞.
pub fn nan_and_infinity<T: Real>(b: &dyn AnyBackend) {
    for n in [1usize, 5, 33, 1000] {
        for pos in [0, n / 2, n - 1] {
            let mut v = Array1::<T>::ones(n);
            v[pos] = T::nan();
            for kind in NormKind::ALL {
                let got = norm(b, v.view(), kind);
                assert!(got.is_nan(), "{} {kind} n={n} at {pos}", common::label(b));
            }
            v[pos] = T::neg_infinity();
            for kind in NormKind::ALL {
                let got = norm(b, v.view(), kind);
                assert_eq!(got, f64::INFINITY, "{} {kind}", common::label(b));
            }
        }
    }
}

/// L2 of vectors whose squares overflow or underflow (huge, tiny, subnormal, plain), and
/// the book's L2², the plain sum, which overflows where the norm does not.
pub fn l2_range<T: Real>(b: &dyn AnyBackend) {
    let scales: &[(f64, f64)] = match T::PRECISION {
        // (scale, tolerance): subnormal inputs carry fewer significant bits themselves.
        Precision::F64 => &[
            (1e300, 1e-15),
            (1e-300, 1e-15),
            (1e-310, 1e-9),
            (1.0, 1e-15),
        ],
        Precision::F32 => &[(1e30, 1e-6), (1e-30, 1e-6), (1e-40, 1e-4), (1.0, 1e-6)],
    };
    let plain = (0..1001)
        .map(|i| ((i % 7) as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    for &(scale, tolerance) in scales {
        let scale_t = T::from_f64(scale);
        let v = Array1::from_iter((0..1001).map(|i| scale_t * T::from_f64((i % 7) as f64)));
        let got = norm(b, v.view(), NormKind::L2);
        let want = plain * scale_t.as_f64();
        assert!(
            common::rel_err(got, want) <= tolerance,
            "{} {scale:e}: {got:e}",
            common::label(b)
        );
    }
    let huge = Array1::from_elem(4, T::max_value() / T::from_f64(2.0));
    assert_eq!(norm(b, huge.view(), NormKind::L2Squared), f64::INFINITY);
    let l2 = norm(b, huge.view(), NormKind::L2);
    assert!(
        common::rel_err(l2, T::max_value().as_f64()) < accuracy::<T>() * 10.0,
        "{}: {l2:e}",
        common::label(b)
    );
}

/// Positions that straddle every boundary of the backends' reductions: a 16-byte load (4
/// f32 or 2 f64), an invocation's run (8 loads), a workgroup's block (256 invocations) and
/// the vector's ends.
fn block_edges(n: usize) -> Vec<usize> {
    let mut at = vec![
        0, 1, 2, 3, 4, 5, 15, 16, 31, 32, 33, 4095, 4096, 8191, 8192, 8193,
    ];
    at.extend([n / 2, n - 2, n - 1]);
    at.retain(|&p| p < n);
    at.sort_unstable();
    at.dedup();
    at
}

/// Bit patterns of special values in `T`: quiet and signalling NaNs of either sign with
/// the smallest and largest payloads (f64: also one only in the high word), and ±∞.
fn special_bits<T: Real>() -> Vec<T> {
    match T::PRECISION {
        Precision::F32 => [
            0x7fc0_0000u32,
            0xffc0_0001,
            0x7f80_0001,
            0xffff_ffff,
            0x7f80_0000,
            0xff80_0000,
        ]
        .map(|b| T::from_f64(f64::from(f32::from_bits(b))))
        .to_vec(),
        Precision::F64 => [
            0x7ff8_0000_0000_0000u64,
            0xfff0_0000_0000_0001,
            0x7ff0_0000_0000_0001,
            0x7ff0_0001_0000_0000,
            0x7ff0_0000_0000_0000,
            0xfff0_0000_0000_0000,
        ]
        .map(|b| T::from_f64(f64::from_bits(b)))
        .to_vec(),
    }
}

/// Each special value at each block edge: NaN gives NaN, ±∞ gives +∞, for every kind;
/// with an infinity elsewhere as well, NaN still wins.
pub fn special_values_everywhere<T: Real>(b: &dyn AnyBackend) {
    let n = 2 * 8192 + 7;
    for special in special_bits::<T>() {
        for at in block_edges(n) {
            let mut v = Array1::<T>::from_elem(n, T::from_f64(0.5));
            v[at] = special;
            for kind in NormKind::ALL {
                let got = norm(b, v.view(), kind);
                if special.is_nan() {
                    assert!(got.is_nan(), "{} {kind} NaN at {at}", common::label(b));
                } else {
                    assert_eq!(
                        got,
                        f64::INFINITY,
                        "{} {kind} {special} at {at}",
                        common::label(b)
                    );
                }
            }
            if special.is_nan() {
                v[(at + n / 3) % n] = T::neg_infinity();
                for kind in NormKind::ALL {
                    let got = norm(b, v.view(), kind);
                    assert!(got.is_nan(), "{} {kind} NaN and -inf", common::label(b));
                }
            }
        }
    }
}

/// Zeros of both signs with subnormals of every size (the smallest, the largest, and in
/// between) scattered over the block edges: L1 and L∞ are exact (sums of subnormals round
/// nothing), L2 is within rounding, the book's L2² is 0 (every square is below the smallest
/// subnormal), whatever the device does with subnormal arithmetic.
pub fn subnormals_everywhere<T: Real>(b: &dyn AnyBackend) {
    // Subnormals in units of the smallest one (their bit patterns); the largest first.
    let (unit_bits, l2_tolerance): (&[u64], f64) = match T::PRECISION {
        Precision::F32 => (&[0x7f_ffff, 1, 12345, 0x40_0000, 7], 1e-6),
        Precision::F64 => (
            &[0xf_ffff_ffff_ffff, 1, 0x4_0000_0000_0000, 123_456_789, 3],
            1e-14,
        ),
    };
    let smallest = T::min_positive_value() * T::epsilon();
    let subnormal = |k: u64| smallest * T::from_f64(k as f64);
    let n = 2 * 8192 + 7;
    let mut v = Array1::<T>::from_elem(n, T::zero());
    for (i, x) in v.iter_mut().enumerate() {
        if i % 3 == 0 {
            *x = -T::zero();
        }
    }
    let (mut units, mut largest, mut squares) = (0u128, 0u64, 0f64);
    for (j, at) in block_edges(n).into_iter().enumerate() {
        // The listed patterns once each, then small ones: the total stays below 2^(p-1)
        // units, so that the exact sum is representable.
        let k = unit_bits.get(j).copied().unwrap_or(j as u64);
        v[at] = if j % 2 == 1 {
            -subnormal(k)
        } else {
            subnormal(k)
        };
        units += u128::from(k);
        largest = largest.max(k);
        squares += (k as f64) * (k as f64);
    }
    let name = common::label(b);
    let want_l1 = (T::from_f64(units as f64) * smallest).as_f64();
    assert_eq!(norm(b, v.view(), NormKind::L1), want_l1, "{name} L1");
    assert_eq!(
        norm(b, v.view(), NormKind::LInf),
        subnormal(largest).as_f64(),
        "{name} L∞"
    );
    assert_eq!(norm(b, v.view(), NormKind::L2Squared), 0.0, "{name} L2²");
    let l2 = norm(b, v.view(), NormKind::L2);
    let want_l2 = squares.sqrt() * smallest.as_f64();
    assert!(
        common::rel_err(l2, want_l2) <= l2_tolerance,
        "{name} L2 {l2:e} vs {want_l2:e}"
    );
    // Signed zeros alone: every norm is +0.
    let zeros = Array1::<T>::from_elem(33, -T::zero());
    for kind in NormKind::ALL {
        let got = norm(b, zeros.view(), kind);
        assert_eq!(got.to_bits(), 0, "{name} {kind} of -0.0");
    }
}

/// L∞ is a maximum of magnitudes: exact, and decided by the last bit even where values
/// differ only there (in f64, only in the low word of the bits, and where the largest has
/// the larger high word but the smaller low word: a maximum that took the words apart
/// would mix them).
pub fn linf_by_every_bit<T: Real>(b: &dyn AnyBackend) {
    let n = 3 * 8192 + 1;
    let from_bits = |bits: u64| match T::PRECISION {
        Precision::F32 => T::from_f64(f64::from(f32::from_bits(bits as u32))),
        Precision::F64 => T::from_f64(f64::from_bits(bits)),
    };
    let (base, largest) = match T::PRECISION {
        Precision::F32 => (0x4000_0000u64, 0x4000_ffffu64),
        Precision::F64 => (0x4000_0000_0000_0000, 0x4000_0000_ffff_ffff),
    };
    for at in block_edges(n) {
        let mut v = Array1::from_shape_fn(n, |i| from_bits(base + (i as u64 % 4096)));
        v[at] = -from_bits(largest);
        let got = norm(b, v.view(), NormKind::LInf);
        assert_eq!(
            got,
            from_bits(largest).as_f64(),
            "{} at {at}",
            common::label(b)
        );
        if T::PRECISION == Precision::F64 {
            let mut w = Array1::from_elem(n, from_bits(0x3ff0_0000_ffff_ffff));
            w[at] = from_bits(0x3ff0_0001_0000_0000);
            let got = norm(b, w.view(), NormKind::LInf);
            assert_eq!(
                got,
                from_bits(0x3ff0_0001_0000_0000).as_f64(),
                "{} words at {at}",
                common::label(b)
            );
        }
    }
}

/// Random vectors: the norms' relations (L∞ ≤ L2 ≤ L1 ≤ √n·L2, L2² = L2·L2), exact
/// symmetries (negation, power-of-two scaling), order independence within rounding, and
/// agreement with the scalar reference.
pub fn random_relations<T: Real>(b: &dyn AnyBackend) {
    let strategy = (prop::collection::vec(-1e3f64..1e3, 0..300), -60i32..60);
    common::runner(32)
        .run(&strategy, |(v, exp)| {
            let v = Array1::from(v).mapv(T::from_f64);
            let n = v.len() as f64;
            let of = |x: &Array1<T>, kind| norm(b, x.view(), kind);
            let (l1, l2, linf, l2sq) = (
                of(&v, NormKind::L1),
                of(&v, NormKind::L2),
                of(&v, NormKind::LInf),
                of(&v, NormKind::L2Squared),
            );
            let tol = accuracy::<T>() * 100.0;
            let close = accuracy::<T>() * 10.0;
            prop_assert!(linf <= l2 * (1.0 + tol) && l2 <= l1 * (1.0 + tol));
            prop_assert!(l1 <= n.sqrt() * l2 * (1.0 + tol) && l2 <= n.sqrt() * linf * (1.0 + tol));
            prop_assert!((l2 * l2 - l2sq).abs() <= tol * l2sq.max(f64::MIN_POSITIVE));
            // Negation and power-of-two scaling are exact, so the norms follow exactly.
            let neg = v.mapv(|x| -x);
            for kind in NormKind::ALL {
                prop_assert_eq!(of(&neg, kind), of(&v, kind));
            }
            let scale = T::from_f64(2f64.powi(exp));
            let scaled = v.mapv(|x| x * scale);
            prop_assert_eq!(of(&scaled, NormKind::L1), l1 * scale.as_f64());
            prop_assert_eq!(of(&scaled, NormKind::LInf), linf * scale.as_f64());
            let l2_scaled = of(&scaled, NormKind::L2);
            prop_assert!(
                l2 == 0.0 || (l2_scaled / (l2 * scale.as_f64()) - 1.0).abs() <= accuracy::<T>()
            );
            let mut reversed = v.clone();
            reversed.invert_axis(Axis(0));
            prop_assert!((of(&reversed, NormKind::L1) - l1).abs() <= close * l1.max(1.0));
            for kind in NormKind::ALL {
                let reference = hpnum::kernels::norm::reference(v.view(), kind).as_f64();
                prop_assert!((of(&v, kind) - reference).abs() <= close * reference.max(1.0));
            }
            Ok(())
        })
        .unwrap();
}
