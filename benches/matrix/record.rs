//! Keeps each benchmark's per-iteration times (the same measurements criterion analyses)
//! with the work one iteration does, and prints them as a table against the machine's
//! measured limits.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Bencher;

/// What one iteration of a benchmark does, for throughput.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// Bytes moved to or from memory, at the least (read + write streams).
    Bytes(u64),
    /// Bytes only read.
    BytesRead(u64),
    /// Julia pixel-iterations, each `flops` floating-point operations.
    PixelIterations { count: u64, flops: u64 },
    /// Floating-point operations.
    Flops(u64),
}

struct Record {
    id: String,
    work: Work,
    per_iter: Vec<Duration>,
}

/// All benchmarks of one run.
#[derive(Default)]
pub struct Recorder {
    records: Mutex<Vec<Record>>,
}

impl Recorder {
    /// Times `iters` calls of `routine` for criterion and records the time per call.
    pub fn bench(&self, b: &mut Bencher<'_>, id: &str, work: Work, mut routine: impl FnMut()) {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                routine();
            }
            let elapsed = start.elapsed();
            self.push(id, work, elapsed / iters.max(1) as u32);
            elapsed
        });
    }

    /// For routines that time themselves (GPU work timed on the device): `routine` runs
    /// `iters` times and returns the total time to report.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn bench_timed(
        &self,
        b: &mut Bencher<'_>,
        id: &str,
        work: Work,
        mut routine: impl FnMut(u64) -> Duration,
    ) {
        b.iter_custom(|iters| {
            let elapsed = routine(iters);
            self.push(id, work, elapsed / iters.max(1) as u32);
            elapsed
        });
    }

    /// Records a limit measured outside criterion (the GPU's copy bandwidth).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn record_limit(&self, id: &str, work: Work, per_iter: Duration) {
        self.push(id, work, per_iter);
    }

    fn push(&self, id: &str, work: Work, per_iter: Duration) {
        let mut records = self.records.lock().unwrap();
        match records.iter_mut().find(|r| r.id == id) {
            Some(r) => r.per_iter.push(per_iter),
            None => records.push(Record {
                id: id.to_owned(),
                work,
                per_iter: vec![per_iter],
            }),
        }
    }

    /// Median seconds per iteration of `id`, if it ran.
    fn median(&self, id_prefix: &str) -> Vec<(String, Work, f64)> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .filter(|r| r.id.starts_with(id_prefix))
            .map(|r| {
                let mut t: Vec<f64> = r.per_iter.iter().map(Duration::as_secs_f64).collect();
                t.sort_by(f64::total_cmp);
                (r.id.clone(), r.work, t[t.len() / 2])
            })
            .collect()
    }

    /// Prints the machine limits and every benchmark as a Markdown table.
    pub fn print_summary(&self) {
        let rate = |work: Work, secs: f64| match work {
            Work::Bytes(n) | Work::BytesRead(n) | Work::Flops(n) => n as f64 / secs / 1e9,
            Work::PixelIterations { count, .. } => count as f64 / secs / 1e9,
        };
        let best = |prefix: &str| {
            self.median(prefix)
                .iter()
                .map(|(_, w, t)| rate(*w, *t))
                .fold(0.0, f64::max)
        };
        let copy = best("bandwidth/copy");
        let read = best("bandwidth/read");
        let gpu_copy = best("bandwidth/gpu-copy");
        let flops = best("peak/flops/f32");
        let flops_f64 = best("peak/flops/f64");
        if copy == 0.0 {
            return; // nothing ran (a filter excluded the probes)
        }
        println!("\n## Machine limits measured in this run");
        println!("- copy bandwidth (read + write streams): {copy:.1} GB/s");
        println!("- read bandwidth: {read:.1} GB/s");
        if gpu_copy > 0.0 {
            println!("- GPU device copy bandwidth (read + write): {gpu_copy:.1} GB/s");
        }
        println!(
            "- peak FLOP/s without FMA, all cores: {flops:.1} G (f32), {flops_f64:.1} G (f64)\n"
        );
        println!("| benchmark | time per iteration | throughput | of limit |");
        println!("|---|---:|---:|---:|");
        for (id, work, secs) in self.median("") {
            let r = rate(work, secs);
            let peak = if id.contains("f64") { flops_f64 } else { flops };
            // GPU rows against the device's own bandwidth (transfers against the host's).
            let on_device =
                id.contains("/gpu") && !id.contains("upload") && !id.contains("download");
            let (copy, read) = if on_device && gpu_copy > 0.0 {
                (gpu_copy, gpu_copy)
            } else {
                (copy, read)
            };
            let (shown, fraction) = match work {
                Work::Bytes(_) => (format!("{r:.2} GB/s"), r / copy),
                Work::BytesRead(_) => (format!("{r:.2} GB/s"), r / read),
                Work::Flops(_) => (format!("{r:.2} GFLOP/s"), r / peak),
                Work::PixelIterations { flops, .. } => {
                    let f = r * flops as f64;
                    (format!("{r:.3} Gpix·iter/s = {f:.1} GFLOP/s"), f / peak)
                }
            };
            println!(
                "| {id} | {} | {shown} | {:.0}% |",
                human(secs),
                100.0 * fraction
            );
        }
    }
}

fn human(secs: f64) -> String {
    match secs {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} µs", s * 1e6),
    }
}
