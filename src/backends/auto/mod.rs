//! The `Auto` backend: each call goes to the backend the crossover model ([`crate::calibration`])
//! predicts fastest for that kernel, precision and size, counting the transfers the call
//! implies (a one-shot GPU call uploads its input and downloads its output).
//!
//! The choice is observable: [`Auto::choose`] answers without running anything,
//! [`Auto::last_choice`] says what the latest call used, and `HPNUM_AUTO_LOG=1` (read when
//! the `Auto` is built) prints every choice to stderr.

use std::sync::{Arc, Mutex, PoisonError};

use crate::backend::{AnyBackend, Capabilities, Describe, DeviceKind};
use crate::calibration::Calibration;
use crate::error::{Error, Result};
use crate::kernels::workload::Workload;
use crate::real::Precision;

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
///
/// ```
/// use hpnum::kernels::Workload;
/// use hpnum::{Auto, Backend, NormKind, Precision};
/// use ndarray::Array1;
///
/// let auto = Auto::new()?;
/// let (_, choice) = auto.choose(Workload::norm::<f64>(1_000_000), Precision::F64)?;
/// assert!(choice.predicted_seconds > 0.0); // decided without running anything
/// let v = Array1::from_vec(vec![3.0f64, 4.0]);
/// assert_eq!(auto.norm(v.view(), NormKind::L2)?, 5.0);
/// assert_eq!(auto.last_choice().map(|c| c.workload.work), Some(2.0));
/// # Ok::<(), hpnum::Error>(())
/// ```
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
    /// Chooses among `backends` with the given costs.
    pub fn with_calibration(backends: Vec<Arc<dyn AnyBackend>>, calibration: Calibration) -> Self {
        Auto::build(backends, calibration, CostSource::Given)
    }

    /// An `Auto` over `backends`, priced by `calibration` (which came from `source`).
    pub(crate) fn build(
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
                let transfers = if caps.device == DeviceKind::Cpu {
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

    /// Chooses for a call and records the choice (see [`Auto::last_choice`]).
    pub(crate) fn pick(
        &self,
        workload: Workload,
        precision: Precision,
    ) -> Result<Arc<dyn AnyBackend>> {
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
        // Auto may choose any of its backends that compute in a precision: subnormals are
        // kept in it only where all of those keep them (a GPU without f64 has no say in f64).
        caps.keeps_subnormals.retain(|p| {
            self.capabilities
                .iter()
                .filter(|c| c.supports(*p))
                .all(|c| c.keeps_subnormals_in(*p))
        });
        caps.threads = self
            .capabilities
            .iter()
            .map(|c| c.threads)
            .max()
            .unwrap_or(1);
        caps
    }
}
