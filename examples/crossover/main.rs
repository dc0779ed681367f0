//! The answer to "which backend, at which size, and what does the transfer cost?" on this
//! machine: sweeps each kernel over sizes on every backend, prints a table per kernel,
//! names the crossover sizes (where the GPU with resident data overtakes the best CPU
//! backend, where a one-shot GPU call that uploads and downloads still does, and what
//! reading back every diffusion step does), shows throughput against the measured memory
//! bandwidth, and writes CSV and SVG plots. The `auto` column shows what the `Auto`
//! backend achieves with the calibration it has (the one `--save` writes).
//!
//! ```text
//! cargo run --release --example crossover -- --quick          # under a minute
//! cargo run --release --example crossover -- --save           # also calibrate `Auto`
//! ```

#[path = "../common/mod.rs"]
mod common;
mod plot;
mod sweep;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hpnum::backends::auto::model::{Calibration, Cost, Kernel};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::julia::pixel_iterations;
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{AnyBackend, Backend, DiffusionParams, JuliaParams, NormKind, Precision, Real};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use rayon::prelude::*;
use sweep::{Point, crossover, median, timed};

#[cfg(feature = "gpu")]
use hpnum::backends::gpu::{Gpu, Transfers};
#[cfg(not(feature = "gpu"))]
/// Stands in for the GPU in a CPU-only build: never constructed.
enum Gpu {}

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

/// Julia's iteration cap in the sweep: the book's.
const MAX_ITER: u32 = 300;
/// Diffusion steps per call: a one-shot GPU call transfers once per this many steps.
const STEPS: usize = 20;

struct Setup<'a> {
    /// The CPU backends, and `auto` (which may dispatch anywhere).
    cpu: Vec<Arc<dyn AnyBackend>>,
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    gpu: Option<&'a Gpu>,
    repeats: usize,
    bar: ProgressBar,
}

fn julia<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
where
    dyn AnyBackend: Backend<T>,
{
    let mut points = Vec::new();
    for &width in sizes {
        let Ok(params) = JuliaParams::<T>::book(width, MAX_ITER) else {
            continue;
        };
        let (rows, cols) = params.shape();
        let iterations = pixel_iterations(&hpnum::kernels::julia::reference(&params)) as f64;
        let mut add = |flavour: &str, seconds: Option<f64>| {
            if let Some(seconds) = seconds {
                points.push(Point {
                    size: width,
                    work: (rows * cols) as f64 * f64::from(MAX_ITER),
                    transfer_bytes: ((rows + cols) * size_of::<T>() + 4 * rows * cols) as f64,
                    flavour: flavour.into(),
                    seconds,
                    throughput: iterations / seconds / 1e9,
                });
            }
            s.bar.inc(1);
        };
        for b in &s.cpu {
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

fn diffusion<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
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
        let bytes = (n * n * size_of::<T>()) as f64;
        let mut add = |flavour: &str, seconds: Option<f64>| {
            if let Some(seconds) = seconds {
                points.push(Point {
                    size: n,
                    work: (n * n * STEPS) as f64,
                    transfer_bytes: 2.0 * bytes,
                    flavour: flavour.into(),
                    seconds,
                    throughput: 2.0 * bytes * STEPS as f64 / seconds / 1e9,
                });
            }
            s.bar.inc(1);
        };
        for b in &s.cpu {
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

fn norm<T: Real>(s: &Setup<'_>, sizes: &[usize]) -> Vec<Point>
where
    dyn AnyBackend: Backend<T>,
{
    let mut points = Vec::new();
    for &n in sizes {
        let v = lcg_vector::<T>(n, LCG_SEED);
        let bytes = (n * size_of::<T>()) as f64;
        let mut add = |flavour: &str, seconds: Option<f64>| {
            if let Some(seconds) = seconds {
                points.push(Point {
                    size: n,
                    work: n as f64,
                    transfer_bytes: bytes,
                    flavour: flavour.into(),
                    seconds,
                    throughput: bytes / seconds / 1e9,
                });
            }
            s.bar.inc(1);
        };
        for b in &s.cpu {
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

/// Best-of-three copy bandwidth of host memory (read + write), all cores.
fn cpu_copy_bandwidth() -> f64 {
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

struct Report {
    kernel: Kernel,
    label: &'static str,
    size_label: &'static str,
    unit: &'static str,
    points: Vec<Point>,
}

fn flavours(points: &[Point]) -> Vec<String> {
    plot::FLAVOURS
        .iter()
        .filter(|f| points.iter().any(|p| p.flavour == **f))
        .map(|f| f.to_string())
        .collect()
}

fn table(r: &Report) -> String {
    let flavours = flavours(&r.points);
    let mut sizes: Vec<usize> = r.points.iter().map(|p| p.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = format!("| {} |", r.size_label);
    for f in &flavours {
        let _ = write!(out, " {f} |");
    }
    out.push('\n');
    out.push_str(&"|---".repeat(flavours.len() + 1));
    out.push_str("|\n");
    for size in sizes {
        let _ = write!(out, "| {size} |");
        for f in &flavours {
            match r.points.iter().find(|p| p.size == size && &p.flavour == f) {
                Some(p) => {
                    let _ = write!(
                        out,
                        " {} ({:.2} {}) |",
                        human(p.seconds),
                        p.throughput,
                        r.unit
                    );
                }
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

fn human(secs: f64) -> String {
    match secs {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} µs", s * 1e6),
    }
}

fn write_csv(path: &Path, points: &[Point]) -> std::io::Result<()> {
    let mut text = String::from("size,work,transfer_bytes,backend,seconds,throughput\n");
    for p in points {
        let _ = writeln!(
            text,
            "{},{},{},{},{:e},{}",
            p.size, p.work, p.transfer_bytes, p.flavour, p.seconds, p.throughput
        );
    }
    std::fs::write(path, text)
}

/// Fits the cost model to the sweep and keeps the measured points, which `Auto`
/// interpolates: CPU backends from their times; the GPU's transfer rate from the
/// difference between a one-shot call and a resident one at the largest size, and its
/// points from the one-shot times less that transfer time.
fn calibrate(cal: &mut Calibration, r: &Report, precision: Precision) {
    let samples = |f: &str| -> Vec<(f64, f64)> {
        r.points
            .iter()
            .filter(|p| p.flavour == f)
            .map(|p| (p.work, p.seconds))
            .collect()
    };
    for f in ["scalar", "simd", "rayon"] {
        if let Some(cost) = Cost::fit(&samples(f), f64::INFINITY) {
            cal.set(r.kernel, precision, f, cost);
            cal.set_points(r.kernel, precision, f, &samples(f));
        }
    }
    let (Some(resident), Some(one_shot)) = (
        Cost::fit(&samples("gpu-resident"), 1.0),
        Cost::fit(&samples("gpu"), 1.0),
    ) else {
        return;
    };
    let largest = r
        .points
        .iter()
        .filter(|p| p.flavour == "gpu")
        .max_by(|a, b| a.work.total_cmp(&b.work));
    let transfer_rate = largest
        .and_then(|big| {
            let compute = r
                .points
                .iter()
                .find(|p| p.flavour == "gpu-resident" && p.size == big.size)?;
            let transfer = (big.seconds - compute.seconds).max(1e-9);
            Some(big.transfer_bytes / transfer)
        })
        .unwrap_or(1e10);
    cal.set(
        r.kernel,
        precision,
        "gpu",
        Cost {
            overhead: one_shot.overhead.max(resident.overhead),
            rate: resident.rate,
            transfer_rate,
        },
    );
    // Everything but the bus time, per size: at small sizes that is launch and read-back
    // latency, at large ones the compute.
    let points: Vec<(f64, f64)> = r
        .points
        .iter()
        .filter(|p| p.flavour == "gpu")
        .map(|p| {
            (
                p.work,
                (p.seconds - p.transfer_bytes / transfer_rate).max(1e-9),
            )
        })
        .collect();
    cal.set_points(r.kernel, precision, "gpu", &points);
}

fn run<T: Real>(s: &Setup<'_>, quick: bool) -> Vec<Report>
where
    dyn AnyBackend: Backend<T>,
{
    let (widths, grids, lengths): (&[usize], &[usize], &[usize]) = if quick {
        (
            &[16, 64, 256, 1024],
            &[16, 64, 256, 1024],
            &[1_000, 100_000, 10_000_000],
        )
    } else {
        (
            &[16, 32, 64, 128, 256, 512, 1024],
            &[16, 32, 64, 128, 256, 512, 1024, 2048],
            &[1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000],
        )
    };
    vec![
        Report {
            kernel: Kernel::Julia,
            label: "julia",
            size_label: "width",
            unit: "Gpix·it/s",
            points: julia::<T>(s, widths),
        },
        Report {
            kernel: Kernel::Diffusion,
            label: "diffusion",
            size_label: "grid side",
            unit: "GB/s",
            points: diffusion::<T>(s, grids),
        },
        Report {
            kernel: Kernel::Norm,
            label: "norm-l2",
            size_label: "length",
            unit: "GB/s",
            points: norm::<T>(s, lengths),
        },
    ]
}

fn main() {
    let args = Args::parse();
    let precision = args.common.precision_or(Precision::F32);
    let chosen = args.common.backend_name_or("all");
    let started = Instant::now();
    let all = hpnum::backends::all();
    let cpu: Vec<Arc<dyn AnyBackend>> = all
        .iter()
        .filter(|b| b.name() != "gpu" && (chosen == "all" || chosen == b.name()))
        .cloned()
        .chain(
            // `auto` as a column of its own: it should track the fastest one.
            (chosen == "all" || chosen == "auto")
                .then(|| hpnum::backends::by_name("auto").ok())
                .flatten(),
        )
        .collect();
    #[cfg(feature = "gpu")]
    let gpu_handle = match Gpu::shared() {
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
    };
    #[cfg(not(feature = "gpu"))]
    let gpu_handle: Option<Gpu> = {
        println!("gpu: skipped (built without the `gpu` feature)");
        None
    };
    let repeats = if args.quick { 3 } else { 7 };
    let per_size = cpu.len() + if gpu_handle.is_some() { 3 } else { 0 };
    let sizes = if args.quick { 4 + 4 + 3 } else { 7 + 8 + 6 };
    let bar = ProgressBar::new((per_size * sizes) as u64).with_style(
        ProgressStyle::with_template("sweeping [{bar:40}] {pos}/{len}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let setup = Setup {
        cpu,
        gpu: gpu_handle.as_ref(),
        repeats,
        bar,
    };
    let reports = match precision {
        Precision::F32 => run::<f32>(&setup, args.quick),
        Precision::F64 => run::<f64>(&setup, args.quick),
    };
    setup.bar.finish_and_clear();

    let cpu_bandwidth = cpu_copy_bandwidth();
    #[cfg(feature = "gpu")]
    let gpu_bandwidth = gpu_handle
        .as_ref()
        .and_then(|g| g.measure_copy_bandwidth(256 << 20, 10).ok())
        .map(|b| b / 1e9);
    #[cfg(not(feature = "gpu"))]
    let gpu_bandwidth: Option<f64> = None;
    println!(
        "measured copy bandwidth (read + write): host {cpu_bandwidth:.1} GB/s{}",
        match gpu_bandwidth {
            Some(g) => format!(", gpu device {g:.1} GB/s"),
            None => String::new(),
        }
    );

    if let Err(e) = std::fs::create_dir_all(&args.out) {
        common::fail(format!("creating {}: {e}", args.out.display()));
    }
    let mut json_crossovers = serde_json::Map::new();
    let mut calibration = Calibration::defaults(&all);
    if let Ok(Some(saved)) = Calibration::load() {
        calibration.merge(&saved);
    }
    for r in &reports {
        println!(
            "\n## {} ({precision}, median of {repeats} runs{})",
            r.label,
            if r.kernel == Kernel::Diffusion {
                format!(", {STEPS} steps per call")
            } else {
                String::new()
            }
        );
        print!("{}", table(r));
        let resident = crossover(&r.points, "gpu-resident");
        let one_shot = crossover(&r.points, "gpu");
        let readback = crossover(&r.points, "gpu-readback");
        let say = |what: &str, at: Option<usize>| match at {
            Some(size) => println!(
                "- {what} beats the best CPU backend from {} {size} on",
                r.size_label
            ),
            None => println!("- {what} never beats the best CPU backend in this range"),
        };
        if r.points.iter().any(|p| p.flavour.starts_with("gpu")) {
            say("the GPU on resident data", resident);
            say("the GPU counting upload and download", one_shot);
            if r.kernel == Kernel::Diffusion {
                say("the GPU reading back every step", readback);
            }
        }
        // Throughput at the largest size against the measured limits.
        if r.kernel != Kernel::Julia {
            let largest = r.points.iter().map(|p| p.size).max().unwrap_or(0);
            for p in r.points.iter().filter(|p| p.size == largest) {
                let on_device = p.flavour == "gpu-resident";
                let limit = if on_device {
                    gpu_bandwidth.unwrap_or(f64::NAN)
                } else {
                    cpu_bandwidth
                };
                println!(
                    "  {} at {largest}: {:.2} GB/s = {:.0}% of {} copy bandwidth",
                    p.flavour,
                    p.throughput,
                    100.0 * p.throughput / limit,
                    if on_device { "device" } else { "host" }
                );
            }
        }
        json_crossovers.insert(
            r.label.into(),
            serde_json::json!({
                "gpu_resident": resident, "gpu_one_shot": one_shot, "gpu_readback": readback,
            }),
        );
        let stem = args.out.join(format!("{}-{precision}", r.label));
        let marks: Vec<(usize, String)> = [
            (resident, "gpu resident wins"),
            (one_shot, "gpu one-shot wins"),
        ]
        .into_iter()
        .filter_map(|(at, label)| at.map(|size| (size, label.to_owned())))
        .collect();
        let results = [
            write_csv(&stem.with_extension("csv"), &r.points).map_err(|e| e.to_string()),
            plot::plot(
                &stem.with_extension("time.svg"),
                &format!("{} ({precision}): time per call", r.label),
                r.size_label,
                "seconds",
                &r.points,
                |p| p.seconds,
                &marks,
            )
            .map_err(|e| e.to_string()),
            plot::plot(
                &stem.with_extension("throughput.svg"),
                &format!("{} ({precision}): throughput", r.label),
                r.size_label,
                r.unit,
                &r.points,
                |p| p.throughput,
                &marks,
            )
            .map_err(|e| e.to_string()),
        ];
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            common::fail(format!("writing {}: {e}", stem.display()));
        }
        calibrate(&mut calibration, r, precision);
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
            "crossovers": json_crossovers, "out": args.out.display().to_string(), "calibration": saved,
            "host_copy_gb_per_s": cpu_bandwidth, "gpu_copy_gb_per_s": gpu_bandwidth,
            "points": reports.iter().map(|r| r.points.len()).sum::<usize>(),
        }),
    );
}
