//! `hpnum._hpnum`: the Python extension module. The package `hpnum` (python/hpnum/)
//! re-exports it with argument handling and documentation; see its `__init__.py`.

mod crossover;
mod errors;
mod gpu;
mod info;
mod kernels;
mod parts;
mod select;
mod tune;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _hpnum(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The version of the package and of the library it is built from (one workspace).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    kernels::register(m)?;
    parts::register(m)?;
    m.add_function(wrap_pyfunction!(info::backends, m)?)?;
    m.add_function(wrap_pyfunction!(crossover::crossover_sweep, m)?)?;
    m.add_class::<crossover::PyCrossover>()?;
    m.add_function(wrap_pyfunction!(tune::tune, m)?)?;
    m.add_function(wrap_pyfunction!(info::last_choice, m)?)?;
    m.add_function(wrap_pyfunction!(info::rust_norm_call_seconds, m)?)?;
    // The names every call accepts, from the library's own lists: the kernels, the
    // backends this build has (`auto` first: it is the default), the norms.
    let kernels: Vec<&str> = hpnum::kernels::Kernel::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    m.add("KERNELS", pyo3::types::PyTuple::new(py, kernels)?)?;
    let backends: Vec<&str> = std::iter::once("auto")
        .chain(
            hpnum::backends::NAMES
                .iter()
                .copied()
                .filter(|&n| n != "auto"),
        )
        .collect();
    m.add("BACKENDS", pyo3::types::PyTuple::new(py, backends)?)?;
    let norms: Vec<&str> = hpnum::NormKind::ALL.iter().map(|k| k.name()).collect();
    m.add("NORM_KINDS", pyo3::types::PyTuple::new(py, norms)?)?;
    m.add_class::<gpu::PyGpu>()?;
    m.add_class::<gpu::PyGpuGrid>()?;
    m.add_class::<gpu::PyGpuVector>()?;
    m.add(
        "UnsupportedError",
        py.get_type::<errors::UnsupportedError>(),
    )?;
    m.add("DeviceError", py.get_type::<errors::DeviceError>())?;
    Ok(())
}
