//! Diffusion: the book's 64×64, 100-step grids bit for bit, every shape `np.roll` accepts,
//! any memory layout, and every error path, on every backend.

mod common;

use hpnum::kernels::diffusion::{self, book_initial_grid};
use hpnum::{Backend, DiffusionParams, Error, Real};
use ndarray::{Array2, ArrayView2, Axis, s};

/// `np.roll(a, shift, axis)` for shift ±1, written independently of the kernel.
fn roll(a: ArrayView2<'_, f64>, shift: isize, axis: usize) -> Array2<f64> {
    let n = a.len_of(Axis(axis)) as isize;
    let mut out = a.to_owned();
    for i in 0..n {
        let from = (i - shift).rem_euclid(n) as usize;
        out.index_axis_mut(Axis(axis), i as usize)
            .assign(&a.index_axis(Axis(axis), from));
    }
    out
}

/// The book's in-place NumPy step (`diffusion_numpy_memory2.py`), array by array.
fn numpy_step(g: &Array2<f64>, coefficient: f64) -> Array2<f64> {
    let mut t = g * -4.0;
    t += &roll(g.view(), 1, 0);
    t += &roll(g.view(), -1, 0);
    t += &roll(g.view(), 1, 1);
    t += &roll(g.view(), -1, 1);
    t *= coefficient;
    t + g
}

fn run<T: Real, B: Backend<T> + ?Sized>(backend: &B, grid: &mut Array2<T>, steps: usize) {
    let mut scratch = Array2::zeros(grid.dim());
    backend
        .diffuse(
            grid.view_mut(),
            scratch.view_mut(),
            &DiffusionParams::book(),
            steps,
        )
        .unwrap();
}

/// How far a non-exact backend (a GPU) may be from the reference after the tests' runs,
/// relative to the grid's largest value: a few hundred steps' worth of rounding.
const F64_ROUNDING: f64 = 1e-12;
const F32_ROUNDING: f64 = 1e-5;

fn assert_bits_equal<T: Real>(got: &Array2<T>, want: &Array2<T>, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}");
    let differ = got
        .iter()
        .zip(want.iter())
        .filter(|(a, b)| a.as_f64().to_bits() != b.as_f64().to_bits())
        .count();
    assert_eq!(differ, 0, "{what}: {differ} cells differ");
}

#[test]
fn book_case_bit_for_bit_in_both_precisions() {
    let want64 = common::diffusion_reference("diffusion_n64_s100_f64.json");
    let want32 = common::diffusion_reference("diffusion_n64_s100_f32.json").mapv(|x| x as f32);
    for backend in common::backends() {
        let mut g64 = book_initial_grid::<f64>(64, 64).unwrap();
        let mut g32 = book_initial_grid::<f32>(64, 64).unwrap();
        let b = backend.as_ref();
        run(b, &mut g32, 100);
        common::assert_grid_close(b, &g32, &want32, F32_ROUNDING, "book case f32");
        if !common::supports::<f64>(b) {
            continue;
        }
        run(b, &mut g64, 100);
        common::assert_grid_close(b, &g64, &want64, F64_ROUNDING, "book case f64");
        if common::exact::<f64>(b) {
            assert_eq!(g64[[28, 28]], 0.0016107323054391494);
            assert_eq!(g64[[60, 60]], 1.9955672247447885e-23);
        }
    }
}

#[test]
fn initial_grid_is_the_books_block() {
    let g = book_initial_grid::<f64>(64, 64).unwrap();
    assert_eq!(g.iter().filter(|&&x| x == 0.005).count(), 49);
    assert_eq!(g[[25, 25]], 0.005);
    assert_eq!(g[[31, 31]], 0.005);
    assert_eq!(g[[32, 31]], 0.0);
    assert_eq!(g[[24, 25]], 0.0);
    // Rectangular: each axis gets its own band.
    let r = book_initial_grid::<f32>(10, 20).unwrap();
    assert_eq!(
        r.slice(s![4..5, 8..10])
            .iter()
            .filter(|&&x| x == 0.005)
            .count(),
        2
    );
    assert_eq!(r.iter().filter(|&&x| x != 0.0).count(), 2);
    assert_eq!(book_initial_grid::<f64>(0, 7).unwrap().dim(), (0, 7));
    assert!(matches!(
        book_initial_grid::<f64>(usize::MAX / 2, 3),
        Err(Error::OutOfMemory {
            what: "diffusion grid",
            ..
        })
    ));
}

#[test]
fn every_shape_roll_accepts_matches_the_numpy_formulation() {
    let coefficient = DiffusionParams::<f64>::book().coefficient();
    for (rows, cols) in [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
        (1, 9),
        (9, 1),
        (3, 3),
        (5, 17),
        (17, 5),
        (31, 33),
    ] {
        // A grid with structure in every cell, so a wrong neighbour shows.
        let init = Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f64 / 11.0 + if (i + j) % 3 == 0 { 1.0 } else { 0.0 }
        });
        let mut want = init.clone();
        for _ in 0..7 {
            want = numpy_step(&want, coefficient);
        }
        for backend in common::backends_for::<f64>() {
            let mut got = init.clone();
            run(backend.as_ref(), &mut got, 7);
            let what = format!("{rows}×{cols}");
            common::assert_grid_close(backend.as_ref(), &got, &want, F64_ROUNDING, &what);
        }
    }
}

#[test]
fn non_contiguous_and_reversed_views_give_the_same_bits() {
    let base = book_initial_grid::<f64>(40, 36).unwrap();
    let mut want = base.clone();
    run(&hpnum::Scalar, &mut want, 9);
    for backend in common::backends_for::<f64>() {
        let params = DiffusionParams::book();
        // Every other column of a wider array, and a transposed layout.
        let mut wide = Array2::<f64>::zeros((40, 72));
        wide.slice_mut(s![.., ..;2]).assign(&base);
        let mut scratch_t = Array2::<f64>::zeros((36, 40));
        backend
            .diffuse(
                wide.slice_mut(s![.., ..;2]),
                scratch_t.view_mut().reversed_axes(),
                &params,
                9,
            )
            .unwrap();
        let b = backend.as_ref();
        let strided = wide.slice(s![.., ..;2]).to_owned();
        common::assert_grid_close(b, &strided, &want, F64_ROUNDING, "strided");
        assert!(
            wide.slice(s![.., 1..;2]).iter().all(|&x| x == 0.0),
            "wrote outside the view"
        );

        // A reversed view: periodic diffusion commutes with reflection only up to operation
        // order, so compare it with the scalar reference on the same view.
        let mut rev = base.clone();
        let mut scratch = Array2::zeros(base.dim());
        backend
            .diffuse(
                rev.slice_mut(s![..;-1, ..;-1]),
                scratch.view_mut(),
                &params,
                9,
            )
            .unwrap();
        let mut rev_ref = base.clone();
        hpnum::Scalar
            .diffuse(
                rev_ref.slice_mut(s![..;-1, ..;-1]),
                scratch.view_mut(),
                &params,
                9,
            )
            .unwrap();
        common::assert_grid_close(b, &rev, &rev_ref, F64_ROUNDING, "reversed");
    }
}

#[test]
fn zero_steps_empty_grids_and_zero_coefficient_leave_the_grid() {
    let base = book_initial_grid::<f32>(8, 8).unwrap();
    let frozen = DiffusionParams::<f32>::new(0.0, 0.1).unwrap();
    for backend in common::backends() {
        let mut g = base.clone();
        run(backend.as_ref(), &mut g, 0);
        assert_eq!(g, base);
        let mut scratch = Array2::zeros((8, 8));
        backend
            .diffuse(g.view_mut(), scratch.view_mut(), &frozen, 5)
            .unwrap();
        assert_eq!(g, base);
        let mut empty = Array2::<f64>::zeros((0, 5));
        run(backend.as_ref(), &mut empty, 3);
    }
}

#[test]
fn nan_and_infinity_spread_one_cell_per_step() {
    for backend in common::backends_for::<f64>() {
        let mut g = Array2::<f64>::zeros((5, 5));
        g[[2, 2]] = f64::NAN;
        g[[0, 0]] = f64::INFINITY;
        run(backend.as_ref(), &mut g, 1);
        let nan: Vec<_> = g
            .indexed_iter()
            .filter(|(_, x)| x.is_nan())
            .map(|(p, _)| p)
            .collect();
        // The NaN's cross, and the ∞ itself: −4∞ + ∞ is NaN. Its wrapped neighbours are +∞.
        assert_eq!(
            nan,
            [(0, 0), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2)],
            "{}",
            common::label(backend.as_ref())
        );
        for p in [(0, 1), (1, 0), (4, 0), (0, 4)] {
            assert_eq!(
                g[p],
                f64::INFINITY,
                "{} {p:?}",
                &common::label(backend.as_ref())
            );
        }
    }
}

/// One step as a device that flushes subnormals computes it: every operand and result below
/// the smallest normal becomes a zero of its sign, in the reference's operation order.
fn flushing_step<T: Real>(g: &Array2<T>, coefficient: T) -> Array2<T> {
    let flush = |x: T| {
        if x != T::zero() && x.abs() < T::min_positive_value() {
            T::zero().copysign(x)
        } else {
            x
        }
    };
    let (rows, cols) = g.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let at = |dr: usize, dc: usize| flush(g[[(r + dr) % rows, (c + dc) % cols]]);
        let centre = at(0, 0);
        let mut t = flush(T::from_f64(-4.0) * centre);
        t = flush(t + at(rows - 1, 0));
        t = flush(t + at(1, 0));
        t = flush(t + at(0, cols - 1));
        t = flush(t + at(0, 1));
        t = flush(t * coefficient);
        flush(t + centre)
    })
}

fn subnormals_as_the_device_promises<T: Real>()
where
    dyn hpnum::AnyBackend: Backend<T>,
{
    for backend in common::backends() {
        let b = backend.as_ref();
        if !common::supports::<T>(b) {
            continue;
        }
        let mut g = Array2::<T>::zeros((3, 4));
        g[[1, 1]] = T::min_positive_value();
        let start = g.clone();
        run(b, &mut g, 1);
        let coefficient = DiffusionParams::<T>::book().coefficient();
        let name = common::label(b);
        let want = if b.capabilities().keeps_subnormals_in(T::PRECISION) {
            // 0.1 × MIN_POSITIVE is subnormal: flushing it to zero would lose mass.
            assert!(
                g[[0, 1]] > T::zero() && g[[0, 1]] < T::min_positive_value(),
                "{name}: {}",
                g[[0, 1]]
            );
            let mut want = start.clone();
            let mut scratch = start.clone();
            diffusion::reference_step(start.view(), scratch.view_mut(), coefficient);
            want.assign(&scratch);
            want
        } else {
            eprintln!("note: {name} flushes {} subnormals", T::PRECISION);
            flushing_step(&start, coefficient)
        };
        for (got, want) in g.iter().zip(&want) {
            assert_eq!(
                got.as_f64().to_bits(),
                want.as_f64().to_bits(),
                "{name}: {g} vs {want}"
            );
        }
    }
}

#[test]
fn subnormals_are_kept_where_the_device_keeps_them_and_flushed_exactly_elsewhere() {
    subnormals_as_the_device_promises::<f32>();
    subnormals_as_the_device_promises::<f64>();
    // The flushing model itself: the neighbours of the one nonzero cell become +0 where a
    // device keeping subnormals gives 0.1 × MIN_POSITIVE.
    let mut g = Array2::<f32>::zeros((3, 3));
    g[[1, 1]] = f32::MIN_POSITIVE;
    let flushed = flushing_step(&g, 0.1);
    assert_eq!(flushed[[0, 1]].to_bits(), 0);
    assert_eq!(flushed[[1, 1]], f32::MIN_POSITIVE);
}

#[test]
fn errors_are_typed_never_panics() {
    assert!(matches!(
        DiffusionParams::<f64>::new(1.0, 0.3),
        Err(Error::Unstable { .. })
    ));
    assert!(DiffusionParams::<f32>::new(0.5, 0.5).is_ok()); // exactly the limit
    assert!(matches!(
        DiffusionParams::<f64>::new(f64::NAN, 0.1),
        Err(Error::InvalidParameter {
            name: "diffusivity",
            ..
        })
    ));
    assert!(matches!(
        DiffusionParams::<f64>::new(1.0, -0.1),
        Err(Error::InvalidParameter { name: "dt", .. })
    ));
    assert!(matches!(
        DiffusionParams::<f32>::new(1.0, f32::INFINITY),
        Err(Error::InvalidParameter { name: "dt", .. })
    ));
    let params = DiffusionParams::<f64>::book();
    for backend in common::backends() {
        let mut g = Array2::<f64>::zeros((4, 5));
        let mut wrong = Array2::<f64>::zeros((5, 4));
        let err = backend
            .diffuse(g.view_mut(), wrong.view_mut(), &params, 1)
            .unwrap_err();
        assert_eq!(
            err,
            Error::ShapeMismatch {
                what: "scratch",
                expected: vec![4, 5],
                found: vec![5, 4]
            }
        );
    }
}

#[test]
fn mass_is_conserved_over_long_runs() {
    let n = 128;
    for backend in common::backends() {
        if common::supports::<f64>(backend.as_ref()) {
            let mut g = book_initial_grid::<f64>(n, n).unwrap();
            let mass0: f64 = g.sum();
            run(backend.as_ref(), &mut g, 500);
            assert!(
                common::rel_err(g.sum(), mass0) < 1e-13,
                "{}",
                common::label(backend.as_ref())
            );
        }
        let mut g = book_initial_grid::<f32>(n, n).unwrap();
        let mass0 = g.iter().map(|&x| f64::from(x)).sum::<f64>();
        run(backend.as_ref(), &mut g, 500);
        let mass = g.iter().map(|&x| f64::from(x)).sum::<f64>();
        assert!(
            common::rel_err(mass, mass0) < 1e-5,
            "{} {mass} {mass0}",
            common::label(backend.as_ref())
        );
    }
    // The stepping driver itself: an odd step count ends in the grid, not the scratch.
    let mut g = book_initial_grid::<f64>(6, 6).unwrap();
    let mut s1 = Array2::zeros((6, 6));
    let mut one_by_one = g.clone();
    diffusion::ping_pong(
        &mut g.view_mut(),
        &mut s1.view_mut(),
        3,
        |a, b| diffusion::reference_step(a.view(), b.view_mut(), 0.1),
        |g, s| g.assign(s),
    );
    for _ in 0..3 {
        one_by_one = numpy_step(&one_by_one, 0.1);
    }
    assert_bits_equal(&g, &one_by_one, "ping_pong");
}

/// Grids beyond the caches run several steps per pass in cache-sized tiles on the rayon
/// backend (temporal blocking): the same bits as single steps, for step counts with and
/// without a remainder, with the halo wrapping around the grid's top and bottom.
#[test]
fn rayon_cache_tiles_give_the_bits_of_single_steps() {
    let simd = hpnum::Simd::new();
    let rayon = hpnum::Rayon::with_threads(3).unwrap();
    let params32 = DiffusionParams::<f32>::book();
    let params64 = DiffusionParams::<f64>::book();
    // 16 MiB each: the smallest grids that are blocked (K = 8, bands of 48 rows).
    let g32 = Array2::from_shape_fn((2048, 2048), |(r, c)| ((r * 7 + c * 13) % 17) as f32);
    let g64 = Array2::from_shape_fn((2048, 1024), |(r, c)| ((r * 5 + c * 11) % 19) as f64);
    for steps in [8, 11] {
        let (mut a, mut b) = (g32.clone(), g32.clone());
        let mut scratch = Array2::zeros(g32.dim());
        simd.diffuse(a.view_mut(), scratch.view_mut(), &params32, steps)
            .unwrap();
        rayon
            .diffuse(b.view_mut(), scratch.view_mut(), &params32, steps)
            .unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "f32, {steps} steps"
        );
        let (mut a, mut b) = (g64.clone(), g64.clone());
        let mut scratch = Array2::zeros(g64.dim());
        simd.diffuse(a.view_mut(), scratch.view_mut(), &params64, steps)
            .unwrap();
        rayon
            .diffuse(b.view_mut(), scratch.view_mut(), &params64, steps)
            .unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "f64, {steps} steps"
        );
    }
}
