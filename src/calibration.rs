//! The crossover model behind [`crate::Auto`]: how long a call takes on each backend, and the
//! calibration file that keeps a machine's measured costs (and a GPU's measured settings,
//! which the GPU plumbing reads when a device opens: this file sits below both).
//!
//! `seconds = compute(work) + bytes crossing the bus / transfer rate`, per kernel, precision
//! and backend. Work is counted in each kernel's natural unit ([`Workload`]); CPU backends
//! move no bytes over a bus. `compute` is `overhead + work / rate` for the built-in
//! defaults (round figures measured on a 2-core x86-64 machine, and a conservative guess
//! for discrete GPUs); a calibration from the crossover example (`cargo run --release
//! --example crossover -- --save`) replaces it with this machine's measured points,
//! interpolated in log-log space.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::backend::{AnyBackend, DeviceKind};
use crate::error::{Error, Result};
use crate::kernels::kernel::Kernel;
use crate::kernels::workload::Workload;
use crate::real::Precision;

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

    /// The cost that fits measured `(work, seconds)` pairs: the rate from the two largest
    /// sizes (where fixed costs matter least), the overhead as the largest shortfall of
    /// any size against that rate. The overhead is deliberately pessimistic: a backend
    /// whose fixed cost appears only above some size (rayon forks only for long inputs)
    /// is charged it everywhere rather than chosen where it loses.
    pub fn fit(samples: &[(f64, f64)], transfer_rate: f64) -> Option<Cost> {
        let mut sorted: Vec<(f64, f64)> = samples.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let &(w1, t1) = sorted.last()?;
        let rate = match sorted.len() {
            1 => w1 / t1,
            n => {
                let (w0, t0) = sorted[n - 2];
                if w1 > w0 && t1 > t0 {
                    (w1 - w0) / (t1 - t0)
                } else {
                    w1 / t1
                }
            }
        };
        if !(rate.is_finite() && rate > 0.0) {
            return None;
        }
        let overhead = sorted
            .iter()
            .map(|&(w, t)| t - w / rate)
            .fold(0.0, f64::max);
        Some(Cost {
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
    /// Measured `(work, compute seconds)`, sorted by work: where present, they replace
    /// `overhead + work / rate`, because a kernel's cost is rarely that linear in the
    /// model's work unit (Julia's work depends on how fast its pixels escape).
    points: Vec<(f64, f64)>,
}

/// Compute seconds for `work` from measured points, interpolated linearly in log-log space
/// and extended beyond them along the end segments (no faster than linear above, no
/// slower than constant below).
fn interpolate(points: &[(f64, f64)], work: f64) -> f64 {
    let slope = |a: (f64, f64), b: (f64, f64)| (b.1 / a.1).ln() / (b.0 / a.0).ln();
    let along = |a: (f64, f64), s: f64| a.1 * (work / a.0).powf(s);
    match points {
        [] => f64::INFINITY,
        [only] => only.1 * (work / only.0).max(1.0),
        [first, second, ..] if work <= first.0 => {
            along(*first, slope(*first, *second).clamp(0.0, 1.0))
        }
        [.., before, last] if work >= last.0 => along(*last, slope(*before, *last).max(1.0)),
        _ => {
            let i = points
                .partition_point(|p| p.0 <= work)
                .clamp(1, points.len() - 1);
            along(points[i - 1], slope(points[i - 1], points[i]))
        }
    }
}

/// Costs per kernel, precision and backend: built-in defaults, or a machine's calibration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calibration {
    entries: Vec<Entry>,
    /// The GPU adapter (and driver) the `gpu` entries were measured on, as
    /// `AdapterSummary::identity` gives it.
    adapter: Option<String>,
    /// `GpuOptions` fields measured best on that adapter (`report --save`), as (field name,
    /// value as text), in the order set: what a `Gpu` opened there starts with.
    gpu_settings: Vec<(String, String)>,
}

const HEADER: &str = "# hpnum crossover calibration v2: kernel precision backend overhead_s rate_per_s transfer_bytes_per_s\n\
     # or: kernel precision backend points work:seconds,work:seconds,...\n\
     # or: adapter <the GPU the gpu lines were measured on>\n\
     # or: gpu-setting <GpuOptions field> <value> (measured best on that GPU)";

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
                    let rates = kernel.info().rates;
                    // (overhead s, rate units/s, transfer B/s)
                    let cpu = f64::INFINITY;
                    let cost = match backend.name() {
                        "scalar" => (0.0, rates.scalar, cpu),
                        "simd" => (1e-6, rates.simd * wide, cpu),
                        "rayon" => (
                            rates.rayon_overhead,
                            rates.rayon_per_thread * wide * threads,
                            cpu,
                        ),
                        "gpu" if caps.device == DeviceKind::DiscreteGpu => {
                            // A mid-range discrete GPU over PCIe; f64 at 1/16 of f32, as on
                            // consumer parts.
                            let f64_penalty = if precision == Precision::F64 {
                                1.0 / 16.0
                            } else {
                                1.0
                            };
                            (3e-4, rates.discrete_gpu * f64_penalty, 1e10)
                        }
                        "gpu" if caps.device == DeviceKind::IntegratedGpu => (3e-4, 2e9, 2e10),
                        // A software or unknown adapter: never worth it without measurement.
                        "gpu" => (1e-3, 1e7, 1e9),
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

    /// The GPU adapter and driver the `gpu` costs were measured on, if recorded.
    pub fn adapter(&self) -> Option<&str> {
        self.adapter.as_deref()
    }

    /// Records which GPU adapter and driver the `gpu` costs belong to.
    pub fn set_adapter(&mut self, identity: impl Into<String>) {
        self.adapter = Some(identity.into());
    }

    /// The `GpuOptions` settings measured best on [`Calibration::adapter`], as (field name,
    /// value as text): a [`crate::backends::gpu::Gpu`] opened on that adapter and driver
    /// starts with them wherever its options leave the field unset
    /// ([`crate::backends::gpu::GpuOptions::tuning`]).
    pub fn gpu_settings(&self) -> &[(String, String)] {
        &self.gpu_settings
    }

    /// Records that the `GpuOptions` field `name` measured best at `value` (its text form,
    /// as `GpuOptions::set_if_unset` reads it) on [`Calibration::adapter`], replacing an
    /// earlier value.
    pub fn set_gpu_setting(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.gpu_settings.iter_mut().find(|(n, _)| n == name) {
            Some(setting) => setting.1 = value,
            None => self.gpu_settings.push((name.to_owned(), value)),
        }
    }

    /// Forgets every cost of `backend`.
    pub fn remove_backend(&mut self, backend: &str) {
        self.entries.retain(|e| e.backend != backend);
    }

    /// Forgets the `gpu` costs and settings unless they were measured on `adapter` (an
    /// `AdapterSummary::identity`; `None` where this machine has no GPU): a table from
    /// another GPU, or from the same GPU under another driver, says nothing about this one.
    /// The CPU backends' costs stay.
    pub fn keep_gpu_costs_of(&mut self, adapter: Option<&str>) {
        if self.adapter.as_deref() != adapter || adapter.is_none() {
            self.remove_backend("gpu");
            self.adapter = None;
            self.gpu_settings.clear();
        }
    }

    /// Sets the fixed cost per call and the bus rate of every cost of `backend` (the
    /// measured link of a GPU), keeping its compute rates and points.
    pub fn set_link(&mut self, backend: &str, overhead: f64, transfer_rate: f64) {
        for entry in self.entries.iter_mut().filter(|e| e.backend == backend) {
            entry.cost.overhead = overhead;
            entry.cost.transfer_rate = transfer_rate;
        }
    }

    /// Takes every cost of `other`, replacing this one's where both have one.
    pub fn merge(&mut self, other: &Calibration) {
        if other.adapter.is_some() {
            if other.adapter != self.adapter {
                // Settings measured on another adapter say nothing about this one.
                self.gpu_settings.clear();
            }
            self.adapter.clone_from(&other.adapter);
        }
        for (name, value) in &other.gpu_settings {
            self.set_gpu_setting(name, value.clone());
        }
        for e in &other.entries {
            self.set(e.kernel, e.precision, &e.backend, e.cost);
            self.set_points(e.kernel, e.precision, &e.backend, &e.points);
        }
    }

    /// Sets (or replaces) one cost, forgetting any measured points.
    pub fn set(&mut self, kernel: Kernel, precision: Precision, backend: &str, cost: Cost) {
        self.entries
            .retain(|e| !(e.kernel == kernel && e.precision == precision && e.backend == backend));
        self.entries.push(Entry {
            kernel,
            precision,
            backend: backend.to_owned(),
            cost,
            points: Vec::new(),
        });
    }

    /// Attaches measured `(work, compute seconds)` points to an existing cost; they then
    /// predict the compute time (the cost's transfer rate still prices the bus). Points
    /// with non-positive values are dropped.
    pub fn set_points(
        &mut self,
        kernel: Kernel,
        precision: Precision,
        backend: &str,
        points: &[(f64, f64)],
    ) {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.kernel == kernel && e.precision == precision && e.backend == backend)
        else {
            return;
        };
        let mut points: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|&(w, t)| w > 0.0 && t > 0.0)
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|a, b| a.0 == b.0);
        entry.points = points;
    }

    /// Predicted seconds of `backend` for `load`, if it has a cost.
    pub fn seconds(&self, precision: Precision, backend: &str, load: &Workload) -> Option<f64> {
        let entry = self.entries.iter().find(|e| {
            e.kernel == load.kernel && e.precision == precision && e.backend == backend
        })?;
        if entry.points.is_empty() {
            return Some(entry.cost.seconds(load));
        }
        Some(interpolate(&entry.points, load.work) + load.transfer_bytes / entry.cost.transfer_rate)
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
            if let Some(identity) = line.strip_prefix("adapter\t") {
                cal.set_adapter(identity);
                continue;
            }
            if let Some(setting) = line.strip_prefix("gpu-setting\t") {
                let (name, value) = setting
                    .split_once('\t')
                    .ok_or_else(|| bad(format!("line {} does not parse: `{line}`", number + 1)))?;
                cal.set_gpu_setting(name, value);
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if let [kernel, precision, backend, "points", points] = fields.as_slice() {
                let parsed: Option<Vec<(f64, f64)>> = points
                    .split(',')
                    .map(|pair| {
                        let (w, t) = pair.split_once(':')?;
                        Some((w.parse().ok()?, t.parse().ok()?))
                    })
                    .collect();
                let (Some(kernel), Ok(precision), Some(points)) = (
                    Kernel::parse(kernel),
                    precision.parse::<Precision>(),
                    parsed,
                ) else {
                    return Err(bad(format!("line {} does not parse: `{line}`", number + 1)));
                };
                cal.set_points(kernel, precision, backend, &points);
                continue;
            }
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
        let path = Calibration::writable_default_path()?;
        self.save_to(&path)?;
        Ok(path)
    }

    /// [`Calibration::default_path`], or the error of a platform without a cache directory.
    pub(crate) fn writable_default_path() -> Result<PathBuf> {
        Calibration::default_path()
            .ok_or_else(|| Error::invalid("calibration", "this platform has no cache directory"))
    }

    /// Writes the calibration to `path`, creating its directory.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if it cannot be written.
    pub fn save_to(&self, path: &Path) -> Result<()> {
        let mut text = format!("{HEADER}\n");
        if let Some(identity) = &self.adapter {
            let _ = writeln!(text, "adapter\t{identity}");
        }
        for (name, value) in &self.gpu_settings {
            let _ = writeln!(text, "gpu-setting\t{name}\t{value}");
        }
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
            if !e.points.is_empty() {
                let points: Vec<String> = e
                    .points
                    .iter()
                    .map(|(w, t)| format!("{w:?}:{t:?}"))
                    .collect();
                let _ = writeln!(
                    text,
                    "{}\t{}\t{}\tpoints\t{}",
                    e.kernel.name(),
                    e.precision,
                    e.backend,
                    points.join(",")
                );
            }
        }
        let fail =
            |e: std::io::Error| Error::invalid("calibration", format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(path, text).map_err(fail)
    }
}
