//! Invariants on random shapes and values, for every backend.

mod common;

use hpnum::kernels::julia::escape_count;
use hpnum::{Backend, DiffusionParams, JuliaParams, NormKind, Scalar};
use ndarray::{Array1, Array2, Axis};
use proptest::prelude::*;

fn grid_strategy() -> impl Strategy<Value = Array2<f64>> {
    (1usize..24, 1usize..24).prop_flat_map(|(rows, cols)| {
        prop::collection::vec(0.0f64..1.0, rows * cols)
            .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).unwrap())
    })
}

fn diffuse(b: &(impl Backend<f64> + ?Sized), g: &mut Array2<f64>, coefficient: f64, steps: usize) {
    let params = DiffusionParams::new(1.0, coefficient).unwrap();
    let mut scratch = Array2::zeros(g.dim());
    b.diffuse(g.view_mut(), scratch.view_mut(), &params, steps)
        .unwrap();
}

/// Moves every cell one row down and `shift` columns right, wrapping around.
fn shift(g: &Array2<f64>, shift: usize) -> Array2<f64> {
    let (rows, cols) = g.dim();
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        g[[(i + rows - 1) % rows, (j + cols - shift % cols) % cols]]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn diffusion_conserves_mass_and_commutes_with_periodic_shifts(
        g in grid_strategy(), coefficient in 0.0f64..=0.25, steps in 0usize..6, s in 0usize..30,
    ) {
        let mass0: f64 = g.sum();
        let mut want = g.clone();
        diffuse(&Scalar, &mut want, coefficient, steps);
        let mut shifted = shift(&g, s);
        diffuse(&Scalar, &mut shifted, coefficient, steps);
        // A periodic grid has no edges: shifting before or after the steps is the same, bit for bit.
        prop_assert_eq!(&shifted, &shift(&want, s));
        prop_assert!((want.sum() - mass0).abs() <= 1e-13 * mass0.max(1.0));
        // Stable: values stay within the initial range (the scheme averages, for D·dt ≤ 1/4).
        let (lo, hi) = (g.fold(f64::INFINITY, |a, &x| a.min(x)), g.fold(0.0f64, |a, &x| a.max(x)));
        prop_assert!(want.iter().all(|&x| x >= lo - 1e-15 && x <= hi + 1e-15));
        for backend in common::backends_for::<f64>() {
            let mut got = g.clone();
            diffuse(backend.as_ref(), &mut got, coefficient, steps);
            common::assert_grid_close(backend.as_ref(), &got, &want, 1e-12, "random grid");
        }
    }

    #[test]
    fn julia_is_symmetric_under_negation_and_conjugation(
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

    #[test]
    fn julia_backends_agree_on_random_axes(
        xs in prop::collection::vec(-2.0f64..2.0, 0..40),
        ys in prop::collection::vec(-2.0f64..2.0, 0..40),
        c_re in -1.0f64..1.0, c_im in -1.0f64..1.0, max_iter in 0u32..200,
    ) {
        let p64 = JuliaParams::from_axes(xs.clone(), ys.clone(), (c_re, c_im), max_iter).unwrap();
        let xs32 = xs.iter().map(|&x| x as f32).collect();
        let ys32 = ys.iter().map(|&y| y as f32).collect();
        let p32 = JuliaParams::<f32>::from_axes(xs32, ys32, (c_re, c_im), max_iter).unwrap();
        let want64 = Scalar.julia(&p64).unwrap();
        let want32 = Scalar.julia(&p32).unwrap();
        prop_assert_eq!(want64.dim(), (ys.len(), xs.len()));
        prop_assert!(want64.iter().all(|&n| n <= max_iter));
        for backend in common::backends() {
            let b = backend.as_ref();
            // Bits on every backend: the GPU rounds each product as the CPU does, so even
            // chaotic orbits (which amplify a last-bit difference) must end alike.
            prop_assert_eq!(&backend.julia(&p32).unwrap(), &want32, "{}", common::label(b));
            if common::supports::<f64>(b) {
                prop_assert_eq!(&backend.julia(&p64).unwrap(), &want64, "{}", common::label(b));
            }
        }
    }

    #[test]
    fn norm_relations_and_symmetries(
        v in prop::collection::vec(-1e3f64..1e3, 0..300), exp in -60i32..60,
    ) {
        let v = Array1::from(v);
        let n = v.len() as f64;
        for backend in common::backends_for::<f64>() {
            let b = backend.as_ref();
            let norm = |x: &Array1<f64>, kind| b.norm(x.view(), kind).unwrap();
            let (l1, l2, linf, l2sq) = (
                norm(&v, NormKind::L1), norm(&v, NormKind::L2),
                norm(&v, NormKind::LInf), norm(&v, NormKind::L2Squared),
            );
            let tol = 1e-12;
            prop_assert!(linf <= l2 * (1.0 + tol) && l2 <= l1 * (1.0 + tol));
            prop_assert!(l1 <= n.sqrt() * l2 * (1.0 + tol) && l2 <= n.sqrt() * linf * (1.0 + tol));
            prop_assert!((l2 * l2 - l2sq).abs() <= tol * l2sq.max(f64::MIN_POSITIVE));
            // Negation and power-of-two scaling are exact, so the norms follow exactly.
            let neg = v.mapv(|x| -x);
            for kind in NormKind::ALL {
                prop_assert_eq!(norm(&neg, kind), norm(&v, kind));
            }
            let scale = 2f64.powi(exp);
            let scaled = v.mapv(|x| x * scale);
            prop_assert_eq!(norm(&scaled, NormKind::L1), l1 * scale);
            prop_assert_eq!(norm(&scaled, NormKind::LInf), linf * scale);
            prop_assert!((norm(&scaled, NormKind::L2) / (l2 * scale) - 1.0).abs() <= 1e-15 || l2 == 0.0);
            // Order does not matter beyond rounding.
            let mut reversed = v.clone();
            reversed.invert_axis(Axis(0));
            prop_assert!((norm(&reversed, NormKind::L1) - l1).abs() <= 1e-13 * l1.max(1.0));
            for kind in NormKind::ALL {
                let reference = hpnum::kernels::norm::reference(v.view(), kind);
                prop_assert!((norm(&v, kind) - reference).abs() <= 1e-13 * reference.max(1.0));
            }
        }
    }
}
