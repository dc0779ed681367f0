//! The book's 2D heat diffusion on the GPU, side by side with the best CPU backend: where
//! the time goes (upload, compute, download), steps/s and GB/s, the speedup over the CPU,
//! and the largest difference between the two results. Writes a heat map of the GPU's grid.
//!
//! ```text
//! cargo run --release --example gpu_diffusion
//! cargo run --release --example gpu_diffusion -- --size 4096 --steps 1000 --precision f32
//! cargo run --release --example gpu_diffusion -- --readback-every-step   # the book's mistake
//! WGPU_BACKEND=gl cargo run --release --example gpu_diffusion              # pick a graphics API
//! ```
//! On Mesa's software Vulkan driver (no GPU) it is correct, not fast.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use hpnum::TemporalBlocking;
use hpnum::backends::gpu::{ComputeClock, Gpu, GpuTimings};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::{Backend, DiffusionParams, Precision, Rayon, Real};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;

/// The book's diffusion on the GPU, against the CPU.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Grid side: the grid is size × size.
    #[arg(long, default_value_t = 2048, value_parser = common::positive)]
    size: usize,

    /// Time steps (dt = 0.1, D = 1).
    #[arg(long, default_value_t = 500)]
    steps: usize,

    /// Copy the grid back to the host after every step, as a PyTorch loop calling `.cpu()`
    /// each step does: shows what crossing the bus every step costs.
    #[arg(long)]
    readback_every_step: bool,

    /// Skip the CPU comparison run.
    #[arg(long)]
    no_cpu: bool,

    /// Steps per GPU dispatch (temporal blocking, K): 1 steps through device memory every
    /// step; K ≥ 2 keeps cells in workgroup memory for K steps per dispatch (same bits).
    /// Default: the device's (`HPNUM_GPU_DIFFUSION_K`, or what `report --save` measured
    /// best here, else 1).
    #[arg(long, value_parser = common::positive)]
    steps_per_dispatch: Option<usize>,

    /// How K ≥ 2 steps block: `tiles` (square tiles with a K-cell halo) or `stream`
    /// (strips streamed down the grid through rings of rows). Default: the device's, as
    /// for K.
    #[arg(long)]
    blocking: Option<TemporalBlocking>,

    /// Where to write the heat map.
    #[arg(long, default_value = "out/gpu_diffusion.png")]
    out: PathBuf,
}

/// The outcome of the GPU run.
struct GpuRun {
    grid: Array2<f64>,
    timings: GpuTimings,
    /// The steps per dispatch and blocking scheme the grid ran with.
    blocking: (usize, TemporalBlocking),
}

fn run_gpu<T: Real>(gpu: &Gpu, args: &Args) -> hpnum::Result<GpuRun> {
    let mut grid = book_initial_grid::<T>(args.size, args.size)?;
    let params = DiffusionParams::<T>::book();
    let mut timings = GpuTimings::new(gpu.compute_clock());

    let start = Instant::now();
    let mut resident = gpu.upload_grid(grid.view())?;
    timings.upload = start.elapsed();
    if let Some(scheme) = args.blocking {
        // The device's K where the new scheme allows it (and the grid is one band).
        let k = match resident.bands() {
            1 => resident
                .steps_per_dispatch()
                .min(resident.max_steps_per_dispatch_with(scheme)),
            _ => 1,
        };
        resident.set_steps_per_dispatch(1)?;
        resident.set_temporal_blocking(scheme)?;
        resident.set_steps_per_dispatch(k)?;
    }
    if let Some(k) = args.steps_per_dispatch {
        resident.set_steps_per_dispatch(k)?;
    }

    // Steps in chunks so the progress bar moves; each chunk is many steps per submission.
    let chunks = if args.readback_every_step {
        args.steps
    } else {
        args.steps.clamp(1, 50)
    };
    let bar = ProgressBar::new(args.steps as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("gpu");
    let mut done = 0;
    for chunk in 0..chunks {
        let n = (args.steps * (chunk + 1)) / chunks - done;
        timings.compute += resident.step(&params, n)?;
        if args.readback_every_step {
            // Into the host grid the run started from: nothing is allocated per step.
            let start = Instant::now();
            resident.download_into(grid.view_mut())?;
            timings.download += start.elapsed();
        }
        done += n;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();

    let start = Instant::now();
    resident.download_into(grid.view_mut())?;
    timings.download += start.elapsed();
    Ok(GpuRun {
        grid: grid.mapv(T::as_f64),
        timings,
        blocking: (resident.steps_per_dispatch(), resident.temporal_blocking()),
    })
}

fn run_cpu<T: Real>(
    cpu: &Rayon,
    size: usize,
    steps: usize,
) -> hpnum::Result<(Array2<f64>, Duration)>
where
    Rayon: Backend<T>,
{
    let mut grid = book_initial_grid::<T>(size, size)?;
    let mut scratch = Array2::zeros(grid.dim());
    let start = Instant::now();
    cpu.diffuse(
        grid.view_mut(),
        scratch.view_mut(),
        &DiffusionParams::book(),
        steps,
    )?;
    Ok((grid.mapv(T::as_f64), start.elapsed()))
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let backend = args.common.backend_name_or("gpu");
    if backend != "gpu" {
        common::fail(format!(
            "gpu_diffusion runs on the GPU (`--backend gpu`); for `{backend}` use the diffusion example"
        ));
    }
    let precision = args.common.precision_or(Precision::F32);
    let gpu = Gpu::shared().unwrap_or_else(|e| common::fail(e));
    let adapter = gpu.adapter().clone();
    println!(
        "adapter: {} ({}, {:?}, {})",
        adapter.name, adapter.api, adapter.device, adapter.driver
    );
    if !adapter.tuned.is_empty() {
        println!(
            "  with the settings saved for this device for {} (HPNUM_GPU_TUNING=off ignores them)",
            adapter.tuned.join(", ")
        );
    }
    let (rows, cols, steps) = (args.size, args.size, args.steps);
    let element = match precision {
        Precision::F32 => 4.0,
        Precision::F64 => 8.0,
    };
    let run = match precision {
        Precision::F32 => run_gpu::<f32>(&gpu, &args),
        Precision::F64 => run_gpu::<f64>(&gpu, &args),
    }
    .unwrap_or_else(|e| common::fail(e));
    let t = run.timings;
    let compute = t.compute.as_secs_f64();
    let cell_steps = (rows * cols * steps) as f64;
    let steps_per_s = steps as f64 / compute;
    let gbps = 2.0 * element * cell_steps / compute / 1e9;
    let blocking = match run.blocking {
        (1, _) => "one step per dispatch".to_owned(),
        (k, scheme) => format!("{k} steps per dispatch on {}", scheme.name()),
    };
    println!(
        "gpu: {rows}×{cols} {}, {steps} steps{}, {blocking}",
        precision,
        if args.readback_every_step {
            ", grid read back after every step"
        } else {
            ", resident on the device"
        }
    );
    let clock = match t.compute_clock {
        ComputeClock::Timestamps => "GPU timestamps",
        ComputeClock::Host => "host clock",
    };
    println!(
        "  upload {:.2} ms | compute {:.2} ms ({clock}; {:.3} ms/step, {steps_per_s:.0} steps/s, {gbps:.1} GB/s) | download {:.2} ms",
        t.upload.as_secs_f64() * 1e3,
        compute * 1e3,
        compute * 1e3 / steps.max(1) as f64,
        t.download.as_secs_f64() * 1e3,
    );

    let mut cpu_json = serde_json::json!(null);
    if !args.no_cpu {
        let cpu = Rayon::new();
        let (cpu_grid, cpu_time) = match precision {
            Precision::F32 => run_cpu::<f32>(&cpu, args.size, steps),
            Precision::F64 => run_cpu::<f64>(&cpu, args.size, steps),
        }
        .unwrap_or_else(|e| common::fail(e));
        let cpu_s = cpu_time.as_secs_f64();
        let max_diff = run
            .grid
            .iter()
            .zip(&cpu_grid)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let scale = cpu_grid.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        println!(
            "cpu (rayon, {} threads): {:.2} ms ({:.3} ms/step)",
            ::rayon::current_num_threads(),
            cpu_s * 1e3,
            cpu_s * 1e3 / steps.max(1) as f64
        );
        println!(
            "  speedup of the gpu: {:.2}× on compute alone, {:.2}× counting transfers",
            cpu_s / compute,
            cpu_s / t.total().as_secs_f64()
        );
        println!(
            "  largest difference gpu − cpu: {max_diff:e} ({:.1e} of the grid's maximum)",
            max_diff / scale
        );
        cpu_json = serde_json::json!({
            "backend": "rayon", "seconds": cpu_s,
            "speedup_compute": cpu_s / compute, "speedup_total": cpu_s / t.total().as_secs_f64(),
            "max_abs_diff": max_diff,
        });
    }

    let stats = common::stats::GridStats::of(run.grid.view());
    println!(
        "sum {:e}, max {:e}, min {:e}, L2 {:e}",
        stats.sum, stats.max, stats.min, stats.l2
    );
    // The field spans many decades: a log scale over the top six shows the spread.
    let scale = common::image::ColourScale {
        gradient: colorous::INFERNO,
        low: stats.max * 1e-6,
        high: stats.max,
        log: true,
        label: "temperature (log scale)".into(),
    };
    let title = format!(
        "heat diffusion {rows}×{cols}, {steps} steps, gpu ({}), {precision}",
        adapter.name
    );
    let figure = common::image::Figure {
        title: &title,
        x_label: "column",
        y_label: "row",
    };
    match common::image::write_heat_map(&args.out, run.grid.view(), &scale, &figure) {
        Ok(svg) => println!("wrote {} and {}", args.out.display(), svg.display()),
        Err(e) => common::fail(format!("writing {}: {e}", args.out.display())),
    }

    args.common.emit_json(
        "diffusion",
        "gpu",
        precision,
        t.total().as_secs_f64(),
        serde_json::json!({
            "rows": rows, "cols": cols, "steps": steps,
            "sum": stats.sum, "max": stats.max, "min": stats.min, "l2": stats.l2,
            "adapter": adapter.name, "api": adapter.api,
            "upload_s": t.upload.as_secs_f64(), "compute_s": compute, "download_s": t.download.as_secs_f64(),
            "compute_clock": clock,
            "readback_every_step": args.readback_every_step,
            "steps_per_s": steps_per_s, "gb_per_s": gbps, "cpu": cpu_json,
        }),
    );
}
