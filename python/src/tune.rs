//! `hpnum.tune`: the library's choice of a GPU's settings by measurement
//! ([`hpnum::crossover::tune`], the rule the `report` example applies), called from Python,
//! and saved where every later `Gpu` on this adapter and driver takes it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use hpnum::Error;
use hpnum::crossover::tune::{TuneOptions, tune as measure};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{self, IntoPy};

/// Measures the default GPU's transfer paths, staging chunks and depths, norm reductions
/// and diffusion's steps per dispatch, chooses the fastest of each, and (with `save`) adds
/// them to the calibration file (`path`, or `Auto`'s default). Returns `adapter`, `chosen`
/// (setting → value), `why` (what → the figures) and `saved_to`. `progress(stage)` is
/// called before each stage; an exception it raises stops the run and is raised here.
/// Ctrl-C stops it within the running measurement.
#[pyfunction]
#[pyo3(signature = (*, quick=false, save=true, path=None, progress=None))]
pub(crate) fn tune<'py>(
    py: Python<'py>,
    quick: bool,
    save: bool,
    path: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let outcome = errors::watched(py, |stop| {
        let mut report = |stage: &str| -> hpnum::Result<()> {
            if stop.load(Ordering::Acquire) {
                return Err(Error::Interrupted);
            }
            let Some(callback) = &progress else {
                return Ok(());
            };
            Python::attach(|py| callback.call1(py, (stage,)).map(drop)).map_err(|e| {
                if let Ok(mut slot) = raised.lock() {
                    *slot = Some(e);
                }
                Error::Interrupted
            })
        };
        let tuning = measure(&TuneOptions { quick }, &mut report)?;
        let saved = match (save, &path) {
            (false, _) => None,
            (true, Some(path)) => tuning.settings.save_to(path).map(|()| Some(path.clone()))?,
            (true, None) => Some(tuning.settings.save()?),
        };
        Ok((tuning.settings, saved))
    });
    if let Some(e) = raised.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    let (settings, saved) = outcome?.py_err()?;
    let d = PyDict::new(py);
    d.set_item("adapter", &settings.adapter)?;
    let pairs = |pairs: &[(&'static str, String)]| -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (key, value) in pairs {
            d.set_item(*key, value)?;
        }
        Ok(d)
    };
    d.set_item("chosen", pairs(&settings.chosen)?)?;
    d.set_item("why", pairs(&settings.why)?)?;
    d.set_item("saved_to", saved.map(|p| p.display().to_string()))?;
    Ok(d)
}
