//! The `Auto` backend: each call goes to the backend the crossover model ([`model`])
//! predicts fastest for that kernel, precision and size, counting the transfers the call
//! implies (a one-shot GPU call uploads its input and downloads its output).
//!
//! The choice is observable: [`Auto::choose`] answers without running anything,
//! [`Auto::last_choice`] says what the latest call used, and `HPNUM_AUTO_LOG=1` (read when
//! the `Auto` is built) prints every choice to stderr.

pub mod model;

use std::sync::{Arc, Mutex, PoisonError};

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use self::model::{Calibration, Kernel, Workload};
use crate::backend::{AnyBackend, Backend, Capabilities, Describe};
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::{Error, Precision, Real, Result};

/// Where an [`Auto`]'s costs came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostSource {
    /// The built-in defaults.
    Defaults,
    /// A calibration file measured on this machine.
    Calibrated(std::path::PathBuf),
    /// Given by the caller.
    Given,
}

/// One decision of [`Auto`].
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The backend chosen.
    pub backend: String,
    /// The workload it was chosen for.
    pub workload: Workload,
    /// The precision.
    pub precision: Precision,
    /// Its predicted time, in seconds.
    pub predicted_seconds: f64,
}

/// Dispatches every call to the backend predicted fastest.
pub struct Auto {
    backends: Vec<Arc<dyn AnyBackend>>,
    /// Each backend's capabilities, read once: building them can allocate, and a choice
    /// must cost far less than the smallest call it dispatches.
    capabilities: Vec<Capabilities>,
    calibration: Calibration,
    source: CostSource,
    log: bool,
    last: Mutex<Option<Choice>>,
}

impl std::fmt::Debug for Auto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
        f.debug_struct("Auto")
            .field("backends", &names)
            .field("source", &self.source)
            .finish()
    }
}

impl Auto {
    /// Every backend this machine runs ([`crate::backends::all`]), with the saved
    /// calibration if there is one (see [`Calibration::default_path`]), else the defaults.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a saved calibration exists but does not parse.
    pub fn new() -> Result<Self> {
        let backends = crate::backends::all();
        let (calibration, source) = match Calibration::load()? {
            Some(cal) => {
                let path = Calibration::default_path().unwrap_or_default();
                // Backends the file does not know keep their defaults.
                let mut merged = Calibration::defaults(&backends);
                merged.merge(&cal);
                (merged, CostSource::Calibrated(path))
            }
            None => (Calibration::defaults(&backends), CostSource::Defaults),
        };
        Ok(Auto::build(backends, calibration, source))
    }

    /// Chooses among `backends` with the given costs.
    pub fn with_calibration(backends: Vec<Arc<dyn AnyBackend>>, calibration: Calibration) -> Self {
        Auto::build(backends, calibration, CostSource::Given)
    }

    fn build(
        backends: Vec<Arc<dyn AnyBackend>>,
        calibration: Calibration,
        source: CostSource,
    ) -> Self {
        Auto {
            capabilities: backends.iter().map(|b| b.capabilities()).collect(),
            backends,
            calibration,
            source,
            log: std::env::var("HPNUM_AUTO_LOG").is_ok_and(|v| v == "1"),
            last: Mutex::new(None),
        }
    }

    /// Where the costs came from.
    pub fn source(&self) -> &CostSource {
        &self.source
    }

    /// The backend the model picks for `workload` in `precision`, without running it.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if no backend with a known cost computes in `precision`.
    pub fn choose(
        &self,
        workload: Workload,
        precision: Precision,
    ) -> Result<(Arc<dyn AnyBackend>, Choice)> {
        self.backends
            .iter()
            .zip(&self.capabilities)
            .filter(|(_, caps)| caps.supports(precision))
            .filter_map(|(b, caps)| {
                let transfers = if caps.device == crate::DeviceKind::Cpu {
                    0.0
                } else {
                    1.0
                };
                let load = Workload {
                    transfer_bytes: workload.transfer_bytes * transfers,
                    ..workload
                };
                Some((b, self.calibration.seconds(precision, b.name(), &load)?))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(backend, seconds)| {
                let choice = Choice {
                    backend: backend.name().to_owned(),
                    workload,
                    precision,
                    predicted_seconds: seconds,
                };
                (Arc::clone(backend), choice)
            })
            .ok_or_else(|| Error::Unsupported {
                backend: "auto".into(),
                what: format!(
                    "{} in {precision}: no backend has a cost for it",
                    workload.kernel.name()
                ),
            })
    }

    /// The choice behind the latest call.
    pub fn last_choice(&self) -> Option<Choice> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn pick(&self, workload: Workload, precision: Precision) -> Result<Arc<dyn AnyBackend>> {
        let (backend, choice) = self.choose(workload, precision)?;
        if self.log {
            eprintln!(
                "hpnum auto: {} {} work {:.3e} → {} (predicted {:.3e} s)",
                workload.kernel.name(),
                precision,
                workload.work,
                choice.backend,
                choice.predicted_seconds
            );
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(choice);
        Ok(backend)
    }
}

impl Describe for Auto {
    fn name(&self) -> &str {
        "auto"
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::cpu("auto", 1);
        caps.precisions
            .retain(|p| self.capabilities.iter().any(|c| c.supports(*p)));
        caps.threads = self
            .capabilities
            .iter()
            .map(|c| c.threads)
            .max()
            .unwrap_or(1);
        caps
    }
}

impl<T: Real> Backend<T> for Auto
where
    dyn AnyBackend: Backend<T>,
{
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        let (rows, cols) = params.shape();
        let pixels = (rows * cols) as f64;
        let workload = Workload {
            kernel: Kernel::Julia,
            work: pixels * f64::from(params.max_iter()),
            transfer_bytes: ((rows + cols) * size_of::<T>()) as f64 + 4.0 * pixels,
        };
        self.pick(workload, T::PRECISION)?.julia(params)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        let cells = grid.len() as f64;
        let workload = Workload {
            kernel: Kernel::Diffusion,
            work: cells * steps as f64,
            transfer_bytes: 2.0 * cells * size_of::<T>() as f64,
        };
        self.pick(workload, T::PRECISION)?
            .diffuse(grid, scratch, params, steps)
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        let workload = Workload {
            kernel: Kernel::Norm,
            work: v.len() as f64,
            transfer_bytes: (v.len() * size_of::<T>()) as f64,
        };
        self.pick(workload, T::PRECISION)?.norm(v, kind)
    }
}
