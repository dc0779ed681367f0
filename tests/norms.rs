//! Norms: the book's values, accuracy bounds, layouts and IEEE special values, on every
//! backend.

mod common;

use hpnum::kernels::norm::{LCG_SEED, book_arange, lcg_vector};
use hpnum::{Backend, NormKind, Real};
use ndarray::{Array1, ArrayView1, s};

fn norm<T: Real, B: Backend<T> + ?Sized>(b: &B, v: ArrayView1<'_, T>, kind: NormKind) -> f64 {
    b.norm(v, kind).unwrap().as_f64()
}

#[test]
fn lcg_vector_is_the_references() {
    let v = lcg_vector::<f64>(1_000_000, LCG_SEED).unwrap();
    let k: Vec<i64> = v
        .iter()
        .take(8)
        .map(|&x| (x * f64::from(1 << 23)) as i64)
        .collect();
    assert_eq!(
        k,
        [
            -6550185, -3936182, 6469697, 5632739, -2925426, 1014555, 4930294, -1820431
        ]
    );
    assert_eq!(v[999_999] * f64::from(1 << 23), 5908385.0);
    let sum_k: f64 = v.iter().map(|&x| x * f64::from(1 << 23)).sum();
    assert_eq!(sum_k, 570515519.0);
}

#[test]
fn lcg_norms_within_the_stated_accuracy() {
    let exact = [
        (NormKind::L1, 4191191239615.0 / 2f64.powi(23)),
        (NormKind::L2Squared, 332990.0500470755),
        (NormKind::L2, 577.0529005620502),
        (NormKind::LInf, 8388601.0 / 2f64.powi(23)),
    ];
    let v64 = lcg_vector::<f64>(1_000_000, LCG_SEED).unwrap();
    let v32 = lcg_vector::<f32>(1_000_000, LCG_SEED).unwrap();
    for backend in common::backends() {
        for (kind, want) in exact {
            let e32 = common::rel_err(norm(backend.as_ref(), v32.view(), kind), want);
            let name = common::label(backend.as_ref());
            if common::supports::<f64>(backend.as_ref()) {
                let e64 = common::rel_err(norm(backend.as_ref(), v64.view(), kind), want);
                assert!(e64 <= 1e-14, "{name} {kind} f64: relative error {e64:e}");
            }
            // Naive f32 summation is off by 3.7e-4 here; pairwise must do far better.
            assert!(e32 <= 1e-6, "{name} {kind} f32: relative error {e32:e}");
        }
        // L∞ is exact: a maximum rounds nothing.
        assert_eq!(
            norm(backend.as_ref(), v32.view(), NormKind::LInf),
            8388601.0 / 2f64.powi(23)
        );
    }
}

#[test]
fn the_books_arange_norm_squared() {
    let exact = 333_332_833_333_500_000f64; // (N−1)·N·(2N−1)/6, N = 10⁶, rounded to f64
    let v64 = book_arange::<f64>(1_000_000).unwrap();
    let v32 = book_arange::<f32>(1_000_000).unwrap();
    for backend in common::backends() {
        let e32 = common::rel_err(
            norm(backend.as_ref(), v32.view(), NormKind::L2Squared),
            exact,
        );
        assert!(
            e32 <= 1e-6,
            "{} f32: {e32:e} (naive: 1.4e-4)",
            common::label(backend.as_ref())
        );
        if !common::supports::<f64>(backend.as_ref()) {
            continue;
        }
        let e64 = common::rel_err(
            norm(backend.as_ref(), v64.view(), NormKind::L2Squared),
            exact,
        );
        assert!(
            e64 <= 1e-15,
            "{} f64: {e64:e}",
            common::label(backend.as_ref())
        );
        let l2 = norm(backend.as_ref(), v64.view(), NormKind::L2);
        assert!(
            common::rel_err(l2, 577349836.1769058) <= 1e-15,
            "{}",
            common::label(backend.as_ref())
        );
    }
}

#[test]
fn strided_and_reversed_views_equal_contiguous_copies() {
    let base = lcg_vector::<f64>(10_007, 7).unwrap();
    for backend in common::backends_for::<f64>() {
        for kind in NormKind::ALL {
            let strided = base.slice(s![..;3]);
            let reversed = base.slice(s![..;-1]);
            let got_strided = norm(backend.as_ref(), strided, kind);
            let want_strided = norm(backend.as_ref(), strided.to_owned().view(), kind);
            assert!(
                common::rel_err(got_strided, want_strided) <= 1e-14,
                "{} {kind}",
                common::label(backend.as_ref())
            );
            let got_rev = norm(backend.as_ref(), reversed, kind);
            let want = norm(backend.as_ref(), base.view(), kind);
            assert!(
                common::rel_err(got_rev, want) <= 1e-14,
                "{} {kind}",
                common::label(backend.as_ref())
            );
        }
    }
}

#[test]
fn empty_is_zero_and_lengths_around_block_sizes_match_exact_sums() {
    for backend in common::backends() {
        for kind in NormKind::ALL {
            assert_eq!(
                norm(backend.as_ref(), Array1::<f32>::zeros(0).view(), kind),
                0.0
            );
            if common::supports::<f64>(backend.as_ref()) {
                assert_eq!(
                    norm(backend.as_ref(), Array1::<f64>::zeros(0).view(), kind),
                    0.0
                );
            }
        }
        // Small integers: every partial sum is exact, so any summation order must agree.
        for n in [
            1usize, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 4099,
        ] {
            let v = Array1::from_iter((0..n).map(|i| ((i * 37) % 19) as f32 - 9.0));
            let l1: f64 = v.iter().map(|x| f64::from(x.abs())).sum();
            let l2sq: f64 = v.iter().map(|&x| f64::from(x * x)).sum();
            let linf = v.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
            let b = backend.as_ref();
            assert_eq!(
                norm(b, v.view(), NormKind::L1),
                l1,
                "{} n={n}",
                common::label(b)
            );
            assert_eq!(
                norm(b, v.view(), NormKind::L2Squared),
                l2sq,
                "{} n={n}",
                common::label(b)
            );
            assert_eq!(
                norm(b, v.view(), NormKind::LInf),
                linf,
                "{} n={n}",
                common::label(b)
            );
            let l2 = norm(b, v.view(), NormKind::L2);
            assert!(
                common::rel_err(l2, l2sq.sqrt()) <= 1e-7,
                "{} n={n}",
                common::label(b)
            );
        }
    }
}

#[test]
fn nan_and_infinity() {
    for backend in common::backends() {
        let b = backend.as_ref();
        for n in [1usize, 5, 33, 1000] {
            for pos in [0, n / 2, n - 1] {
                let mut v = Array1::<f32>::ones(n);
                v[pos] = f32::NAN;
                for kind in NormKind::ALL {
                    assert!(
                        norm(b, v.view(), kind).is_nan(),
                        "{} {kind} n={n} at {pos}",
                        common::label(b)
                    );
                }
                if !common::supports::<f64>(b) {
                    continue;
                }
                let mut v = Array1::<f64>::ones(n);
                v[pos] = f64::NEG_INFINITY;
                for kind in NormKind::ALL {
                    assert_eq!(
                        norm(b, v.view(), kind),
                        f64::INFINITY,
                        "{} {kind}",
                        common::label(b)
                    );
                }
            }
        }
    }
}

#[test]
fn l2_neither_overflows_nor_underflows() {
    for backend in common::backends() {
        let b = backend.as_ref();
        let f64_scales: &[f64] = if common::supports::<f64>(b) {
            &[1e300, 1e-300, 1e-310, 1.0]
        } else {
            &[]
        };
        for &scale in f64_scales {
            let v = Array1::from_iter((0..1001).map(|i| scale * (i % 7) as f64));
            let plain: f64 = (0..1001)
                .map(|i| ((i % 7) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let got = norm(b, v.view(), NormKind::L2);
            // Subnormal inputs carry fewer significant bits themselves.
            let tol = if scale < 1e-307 { 1e-9 } else { 1e-15 };
            assert!(
                common::rel_err(got, plain * scale) <= tol,
                "{} {scale:e}: {got:e}",
                common::label(b)
            );
        }
        for scale in [1e30f32, 1e-30, 1e-40, 1.0] {
            let v = Array1::from_iter((0..1001).map(|i| scale * (i % 7) as f32));
            let plain = (0..1001)
                .map(|i| ((i % 7) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let got = norm(b, v.view(), NormKind::L2);
            let want = plain * f64::from(scale);
            let tol = if scale < 1e-37 { 1e-4 } else { 1e-6 };
            assert!(
                common::rel_err(got, want) <= tol,
                "{} {scale:e}: {got:e}",
                common::label(b)
            );
        }
        // The book's squared norm is the plain sum: it overflows where the norm does not.
        let huge = Array1::from_elem(4, f32::MAX / 2.0);
        assert_eq!(norm(b, huge.view(), NormKind::L2Squared), f64::INFINITY);
        assert!(common::rel_err(norm(b, huge.view(), NormKind::L2), f64::from(f32::MAX)) < 1e-6);
    }
}

#[test]
fn kind_names_round_trip() {
    for kind in NormKind::ALL {
        assert_eq!(kind.name().parse::<NormKind>().unwrap(), kind);
    }
    assert!("l3".parse::<NormKind>().is_err());
}

#[test]
fn rayon_gives_the_same_bits_at_any_thread_count() {
    // The pairwise tree's shape depends on the length alone, so forking its top levels
    // over any number of threads, or none (the one-core SIMD backend at the same level),
    // must not change a bit.
    let simd = hpnum::Simd::new();
    for n in [70_000usize, 1_000_003] {
        let v = lcg_vector::<f32>(n, 11).unwrap();
        for kind in NormKind::ALL {
            let one_core = simd.norm(v.view(), kind).unwrap();
            for threads in [1, 2, 3, 5] {
                // Both use the best SIMD level this CPU has.
                let rayon = hpnum::Rayon::with_threads(threads).unwrap();
                assert_eq!(rayon.simd().isa(), simd.isa());
                let got = rayon.norm(v.view(), kind).unwrap();
                assert_eq!(
                    got.to_bits(),
                    one_core.to_bits(),
                    "{kind} n={n} threads={threads}"
                );
            }
        }
    }
}

/// Positions that straddle every boundary of the GPU's reduction: a 16-byte load (4 f32 or
/// 2 f64), an invocation's run (8 loads), a workgroup's block (256 invocations) and the
/// vector's ends. Each special value is tried at each of them in a vector of that length.
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

fn special_values_everywhere<T: Real>(bits: &[u64], to_t: impl Fn(u64) -> T)
where
    dyn hpnum::AnyBackend: Backend<T>,
{
    let n = 2 * 8192 + 7;
    for backend in common::backends() {
        let b = backend.as_ref();
        if !common::supports::<T>(b) {
            continue;
        }
        for &pattern in bits {
            let special = to_t(pattern);
            for at in block_edges(n) {
                let mut v = Array1::<T>::from_elem(n, T::from_f64(0.5));
                v[at] = special;
                for kind in NormKind::ALL {
                    let got = b.norm(v.view(), kind).unwrap();
                    if special.is_nan() {
                        assert!(
                            got.is_nan(),
                            "{} {kind} NaN {pattern:#x} at {at}",
                            common::label(b)
                        );
                    } else {
                        assert_eq!(
                            got,
                            T::infinity(),
                            "{} {kind} {special} at {at}",
                            common::label(b)
                        );
                    }
                }
                // With an infinity elsewhere as well, NaN still wins.
                if special.is_nan() {
                    v[(at + n / 3) % n] = T::neg_infinity();
                    for kind in NormKind::ALL {
                        let got = b.norm(v.view(), kind).unwrap();
                        assert!(got.is_nan(), "{} {kind} NaN and -inf", common::label(b));
                    }
                }
            }
        }
    }
}

#[test]
fn nan_payloads_and_infinities_at_every_block_edge() {
    // Quiet and signalling NaNs, either sign, smallest and largest payloads; ±∞.
    special_values_everywhere::<f32>(
        &[
            0x7fc0_0000,
            0xffc0_0001,
            0x7f80_0001,
            0xffff_ffff,
            0x7f80_0000,
            0xff80_0000,
        ],
        |b| f32::from_bits(b as u32),
    );
    special_values_everywhere::<f64>(
        &[
            0x7ff8_0000_0000_0000,
            0xfff0_0000_0000_0001,
            0x7ff0_0000_0000_0001,
            0x7ff0_0001_0000_0000,
            0x7ff0_0000_0000_0000,
            0xfff0_0000_0000_0000,
        ],
        f64::from_bits,
    );
}

/// Zeros of both signs with subnormals of every size (the smallest, the largest, and in
/// between) scattered over the block edges: L1 and L∞ are exact (sums of subnormals round
/// nothing), L2 is within rounding, the book's L2² is 0 (every square is below the smallest
/// subnormal), on every backend, whatever the device does with subnormal arithmetic.
fn subnormals_everywhere<T: Real>(unit_bits: &[u64], to_t: impl Fn(u64) -> T, l2_tol: f64)
where
    dyn hpnum::AnyBackend: Backend<T>,
{
    let n = 2 * 8192 + 7;
    let mut v = Array1::<T>::from_elem(n, T::zero());
    for (i, x) in v.iter_mut().enumerate() {
        if i % 3 == 0 {
            *x = -T::zero();
        }
    }
    let mut units = 0u128;
    let mut largest = 0u64;
    let mut squares = 0f64; // Σ k², exactly (k < 2⁵², few terms: well within f64's 2¹⁰²³)
    for (j, at) in block_edges(n).into_iter().enumerate() {
        // The listed patterns once each, then small ones: the total stays below 2^(p-1)
        // units, so that the exact sum is representable.
        let k = unit_bits.get(j).copied().unwrap_or(j as u64);
        let negative = j % 2 == 1;
        let x = to_t(k);
        v[at] = if negative { -x } else { x };
        units += u128::from(k);
        largest = largest.max(k);
        squares += (k as f64) * (k as f64);
    }
    let smallest = T::min_positive_value() * T::epsilon();
    let want_l1 = T::from_f64(units as f64) * smallest;
    let want_linf = to_t(largest);
    let want_l2 = squares.sqrt() * smallest.as_f64();
    for backend in common::backends() {
        let b = backend.as_ref();
        if !common::supports::<T>(b) {
            continue;
        }
        let name = common::label(b);
        assert_eq!(
            b.norm(v.view(), NormKind::L1).unwrap(),
            want_l1,
            "{name} L1"
        );
        assert_eq!(
            b.norm(v.view(), NormKind::LInf).unwrap(),
            want_linf,
            "{name} L∞"
        );
        assert_eq!(
            b.norm(v.view(), NormKind::L2Squared).unwrap(),
            T::zero(),
            "{name} L2²"
        );
        let l2 = b.norm(v.view(), NormKind::L2).unwrap().as_f64();
        assert!(
            common::rel_err(l2, want_l2) <= l2_tol,
            "{name} L2 {l2:e} vs {want_l2:e}"
        );
        // Signed zeros alone: every norm is +0.
        let zeros = Array1::<T>::from_elem(33, -T::zero());
        for kind in NormKind::ALL {
            let got = b.norm(zeros.view(), kind).unwrap();
            assert_eq!(got.as_f64().to_bits(), 0, "{name} {kind} of -0.0");
        }
    }
}

#[test]
fn subnormals_reach_l1_l2_and_linf_exactly() {
    // The bit patterns of subnormals are their values in units of the smallest one; the
    // largest subnormal comes first.
    subnormals_everywhere::<f32>(
        &[0x7f_ffff, 1, 12345, 0x40_0000, 7],
        |k| f32::from_bits(k as u32),
        1e-6,
    );
    subnormals_everywhere::<f64>(
        &[0xf_ffff_ffff_ffff, 1, 0x4_0000_0000_0000, 123_456_789, 3],
        f64::from_bits,
        1e-14,
    );
}

/// L∞ is a maximum of magnitudes: exact, and decided by the last bit even where values
/// differ only there (in f64, only in the low word of the bits).
#[test]
fn linf_is_decided_by_every_bit() {
    let n = 3 * 8192 + 1;
    for backend in common::backends() {
        let b = backend.as_ref();
        for at in block_edges(n) {
            // Every value shares the high word; the largest differs in the lowest bits.
            let mut v = Array1::from_shape_fn(n, |i| {
                f64::from_bits(0x4000_0000_0000_0000 + (i as u64 % 4096))
            });
            v[at] = -f64::from_bits(0x4000_0000_ffff_ffff);
            let want = f64::from_bits(0x4000_0000_ffff_ffff);
            if common::supports::<f64>(b) {
                // The largest has the larger high word and the smallest low word: a
                // maximum that took the words apart would mix them.
                let mut w = Array1::from_elem(n, f64::from_bits(0x3ff0_0000_ffff_ffff));
                w[at] = f64::from_bits(0x3ff0_0001_0000_0000);
                assert_eq!(
                    b.norm(w.view(), NormKind::LInf).unwrap(),
                    f64::from_bits(0x3ff0_0001_0000_0000),
                    "{} f64 words at {at}",
                    common::label(b)
                );
                assert_eq!(
                    b.norm(v.view(), NormKind::LInf).unwrap(),
                    want,
                    "{} f64 at {at}",
                    common::label(b)
                );
            }
            let mut v =
                Array1::from_shape_fn(n, |i| f32::from_bits(0x4000_0000 + (i as u32 % 4096)));
            v[at] = -f32::from_bits(0x4000_ffff);
            assert_eq!(
                b.norm(v.view(), NormKind::LInf).unwrap(),
                f32::from_bits(0x4000_ffff),
                "{} f32 at {at}",
                common::label(b)
            );
        }
    }
}
