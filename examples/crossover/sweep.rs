//! Timing each kernel on every backend over a range of sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::julia::pixel_iterations;
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::kernels::workload::Workload;
use hpnum::{AnyBackend, Backend, DiffusionParams, JuliaParams, NormKind, Real};
use indicatif::ProgressBar;
use ndarray::Array2;

#[cfg(feature = "gpu")]
pub use hpnum::backends::gpu::Gpu;
#[cfg(feature = "gpu")]
use hpnum::backends::gpu::Transfers;
#[cfg(not(feature = "gpu"))]
/// Stands in for the GPU in a CPU-only build: never constructed.
pub enum Gpu {}

/// Julia's iteration cap in the sweep: the book's.
pub const MAX_ITER: u32 = 300;
/// Diffusion steps per call: a one-shot GPU call transfers once per this many steps.
pub const STEPS: usize = 20;

/// One measured point: a backend flavour at a size.
#[derive(Debug, Clone)]
pub struct Point {
    /// The size as the kernel's natural parameter (grid side, width, length).
    pub size: usize,
    /// The call's workload (`hpnum::kernels::workload`): work in the cost model's units
    /// and the bytes a one-shot device call moves across the bus.
    pub workload: Workload,
    /// A CPU backend's name, `auto`, `gpu` (one shot), `gpu-resident`, `gpu-readback`.
    pub flavour: String,
    /// Median seconds per call.
    pub seconds: f64,
    /// Throughput in the kernel's unit per second (GB/s or Gpix·iter/s).
    pub throughput: f64,
}

/// What a sweep runs on.
pub struct Setup<'a> {
    /// The CPU backends, each a contender for "best CPU".
    pub cpu: Vec<Arc<dyn AnyBackend>>,
    /// `auto`, as a column of its own: it should track the fastest one.
    pub auto: Option<Arc<dyn AnyBackend>>,
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub gpu: Option<&'a Gpu>,
    pub repeats: usize,
    pub bar: ProgressBar,
}

impl Setup<'_> {
    /// The CPU backends, then `auto`.
    fn hosts(&self) -> impl Iterator<Item = &Arc<dyn AnyBackend>> {
        self.cpu.iter().chain(self.auto.iter())
    }

    /// What keeps each flavour's median seconds at `size` (if it ran) in `points`, with its
    /// throughput in `amount` units (pixel-iterations, bytes) per second, and advances the
    /// progress bar.
    fn recorder<'p>(
        &'p self,
        points: &'p mut Vec<Point>,
        (size, workload, amount): (usize, Workload, f64),
    ) -> impl FnMut(&str, Option<f64>) + 'p {
        move |flavour, seconds| {
            if let Some(seconds) = seconds {
                points.push(Point {
                    size,
                    workload,
                    flavour: flavour.into(),
                    seconds,
                    throughput: amount / seconds / 1e9,
                });
            }
            self.bar.inc(1);
        }
    }

    /// Backends (and GPU flavours) timed per size, for the progress bar.
    pub fn per_size(&self) -> usize {
        self.cpu.len() + usize::from(self.auto.is_some()) + if self.gpu.is_some() { 3 } else { 0 }
    }
}

/// The median of `repeats` timings of `run` after one untimed warm-up; `run` returns its
/// own time (so GPU flavours can report device time) or `None` when it failed.
pub fn median(repeats: usize, mut run: impl FnMut() -> Option<Duration>) -> Option<f64> {
    run()?;
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| run().map(|d| d.as_secs_f64()))
        .collect::<Option<_>>()?;
    times.sort_by(f64::total_cmp);
    Some(times[times.len() / 2])
}

/// Host time of `f`, or `None` when it failed.
pub fn timed<R, E>(f: impl FnOnce() -> Result<R, E>) -> Option<Duration> {
    let start = Instant::now();
    f().ok()?;
    Some(start.elapsed())
}

/// The first size from which `contender` is faster than every flavour in `cpu` at every
/// larger size measured, if any.
pub fn crossover(points: &[Point], contender: &str, cpu: &[String]) -> Option<usize> {
    let mut sizes: Vec<usize> = points.iter().map(|p| p.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let wins = |size: usize| {
        let at = |f: &str| {
            points
                .iter()
                .find(|p| p.size == size && p.flavour == f)
                .map(|p| p.seconds)
        };
        let best_cpu = cpu
            .iter()
            .filter_map(|f| at(f))
            .fold(f64::INFINITY, f64::min);
        at(contender).is_some_and(|t| t < best_cpu)
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

pub fn julia<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
where
    dyn AnyBackend: Backend<T>,
{
    let mut points = Vec::new();
    for &width in sizes {
        let Ok(params) = JuliaParams::<T>::book(width, MAX_ITER) else {
            continue;
        };
        let Ok(counts) = hpnum::kernels::julia::reference(&params) else {
            continue;
        };
        let iterations = pixel_iterations(&counts) as f64;
        let workload = Workload::julia(&params);
        let mut add = s.recorder(&mut points, (width, workload, iterations));
        for b in s.hosts() {
            add(b.name(), median(s.repeats, || timed(|| b.julia(&params))));
        }
        #[cfg(feature = "gpu")]
        if let Some(gpu) = s.gpu {
            add(
                "gpu",
                median(s.repeats, || timed(|| Backend::<T>::julia(gpu, &params))),
            );
            add(
                "gpu-resident",
                median(s.repeats, || {
                    gpu.julia_timed(&params).ok().map(|(_, t)| t.compute)
                }),
            );
        }
    }
    points
}

pub fn diffusion<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
where
    dyn AnyBackend: Backend<T>,
{
    let mut points = Vec::new();
    let params = DiffusionParams::<T>::book();
    for &n in sizes {
        let Ok(mut grid) = book_initial_grid::<T>(n, n) else {
            continue;
        };
        let mut scratch = Array2::zeros((n, n));
        let workload = Workload::diffusion::<T>(n, n, STEPS);
        let mut add = s.recorder(&mut points, (n, workload, workload.memory_bytes));
        for b in s.hosts() {
            add(
                b.name(),
                median(s.repeats, || {
                    timed(|| b.diffuse(grid.view_mut(), scratch.view_mut(), &params, STEPS))
                }),
            );
        }
        #[cfg(feature = "gpu")]
        if let Some(gpu) = s.gpu {
            add(
                "gpu",
                median(s.repeats, || {
                    timed(|| {
                        Backend::<T>::diffuse(
                            gpu,
                            grid.view_mut(),
                            scratch.view_mut(),
                            &params,
                            STEPS,
                        )
                    })
                }),
            );
            let mut resident = gpu.upload_grid(grid.view()).ok();
            add(
                "gpu-resident",
                median(s.repeats, || resident.as_mut()?.step(&params, STEPS).ok()),
            );
            drop(resident);
            add(
                "gpu-readback",
                median(s.repeats, || {
                    gpu.diffuse_timed(
                        grid.view_mut(),
                        &params,
                        STEPS,
                        Transfers::ReadBackEveryStep,
                    )
                    .ok()
                    .map(|t| t.total())
                }),
            );
        }
    }
    points
}

pub fn norm<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
where
    dyn AnyBackend: Backend<T>,
{
    let mut points = Vec::new();
    for &n in sizes {
        let Ok(v) = lcg_vector::<T>(n, LCG_SEED) else {
            continue;
        };
        let workload = Workload::norm::<T>(n);
        let mut add = s.recorder(&mut points, (n, workload, workload.memory_bytes));
        for b in s.hosts() {
            add(
                b.name(),
                median(s.repeats, || timed(|| b.norm(v.view(), NormKind::L2))),
            );
        }
        #[cfg(feature = "gpu")]
        if let Some(gpu) = s.gpu {
            add(
                "gpu",
                median(s.repeats, || {
                    timed(|| Backend::<T>::norm(gpu, v.view(), NormKind::L2))
                }),
            );
            let resident = gpu.upload_vector(v.view()).ok();
            add(
                "gpu-resident",
                median(s.repeats, || {
                    gpu.norm_resident(resident.as_ref()?, NormKind::L2)
                        .ok()
                        .map(|(_, t)| t.compute)
                }),
            );
        }
    }
    points
}
