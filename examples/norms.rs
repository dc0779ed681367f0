//! Vector norms (book ch. 6) of the book's `arange` vector or the reference LCG vector.
//!
//! ```text
//! cargo run --release --example norms -- --backend scalar --precision f64 --n 1000000 --vector arange --kind l2sq --json
//! ```
//! The book's case: ‖v‖² = 333332833333500000 for v = 0, 1, …, 10⁶ − 1.

mod common;

use std::time::Instant;

use clap::Parser;
use hpnum::kernels::norm::{LCG_SEED, book_arange, lcg_vector};
use hpnum::{Backend, NormKind, Precision, Real};

/// Which input vector.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Vector {
    /// 0, 1, …, n − 1, the book's.
    Arange,
    /// The reference's portable pseudo-random vector in [−1, 1) (seed 12345).
    Lcg,
}

/// One norm of a long vector, timed.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Vector length.
    #[arg(long, default_value_t = 1_000_000, value_parser = common::positive)]
    n: usize,

    /// Input vector.
    #[arg(long, value_enum, default_value_t = Vector::Arange)]
    vector: Vector,

    /// Which norm: l1, l2, linf or l2sq (the book's squared norm).
    #[arg(long, default_value = "l2sq", value_parser = parse_kind)]
    kind: NormKind,
}

fn parse_kind(s: &str) -> Result<NormKind, String> {
    s.parse().map_err(|e: hpnum::Error| e.to_string())
}

fn compute<T: Real>(
    backend: &(impl Backend<T> + ?Sized),
    args: &Args,
) -> hpnum::Result<(f64, f64)> {
    let v = match args.vector {
        Vector::Arange => book_arange::<T>(args.n)?,
        Vector::Lcg => lcg_vector::<T>(args.n, LCG_SEED)?,
    };
    let start = Instant::now();
    let value = backend.norm(v.view(), args.kind)?;
    Ok((value.as_f64(), start.elapsed().as_secs_f64()))
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    let backend = args.common.backend();
    let (element, result) = match args.common.precision() {
        Precision::F32 => (4.0, compute::<f32>(backend.as_ref(), &args)),
        Precision::F64 => (8.0, compute::<f64>(backend.as_ref(), &args)),
    };
    let (value, seconds) = result.unwrap_or_else(|e| common::fail(e));
    let gbps = element * args.n as f64 / seconds / 1e9;
    println!(
        "{} of {:?} n = {} on {} ({}): {value:?} in {:.3} ms, {gbps:.2} GB/s",
        args.kind,
        args.vector,
        args.n,
        backend.name(),
        args.common.precision(),
        seconds * 1e3,
    );
    args.common.emit_json(
        "norms",
        backend.name(),
        args.common.precision(),
        seconds,
        serde_json::json!({
            "n": args.n, "kind": args.kind.name(), "value": value,
            "vector": format!("{:?}", args.vector).to_lowercase(), "gb_per_s": gbps,
        }),
    );
}
