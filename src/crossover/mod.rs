//! The crossover sweep: each kernel timed over a range of sizes on every backend — and, on
//! a GPU, one-shot (upload, compute, download), on resident data, and reading back every
//! step — beside the machine's limits measured in the same run. It answers the book's
//! question on the machine at hand: from which size does the GPU beat the best CPU backend,
//! with and without its transfers? [`Crossover::crossings`] names those sizes,
//! [`Crossover::calibrate`] turns the measurements into `Auto`'s cost model.
//!
//! One implementation serves the `crossover` and `report` examples and the Python
//! package's `hpnum.crossover`; the kernels, sizes and calls come from
//! [`Kernel::ALL`], [`Kernel::sweep_sizes`] and [`Kernel::case`].
//!
//! ```
//! use hpnum::crossover::{SweepOptions, sweep};
//! use hpnum::kernels::Kernel;
//!
//! let options = SweepOptions {
//!     kernels: vec![Kernel::Norm],
//!     backends: Some(vec!["scalar".into(), "simd".into()]),
//!     sizes: Some(vec![1_000, 100_000]),
//!     repeats: Some(1),
//!     ..SweepOptions::quick()
//! };
//! let result = sweep::<f32>(&options, &mut |_| Ok(()))?;
//! assert_eq!(result.points.len(), 2 * 2); // two sizes on two backends
//! assert!(result.points.iter().all(|p| p.seconds > 0.0));
//! # Ok::<(), hpnum::Error>(())
//! ```

mod calibrate;
mod limits;
mod link;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod tune;

use std::sync::Arc;
use std::time::Duration;

pub use self::limits::{Cores, HostLimits};
pub use self::link::Link;
use crate::backend::{AnyBackend, DeviceKind};
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::case::Case;
use crate::kernels::kernel::Kernel;
use crate::kernels::workload::Workload;
use crate::real::{Precision, Real};

/// What a sweep runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOptions {
    /// The kernels, in order.
    pub kernels: Vec<Kernel>,
    /// Fewer sizes and repeats: a run of about a minute.
    pub quick: bool,
    /// The backends to time, by name (`scalar`, `simd`, `rayon`, `auto`, `gpu`); `None`:
    /// every one this machine runs.
    pub backends: Option<Vec<String>>,
    /// Timed runs per point after one untimed (`None`: 3 when quick, else 7); the median
    /// is kept.
    pub repeats: Option<usize>,
    /// The sizes for every kernel, in its size unit (`None`: [`Kernel::sweep_sizes`]).
    pub sizes: Option<Vec<usize>>,
}

impl SweepOptions {
    /// Every kernel and backend, the quick sizes.
    pub fn quick() -> Self {
        SweepOptions {
            kernels: Kernel::ALL.to_vec(),
            quick: true,
            backends: None,
            repeats: None,
            sizes: None,
        }
    }

    /// Every kernel and backend, the full sizes.
    pub fn full() -> Self {
        SweepOptions {
            quick: false,
            ..SweepOptions::quick()
        }
    }

    fn wants(&self, backend: &str) -> bool {
        self.backends
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == backend))
    }

    fn repeats(&self) -> usize {
        self.repeats
            .unwrap_or(if self.quick { 3 } else { 7 })
            .max(1)
    }
}

/// One measurement: a backend (or GPU flavour) on a kernel at a size.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The kernel.
    pub kernel: Kernel,
    /// The call's name in tables ([`Case::label`]: `julia`, `diffusion`, `norm-l2`).
    pub label: String,
    /// The size, in [`Kernel::size_label`] units.
    pub size: usize,
    /// The call's workload in the cost model's units.
    pub workload: Workload,
    /// A CPU backend's name, `auto`, `gpu` (one shot: upload, compute, download),
    /// `gpu-resident` (compute on resident data) or `gpu-readback` (every step read back).
    pub backend: String,
    /// Median seconds per call.
    pub seconds: f64,
    /// Throughput in [`Kernel::unit`] (10⁹ units per second).
    pub throughput: f64,
    /// The fraction of the limit it reached ([`Kernel::limit`] of the host for host
    /// backends, on one core for `scalar` and `simd` and on all for the others; of the
    /// device for `gpu-resident`); `None` where no limit applies (calls that include
    /// transfers) or none was measured.
    pub of_limit: Option<f64>,
}

/// A size from which a GPU flavour beats every CPU backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// The kernel.
    pub kernel: Kernel,
    /// `gpu-resident`, `gpu` (one shot) or `gpu-readback`.
    pub flavour: &'static str,
    /// The first size from which it is faster than the best CPU backend at every larger
    /// size measured, or `None` if it never is in the range.
    pub size: Option<usize>,
}

/// The GPU flavours a sweep times, in the order crossings are listed.
pub const GPU_FLAVOURS: [&str; 3] = ["gpu-resident", "gpu", "gpu-readback"];

/// What one step of a sweep reports to its caller: the point measured (if it ran) and how
/// far the sweep has come.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Points visited so far, including this one.
    pub done: usize,
    /// Points the sweep visits in all.
    pub total: usize,
    /// The measurement, if the backend ran at this size.
    pub point: Option<&'a Point>,
}

/// A sweep's measurements and the limits measured beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossover {
    /// The precision.
    pub precision: Precision,
    /// Every measurement.
    pub points: Vec<Point>,
    /// The CPU backends that competed for "best CPU".
    pub cpu_backends: Vec<String>,
    /// Runs per point.
    pub repeats: usize,
    /// The host's limits.
    pub host: HostLimits,
    /// The GPU's, if one was swept.
    #[cfg(feature = "gpu")]
    pub device: Option<crate::backends::gpu::probe::DeviceLimits>,
    /// The GPU's link, if one was swept.
    pub link: Option<Link>,
    /// The GPU adapter and driver (`AdapterSummary::identity`), if one was swept.
    pub adapter: Option<String>,
}

impl Crossover {
    /// The measurements of `kernel`.
    pub fn points_of(&self, kernel: Kernel) -> impl Iterator<Item = &Point> {
        self.points.iter().filter(move |p| p.kernel == kernel)
    }

    /// The first size from which `flavour` beats every CPU backend at every larger size
    /// measured for `kernel`, if any.
    pub fn crossing(&self, kernel: Kernel, flavour: &str) -> Option<usize> {
        crossing(&self.points, &self.cpu_backends, kernel, flavour)
    }

    /// Every kernel's crossing for every GPU flavour it was measured in.
    pub fn crossings(&self) -> Vec<Crossing> {
        let mut kernels: Vec<Kernel> = Vec::new();
        for p in &self.points {
            if !kernels.contains(&p.kernel) {
                kernels.push(p.kernel);
            }
        }
        kernels
            .into_iter()
            .flat_map(|kernel| {
                GPU_FLAVOURS
                    .into_iter()
                    .filter(move |f| self.points_of(kernel).any(|p| p.backend == *f))
                    .map(move |flavour| Crossing {
                        kernel,
                        flavour,
                        size: self.crossing(kernel, flavour),
                    })
            })
            .collect()
    }

    /// The backends measured for `kernel`, in the order they were.
    pub fn backends_of(&self, kernel: Kernel) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self.points_of(kernel) {
            if !out.contains(&p.backend) {
                out.push(p.backend.clone());
            }
        }
        out
    }
}

/// The first size from which `flavour` beats every one of `cpu_backends` at every larger
/// size measured for `kernel` among `points`, if any ([`Crossover::crossing`]; a page that
/// measures its own points calls this).
pub fn crossing(
    points: &[Point],
    cpu_backends: &[String],
    kernel: Kernel,
    flavour: &str,
) -> Option<usize> {
    let points: Vec<&Point> = points.iter().filter(|p| p.kernel == kernel).collect();
    let mut sizes: Vec<usize> = points.iter().map(|p| p.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let wins = |size: usize| {
        let at = |backend: &str| {
            points
                .iter()
                .find(|p| p.size == size && p.backend == backend)
                .map(|p| p.seconds)
        };
        let best_cpu = cpu_backends
            .iter()
            .filter_map(|b| at(b))
            .fold(f64::INFINITY, f64::min);
        at(flavour).is_some_and(|t| t < best_cpu)
    };
    let mut first = None;
    for &size in sizes.iter().rev() {
        if wins(size) {
            first = Some(size);
        } else {
            break;
        }
    }
    first
}

/// Records one backend's median seconds on a case (`None` where it did not run).
type Measure<'a, T> = dyn FnMut(&str, Option<f64>, &dyn Case<T>) -> Result<()> + 'a;

/// The median of `repeats` timings of `run` after one untimed warm-up; `None` if a run
/// failed.
fn median(watch: Watch, repeats: usize, mut run: impl FnMut() -> Result<Duration>) -> Option<f64> {
    run().ok()?;
    // A failed run (an interrupted one among them) or a stop between runs ends the point.
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            if watch.interrupted() {
                return None;
            }
            run().map(|d| d.as_secs_f64()).ok()
        })
        .collect::<Option<_>>()?;
    times.sort_by(f64::total_cmp);
    Some(times[times.len() / 2])
}

/// Runs the sweep in `T` (see the module's docs). `progress` is called after every point;
/// an error it returns stops the sweep with that error. [`crate::interrupt_running_calls`]
/// stops it too, within the running call (how a caller honours Ctrl-C).
///
/// # Errors
/// [`Error::InvalidParameter`] for no kernels or a size of 0; [`Error::Interrupted`] once
/// `interrupt_running_calls` was called during the sweep; what `progress` returns. A
/// backend that fails at a size leaves a gap, not an error.
pub fn sweep<T: Real>(
    options: &SweepOptions,
    progress: &mut dyn FnMut(&Progress<'_>) -> Result<()>,
) -> Result<Crossover> {
    if options.kernels.is_empty() {
        return Err(Error::invalid("kernels", "at least one kernel is needed"));
    }
    if options.sizes.as_ref().is_some_and(|s| s.contains(&0)) {
        return Err(Error::invalid("sizes", "must be at least 1"));
    }
    let watch = Watch::start();
    let contenders = Contenders::open(options, T::PRECISION);
    let real_gpu = gpu::is_real(contenders.gpu.as_ref());
    let repeats = options.repeats();
    let host = HostLimits::measure()?;
    let device = gpu::limits(contenders.gpu.as_ref());
    let plan: Vec<(Kernel, Vec<usize>)> = options
        .kernels
        .iter()
        .map(|&k| {
            let sizes = options
                .sizes
                .clone()
                .unwrap_or_else(|| k.sweep_sizes(options.quick, real_gpu));
            (k, sizes)
        })
        .collect();
    let mut points = Vec::new();
    let mut record = |point: Option<Point>| {
        points.extend(point.clone());
        point
    };
    let mut measured = Measured {
        done: 0,
        total: contenders.per_size() * plan.iter().map(|(_, s)| s.len()).sum::<usize>(),
        progress,
    };
    for (kernel, sizes) in &plan {
        for &size in sizes {
            let context = (&host, device.as_ref(), watch, repeats);
            measured.size::<T>(&contenders, *kernel, size, context, &mut record)?;
        }
    }
    Ok(Crossover {
        precision: T::PRECISION,
        points,
        cpu_backends: contenders.cpu.iter().map(|b| b.name().to_owned()).collect(),
        repeats,
        host,
        #[cfg(feature = "gpu")]
        device,
        link: gpu::link(contenders.gpu.as_ref()),
        adapter: gpu::identity(contenders.gpu.as_ref()),
    })
}

/// The backends a sweep times: the CPU's, `auto` where asked for, the GPU where one opens.
struct Contenders {
    cpu: Vec<Arc<dyn AnyBackend>>,
    /// The CPU backends and `auto`: every contender timed through [`Case::run`].
    hosts: Vec<Arc<dyn AnyBackend>>,
    gpu: Option<gpu::Gpu>,
}

impl Contenders {
    fn open(options: &SweepOptions, precision: Precision) -> Self {
        let cpu: Vec<Arc<dyn AnyBackend>> = crate::matrix::all()
            .into_iter()
            .filter(|b| b.capabilities().device == DeviceKind::Cpu && options.wants(b.name()))
            .collect();
        let auto = options
            .wants("auto")
            .then(|| crate::matrix::by_name("auto").ok())
            .flatten();
        Contenders {
            hosts: cpu.iter().cloned().chain(auto).collect(),
            cpu,
            gpu: gpu::open(options, precision),
        }
    }

    /// Points per size: one per host backend, and one per GPU flavour.
    fn per_size(&self) -> usize {
        self.hosts.len()
            + if self.gpu.is_some() {
                GPU_FLAVOURS.len()
            } else {
                0
            }
    }
}

/// A sweep's count of points so far, told to its caller's `progress`.
struct Measured<'p> {
    done: usize,
    total: usize,
    progress: &'p mut dyn FnMut(&Progress<'_>) -> Result<()>,
}

impl Measured<'_> {
    /// Every contender's point of `kernel` at `size` (each missing where the inputs do not
    /// fit this machine), each passed to `record` and reported.
    fn size<T: Real>(
        &mut self,
        contenders: &Contenders,
        kernel: Kernel,
        size: usize,
        (host, device, watch, repeats): (&HostLimits, Option<&gpu::Limits>, Watch, usize),
        record: &mut dyn FnMut(Option<Point>) -> Option<Point>,
    ) -> Result<()> {
        let Ok(mut case) = kernel.case::<T>(size) else {
            for _ in 0..contenders.per_size() {
                self.report(None)?;
            }
            return Ok(());
        };
        let mut measure = |backend: &str, seconds: Option<f64>, case: &dyn Case<T>| {
            watch.check()?;
            let point = seconds.map(|s| point(case, backend, s, T::PRECISION, host, device));
            let point = record(point);
            self.report(point.as_ref())
        };
        let case = case.as_mut();
        for backend in &contenders.hosts {
            let seconds = median(watch, repeats, || case.run(backend.as_ref()));
            measure(backend.name(), seconds, case)?;
        }
        gpu::measure(contenders.gpu.as_ref(), case, watch, repeats, &mut measure)
    }

    fn report(&mut self, point: Option<&Point>) -> Result<()> {
        self.done += 1;
        (self.progress)(&Progress {
            done: self.done,
            total: self.total,
            point,
        })
    }
}

/// The point of `backend` on `case` at `seconds` per call.
fn point<T: Real>(
    case: &dyn Case<T>,
    backend: &str,
    seconds: f64,
    precision: Precision,
    host: &HostLimits,
    device: Option<&gpu::Limits>,
) -> Point {
    let kernel = case.kernel();
    let used = case.limit_work() / seconds;
    let host_limit = host.of(kernel.limit(), precision, Cores::of_backend(backend));
    let of_limit = match backend {
        "gpu-resident" => device.and_then(|d| gpu::limit(d, kernel.limit(), precision)),
        // Their time includes the bus: no one limit applies.
        "gpu" | "gpu-readback" => None,
        _ => Some(host_limit),
    }
    .map(|limit| used / limit);
    Point {
        kernel,
        label: case.label(),
        size: case.size(),
        workload: case.workload(),
        backend: backend.to_owned(),
        seconds,
        throughput: case.throughput_work() / seconds / 1e9,
        of_limit,
    }
}

/// The GPU's part of a sweep, in a build with the GPU backend.
#[cfg(feature = "gpu")]
mod gpu {
    use crate::backend::DeviceKind;
    pub(super) use crate::backends::gpu::Gpu;
    use crate::backends::gpu::probe::DeviceLimits;
    use crate::crossover::{Case, Link, Measure, SweepOptions as Options, Watch};
    use crate::error::Result;
    use crate::kernels::case::GpuFlavour;
    use crate::kernels::kernel::Limit;
    use crate::real::{Precision, Real};

    pub(super) type Limits = DeviceLimits;

    /// The shared GPU, if the options want it and it computes in `T`.
    pub(super) fn open(options: &Options, precision: Precision) -> Option<Gpu> {
        if !options.wants("gpu") {
            return None;
        }
        let gpu = Gpu::shared().ok()?;
        (precision == Precision::F32 || gpu.adapter().f64).then_some(gpu)
    }

    /// Whether `gpu` is hardware, not a software driver on these same cores.
    pub(super) fn is_real(gpu: Option<&Gpu>) -> bool {
        gpu.is_some_and(|g| g.adapter().device != DeviceKind::SoftwareGpu)
    }

    pub(super) fn limits(gpu: Option<&Gpu>) -> Option<DeviceLimits> {
        gpu?.device_limits().ok()
    }

    pub(super) fn limit(d: &DeviceLimits, limit: Limit, precision: Precision) -> Option<f64> {
        match limit {
            Limit::Arithmetic => match precision {
                Precision::F32 => Some(d.f32_flops),
                Precision::F64 => d.f64_flops,
            },
            Limit::CopyBandwidth => Some(d.copy_bytes_per_s),
            Limit::ReadBandwidth => Some(d.read_bytes_per_s),
        }
    }

    pub(super) fn link(gpu: Option<&Gpu>) -> Option<Link> {
        let rates = gpu?.bus_rates().ok()?;
        Some(Link {
            transfer_rate: rates.upload_bytes_per_s.min(rates.download_bytes_per_s),
            // A one-shot call waits three times: for its upload, its kernel, its read-back.
            overhead: 3.0 * rates.round_trip.as_secs_f64(),
        })
    }

    pub(super) fn identity(gpu: Option<&Gpu>) -> Option<String> {
        Some(gpu?.adapter().identity())
    }

    /// Times `case` one-shot, resident and reading back every step (where the kernel has
    /// those), reporting each through `measure`.
    pub(super) fn measure<T: Real>(
        gpu: Option<&Gpu>,
        case: &mut dyn Case<T>,
        watch: Watch,
        repeats: usize,
        measure: &mut Measure<'_, T>,
    ) -> Result<()> {
        let Some(gpu) = gpu else {
            return Ok(());
        };
        let one_shot = super::median(watch, repeats, || case.run(gpu));
        measure("gpu", one_shot, case)?;
        for (name, flavour) in [
            ("gpu-resident", GpuFlavour::Resident),
            ("gpu-readback", GpuFlavour::ReadBackEveryStep),
        ] {
            let seconds = match case.gpu(gpu, flavour) {
                Ok(Some(mut run)) => super::median(watch, repeats, || run.run()),
                _ => None,
            };
            measure(name, seconds, case)?;
        }
        Ok(())
    }
}

/// The GPU's part of a sweep, in a build without the GPU backend: nothing.
#[cfg(not(feature = "gpu"))]
mod gpu {
    use crate::crossover::{Case, Link, Measure, SweepOptions as Options, Watch};
    use crate::error::Result;
    use crate::kernels::kernel::Limit;
    use crate::real::{Precision, Real};

    /// Stands in for the GPU: never constructed.
    pub(super) enum Gpu {}
    /// Stands in for the GPU's limits: never constructed.
    pub(super) enum Limits {}

    pub(super) fn open(_: &Options, _: Precision) -> Option<Gpu> {
        None
    }
    pub(super) fn is_real(_: Option<&Gpu>) -> bool {
        false
    }
    pub(super) fn limits(_: Option<&Gpu>) -> Option<Limits> {
        None
    }
    pub(super) fn limit(d: &Limits, _: Limit, _: Precision) -> Option<f64> {
        match *d {}
    }
    pub(super) fn link(_: Option<&Gpu>) -> Option<Link> {
        None
    }
    pub(super) fn identity(_: Option<&Gpu>) -> Option<String> {
        None
    }
    pub(super) fn measure<T: Real>(
        _: Option<&Gpu>,
        _: &mut dyn Case<T>,
        _: Watch,
        _: usize,
        _: &mut Measure<'_, T>,
    ) -> Result<()> {
        Ok(())
    }
}
