//! What the backends are, and what `auto` chose: plain dicts and lists for Python.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPy;
use crate::select;

/// Each backend this machine runs (see `hpnum.backends`).
#[pyfunction]
pub(crate) fn backends(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let mut out = Vec::new();
    for backend in hpnum::backends::all() {
        let caps = backend.capabilities();
        let d = PyDict::new(py);
        d.set_item("name", backend.name())?;
        d.set_item("device", format!("{:?}", caps.device).to_lowercase())?;
        d.set_item("device_name", &caps.device_name)?;
        d.set_item("isa", &caps.isa)?;
        d.set_item("threads", caps.threads)?;
        let names = |ps: &[hpnum::Precision]| ps.iter().map(|p| p.name()).collect::<Vec<_>>();
        d.set_item("precisions", names(&caps.precisions))?;
        d.set_item("keeps_subnormals", names(&caps.keeps_subnormals))?;
        out.push(d);
    }
    Ok(out)
}

/// The choice behind `auto`'s latest call, or `None` before its first (see
/// `hpnum.last_choice`).
#[pyfunction]
pub(crate) fn last_choice(py: Python<'_>) -> PyResult<Option<Bound<'_, PyDict>>> {
    let Some(choice) = select::auto().py_err()?.last_choice() else {
        return Ok(None);
    };
    let d = PyDict::new(py);
    d.set_item("backend", &choice.backend)?;
    d.set_item("kernel", choice.workload.kernel.name())?;
    d.set_item("precision", choice.precision.name())?;
    d.set_item("predicted_seconds", choice.predicted_seconds)?;
    Ok(Some(d))
}

/// Seconds per call of `backend`'s `kind` norm on an `n`-element float64 vector, timed in
/// Rust over `repeats` calls: the yardstick for the same call made from Python (the
/// difference is the binding's overhead).
#[pyfunction]
pub(crate) fn rust_norm_call_seconds(
    py: Python<'_>,
    backend: &str,
    kind: &str,
    n: usize,
    repeats: usize,
) -> PyResult<f64> {
    let kind: hpnum::NormKind = kind
        .parse()
        .map_err(|e: hpnum::Error| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let backend = select::backend(backend).py_err()?;
    let v = ndarray::Array1::<f64>::from_elem(n, 0.5);
    py.detach(|| {
        let start = std::time::Instant::now();
        for _ in 0..repeats.max(1) {
            std::hint::black_box(backend.norm(std::hint::black_box(v.view()), kind)?);
        }
        Ok(start.elapsed().as_secs_f64() / repeats.max(1) as f64)
    })
    .py_err()
}
