//! The answer to "which backend, at which size, and what does the transfer cost?" on this
//! machine: sweeps each kernel over sizes on every backend, prints a table per kernel,
//! names the crossover sizes (where the GPU with resident data overtakes the best CPU
//! backend, where a one-shot GPU call that uploads and downloads still does, and what
//! reading back every diffusion step does), shows throughput against the limits measured
//! in the same run, and writes CSV and SVG plots. The `auto` column shows what the `Auto`
//! backend achieves with the calibration it has (the one `--save` writes).
//!
//! On a real GPU the sweep reaches the sizes where transfers are amortised (grids to
//! 8192², vectors to 10⁸); on a software one it stops earlier, where the answer is already
//! clear.
//!
//! ```text
//! cargo run --release --example crossover -- --quick          # under a minute
//! cargo run --release --example crossover -- --save           # also calibrate `Auto`
//! ```

mod calibrate;
#[path = "../common/mod.rs"]
mod common;
mod plot;
mod report;
mod sweep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hpnum::backends::auto::model::{Calibration, Kernel};
use hpnum::{AnyBackend, Backend, DeviceKind, Precision, Real};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use self::calibrate::Link;
use self::report::{Limits, Report};
use self::sweep::{Gpu, Setup};

/// Crossover sizes between the CPU and GPU backends, measured here.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Fewer sizes and repeats: a run under a minute.
    #[arg(long)]
    quick: bool,

    /// Directory for the CSV files and SVG plots.
    #[arg(long, default_value = "out/crossover")]
    out: PathBuf,

    /// Fit the cost model to the measurements and save it for the `Auto` backend.
    #[arg(long)]
    save: bool,
}

/// The sizes a sweep visits.
struct Sizes {
    julia: Vec<usize>,
    grids: Vec<usize>,
    lengths: Vec<usize>,
}

impl Sizes {
    /// `quick` keeps the run under a minute; a real GPU gets the sizes where its transfers
    /// are amortised.
    fn new(quick: bool, real_gpu: bool) -> Sizes {
        let powers = |from: usize, to: usize, step: usize| -> Vec<usize> {
            std::iter::successors(Some(from), |&n| Some(n * step))
                .take_while(|&n| n <= to)
                .collect()
        };
        match (quick, real_gpu) {
            (true, _) => Sizes {
                julia: powers(16, 1024, 4),
                grids: powers(16, 1024, 4),
                lengths: powers(1_000, 10_000_000, 100),
            },
            (false, false) => Sizes {
                julia: powers(16, 1024, 2),
                grids: powers(16, 2048, 2),
                lengths: powers(1_000, 100_000_000, 10),
            },
            (false, true) => Sizes {
                julia: powers(16, 4096, 2),
                grids: powers(16, 8192, 2),
                lengths: powers(1_000, 100_000_000, 10),
            },
        }
    }

    fn count(&self) -> usize {
        self.julia.len() + self.grids.len() + self.lengths.len()
    }
}

fn run<T: Real>(s: &Setup<'_>, sizes: &Sizes) -> Vec<Report>
where
    dyn AnyBackend: Backend<T>,
{
    vec![
        Report {
            kernel: Kernel::Julia,
            label: "julia",
            size_label: "width",
            unit: "Gpix·it/s",
            points: sweep::julia::<T>(s, &sizes.julia),
        },
        Report {
            kernel: Kernel::Diffusion,
            label: "diffusion",
            size_label: "grid side",
            unit: "GB/s",
            points: sweep::diffusion::<T>(s, &sizes.grids),
        },
        Report {
            kernel: Kernel::Norm,
            label: "norm-l2",
            size_label: "length",
            unit: "GB/s",
            points: sweep::norm::<T>(s, &sizes.lengths),
        },
    ]
}

/// Best-of-three copy bandwidth of host memory (read + write), all cores, GB/s.
fn host_copy_bandwidth() -> f64 {
    let words = 1 << 24; // 128 MiB per buffer
    let src = vec![1u64; words];
    let mut dst = vec![0u64; words];
    let chunk = words / rayon::current_num_threads().max(1) / 4;
    (0..4)
        .map(|_| {
            let start = Instant::now();
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
            2.0 * (words * 8) as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// The GPU to sweep, if there is one and it was asked for.
#[cfg(feature = "gpu")]
fn open_gpu(chosen: &str, precision: Precision) -> Option<Gpu> {
    match Gpu::shared() {
        Ok(gpu) if chosen == "all" || chosen == "gpu" => {
            let a = gpu.adapter();
            println!("gpu: {} ({}, {:?})", a.name, a.api, a.device);
            if precision == Precision::F64 && !a.f64 {
                println!("gpu: skipped for f64 (the adapter has no SHADER_F64)");
                None
            } else {
                Some(gpu)
            }
        }
        Ok(_) => None,
        Err(e) => {
            println!("gpu: skipped ({e})");
            None
        }
    }
}

/// Whether `gpu` is hardware (not a software driver running on these same cores).
#[cfg(feature = "gpu")]
fn is_real_gpu(gpu: Option<&Gpu>) -> bool {
    gpu.is_some_and(|g| g.adapter().device != DeviceKind::SoftwareGpu)
}

#[cfg(not(feature = "gpu"))]
fn is_real_gpu(_: Option<&Gpu>) -> bool {
    false
}

#[cfg(not(feature = "gpu"))]
fn open_gpu(_: &str, _: Precision) -> Option<Gpu> {
    println!("gpu: skipped (built without the `gpu` feature)");
    None
}

/// The GPU's limits and link, measured once here and used by the report and the
/// calibration alike.
#[cfg(feature = "gpu")]
fn measure_gpu(
    gpu: Option<&Gpu>,
    precision: Precision,
) -> (Option<report::GpuLimits>, Option<Link>, Option<String>) {
    let Some(gpu) = gpu else {
        return (None, None, None);
    };
    let limits = match gpu.device_limits() {
        Ok(l) => {
            let flops = match precision {
                Precision::F32 => Some(l.f32_flops),
                Precision::F64 => l.f64_flops,
            };
            println!(
                "gpu limits: copy {:.1} GB/s, read {:.1} GB/s, peak {} ({:?})",
                l.copy_bytes_per_s / 1e9,
                l.read_bytes_per_s / 1e9,
                flops.map_or("–".into(), |f| format!("{:.1} GFLOP/s", f / 1e9)),
                l.clock
            );
            Some(report::GpuLimits {
                copy: l.copy_bytes_per_s / 1e9,
                read: l.read_bytes_per_s / 1e9,
                flops: flops.unwrap_or(f64::NAN) / 1e9,
            })
        }
        Err(e) => {
            println!("gpu limits: probe failed ({e})");
            None
        }
    };
    let link = match gpu.bus_rates() {
        Ok(rates) => {
            println!(
                "gpu link: upload {:.2} GB/s, download {:.2} GB/s, empty submission {}",
                rates.upload_bytes_per_s / 1e9,
                rates.download_bytes_per_s / 1e9,
                report::human(rates.round_trip.as_secs_f64())
            );
            Some(Link {
                transfer_rate: rates.upload_bytes_per_s.min(rates.download_bytes_per_s),
                overhead: 3.0 * rates.round_trip.as_secs_f64(),
            })
        }
        Err(e) => {
            println!("gpu link: probe failed ({e})");
            None
        }
    };
    (limits, link, Some(gpu.adapter().identity()))
}

#[cfg(not(feature = "gpu"))]
fn measure_gpu(
    _: Option<&Gpu>,
    _: Precision,
) -> (Option<report::GpuLimits>, Option<Link>, Option<String>) {
    (None, None, None)
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let precision = args.common.precision_or(Precision::F32);
    let chosen = args.common.backend_name_or("all");
    let started = Instant::now();
    let all = hpnum::backends::all();
    // The contenders for "best CPU": every backend whose capabilities say it runs on the
    // host (the GPU backend's say otherwise).
    let cpu: Vec<Arc<dyn AnyBackend>> = all
        .iter()
        .filter(|b| b.capabilities().device == DeviceKind::Cpu)
        .filter(|b| chosen == "all" || chosen == b.name())
        .cloned()
        .collect();
    let cpu_names: Vec<String> = cpu.iter().map(|b| b.name().to_owned()).collect();
    let auto = (chosen == "all" || chosen == "auto")
        .then(|| hpnum::backends::by_name("auto").ok())
        .flatten();
    let gpu = open_gpu(chosen, precision);
    let real_gpu = is_real_gpu(gpu.as_ref());
    let sizes = Sizes::new(args.quick, real_gpu);
    let repeats = if args.quick { 3 } else { 7 };
    let setup = Setup {
        cpu,
        auto,
        gpu: gpu.as_ref(),
        repeats,
        bar: ProgressBar::hidden(),
    };
    let bar = ProgressBar::new((setup.per_size() * sizes.count()) as u64).with_style(
        ProgressStyle::with_template("sweeping [{bar:40}] {pos}/{len}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let setup = Setup { bar, ..setup };
    let reports = match precision {
        Precision::F32 => run::<f32>(&setup, &sizes),
        Precision::F64 => run::<f64>(&setup, &sizes),
    };
    setup.bar.finish_and_clear();

    let host_copy = host_copy_bandwidth();
    println!("host copy bandwidth (read + write, all cores): {host_copy:.1} GB/s");
    let (device, link, adapter) = measure_gpu(gpu.as_ref(), precision);
    let limits = Limits { host_copy, device };

    if let Err(e) = std::fs::create_dir_all(&args.out) {
        common::fail(format!("creating {}: {e}", args.out.display()));
    }
    let mut crossovers = serde_json::Map::new();
    let mut calibration = Calibration::defaults(&all);
    if let Ok(Some(saved)) = Calibration::load() {
        calibration.merge(&saved);
    }
    if let Some(identity) = &adapter {
        calibration.set_adapter(identity.clone());
    }
    for r in &reports {
        match report::emit(r, precision, repeats, &cpu_names, &limits, &args.out) {
            Ok(json) => {
                crossovers.insert(r.label.into(), json);
            }
            Err(e) => common::fail(format!("writing the {} report: {e}", r.label)),
        }
        calibrate::calibrate(&mut calibration, r, precision, &cpu_names, link);
    }
    println!("\nwrote CSV and SVG plots to {}", args.out.display());

    let mut saved = None;
    if args.save {
        match calibration.save() {
            Ok(path) => {
                println!("saved the calibration for `Auto` to {}", path.display());
                saved = Some(path.display().to_string());
            }
            Err(e) => common::fail(e),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    args.common.emit_json(
        "crossover",
        chosen,
        precision,
        seconds,
        serde_json::json!({
            "crossovers": crossovers, "out": args.out.display().to_string(), "calibration": saved,
            "host_copy_gb_per_s": host_copy,
            "gpu_copy_gb_per_s": limits.device.map(|d| d.copy),
            "points": reports.iter().map(|r| r.points.len()).sum::<usize>(),
        }),
    );
}
