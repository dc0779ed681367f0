//! Norms: what belongs to the kernel's definition rather than to a backend (the
//! reference's test vector, the kinds' names) and the rayon backend's promise of the same
//! bits at any thread count. Every backend's cases are in the conformance suite
//! (`tests/conformance/`).

mod common;

use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{Backend, NormKind};

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
                let rayon = common::rayon_on(threads);
                assert_eq!(rayon.isa(), simd.isa());
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
