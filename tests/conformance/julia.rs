//! Julia cases: the book's references pixel for pixel, any region and size, the escape
//! rule's corners, random axes. Every backend computes the reference's operations with the
//! reference's roundings (the GPU's shaders keep a driver from fusing them), so even the
//! chaotic boundary pixels must match.

use hpnum::kernels::julia::{BOOK_C, reference};
use hpnum::{AnyBackend, JuliaParams, Precision, Real, Region};
use ndarray::Array2;
use proptest::prelude::*;

use crate::common;

fn sum(counts: &Array2<u32>) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}

/// The reference's whole grids (65×65 at 50 iterations, 200×200 at 100).
pub fn reference_vectors<T: Real>(b: &dyn AnyBackend) {
    for (width, max_iter) in [(64, 50), (200, 100)] {
        let file = format!("julia_w{width}_m{max_iter}_{}.txt", T::PRECISION);
        let want = common::julia_reference(&file);
        let params = JuliaParams::<T>::book(width, max_iter).unwrap();
        let got = T::on(b).julia(&params).unwrap();
        common::assert_counts_close(b, &got, &want, &file);
    }
}

/// The book's 1000×1000, 300-iteration case: its sum (the book asserts the f64 one) and
/// the scalar reference's every pixel.
pub fn book_case<T: Real>(b: &dyn AnyBackend) {
    let params = JuliaParams::<T>::book(1000, 300).unwrap();
    let want = reference(&params).unwrap();
    let (book_sum, at_cap) = match T::PRECISION {
        Precision::F64 => (33_219_980, 100_321),
        Precision::F32 => (33_222_988, 100_327),
    };
    assert_eq!(sum(&want), book_sum);
    assert_eq!(want.iter().filter(|&&n| n == 300).count(), at_cap);
    let got = T::on(b).julia(&params).unwrap();
    common::assert_counts_close(b, &got, &want, "the book's case");
    // The GPU included: an H100 gave 33219848 in f32 before the shader kept the driver
    // from fusing multiplies and adds.
    assert_eq!(sum(&got), book_sum, "{}", common::label(b));
}

/// Any region, and sizes that fill no vector or workgroup evenly.
pub fn rectangular_regions<T: Real>(b: &dyn AnyBackend) {
    let region = Region {
        x_min: -1.5,
        x_max: 0.5,
        y_min: -0.7,
        y_max: 1.3,
    };
    for (cols, rows) in [(1, 1), (1, 7), (7, 1), (3, 2), (17, 31), (65, 9), (129, 3)] {
        let params = JuliaParams::<T>::new(region, cols, rows, BOOK_C, 80).unwrap();
        assert_eq!(params.shape(), (rows, cols));
        assert_eq!(params.xs()[0].as_f64(), -1.5);
        assert_eq!(params.ys()[0].as_f64(), T::from_f64(1.3).as_f64());
        let want = reference(&params).unwrap();
        let got = T::on(b).julia(&params).unwrap();
        common::assert_counts_close(b, &got, &want, &format!("{cols}×{rows}"));
    }
}

/// z = 0 with c = 0 never escapes; z = 2 escapes before the first iteration; z = 1.5
/// (|z|² = 2.25 < 4) iterates once to 1.5² + c.
pub fn hand_computed_points<T: Real>(b: &dyn AnyBackend) {
    let xs = [0.0, 2.0, 1.5].map(T::from_f64).to_vec();
    let params = JuliaParams::<T>::from_axes(xs, vec![T::zero()], (0.0, 0.0), 10).unwrap();
    let counts = T::on(b).julia(&params).unwrap();
    assert_eq!(
        counts.as_slice().unwrap(),
        &[10, 0, 1],
        "{}",
        common::label(b)
    );
}

/// No iterations count nothing; an empty axis gives an empty grid of the other's length.
pub fn zero_iterations_and_empty_axes<T: Real>(b: &dyn AnyBackend) {
    let none = JuliaParams::<T>::book(64, 0).unwrap();
    assert!(T::on(b).julia(&none).unwrap().iter().all(|&n| n == 0));
    let empty_x =
        JuliaParams::<T>::from_axes(vec![], vec![T::zero(), T::one()], BOOK_C, 5).unwrap();
    assert_eq!(T::on(b).julia(&empty_x).unwrap().dim(), (2, 0));
    let empty_y = JuliaParams::<T>::from_axes(vec![T::from_f64(0.5)], vec![], BOOK_C, 5).unwrap();
    assert_eq!(T::on(b).julia(&empty_y).unwrap().dim(), (0, 1));
}

/// With c = −3.9, z = 2 has |z|² = 4 (escaped at once), yet z² + c = 0.1 lies inside the
/// disk again: the count must stop at the first escape. Vector lanes keep iterating after
/// they escape while a neighbour is still inside, so the escaping points share vectors
/// with the repelling fixed point x* = (1 − √16.6)/2 of x² − 3.9, which stays inside for
/// dozens of iterations until rounding pushes it out.
pub fn escape_then_return<T: Real>(b: &dyn AnyBackend) {
    let fixed = (1.0 - 16.6f64.sqrt()) / 2.0;
    let xs: Vec<T> = (0..37)
        .map(|k| T::from_f64(if k % 2 == 0 { 2.0 } else { fixed }))
        .collect();
    let params = JuliaParams::<T>::from_axes(xs, vec![T::zero()], (-3.9, 0.0), 200).unwrap();
    let want = reference(&params).unwrap();
    assert!(want.iter().step_by(2).all(|&n| n == 0));
    assert!(
        want[[0, 1]] > 10,
        "the fixed point must keep its vector busy"
    );
    let got = T::on(b).julia(&params).unwrap();
    let escaped: Vec<u32> = got.iter().step_by(2).copied().collect();
    assert!(
        escaped.iter().all(|&n| n == 0),
        "{}: {escaped:?}",
        common::label(b)
    );
    common::assert_counts_close(b, &got, &want, "escape and return");
}

/// Axes, constant and iteration cap of one Julia call.
type Call = (&'static [f64], &'static [f64], (f64, f64), u32);

/// Random axes and constants that failed once (a driver fusing multiplies into adds),
/// replayed before the random ones.
const PAST_FAILURES: [Call; 2] = [
    (
        &[0.5343444552866738],
        &[0.30918588345301523],
        (-0.22623462369148287, 0.6580862029650495),
        132,
    ),
    (
        &[
            -1.2035000895209302,
            -0.003222575868831322,
            -0.3001547099486795,
            1.9244266479587653,
            0.8960325090671438,
            1.0750913457807405,
            0.6258908427326797,
            1.865981137775499,
            0.43008933637871744,
            -1.450423626848532,
            -0.9500044895241446,
            -1.3338850550497732,
            1.1375621000135994,
            0.4653090083303647,
            0.15469650711493557,
            -0.22319098463126713,
            -1.5095843628014198,
            0.8710745573815177,
        ],
        &[
            1.6913201604179344,
            0.029179759542804513,
            0.485229944681805,
            -1.4647953213977127,
            0.6212879545552105,
            -1.069867662880632,
            -1.2510418071747937,
            -0.7327300177921282,
            -1.9053231398241712,
            0.24690853766430595,
            -0.7192248384207376,
            -1.0507930178447755,
            -0.5516424421947848,
            -0.35461442987848585,
            -0.3671729872303883,
            -0.43873121186507574,
            -0.42515981272657566,
            1.3549610227905573,
            -0.7829489240896476,
            0.0024128451769581142,
            -1.5592638699741443,
            -0.1859922017008205,
            1.4741618423721972,
            0.11969228953451046,
            -1.1763034206505978,
            -0.6745396325191096,
            1.3790778631737064,
            1.2660005252573312,
            1.7855675198139587,
            1.4927345949725899,
            -0.2369181761652288,
            -0.09614429102708338,
            -1.9282523550953885,
            0.3623410123768899,
            1.0015410216116525,
            1.8670152772063031,
            -1.2163460838091749,
            1.8872336313060183,
        ],
        (-0.6372036171191654, -0.8674873310200614),
        37,
    ),
];

/// Random axes and constants: the scalar reference's bits, even for chaotic orbits, which
/// amplify a last-bit difference.
pub fn random_axes<T: Real>(b: &dyn AnyBackend) {
    for (xs, ys, c, max_iter) in PAST_FAILURES {
        let axis = |a: &[f64]| a.iter().map(|&x| T::from_f64(x)).collect();
        let params = JuliaParams::<T>::from_axes(axis(xs), axis(ys), c, max_iter).unwrap();
        let got = T::on(b).julia(&params).unwrap();
        common::assert_counts_close(b, &got, &reference(&params).unwrap(), "a past failure");
    }
    let strategy = (
        prop::collection::vec(-2.0f64..2.0, 0..40),
        prop::collection::vec(-2.0f64..2.0, 0..40),
        (-1.0f64..1.0, -1.0f64..1.0, 0u32..200),
    );
    common::runner(24)
        .run(&strategy, |(xs, ys, (c_re, c_im, max_iter))| {
            let xs: Vec<T> = xs.into_iter().map(T::from_f64).collect();
            let ys: Vec<T> = ys.into_iter().map(T::from_f64).collect();
            let (rows, cols) = (ys.len(), xs.len());
            let params = JuliaParams::from_axes(xs, ys, (c_re, c_im), max_iter).unwrap();
            let want = reference(&params).unwrap();
            prop_assert_eq!(want.dim(), (rows, cols));
            prop_assert!(want.iter().all(|&n| n <= max_iter));
            let got = T::on(b).julia(&params).unwrap();
            prop_assert_eq!(&got, &want, "{}", common::label(b));
            Ok(())
        })
        .unwrap();
}
