//! Julia set: the book's references, pixel for pixel, on every backend.

mod common;

use hpnum::kernels::julia::{BOOK_C, BOOK_REGION};
use hpnum::{AnyBackend, Backend, Error, JuliaParams, Real, Region};
use ndarray::Array2;

fn sum(counts: &Array2<u32>) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}

fn check_vector<T: Real>(width: usize, max_iter: u32, file: &str)
where
    dyn AnyBackend: Backend<T>,
{
    let want = common::julia_reference(file);
    let params = JuliaParams::<T>::book(width, max_iter).unwrap();
    for backend in common::backends() {
        if !common::supports::<T>(backend.as_ref()) {
            continue;
        }
        let got = backend.julia(&params).unwrap();
        common::assert_counts_close(backend.as_ref(), &got, &want, file);
    }
}

#[test]
fn reference_vectors_pixel_for_pixel() {
    check_vector::<f64>(64, 50, "julia_w64_m50_f64.txt");
    check_vector::<f32>(64, 50, "julia_w64_m50_f32.txt");
    check_vector::<f64>(200, 100, "julia_w200_m100_f64.txt");
    check_vector::<f32>(200, 100, "julia_w200_m100_f32.txt");
}

#[test]
fn the_books_case_sums_exactly() {
    let p64 = JuliaParams::<f64>::book(1000, 300).unwrap();
    let p32 = JuliaParams::<f32>::book(1000, 300).unwrap();
    let want64 = hpnum::kernels::julia::reference(&p64).unwrap();
    let want32 = hpnum::kernels::julia::reference(&p32).unwrap();
    assert_eq!(sum(&want64), 33_219_980);
    assert_eq!(sum(&want32), 33_222_988);
    assert_eq!(want64.iter().filter(|&&n| n == 300).count(), 100_321);
    assert_eq!(want32.iter().filter(|&&n| n == 300).count(), 100_327);
    assert_eq!(want64.iter().filter(|&&n| n == 0).count(), 102_865);
    for backend in common::backends() {
        let b = backend.as_ref();
        let c32 = backend.julia(&p32).unwrap();
        common::assert_counts_close(b, &c32, &want32, "book case f32");
        // The book's f32 value on every backend, the GPU included (an H100 gave 33219848
        // before the shader kept the driver from fusing multiplies and adds).
        assert_eq!(sum(&c32), 33_222_988, "{} f32", common::label(b));
        if common::supports::<f64>(b) {
            let c64 = backend.julia(&p64).unwrap();
            common::assert_counts_close(b, &c64, &want64, "book case f64");
            assert_eq!(sum(&c64), 33_219_980, "{} f64", common::label(b));
        }
    }
}

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
fn rectangular_regions_and_odd_sizes_agree_with_the_reference_on_every_backend() {
    let region = Region {
        x_min: -1.5,
        x_max: 0.5,
        y_min: -0.7,
        y_max: 1.3,
    };
    for (cols, rows) in [(1, 1), (1, 7), (7, 1), (3, 2), (17, 31), (65, 9), (129, 3)] {
        let p64 = JuliaParams::<f64>::new(region, cols, rows, BOOK_C, 80).unwrap();
        let p32 = JuliaParams::<f32>::new(region, cols, rows, BOOK_C, 80).unwrap();
        assert_eq!(p64.shape(), (rows, cols));
        assert_eq!(p64.xs()[0], -1.5);
        assert_eq!(p64.ys()[0], 1.3);
        let want64 = hpnum::kernels::julia::reference(&p64).unwrap();
        let want32 = hpnum::kernels::julia::reference(&p32).unwrap();
        for backend in common::backends() {
            let b = backend.as_ref();
            let what = format!("{cols}×{rows}");
            common::assert_counts_close(b, &backend.julia(&p32).unwrap(), &want32, &what);
            if common::supports::<f64>(b) {
                common::assert_counts_close(b, &backend.julia(&p64).unwrap(), &want64, &what);
            }
        }
    }
}

#[test]
fn escape_counts_match_hand_computed_points() {
    // z = 0 with c = 0 never escapes; z = 2 escapes before the first iteration; z = 1.5
    // (|z|² = 2.25 < 4) iterates once to 1.5² + c.
    let p = JuliaParams::<f64>::from_axes(vec![0.0, 2.0, 1.5], vec![0.0], (0.0, 0.0), 10).unwrap();
    let p32 =
        JuliaParams::<f32>::from_axes(vec![0.0, 2.0, 1.5], vec![0.0], (0.0, 0.0), 10).unwrap();
    for backend in common::backends() {
        let mut counts = vec![backend.julia(&p32).unwrap()];
        if common::supports::<f64>(backend.as_ref()) {
            counts.push(backend.julia(&p).unwrap());
        }
        for counts in counts {
            assert_eq!(
                counts.as_slice().unwrap(),
                &[10, 0, 1],
                "{}",
                common::label(backend.as_ref())
            );
        }
    }
}

#[test]
fn zero_iterations_and_empty_axes() {
    let p = JuliaParams::<f64>::book(64, 0).unwrap();
    let empty_x = JuliaParams::<f32>::from_axes(vec![], vec![0.0, 1.0], BOOK_C, 5).unwrap();
    let empty_y = JuliaParams::<f64>::from_axes(vec![0.5], vec![], BOOK_C, 5).unwrap();
    let p32 = JuliaParams::<f32>::book(64, 0).unwrap();
    for backend in common::backends() {
        assert!(backend.julia(&p32).unwrap().iter().all(|&n| n == 0));
        assert_eq!(backend.julia(&empty_x).unwrap().dim(), (2, 0));
        if common::supports::<f64>(backend.as_ref()) {
            assert!(backend.julia(&p).unwrap().iter().all(|&n| n == 0));
            assert_eq!(backend.julia(&empty_y).unwrap().dim(), (0, 1));
        }
    }
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

#[test]
fn an_orbit_that_escapes_and_returns_stays_escaped() {
    // With c = −3.9, z = 2 has |z|² = 4 (escaped at once), yet z² + c = 0.1 lies inside
    // the disk again: the count must stop at the first escape. Vector lanes keep iterating
    // after they escape while a neighbour is still inside, so the escaping points share
    // vectors with the repelling fixed point x* = (1 − √16.6)/2 of x² − 3.9, which stays
    // inside for dozens of iterations until rounding pushes it out.
    let fixed = (1.0 - 16.6f64.sqrt()) / 2.0;
    let xs: Vec<f64> = (0..37)
        .map(|k| if k % 2 == 0 { 2.0 } else { fixed })
        .collect();
    let p64 = JuliaParams::<f64>::from_axes(xs.clone(), vec![0.0], (-3.9, 0.0), 200).unwrap();
    let xs32 = xs.iter().map(|&x| x as f32).collect();
    let p32 = JuliaParams::<f32>::from_axes(xs32, vec![0.0], (-3.9, 0.0), 200).unwrap();
    let want64 = hpnum::kernels::julia::reference(&p64).unwrap();
    assert!(want64.iter().step_by(2).all(|&n| n == 0));
    assert!(
        want64[[0, 1]] > 10,
        "the fixed point must keep its vector busy"
    );
    for backend in common::backends() {
        let b = backend.as_ref();
        let mut runs = vec![backend.julia(&p32).unwrap()];
        if common::supports::<f64>(b) {
            runs.push(backend.julia(&p64).unwrap());
        }
        for got in runs {
            assert_eq!(got.len(), 37);
            let escaped: Vec<u32> = got.iter().step_by(2).copied().collect();
            assert!(
                escaped.iter().all(|&n| n == 0),
                "{}: {escaped:?}",
                common::label(b)
            );
        }
        if common::supports::<f64>(b) {
            common::assert_counts_close(
                b,
                &backend.julia(&p64).unwrap(),
                &want64,
                "escape and return",
            );
        }
    }
}
