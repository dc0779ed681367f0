//! The book's Julia set (ch. 2) on any backend, rendered to a PNG.
//!
//! ```text
//! cargo run --release --example julia -- --backend scalar --precision f64 --width 1000 --max-iter 300 --json
//! ```
//! With the book's defaults the counts sum to 33 219 980 (f64) or 33 222 988 (f32).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hpnum::{Backend, JuliaParams, Precision, Real};
use ndarray::Array2;

/// Julia set escape counts on the book's grid.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// The book's `desired_width`: the grid is width × width (or one more, as the book's
    /// float-accumulated axes give).
    #[arg(long, default_value_t = 1000, value_parser = common::positive)]
    width: usize,

    /// Iteration cap.
    #[arg(long, default_value_t = 300)]
    max_iter: u32,

    /// Where to write the picture.
    #[arg(long, default_value = "out/julia.png")]
    out: PathBuf,
}

fn compute<T: Real>(
    backend: &(impl Backend<T> + ?Sized),
    args: &Args,
) -> hpnum::Result<(Array2<u32>, f64)> {
    let params = JuliaParams::<T>::book(args.width, args.max_iter)?;
    let start = Instant::now();
    let counts = backend.julia(&params)?;
    Ok((counts, start.elapsed().as_secs_f64()))
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let backend = args.common.backend();
    let result = match args.common.precision() {
        Precision::F32 => compute::<f32>(backend.as_ref(), &args),
        Precision::F64 => compute::<f64>(backend.as_ref(), &args),
    };
    let (counts, seconds) = result.unwrap_or_else(|e| common::fail(e));
    let (rows, cols) = counts.dim();
    let sum: u64 = counts.iter().map(|&n| u64::from(n)).sum();
    let at_max_iter = counts.iter().filter(|&&n| n == args.max_iter).count();
    let rate = sum as f64 / seconds / 1e9;

    println!(
        "julia {rows}×{cols}, max_iter {} on {} ({}): {seconds:.4} s, {rate:.3} Gpix·iter/s",
        args.max_iter,
        backend.name(),
        args.common.precision()
    );
    println!("sum of counts {sum}, {at_max_iter} pixels reached max_iter");

    // Log scale: most pixels escape within a few iterations, the interesting detail is in
    // the long tail; pixels that never escape are drawn in the darkest colour.
    let escaped = counts.mapv(|n| {
        if n == args.max_iter {
            0.0
        } else {
            f64::from(n)
        }
    });
    let scale = common::image::ColourScale {
        gradient: colorous::MAGMA,
        low: 1.0,
        high: f64::from(args.max_iter.max(2)),
        log: true,
        label: "iterations to escape (log; never: darkest)".into(),
    };
    let title = format!(
        "Julia set {cols}×{rows}, max_iter {}, {} ({})",
        args.max_iter,
        backend.name(),
        args.common.precision()
    );
    let figure = common::image::Figure {
        title: &title,
        x_label: "column (real axis)",
        y_label: "row (imaginary axis)",
    };
    match common::image::write_heat_map(&args.out, escaped.view(), &scale, &figure) {
        Ok(svg) => println!("wrote {} and {}", args.out.display(), svg.display()),
        Err(e) => common::fail(format!("writing {}: {e}", args.out.display())),
    }

    args.common.emit_json(
        "julia",
        backend.name(),
        args.common.precision(),
        seconds,
        serde_json::json!({
            "rows": rows, "cols": cols, "sum": sum, "at_max_iter": at_max_iter,
            "max_iter": args.max_iter, "gpix_iter_per_s": rate,
        }),
    );
}
