//! The answer to "which backend, at which size, and what does the transfer cost?" on this
//! machine: sweeps each kernel over sizes on every backend (`hpnum::crossover`, the same
//! sweep Python's `hpnum.crossover` runs), prints a table per kernel, names the crossover
//! sizes (where the GPU with resident data overtakes the best CPU backend, where a one-shot
//! GPU call that uploads and downloads still does, and what reading back every diffusion
//! step does), shows throughput against the limits measured in the same run, and writes
//! CSV and SVG plots. The `auto` column shows what the `Auto` backend achieves with the
//! calibration it has (the one `--save` writes).
//!
//! On a real GPU the sweep reaches the sizes where transfers are amortised (grids to
//! 8192², vectors to 10⁸); on a software one it stops earlier, where the answer is already
//! clear.
//!
//! ```text
//! cargo run --release --example crossover -- --quick          # about a minute
//! cargo run --release --example crossover -- --save           # also calibrate `Auto`
//! ```

#[path = "../common/mod.rs"]
mod common;
mod plot;
mod report;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hpnum::crossover::{Crossover, SweepOptions, sweep};
use hpnum::{Precision, Real};
use indicatif::{ProgressBar, ProgressStyle};

/// Crossover sizes between the CPU and GPU backends, measured here.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Fewer sizes and repeats: a run of about a minute.
    #[arg(long)]
    quick: bool,

    /// Directory for the CSV files and SVG plots.
    #[arg(long, default_value = "out/crossover")]
    out: PathBuf,

    /// Fit the cost model to the measurements and save it for the `Auto` backend.
    #[arg(long)]
    save: bool,
}

fn run<T: Real>(options: &SweepOptions) -> Crossover {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("sweeping [{bar:40}] {pos}/{len}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = sweep::<T>(options, &mut |progress| {
        bar.set_length(progress.total as u64);
        bar.set_position(progress.done as u64);
        Ok(())
    });
    bar.finish_and_clear();
    result.unwrap_or_else(|e| common::fail(e))
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let precision = args.common.precision_or(Precision::F32);
    let chosen = args.common.backend_name_or("all");
    let started = Instant::now();
    let options = SweepOptions {
        quick: args.quick,
        backends: (chosen != "all").then(|| vec![chosen.to_owned()]),
        ..SweepOptions::full()
    };
    let result = match precision {
        Precision::F32 => run::<f32>(&options),
        Precision::F64 => run::<f64>(&options),
    };
    report::limits(&result);

    if let Err(e) = std::fs::create_dir_all(&args.out) {
        common::fail(format!("creating {}: {e}", args.out.display()));
    }
    let crossings = report::emit_all(&result, &args.out).unwrap_or_else(|e| common::fail(e));
    println!("\nwrote CSV and SVG plots to {}", args.out.display());

    let mut saved = None;
    if args.save {
        let calibration = result.calibration().unwrap_or_else(|e| common::fail(e));
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
            "crossovers": crossings, "out": args.out.display().to_string(), "calibration": saved,
            "host_copy_gb_per_s": result.host.copy_bytes_per_s / 1e9,
            "gpu_copy_gb_per_s": report::gpu_copy(&result),
            "points": result.points.len(),
        }),
    );
}
