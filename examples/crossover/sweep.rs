//! Timing one kernel on every backend over a range of sizes.

use std::time::{Duration, Instant};

/// One measured point: a backend flavour at a size.
#[derive(Debug, Clone)]
pub struct Point {
    /// The size as the kernel's natural parameter (grid side, width, length).
    pub size: usize,
    /// Work in the cost model's units (see `hpnum::backends::auto::model::Workload`).
    pub work: f64,
    /// Bytes a one-shot device call moves across the bus.
    pub transfer_bytes: f64,
    /// `scalar`, `simd`, `rayon`, `gpu` (one shot), `gpu-resident`, `gpu-readback`.
    pub flavour: String,
    /// Median seconds per call.
    pub seconds: f64,
    /// Throughput in the kernel's unit per second (GB/s or Gpix·iter/s).
    pub throughput: f64,
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

/// The first size from which `contender` is faster than every CPU flavour at every larger
/// size measured, if any.
pub fn crossover(points: &[Point], contender: &str) -> Option<usize> {
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
        let best_cpu = ["scalar", "simd", "rayon"]
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
