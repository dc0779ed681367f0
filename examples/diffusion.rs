//! The book's 2D heat diffusion (ch. 6) on any backend, rendered as a heat map.
//!
//! ```text
//! cargo run --release --example diffusion -- --backend scalar --precision f64 --size 64 --steps 100 --json
//! ```
//! That case matches the book's grid bit for bit, and the summary (exactly rounded sums)
//! matches the reference's: sum 0.24500000000000005, max 0.0016107323054391494,
//! L2 0.0140807059675323.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::{Backend, DiffusionParams, Precision, Real};
use ndarray::Array2;

/// Explicit-Euler heat diffusion with periodic boundaries from the book's initial block.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Grid side: the grid is size × size.
    #[arg(long, default_value_t = 512, value_parser = common::positive)]
    size: usize,

    /// Rows, when the grid should not be square (defaults to --size).
    #[arg(long, value_parser = common::positive)]
    rows: Option<usize>,

    /// Time steps (dt = 0.1, D = 1, as in the book).
    #[arg(long, default_value_t = 100)]
    steps: usize,

    /// Where to write the heat map.
    #[arg(long, default_value = "out/diffusion.png")]
    out: PathBuf,
}

/// Runs the book's problem and returns the final grid, widened to f64 for the statistics.
fn compute<T: Real>(
    backend: &(impl Backend<T> + ?Sized),
    rows: usize,
    cols: usize,
    steps: usize,
) -> hpnum::Result<(Array2<f64>, f64)> {
    let mut grid = book_initial_grid::<T>(rows, cols)?;
    let mut scratch = Array2::zeros(grid.dim());
    let start = Instant::now();
    backend.diffuse(
        grid.view_mut(),
        scratch.view_mut(),
        &DiffusionParams::book(),
        steps,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((grid.mapv(T::as_f64), seconds))
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let backend = args.common.backend();
    let (rows, cols) = (args.rows.unwrap_or(args.size), args.size);
    let result = match args.common.precision() {
        Precision::F32 => compute::<f32>(backend.as_ref(), rows, cols, args.steps),
        Precision::F64 => compute::<f64>(backend.as_ref(), rows, cols, args.steps),
    };
    let (grid, seconds) = result.unwrap_or_else(|e| common::fail(e));

    let common::stats::GridStats { sum, max, min, l2 } = common::stats::GridStats::of(grid.view());
    // Each step reads and writes every cell once at the least.
    let element = match args.common.precision() {
        Precision::F32 => 4.0,
        Precision::F64 => 8.0,
    };
    let cell_steps = (rows * cols * args.steps) as f64;
    let gbps = 2.0 * element * cell_steps / seconds / 1e9;

    println!(
        "diffusion {rows}×{cols}, {} steps on {} ({}): {seconds:.4} s, {:.3} ms/step, {gbps:.2} GB/s",
        args.steps,
        backend.name(),
        args.common.precision(),
        seconds * 1e3 / args.steps.max(1) as f64,
    );
    println!("sum {sum:e}, max {max:e}, min {min:e}, L2 {l2:e}");

    // The field spans many decades (subnormals at the far edge after long runs): a log scale
    // over the top six shows the spread, linear would show one blob.
    let scale = common::image::ColourScale {
        gradient: colorous::INFERNO,
        low: max * 1e-6,
        high: max,
        log: true,
        label: "temperature (log scale)".into(),
    };
    let title = format!(
        "heat diffusion {rows}×{cols}, {} steps, {} ({})",
        args.steps,
        backend.name(),
        args.common.precision()
    );
    let figure = common::image::Figure {
        title: &title,
        x_label: "column",
        y_label: "row",
    };
    match common::image::write_heat_map(&args.out, grid.view(), &scale, &figure) {
        Ok(svg) => println!("wrote {} and {}", args.out.display(), svg.display()),
        Err(e) => common::fail(format!("writing {}: {e}", args.out.display())),
    }

    args.common.emit_json(
        "diffusion",
        backend.name(),
        args.common.precision(),
        seconds,
        serde_json::json!({
            "rows": rows, "cols": cols, "steps": args.steps,
            "sum": sum, "max": max, "min": min, "l2": l2, "gb_per_s": gbps,
        }),
    );
}
