//! `hpnum.crossover`: the library's crossover sweep ([`hpnum::crossover::sweep`], the one
//! the `crossover` and `report` examples run), called from Python. Its measurements come
//! back as plain dicts; `save_calibration` stores `Auto`'s table exactly as the example's
//! `--save` does. Tables, plots and files are the Python layer's (`hpnum/_crossover.py`).

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use hpnum::calibration::Calibration;
use hpnum::crossover::{Crossover, HostLimits, Point, Progress, SweepOptions, sweep};
use hpnum::kernels::Kernel;
use hpnum::{Error, Precision};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{self, IntoPy};
use crate::gpu::device_limits_dict;

/// One sweep per precision, in the order asked for.
#[pyclass(name = "CrossoverRuns", module = "hpnum._hpnum", frozen)]
pub(crate) struct PyCrossover {
    runs: Vec<Crossover>,
}

/// Runs the sweep over `kernels` (names) in each of `precisions` (`f32`, `f64`): see
/// `hpnum.crossover`. `progress(done, total, row)` is called after every point (`row` is
/// `None` where a backend could not run that size); an exception it raises stops the sweep
/// and is raised here. Ctrl-C stops it within the running call.
#[pyfunction]
#[pyo3(signature = (kernels, precisions, *, quick, backends=None, sizes=None, repeats=None, progress=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments, one for each option
pub(crate) fn crossover_sweep(
    py: Python<'_>,
    kernels: Vec<String>,
    precisions: Vec<String>,
    quick: bool,
    backends: Option<Vec<String>>,
    sizes: Option<Vec<usize>>,
    repeats: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyCrossover> {
    let options = sweep_options(kernels, quick, backends, sizes, repeats)?;
    let precisions = precisions
        .iter()
        .map(|p| p.parse::<Precision>())
        .collect::<hpnum::Result<Vec<_>>>()
        .py_err()?;
    if precisions.is_empty() {
        return Err(PyValueError::new_err("at least one dtype is needed"));
    }
    // What the callback raised, to raise again here once the sweep has stopped.
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let outcome = errors::watched(py, |stop| {
        let mut runs = Vec::new();
        // Points of the sweeps before this one, so that `done` counts over all of them.
        let mut before = 0;
        for &precision in &precisions {
            // The points this sweep visits, measured or not, as its progress says.
            let visits = std::cell::Cell::new(0);
            let mut report = |p: &Progress<'_>| -> hpnum::Result<()> {
                if stop.load(Ordering::Acquire) {
                    return Err(Error::Interrupted);
                }
                visits.set(p.total);
                let Some(callback) = &progress else {
                    return Ok(());
                };
                // An estimate until the last sweep: each precision's visits the same
                // kernels and sizes, but one the GPU lacks (f64 on GL) visits fewer backends.
                let total = before + p.total * (precisions.len() - runs.len());
                let done = before + p.done;
                Python::attach(|py| {
                    let row = p
                        .point
                        .map(|point| row_dict(py, point, precision))
                        .transpose()?;
                    callback.call1(py, (done, total, row)).map(drop)
                })
                .map_err(|e| {
                    if let Ok(mut slot) = raised.lock() {
                        *slot = Some(e);
                    }
                    Error::Interrupted
                })
            };
            let run = match precision {
                Precision::F32 => sweep::<f32>(&options, &mut report),
                Precision::F64 => sweep::<f64>(&options, &mut report),
            }?;
            before += visits.get();
            runs.push(run);
        }
        Ok(runs)
    });
    if let Some(e) = raised.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    let runs = outcome?.py_err()?;
    Ok(PyCrossover { runs })
}

/// The sweep's options from Python's arguments, each name checked.
///
/// # Errors
/// `ValueError` for a kernel or backend name hpnum does not have.
fn sweep_options(
    kernels: Vec<String>,
    quick: bool,
    backends: Option<Vec<String>>,
    sizes: Option<Vec<usize>>,
    repeats: Option<usize>,
) -> PyResult<SweepOptions> {
    let kernels = kernels
        .iter()
        .map(|name| {
            Kernel::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
                PyValueError::new_err(format!(
                    "kernel must be one of {}, got {name:?}",
                    known.join(", ")
                ))
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    if let Some(names) = &backends {
        for name in names {
            if !hpnum::backends::NAMES.contains(&name.as_str()) {
                return Err(PyValueError::new_err(format!(
                    "backend must be one of {}, got {name:?}",
                    hpnum::backends::NAMES.join(", ")
                )));
            }
        }
    }
    Ok(SweepOptions {
        kernels,
        quick,
        backends,
        repeats,
        sizes,
    })
}

/// One measurement as a dict: the keys `hpnum.Crossover.rows` documents.
fn row_dict<'py>(py: Python<'py>, p: &Point, precision: Precision) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kernel", p.kernel.name())?;
    d.set_item("label", &p.label)?;
    d.set_item("precision", precision.name())?;
    d.set_item("size", p.size)?;
    d.set_item("size_label", p.kernel.size_label())?;
    d.set_item("backend", &p.backend)?;
    d.set_item("seconds", p.seconds)?;
    d.set_item("throughput", p.throughput)?;
    d.set_item("unit", p.kernel.unit())?;
    d.set_item("of_limit", p.of_limit)?;
    Ok(d)
}

fn host_limits_dict<'py>(py: Python<'py>, h: &HostLimits) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("copy_bytes_per_s", h.copy_bytes_per_s)?;
    d.set_item("read_bytes_per_s", h.read_bytes_per_s)?;
    d.set_item("f32_flops", h.f32_flops)?;
    d.set_item("f64_flops", h.f64_flops)?;
    d.set_item("one_core_copy_bytes_per_s", h.one_core_copy_bytes_per_s)?;
    d.set_item("one_core_read_bytes_per_s", h.one_core_read_bytes_per_s)?;
    d.set_item("one_core_f32_flops", h.one_core_f32_flops)?;
    d.set_item("one_core_f64_flops", h.one_core_f64_flops)?;
    Ok(d)
}

#[pymethods]
impl PyCrossover {
    /// Every measurement of every sweep, one dict each.
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mut rows = Vec::new();
        for run in &self.runs {
            for p in &run.points {
                rows.push(row_dict(py, p, run.precision)?);
            }
        }
        Ok(rows)
    }

    /// Per sweep, kernel and GPU flavour, the first size from which it beats the best CPU
    /// backend at every larger size measured (`None`: never in the range).
    fn crossings<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mut out = Vec::new();
        for run in &self.runs {
            for c in run.crossings() {
                let d = PyDict::new(py);
                d.set_item("kernel", c.kernel.name())?;
                d.set_item("precision", run.precision.name())?;
                d.set_item("flavour", c.flavour)?;
                d.set_item("size", c.size)?;
                d.set_item("size_label", c.kernel.size_label())?;
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The limits measured in the first sweep: `host`, `device` (or `None` without a GPU),
    /// `link` (the bus as `Auto` models it, or `None`), `adapter` (its identity or `None`),
    /// `repeats`, and `cpu_backends`.
    fn limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let Some(run) = self.runs.first() else {
            return Ok(d);
        };
        d.set_item("host", host_limits_dict(py, &run.host)?)?;
        d.set_item(
            "device",
            run.device.map(|l| device_limits_dict(py, &l)).transpose()?,
        )?;
        let link = run
            .link
            .map(|l| -> PyResult<_> {
                let link = PyDict::new(py);
                link.set_item("transfer_bytes_per_s", l.transfer_rate)?;
                link.set_item("overhead_s", l.overhead)?;
                Ok(link)
            })
            .transpose()?;
        d.set_item("link", link)?;
        d.set_item("adapter", &run.adapter)?;
        d.set_item("repeats", run.repeats)?;
        d.set_item("cpu_backends", &run.cpu_backends)?;
        Ok(d)
    }

    /// Fits `Auto`'s cost model to every sweep, over the defaults and the saved
    /// calibration as the example's `--save` does, and writes it to `path` (`None`: where
    /// `Auto` reads it, `hpnum/calibration.tsv` in the user's cache directory). Returns the
    /// path written. `Auto` in a new process uses it.
    #[pyo3(signature = (path=None))]
    fn save_calibration(
        &self,
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
    ) -> PyResult<String> {
        let Some((first, rest)) = self.runs.split_first() else {
            return Err(PyValueError::new_err("no sweep to calibrate from"));
        };
        py.detach(|| -> hpnum::Result<String> {
            let mut calibration: Calibration = first.calibration()?;
            for run in rest {
                run.calibrate(&mut calibration);
            }
            match path {
                Some(path) => {
                    calibration.save_to(&path)?;
                    Ok(path.display().to_string())
                }
                None => Ok(calibration.save()?.display().to_string()),
            }
        })
        .py_err()
    }

    /// Sweeps, one per precision.
    fn __len__(&self) -> usize {
        self.runs.len()
    }
}
