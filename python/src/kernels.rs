//! The kernels on NumPy arrays: Julia counts as a new `uint32` array, diffusion in place on
//! the caller's array (any layout), norms of any 1-D array. Every kernel runs with the GIL
//! released; a long call runs on a thread of its own while the caller watches for Ctrl-C.

use std::sync::Arc;

use hpnum::kernels::Workload;
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::{AnyBackend, Backend, DiffusionParams, JuliaParams, NormKind, Real, Region};
use ndarray::{Array2, ArrayViewMut2};
use numpy::{
    IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::{self, IntoPy};
use crate::select;

/// Work units (Julia pixel-iterations, diffusion cell-steps, norm elements) from which a
/// call is long enough to run on a thread of its own, so that Ctrl-C can stop it (see
/// `errors::interruptible`): tens of milliseconds on one SIMD core, a tenth of a second on
/// the scalar backend, which Ctrl-C waits for unnoticed. Below, the thread's start (tens
/// of microseconds, and a cold start for the rayon pool's wake-up) would be measurable:
/// at 2²³, a 10⁷-element norm from Python paid it.
const LONG_WORK: f64 = (1u64 << 26) as f64;

/// Adds the kernels' functions to the extension module.
pub(crate) fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(julia, m)?)?;
    m.add_function(wrap_pyfunction!(julia_axes, m)?)?;
    m.add_function(wrap_pyfunction!(julia_from_axes, m)?)?;
    m.add_function(wrap_pyfunction!(diffuse, m)?)?;
    m.add_function(wrap_pyfunction!(norm, m)?)?;
    m.add_function(wrap_pyfunction!(book_grid, m)?)?;
    m.add_function(wrap_pyfunction!(check_memory, m)?)?;
    Ok(())
}

/// `float32` or `float64`, from the name NumPy gives a dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
}

pub(crate) fn dtype(name: &str) -> PyResult<Dtype> {
    match name {
        "float32" => Ok(Dtype::F32),
        "float64" => Ok(Dtype::F64),
        other => Err(PyTypeError::new_err(format!(
            "dtype must be float32 or float64, got {other}"
        ))),
    }
}

/// Julia escape counts (see `hpnum.julia`).
#[pyfunction]
#[pyo3(signature = (width, height, max_iter, dtype_name, backend, region, c))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn julia<'py>(
    py: Python<'py>,
    width: usize,
    height: usize,
    max_iter: u32,
    dtype_name: &str,
    backend: &str,
    region: Option<(f64, f64, f64, f64)>,
    c: Option<(f64, f64)>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let backend = select::backend(backend).py_err()?;
    let counts = match dtype(dtype_name)? {
        Dtype::F32 => julia_in::<f32>(py, &backend, width, height, max_iter, region, c)?,
        Dtype::F64 => julia_in::<f64>(py, &backend, width, height, max_iter, region, c)?,
    };
    Ok(counts.into_pyarray(py))
}

fn julia_in<T: Real>(
    py: Python<'_>,
    backend: &Arc<dyn AnyBackend>,
    width: usize,
    height: usize,
    max_iter: u32,
    region: Option<(f64, f64, f64, f64)>,
    c: Option<(f64, f64)>,
) -> PyResult<Array2<u32>>
where
    dyn AnyBackend: Backend<T>,
{
    let params = julia_params::<T>(width, height, max_iter, region, c)?;
    let long = Workload::julia(&params).work > LONG_WORK;
    errors::interruptible(py, long, || backend.julia(&params))
}

/// The parameters `hpnum.julia` computes: the book's axes, or `region`'s (the call's
/// memory checked before any axis is built).
fn julia_params<T: Real>(
    width: usize,
    height: usize,
    max_iter: u32,
    region: Option<(f64, f64, f64, f64)>,
    c: Option<(f64, f64)>,
) -> PyResult<JuliaParams<T>> {
    let c = c.unwrap_or(hpnum::kernels::julia::BOOK_C);
    match region_of(region) {
        Some(region) => JuliaParams::<T>::new(region, width, height, c, max_iter),
        None if height != width => Err(book_axes_are_square()),
        None => JuliaParams::<T>::book(width, max_iter).and_then(|book| book.with_c(c)),
    }
    .py_err()
}

fn region_of(region: Option<(f64, f64, f64, f64)>) -> Option<Region> {
    region.map(|(x_min, x_max, y_min, y_max)| Region {
        x_min,
        x_max,
        y_min,
        y_max,
    })
}

fn book_axes_are_square() -> hpnum::Error {
    hpnum::Error::InvalidParameter {
        name: "height",
        reason: "the book's axes are square: give a region for a rectangle".into(),
    }
}

/// The axes of `hpnum.julia`'s arguments, `(xs, ys)`: the book's, or `region`'s.
fn axes_of<T: Real>(
    width: usize,
    height: usize,
    region: Option<(f64, f64, f64, f64)>,
) -> PyResult<(Vec<T>, Vec<T>)> {
    match region_of(region) {
        Some(region) => hpnum::kernels::julia::region_axes::<T>(region, width, height),
        None if height != width => Err(book_axes_are_square()),
        None => hpnum::kernels::julia::book_axes::<T>(width),
    }
    .py_err()
}

/// The axes `hpnum.julia` computes for these arguments, `(xs, ys)` in the dtype's
/// precision: a window of them gives `julia_from_axes` the same pixels' coordinates, bit
/// for bit (how `hpnum.dask.julia` computes an image in blocks, never held whole here: the
/// axes alone are allocated).
#[pyfunction]
#[pyo3(signature = (width, height, dtype_name, region))]
pub(crate) fn julia_axes<'py>(
    py: Python<'py>,
    width: usize,
    height: usize,
    dtype_name: &str,
    region: Option<(f64, f64, f64, f64)>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    fn axes<'py, T: Real + numpy::Element>(
        py: Python<'py>,
        width: usize,
        height: usize,
        region: Option<(f64, f64, f64, f64)>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (xs, ys) = axes_of::<T>(width, height, region)?;
        Ok((
            xs.into_pyarray(py).into_any(),
            ys.into_pyarray(py).into_any(),
        ))
    }
    match dtype(dtype_name)? {
        Dtype::F32 => axes::<f32>(py, width, height, region),
        Dtype::F64 => axes::<f64>(py, width, height, region),
    }
}

/// Julia escape counts on the given axes (1-D arrays of the dtype named): the pixels of
/// the image `julia_axes` gave them for, where they are a window of its axes.
#[pyfunction]
#[pyo3(signature = (xs, ys, max_iter, dtype_name, backend, c))]
pub(crate) fn julia_from_axes<'py>(
    py: Python<'py>,
    xs: &Bound<'py, PyUntypedArray>,
    ys: &Bound<'py, PyUntypedArray>,
    max_iter: u32,
    dtype_name: &str,
    backend: &str,
    c: Option<(f64, f64)>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    fn counts<T: Real + numpy::Element>(
        py: Python<'_>,
        backend: &Arc<dyn AnyBackend>,
        (xs, ys): (&Bound<'_, PyUntypedArray>, &Bound<'_, PyUntypedArray>),
        max_iter: u32,
        c: Option<(f64, f64)>,
    ) -> PyResult<Array2<u32>> {
        let axis = |a: &Bound<'_, PyUntypedArray>| -> PyResult<Vec<T>> {
            let a = a
                .cast::<numpy::PyArray1<T>>()
                .map_err(|_| PyTypeError::new_err("axes must be 1-D arrays of the dtype named"))?;
            Ok(a.readonly().as_array().to_vec())
        };
        let c = c.unwrap_or(hpnum::kernels::julia::BOOK_C);
        let params = JuliaParams::<T>::from_axes(axis(xs)?, axis(ys)?, c, max_iter).py_err()?;
        let long = Workload::julia(&params).work > LONG_WORK;
        errors::interruptible(py, long, || T::on(&**backend).julia(&params))
    }
    let backend = select::backend(backend).py_err()?;
    let counts = match dtype(dtype_name)? {
        Dtype::F32 => counts::<f32>(py, &backend, (xs, ys), max_iter, c)?,
        Dtype::F64 => counts::<f64>(py, &backend, (xs, ys), max_iter, c)?,
    };
    Ok(counts.into_pyarray(py))
}

/// The book's initial grid (see `hpnum.book_grid`).
#[pyfunction]
pub(crate) fn book_grid<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    dtype_name: &str,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    Ok(match dtype(dtype_name)? {
        Dtype::F32 => book_initial_grid::<f32>(rows, cols)
            .py_err()?
            .into_pyarray(py)
            .as_untyped()
            .clone(),
        Dtype::F64 => book_initial_grid::<f64>(rows, cols)
            .py_err()?
            .into_pyarray(py)
            .as_untyped()
            .clone(),
    })
}

/// Diffusion in place (see `hpnum.diffuse`), with the caller's scratch array or a fresh
/// one.
#[pyfunction]
#[pyo3(signature = (grid, steps, diffusivity, dt, backend, scratch=None))]
pub(crate) fn diffuse(
    py: Python<'_>,
    grid: &Bound<'_, PyAny>,
    steps: usize,
    diffusivity: f64,
    dt: f64,
    backend: &str,
    scratch: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let backend = select::backend(backend).py_err()?;
    if let Ok(mut g) = grid.extract::<PyReadwriteArray2<'_, f64>>() {
        let params = DiffusionParams::new(diffusivity, dt).py_err()?;
        let mut s = scratch.map(scratch_of::<f64>).transpose()?;
        let s = s.as_mut().map(|s| s.as_array_mut());
        return diffuse_in(py, &backend, g.as_array_mut(), s, &params, steps);
    }
    if let Ok(mut g) = grid.extract::<PyReadwriteArray2<'_, f32>>() {
        let params = DiffusionParams::new(diffusivity as f32, dt as f32).py_err()?;
        let mut s = scratch.map(scratch_of::<f32>).transpose()?;
        let s = s.as_mut().map(|s| s.as_array_mut());
        return diffuse_in(py, &backend, g.as_array_mut(), s, &params, steps);
    }
    Err(PyTypeError::new_err(format!(
        "grid must be a writeable 2-D float32 or float64 numpy array, got {}",
        describe(grid)
    )))
}

/// The caller's scratch array, which must be writeable, 2-D and of the grid's dtype (its
/// shape is checked by the library, its separateness from the grid by the Python layer).
fn scratch_of<'py, T: Real + numpy::Element>(
    scratch: &Bound<'py, PyAny>,
) -> PyResult<PyReadwriteArray2<'py, T>> {
    scratch.extract::<PyReadwriteArray2<'py, T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "scratch must be a writeable 2-D array of grid's dtype ({}), got {}",
            match T::PRECISION {
                hpnum::Precision::F32 => "float32",
                hpnum::Precision::F64 => "float64",
            },
            describe(scratch)
        ))
    })
}

fn diffuse_in<T: Real>(
    py: Python<'_>,
    backend: &Arc<dyn AnyBackend>,
    mut grid: ArrayViewMut2<'_, T>,
    scratch: Option<ArrayViewMut2<'_, T>>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> PyResult<()>
where
    dyn AnyBackend: Backend<T>,
{
    // One call for all the steps, as from Rust: the CPU backends block steps in cache
    // tiles and skip the odd step's copy only across a whole run, and a GPU keeps the grid
    // resident throughout. A long run goes on a thread of its own, so that Ctrl-C stops it.
    // A fresh scratch array costs its first touch (page faults: ~6 ms for 32 MB on the
    // 2-core VM), which a caller in a loop saves by passing one.
    let mut fresh;
    let mut scratch = match scratch {
        Some(scratch) => scratch,
        None => {
            let (rows, cols) = grid.dim();
            fresh = hpnum::kernels::diffusion::scratch::<T>(rows, cols).py_err()?;
            fresh.view_mut()
        }
    };
    let long = (grid.len() as f64) * (steps as f64) > LONG_WORK;
    errors::interruptible(py, long, || {
        backend.diffuse(grid.view_mut(), scratch.view_mut(), params, steps)
    })
}

/// A norm of a 1-D array (see `hpnum.norm`).
#[pyfunction]
pub(crate) fn norm(
    py: Python<'_>,
    v: &Bound<'_, PyAny>,
    kind: &str,
    backend: &str,
) -> PyResult<f64> {
    let kind: NormKind = kind
        .parse()
        .map_err(|e: hpnum::Error| PyValueError::new_err(e.to_string()))?;
    let backend = select::backend(backend).py_err()?;
    if let Ok(v) = v.extract::<PyReadonlyArray1<'_, f64>>() {
        let v = v.as_array();
        let long = v.len() as f64 > LONG_WORK;
        return errors::interruptible(py, long, || backend.norm(v, kind));
    }
    if let Ok(v) = v.extract::<PyReadonlyArray1<'_, f32>>() {
        let v = v.as_array();
        let long = v.len() as f64 > LONG_WORK;
        return errors::interruptible(py, long, || Backend::<f32>::norm(backend.as_ref(), v, kind))
            .map(f64::from);
    }
    Err(PyTypeError::new_err(format!(
        "v must be a 1-D float32 or float64 numpy array, got {}",
        describe(v)
    )))
}

/// `MemoryError` unless `bytes` could be allocated now (see `hpnum::check_host`): asked
/// before the Python side allocates on hpnum's behalf, as a Dask task does.
#[pyfunction]
pub(crate) fn check_memory(bytes: u128) -> PyResult<()> {
    hpnum::check_host(bytes, "a task's arrays").py_err()
}

/// What an argument is, for error messages: a NumPy array's dtype and shape, else its type.
pub(crate) fn describe(value: &Bound<'_, PyAny>) -> String {
    match value.cast::<PyUntypedArray>() {
        Ok(array) => format!(
            "a {}-D {} array of shape {:?}{}",
            array.ndim(),
            array
                .dtype()
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into()),
            array.shape(),
            if array.is_contiguous() || array.ndim() == 0 {
                ""
            } else {
                " (strided)"
            }
        ),
        Err(_) => value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}
