//! Julia: what belongs to the kernel's definition rather than to a backend (the book's
//! axes, parameter validation, the escape count's symmetries). Every backend's cases are
//! in the conformance suite (`tests/conformance/`).

use hpnum::kernels::julia::{BOOK_C, BOOK_REGION, escape_count};
use hpnum::{Error, JuliaParams, Region};
use proptest::prelude::*;

#[test]
fn book_axes_follow_the_float_accumulation() {
    for (width, len) in [(1, 1), (64, 65), (200, 200), (1000, 1000)] {
        let p = JuliaParams::<f64>::book(width, 1).unwrap();
        assert_eq!(p.shape(), (len, len), "width {width}");
    }
    let p = JuliaParams::<f64>::book(1000, 1).unwrap();
    assert_eq!(*p.xs().last().unwrap(), 1.7964000000000329);
    assert_eq!(*p.ys().last().unwrap(), -1.7964000000000329);
    // f32 axes are the f64 axes rounded, not accumulated in f32.
    let p32 = JuliaParams::<f32>::book(1000, 1).unwrap();
    assert_eq!(p32.xs()[999], 1.7964000000000329f64 as f32);
}

#[test]
fn bad_parameters_are_errors() {
    let invalid = |r: hpnum::Result<JuliaParams<f64>>, param: &str| match r {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, param),
        other => panic!("expected invalid `{param}`, got {other:?}"),
    };
    invalid(JuliaParams::book(0, 10), "width");
    invalid(JuliaParams::new(BOOK_REGION, 0, 5, BOOK_C, 1), "cols");
    invalid(JuliaParams::new(BOOK_REGION, 5, 0, BOOK_C, 1), "rows");
    let flipped = Region {
        x_min: 1.0,
        x_max: -1.0,
        ..BOOK_REGION
    };
    invalid(JuliaParams::new(flipped, 5, 5, BOOK_C, 1), "region");
    let nan = Region {
        y_max: f64::NAN,
        ..BOOK_REGION
    };
    invalid(JuliaParams::new(nan, 5, 5, BOOK_C, 1), "region");
    invalid(JuliaParams::new(BOOK_REGION, 5, 5, (f64::NAN, 0.0), 1), "c");
    invalid(
        JuliaParams::from_axes(vec![0.0, f64::INFINITY], vec![0.0], BOOK_C, 1),
        "xs",
    );
    invalid(
        JuliaParams::from_axes(vec![0.0], vec![f64::NAN], BOOK_C, 1),
        "ys",
    );
    // Finite in f64 but not in f32.
    assert!(matches!(
        JuliaParams::<f32>::from_axes(vec![0.0], vec![0.0], (1e300, 0.0), 1),
        Err(Error::InvalidParameter { name: "c", .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn escape_counts_are_symmetric_under_negation_and_conjugation(
        re in -2.0f64..2.0, im in -2.0f64..2.0, c_re in -1.0f64..1.0, c_im in -1.0f64..1.0,
        max_iter in 0u32..500,
    ) {
        // z ↦ −z leaves every product unchanged; conjugating z and c negates the imaginary
        // parts, and negation is exact, so both hold bit for bit.
        let n = escape_count(re, im, (c_re, c_im), max_iter);
        prop_assert_eq!(escape_count(-re, -im, (c_re, c_im), max_iter), n);
        prop_assert_eq!(escape_count(re, -im, (c_re, -c_im), max_iter), n);
        let n32 = escape_count(re as f32, im as f32, (c_re as f32, c_im as f32), max_iter);
        prop_assert_eq!(escape_count(-re as f32, -im as f32, (c_re as f32, c_im as f32), max_iter), n32);
    }
}

/// The peak resident set of this process, from `/proc/self/status` (Linux).
#[cfg(not(target_arch = "wasm32"))]
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// On WebAssembly, the module's linear memory: it never shrinks, so its size is the peak
/// (the host's `/proc/self` is the host's, not this module's).
#[cfg(target_arch = "wasm32")]
fn peak_rss_bytes() -> Option<u64> {
    Some(core::arch::wasm32::memory_size(0) as u64 * (64 << 10))
}

#[test]
fn a_grid_beyond_the_machine_is_refused_before_its_axes_are_built() {
    let before = peak_rss_bytes();
    // 10⁹ × 10⁹ counts (4·10¹⁸ bytes): before the call priced itself, its 16 GB of axes
    // were built first, and the refusal took half a minute.
    for result in [
        JuliaParams::<f64>::book(1_000_000_000, 1).map(drop),
        JuliaParams::<f32>::new(BOOK_REGION, 1_000_000, 1_000_000, BOOK_C, 1).map(drop),
    ] {
        match result {
            Err(Error::OutOfMemory { what, bytes, .. }) => {
                assert_eq!(what, "julia counts and axes");
                assert!(bytes > 1 << 40, "{bytes}");
            }
            other => panic!("expected OutOfMemory, got {other:?}"),
        }
    }
    if let (Some(before), Some(after)) = (before, peak_rss_bytes()) {
        assert!(
            after - before < 64 << 20,
            "{} MiB touched",
            (after - before) >> 20
        );
    }
}
