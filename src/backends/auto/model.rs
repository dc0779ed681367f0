//! The crossover model behind [`super::Auto`]: how long a call takes on each backend.
//!
//! `seconds = overhead + work / rate + bytes crossing the bus / transfer rate`, per kernel,
//! precision and backend. Work is counted in each kernel's natural unit ([`Workload`]);
//! CPU backends move no bytes over a bus. The built-in defaults are round figures measured
//! on a 2-core x86-64 machine and a conservative guess for discrete GPUs; the crossover
//! example (`cargo run --release --example crossover -- --save`) measures this machine and
//! saves a calibration that replaces them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::backend::{AnyBackend, DeviceKind};
use crate::{Error, Precision, Result};

/// The kernels, as the model distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Julia escape counts.
    Julia,
    /// Diffusion steps.
    Diffusion,
    /// Any vector norm.
    Norm,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 3] = [Kernel::Julia, Kernel::Diffusion, Kernel::Norm];

    /// `julia`, `diffusion` or `norm`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Julia => "julia",
            Kernel::Diffusion => "diffusion",
            Kernel::Norm => "norm",
        }
    }

    fn parse(s: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The size of one call, in the model's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Which kernel.
    pub kernel: Kernel,
    /// Julia: pixels × max_iter (the work if no pixel escaped); diffusion: cells × steps;
    /// norms: elements.
    pub work: f64,
    /// Bytes a device backend must move across the bus for the call (input and output).
    pub transfer_bytes: f64,
}

/// The cost of one backend for one kernel and precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Fixed seconds per call (launch, synchronisation, thread wake-up).
    pub overhead: f64,
    /// Work units per second.
    pub rate: f64,
    /// Bytes per second across the bus (infinite for CPU backends).
    pub transfer_rate: f64,
}

impl Cost {
    /// Predicted seconds for `load`.
    pub fn seconds(&self, load: &Workload) -> f64 {
        self.overhead + load.work / self.rate + load.transfer_bytes / self.transfer_rate
    }

    /// The cost that fits measured `(work, seconds)` pairs: the rate from the two most
    /// distant sizes, the overhead from the smallest; `transfer_rate` as given.
    pub fn fit(samples: &[(f64, f64)], transfer_rate: f64) -> Option<Cost> {
        let small = samples.iter().copied().min_by(|a, b| a.0.total_cmp(&b.0))?;
        let large = samples.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0))?;
        let rate = if large.0 > small.0 && large.1 > small.1 {
            (large.0 - small.0) / (large.1 - small.1)
        } else {
            large.0 / large.1.max(f64::MIN_POSITIVE)
        };
        let overhead = (small.1 - small.0 / rate).max(0.0);
        (rate.is_finite() && rate > 0.0).then_some(Cost {
            overhead,
            rate,
            transfer_rate,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    kernel: Kernel,
    precision: Precision,
    backend: String,
    cost: Cost,
}

/// Costs per kernel, precision and backend: built-in defaults, or a machine's calibration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calibration {
    entries: Vec<Entry>,
}

const HEADER: &str = "# hpnum crossover calibration v1: kernel precision backend overhead_s rate_per_s transfer_bytes_per_s";

impl Calibration {
    /// An empty calibration.
    pub fn new() -> Self {
        Calibration::default()
    }

    /// Sensible costs for `backends` without any measurement (see the module docs).
    pub fn defaults(backends: &[std::sync::Arc<dyn AnyBackend>]) -> Self {
        let mut cal = Calibration::new();
        for backend in backends {
            let caps = backend.capabilities();
            let threads = caps.threads.max(1) as f64;
            for precision in caps.precisions.clone() {
                // f32 doubles the lanes and halves the bytes.
                let wide = if precision == Precision::F32 {
                    2.0
                } else {
                    1.0
                };
                for kernel in Kernel::ALL {
                    // (overhead s, rate units/s, transfer B/s)
                    let cpu = f64::INFINITY;
                    let cost = match (backend.name(), kernel) {
                        ("scalar", Kernel::Julia) => (0.0, 2.9e9, cpu),
                        ("scalar", Kernel::Diffusion) => (0.0, 6.5e8, cpu),
                        ("scalar", Kernel::Norm) => (0.0, 6.0e8, cpu),
                        ("simd", Kernel::Julia) => (1e-6, 4.9e10 * wide, cpu),
                        ("simd", Kernel::Diffusion) => (1e-6, 1.3e9 * wide, cpu),
                        ("simd", Kernel::Norm) => (1e-6, 3.0e9 * wide, cpu),
                        ("rayon", Kernel::Julia) => (2e-5, 4.5e10 * wide * threads, cpu),
                        ("rayon", Kernel::Diffusion) => (2e-5, 1.2e9 * wide * threads, cpu),
                        ("rayon", Kernel::Norm) => (2e-5, 2.2e9 * wide * threads, cpu),
                        ("gpu", kernel) if caps.device == DeviceKind::DiscreteGpu => {
                            // A mid-range discrete GPU over PCIe; f64 at 1/16 of f32, as on
                            // consumer parts.
                            let f64_penalty = if precision == Precision::F64 {
                                1.0 / 16.0
                            } else {
                                1.0
                            };
                            let rate = match kernel {
                                Kernel::Julia => 2e12,
                                Kernel::Diffusion => 4e10,
                                Kernel::Norm => 8e10,
                            };
                            (3e-4, rate * f64_penalty, 1e10)
                        }
                        ("gpu", _) if caps.device == DeviceKind::IntegratedGpu => (3e-4, 2e9, 2e10),
                        // A software or unknown adapter: never worth it without measurement.
                        ("gpu", _) => (1e-3, 1e7, 1e9),
                        _ => continue,
                    };
                    cal.set(
                        kernel,
                        precision,
                        backend.name(),
                        Cost {
                            overhead: cost.0,
                            rate: cost.1,
                            transfer_rate: cost.2,
                        },
                    );
                }
            }
        }
        cal
    }

    /// Takes every cost of `other`, replacing this one's where both have one.
    pub fn merge(&mut self, other: &Calibration) {
        for e in &other.entries {
            self.set(e.kernel, e.precision, &e.backend, e.cost);
        }
    }

    /// Sets (or replaces) one cost.
    pub fn set(&mut self, kernel: Kernel, precision: Precision, backend: &str, cost: Cost) {
        self.entries
            .retain(|e| !(e.kernel == kernel && e.precision == precision && e.backend == backend));
        self.entries.push(Entry {
            kernel,
            precision,
            backend: backend.to_owned(),
            cost,
        });
    }

    /// The cost of `backend` for `kernel` in `precision`, if known.
    pub fn cost(&self, kernel: Kernel, precision: Precision, backend: &str) -> Option<Cost> {
        self.entries
            .iter()
            .find(|e| e.kernel == kernel && e.precision == precision && e.backend == backend)
            .map(|e| e.cost)
    }

    /// Where [`Calibration::save`] writes and [`Calibration::load`] reads: `hpnum/
    /// calibration.tsv` in the platform's cache directory (`$XDG_CACHE_HOME`, `~/.cache`,
    /// `~/Library/Caches`, `%LOCALAPPDATA%`).
    pub fn default_path() -> Option<PathBuf> {
        dirs::cache_dir().map(|dir| dir.join("hpnum").join("calibration.tsv"))
    }

    /// The saved calibration, if there is one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the file exists but cannot be read or parsed.
    pub fn load() -> Result<Option<Calibration>> {
        match Calibration::default_path() {
            Some(path) if path.exists() => Calibration::load_from(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// Reads a calibration file.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if it cannot be read or a line does not parse.
    pub fn load_from(path: &Path) -> Result<Calibration> {
        let bad =
            |reason: String| Error::invalid("calibration", format!("{}: {reason}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut cal = Calibration::new();
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let parsed = match fields.as_slice() {
                [kernel, precision, backend, overhead, rate, transfer] => (|| {
                    Some((
                        Kernel::parse(kernel)?,
                        precision.parse::<Precision>().ok()?,
                        *backend,
                        Cost {
                            overhead: overhead.parse().ok()?,
                            rate: rate.parse().ok()?,
                            transfer_rate: transfer.parse().ok()?,
                        },
                    ))
                })(),
                _ => None,
            };
            let (kernel, precision, backend, cost) = parsed
                .ok_or_else(|| bad(format!("line {} does not parse: `{line}`", number + 1)))?;
            cal.set(kernel, precision, backend, cost);
        }
        Ok(cal)
    }

    /// Writes the calibration to [`Calibration::default_path`] and returns the path.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if there is no cache directory or it cannot be written.
    pub fn save(&self) -> Result<PathBuf> {
        let path = Calibration::default_path()
            .ok_or_else(|| Error::invalid("calibration", "this platform has no cache directory"))?;
        self.save_to(&path)?;
        Ok(path)
    }

    /// Writes the calibration to `path`, creating its directory.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if it cannot be written.
    pub fn save_to(&self, path: &Path) -> Result<()> {
        let mut text = format!("{HEADER}\n");
        for e in &self.entries {
            let c = e.cost;
            // `{:?}` of f64 round-trips exactly (and writes `inf` as `inf`).
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{:?}\t{:?}\t{:?}",
                e.kernel.name(),
                e.precision,
                e.backend,
                c.overhead,
                c.rate,
                c.transfer_rate
            );
        }
        let fail =
            |e: std::io::Error| Error::invalid("calibration", format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(path, text).map_err(fail)
    }
}
