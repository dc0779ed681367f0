//! Diffusion cases: the book's 64×64, 100-step grids bit for bit, every shape `np.roll`
//! accepts against an independent NumPy-style formulation, any memory layout, IEEE special
//! values and subnormals as the device promises them, typed errors, mass conservation,
//! random grids.

use hpnum::kernels::diffusion::{book_initial_grid, reference_step};
use hpnum::{AnyBackend, DiffusionParams, Error, Precision, Real, Scalar};
use ndarray::{Array2, ArrayView2, Axis, Zip, s};
use proptest::prelude::*;

use crate::common;

/// How far a backend that is not exact (a GPU that flushes subnormals) may be from the
/// reference after a case's runs, relative to the grid's largest value.
fn rounding<T: Real>() -> f64 {
    match T::PRECISION {
        Precision::F64 => 1e-12,
        Precision::F32 => 1e-5,
    }
}

fn run<T: Real>(
    b: &dyn AnyBackend,
    grid: &mut Array2<T>,
    params: &DiffusionParams<T>,
    steps: usize,
) {
    let mut scratch = Array2::zeros(grid.dim());
    T::on(b)
        .diffuse(grid.view_mut(), scratch.view_mut(), params, steps)
        .unwrap();
}

/// `np.roll(a, shift, axis)` for shift ±1, written independently of the kernel.
fn roll<T: Real>(a: ArrayView2<'_, T>, shift: isize, axis: usize) -> Array2<T> {
    let n = a.len_of(Axis(axis)) as isize;
    let mut out = a.to_owned();
    for i in 0..n {
        let from = (i - shift).rem_euclid(n) as usize;
        out.index_axis_mut(Axis(axis), i as usize)
            .assign(&a.index_axis(Axis(axis), from));
    }
    out
}

fn add<T: Real>(a: &Array2<T>, b: &Array2<T>) -> Array2<T> {
    Zip::from(a).and(b).map_collect(|&x, &y| x + y)
}

/// The book's in-place NumPy step (`diffusion_numpy_memory2.py`), array by array.
fn numpy_step<T: Real>(g: &Array2<T>, coefficient: T) -> Array2<T> {
    let mut t = g.mapv(|x| T::from_f64(-4.0) * x);
    t = add(&t, &roll(g.view(), 1, 0));
    t = add(&t, &roll(g.view(), -1, 0));
    t = add(&t, &roll(g.view(), 1, 1));
    t = add(&t, &roll(g.view(), -1, 1));
    t.mapv_inplace(|x| x * coefficient);
    add(&t, g)
}

/// The reference's 64×64 grid after 100 steps of the book's initial condition.
pub fn book_case<T: Real>(b: &dyn AnyBackend) {
    let file = format!("diffusion_n64_s100_{}.json", T::PRECISION);
    let want = common::diffusion_reference(&file).mapv(T::from_f64);
    let mut grid = book_initial_grid::<T>(64, 64).unwrap();
    run(b, &mut grid, &DiffusionParams::book(), 100);
    common::assert_grid_close(b, &grid, &want, rounding::<T>(), "the book's case");
    if T::PRECISION == Precision::F64 && common::exact::<T>(b) {
        assert_eq!(grid[[28, 28]].as_f64(), 0.0016107323054391494);
        assert_eq!(grid[[60, 60]].as_f64(), 1.9955672247447885e-23);
    }
}

/// 1×N, N×1, 2×2 (where a neighbour is the cell itself, or the same cell twice) and odd
/// sizes, 7 steps, against the NumPy formulation.
pub fn every_shape_roll_accepts<T: Real>(b: &dyn AnyBackend) {
    let params = DiffusionParams::<T>::book();
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
            let x = ((i * 7 + j * 13) % 11) as f64 / 11.0;
            T::from_f64(x + if (i + j) % 3 == 0 { 1.0 } else { 0.0 })
        });
        let mut want = init.clone();
        for _ in 0..7 {
            want = numpy_step(&want, params.coefficient());
        }
        let mut got = init.clone();
        run(b, &mut got, &params, 7);
        common::assert_grid_close(b, &got, &want, rounding::<T>(), &format!("{rows}×{cols}"));
    }
}

/// Every other column of a wider array with a transposed scratch, and a reversed view: the
/// same as the reference on the same views, and nothing written outside them.
pub fn any_layout<T: Real>(b: &dyn AnyBackend) {
    let params = DiffusionParams::<T>::book();
    let base = book_initial_grid::<T>(40, 36).unwrap();
    let mut want = base.clone();
    run(&Scalar, &mut want, &params, 9);

    let mut wide = Array2::<T>::zeros((40, 72));
    wide.slice_mut(s![.., ..;2]).assign(&base);
    let mut scratch_t = Array2::<T>::zeros((36, 40));
    T::on(b)
        .diffuse(
            wide.slice_mut(s![.., ..;2]),
            scratch_t.view_mut().reversed_axes(),
            &params,
            9,
        )
        .unwrap();
    let strided = wide.slice(s![.., ..;2]).to_owned();
    common::assert_grid_close(b, &strided, &want, rounding::<T>(), "strided");
    assert!(
        wide.slice(s![.., 1..;2]).iter().all(|&x| x == T::zero()),
        "wrote outside the view"
    );

    // Periodic diffusion commutes with reflection only up to operation order, so a
    // reversed view is compared with the scalar reference on the same view.
    let mut reversed = base.clone();
    let mut scratch = Array2::zeros(base.dim());
    T::on(b)
        .diffuse(
            reversed.slice_mut(s![..;-1, ..;-1]),
            scratch.view_mut(),
            &params,
            9,
        )
        .unwrap();
    let mut reversed_want = base.clone();
    T::on(&Scalar)
        .diffuse(
            reversed_want.slice_mut(s![..;-1, ..;-1]),
            scratch.view_mut(),
            &params,
            9,
        )
        .unwrap();
    common::assert_grid_close(b, &reversed, &reversed_want, rounding::<T>(), "reversed");
}

/// No steps, D = 0 and empty grids leave the grid as it was.
pub fn zero_steps_and_empty_grids<T: Real>(b: &dyn AnyBackend) {
    let base = book_initial_grid::<T>(8, 8).unwrap();
    let mut g = base.clone();
    run(b, &mut g, &DiffusionParams::book(), 0);
    assert_eq!(g, base);
    run(
        b,
        &mut g,
        &DiffusionParams::new(T::zero(), T::from_f64(0.1)).unwrap(),
        5,
    );
    assert_eq!(g, base);
    for shape in [(0, 5), (5, 0), (0, 0)] {
        let mut empty = Array2::<T>::zeros(shape);
        run(b, &mut empty, &DiffusionParams::book(), 3);
        assert_eq!(empty.dim(), shape);
    }
}

/// A NaN spreads to its cross in one step; an infinity makes its cell NaN (−4∞ + ∞) and
/// its neighbours (wrapped) +∞.
pub fn nan_and_infinity<T: Real>(b: &dyn AnyBackend) {
    let mut g = Array2::<T>::zeros((5, 5));
    g[[2, 2]] = T::nan();
    g[[0, 0]] = T::infinity();
    run(b, &mut g, &DiffusionParams::book(), 1);
    let nan: Vec<_> = g
        .indexed_iter()
        .filter(|(_, x)| x.is_nan())
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        nan,
        [(0, 0), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2)],
        "{}",
        common::label(b)
    );
    for p in [(0, 1), (1, 0), (4, 0), (0, 4)] {
        assert_eq!(g[p], T::infinity(), "{} {p:?}", common::label(b));
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

/// Subnormal results are kept where the device promises to keep them (0.1 × the smallest
/// normal flushed to zero would lose mass); elsewhere the result is either that or, cell
/// for cell, what a device that flushes computes (WGSL lets a driver flush, and `auto` may
/// choose a backend that does or one that does not).
pub fn subnormals<T: Real>(b: &dyn AnyBackend) {
    let mut g = Array2::<T>::zeros((3, 4));
    g[[1, 1]] = T::min_positive_value();
    let start = g.clone();
    run(b, &mut g, &DiffusionParams::book(), 1);
    let coefficient = DiffusionParams::<T>::book().coefficient();
    let mut kept = start.clone();
    reference_step(start.view(), kept.view_mut(), coefficient);
    let flushed = flushing_step(&start, coefficient);
    // The two models differ: a device that flushed would lose the cells' mass.
    assert!(kept[[0, 1]] > T::zero() && kept[[0, 1]] < T::min_positive_value());
    assert_eq!(flushed[[0, 1]].as_f64().to_bits(), 0);
    assert_eq!(flushed[[1, 1]], T::min_positive_value());
    let same = |a: &Array2<T>, b: &Array2<T>| {
        a.iter()
            .zip(b)
            .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits())
    };
    let name = common::label(b);
    if b.capabilities().keeps_subnormals_in(T::PRECISION) {
        assert!(same(&g, &kept), "{name} promises subnormals: {g} vs {kept}");
    } else {
        eprintln!("note: {name} may flush {} subnormals", T::PRECISION);
        assert!(
            same(&g, &kept) || same(&g, &flushed),
            "{name}: {g} is neither the kept nor the flushed result"
        );
    }
}

/// A scratch buffer of another shape is a typed error, never a panic.
pub fn scratch_of_another_shape<T: Real>(b: &dyn AnyBackend) {
    let mut g = Array2::<T>::zeros((4, 5));
    let mut wrong = Array2::<T>::zeros((5, 4));
    let err = T::on(b)
        .diffuse(g.view_mut(), wrong.view_mut(), &DiffusionParams::book(), 1)
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

/// 500 steps on 128×128 keep the grid's sum: to 1e-13 in f64, 1e-5 in f32.
pub fn mass_is_conserved<T: Real>(b: &dyn AnyBackend) {
    let mut g = book_initial_grid::<T>(128, 128).unwrap();
    let mass = |g: &Array2<T>| g.iter().map(|x| x.as_f64()).sum::<f64>();
    let before = mass(&g);
    run(b, &mut g, &DiffusionParams::book(), 500);
    let drift = common::rel_err(mass(&g), before);
    assert!(drift < mass_drift::<T>(), "{}: {drift:e}", common::label(b));
}

/// How far the grid's sum may drift, relative to it: the book's 2.3e-16 (f64) and 3.4e-8
/// (f32) per 100 steps, with room for longer runs.
fn mass_drift<T: Real>() -> f64 {
    match T::PRECISION {
        Precision::F64 => 1e-13,
        Precision::F32 => 1e-5,
    }
}

/// Random grids, coefficients and step counts: the scalar reference's result, which itself
/// conserves mass, stays within the initial range and commutes with periodic shifts.
pub fn random_grids<T: Real>(b: &dyn AnyBackend) {
    let strategy = (1usize..24, 1usize..24).prop_flat_map(|(rows, cols)| {
        (
            prop::collection::vec(0.0f64..1.0, rows * cols)
                .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).unwrap()),
            0.0f64..=0.25,
            0usize..6,
            0usize..30,
        )
    });
    common::runner(24)
        .run(&strategy, |(g, coefficient, steps, s)| {
            let g = g.mapv(T::from_f64);
            let params = DiffusionParams::new(T::one(), T::from_f64(coefficient)).unwrap();
            let mut want = g.clone();
            run(&Scalar, &mut want, &params, steps);
            // A periodic grid has no edges: shifting before or after the steps is the
            // same, bit for bit.
            let mut shifted = shift(&g, s);
            run(&Scalar, &mut shifted, &params, steps);
            prop_assert_eq!(&shifted, &shift(&want, s));
            let mass = |g: &Array2<T>| g.iter().map(|x| x.as_f64()).sum::<f64>();
            let drift = (mass(&want) - mass(&g)).abs();
            prop_assert!(
                drift <= mass_drift::<T>() * mass(&g).max(1.0),
                "drift {drift:e}"
            );
            let (lo, hi) = g.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                (lo.min(x.as_f64()), hi.max(x.as_f64()))
            });
            let slack = rounding::<T>() * hi.max(1.0);
            prop_assert!(
                want.iter()
                    .all(|x| x.as_f64() >= lo - slack && x.as_f64() <= hi + slack)
            );
            let mut got = g.clone();
            run(b, &mut got, &params, steps);
            common::assert_grid_close(b, &got, &want, rounding::<T>(), "random grid");
            Ok(())
        })
        .unwrap();
}

/// Moves every cell one row down and `shift` columns right, wrapping around.
fn shift<T: Real>(g: &Array2<T>, shift: usize) -> Array2<T> {
    let (rows, cols) = g.dim();
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        g[[(i + rows - 1) % rows, (j + cols - shift % cols) % cols]]
    })
}
