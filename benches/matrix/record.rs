//! Keeps each benchmark's per-iteration times (the same measurements criterion analyses)
//! with the work one iteration does, and prints them as a table against the machine's
//! measured limits.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Bencher;
use hpnum::kernels::Limit;

/// What one iteration of a benchmark does, for throughput.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// Bytes moved to or from memory, at the least (read + write streams).
    Bytes(u64),
    /// Bytes only read.
    BytesRead(u64),
    /// A kernel's call: `amount` in the numerator of `unit`, and `limit_amount` of what
    /// limits it (floating-point operations, bytes copied or read).
    Kernel {
        amount: f64,
        unit: &'static str,
        limit: Limit,
        limit_amount: f64,
    },
    /// Floating-point operations.
    Flops(u64),
    /// Bytes copied from one memory to another (counted once), against a host memcpy of
    /// the same size (`transfer/memcpy/u8/SIZE`).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Transfer(u64),
    /// One call whose cost is its latency, against the floors of its group
    /// (`overhead/FLAVOUR/empty-submission` and `overhead/FLAVOUR/one-dispatch`).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Call,
}

impl Work {
    /// The amount one iteration does, in the unit its throughput is shown in.
    pub fn amount(self) -> f64 {
        match self {
            Work::Bytes(b) | Work::BytesRead(b) | Work::Transfer(b) | Work::Flops(b) => b as f64,
            Work::Kernel { amount, .. } => amount,
            Work::Call => 1.0,
        }
    }
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
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
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

    /// Records a limit measured outside criterion (the host's and the GPU's probes).
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
            Work::Call => 1.0 / secs,
            _ => work.amount() / secs / 1e9,
        };
        let rows = self.median("");
        let best = |prefix: &str| {
            rows.iter()
                .filter(|(id, _, _)| id.starts_with(prefix))
                .map(|(_, w, t)| rate(*w, *t))
                .fold(0.0, f64::max)
        };
        let seconds = |id: &str| {
            rows.iter()
                .find(|(row, _, _)| row == id)
                .map(|(_, _, t)| *t)
        };
        let copy = best("bandwidth/copy");
        let read = best("bandwidth/read");
        let flops = best("peak/flops/f32");
        let flops_f64 = best("peak/flops/f64");
        let one_core = [
            best("bandwidth/copy/one-core"),
            best("bandwidth/read/one-core"),
            best("peak/flops/f32/one-core"),
            best("peak/flops/f64/one-core"),
        ];
        // One core's memcpy, where a transfer row has no memcpy of its own size.
        let memcpy_fallback = one_core[0] / 2.0;
        let gpu_copy = best("bandwidth/gpu-copy");
        let gpu_read = best("bandwidth/gpu-read");
        let gpu_flops = best("peak/gpu-flops/f32");
        let gpu_flops_f64 = best("peak/gpu-flops/f64");
        if copy == 0.0 && gpu_copy == 0.0 && rows.is_empty() {
            return; // nothing ran
        }
        println!("\n## Machine limits measured in this run");
        println!("- copy bandwidth (read + write streams): {copy:.1} GB/s");
        println!("- read bandwidth: {read:.1} GB/s");
        println!(
            "- peak FLOP/s without FMA, all cores: {flops:.1} G (f32), {flops_f64:.1} G (f64)"
        );
        println!(
            "- one core (the yardsticks of the scalar and simd rows): copy {:.1} GB/s, read \
             {:.1} GB/s, {:.1} GFLOP/s f32, {:.1} GFLOP/s f64",
            one_core[0], one_core[1], one_core[2], one_core[3]
        );
        if gpu_copy > 0.0 {
            println!(
                "- GPU device (compute-shader probes): copy {gpu_copy:.1} GB/s, read \
                 {gpu_read:.1} GB/s, {gpu_flops:.1} GFLOP/s f32, {gpu_flops_f64:.1} GFLOP/s f64"
            );
        }
        println!();
        println!("| benchmark | time per iteration | throughput | of limit | rayon ÷ simd |");
        println!("|---|---:|---:|---:|---:|");
        let percent = |r: f64, limit: f64| {
            if limit > 0.0 {
                format!("{:.0}%", 100.0 * r / limit)
            } else {
                "–".to_owned()
            }
        };
        for (id, work, secs) in &rows {
            let (id, work, secs) = (id.as_str(), *work, *secs);
            let r = rate(work, secs);
            let f64_row = id.contains("f64");
            // Device rows against the device's own limits, host rows against the host's.
            let on_device = id.contains("/gpu")
                && !id.starts_with("transfer/")
                && !id.contains("upload")
                && !id.contains("download");
            // The single-core backends against one core's limits.
            let single_core = matches!(id.split('/').nth(1), Some("scalar" | "simd"));
            let (copy, read, peak) = match (on_device, single_core, f64_row) {
                (true, _, false) => (gpu_copy, gpu_read, gpu_flops),
                (true, _, true) => (gpu_copy, gpu_read, gpu_flops_f64),
                (false, true, false) => (one_core[0], one_core[1], one_core[2]),
                (false, true, true) => (one_core[0], one_core[1], one_core[3]),
                (false, false, false) => (copy, read, flops),
                (false, false, true) => (copy, read, flops_f64),
            };
            let (shown, of_limit) = match work {
                Work::Bytes(_) => (format!("{r:.2} GB/s"), percent(r, copy)),
                Work::BytesRead(_) => (format!("{r:.2} GB/s"), percent(r, read)),
                Work::Flops(_) => (format!("{r:.2} GFLOP/s"), "100%".to_owned()),
                Work::Kernel {
                    unit,
                    limit,
                    limit_amount,
                    ..
                } => {
                    let used = limit_amount / secs / 1e9;
                    match limit {
                        Limit::Arithmetic => (
                            format!("{r:.3} {unit} = {used:.1} GFLOP/s"),
                            percent(used, peak),
                        ),
                        Limit::CopyBandwidth => (format!("{r:.2} {unit}"), percent(used, copy)),
                        Limit::ReadBandwidth => (format!("{r:.2} {unit}"), percent(used, read)),
                    }
                }
                Work::Transfer(_) => {
                    let size = id.rsplit('/').next().unwrap_or_default();
                    let memcpy = seconds(&format!("transfer/memcpy/u8/{size}"))
                        .map(|t| work.amount() / t / 1e9)
                        .unwrap_or(memcpy_fallback);
                    (
                        format!("{r:.2} GB/s"),
                        format!("{:.2}× memcpy", r / memcpy.max(f64::MIN_POSITIVE)),
                    )
                }
                Work::Call => {
                    let group = id.rsplit_once('/').map_or("", |(group, _)| group);
                    let floor = seconds(&format!("{group}/empty-submission"));
                    let dispatch = seconds(&format!("{group}/one-dispatch"));
                    let times = |floor: Option<f64>| {
                        floor.map_or("–".to_owned(), |f| format!("{:.2}×", secs / f))
                    };
                    (
                        format!("{r:.0} calls/s"),
                        format!("{} floor, {} dispatch", times(floor), times(dispatch)),
                    )
                }
            };
            // Where the rayon backend stops scaling: its speed over one core's SIMD.
            let speedup = match id.split_once("/rayon/") {
                Some((kernel, rest)) => seconds(&format!("{kernel}/simd/{rest}"))
                    .map_or("–".to_owned(), |simd| format!("{:.2}×", simd / secs)),
                None => String::new(),
            };
            println!(
                "| {id} | {} | {shown} | {of_limit} | {speedup} |",
                human(secs)
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
