//! The book's 2D heat diffusion over MPI: the grid in row bands, one per rank, each stepped
//! by any local backend, halos exchanged every `--halo` steps.
//!
//! ```text
//! cargo build --release --features mpi --example mpi_diffusion
//! mpirun -n 4 target/release/examples/mpi_diffusion --size 8192 --steps 500 --backend rayon
//! ```
//! With `--backend gpu` each rank's band stays on the GPU between exchanges (only the halo
//! rows cross the bus). Prints each rank's compute and exchange time, the total, the share spent exchanging
//! halos, and the global sum, max and L2 (exactly rounded, comparable with the
//! single-process `diffusion` example's: the grids are bit-identical).

mod common;

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hpnum::distributed::{Comm, DistributedGrid, StepTimes};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::{AnyBackend, Backend, DiffusionParams, Precision, Real};
use mpi::traits::*;

/// Explicit-Euler heat diffusion with periodic boundaries, distributed by rows over MPI.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: common::CommonArgs,

    /// Grid side: the grid is size × size.
    #[arg(long, default_value_t = 2048, value_parser = common::positive)]
    size: usize,

    /// Rows, when the grid should not be square (defaults to --size).
    #[arg(long, value_parser = common::positive)]
    rows: Option<usize>,

    /// Time steps (dt = 0.1, D = 1, as in the book).
    #[arg(long, default_value_t = 100)]
    steps: usize,

    /// Halo rows exchanged every that many steps (K): fewer, larger messages as it grows.
    #[arg(long, default_value_t = 1, value_parser = common::positive)]
    halo: usize,

    /// Step each band's interior while its halos are in flight (host backends).
    #[arg(long)]
    overlap: bool,
}

const ROOT: i32 = 0;

/// Runs the problem; returns the gathered grid (on the root) and this rank's times.
fn run<T: Real + Equivalence>(
    world: &Comm,
    backend: Arc<dyn AnyBackend>,
    (rows, cols): (usize, usize),
    args: &Args,
) -> hpnum::Result<(Option<ndarray::Array2<f64>>, StepTimes, f64)>
where
    dyn AnyBackend: Backend<T>,
{
    let initial = if world.rank() == ROOT {
        Some(book_initial_grid::<T>(rows, cols)?)
    } else {
        None
    };
    let given = initial.as_ref().map(|g| g.view());
    // On the GPU the band stays on the device between exchanges.
    let mut grid = if backend.name() == "gpu" {
        let gpu = hpnum::Gpu::shared()?;
        DistributedGrid::scatter_on_gpu(world, ROOT, given, (rows, cols), args.halo, &gpu)?
    } else {
        DistributedGrid::scatter(world, ROOT, given, (rows, cols), args.halo, backend)?
    };
    grid.set_overlap(args.overlap);
    world.barrier();
    let start = Instant::now();
    let times = grid.step(&DiffusionParams::book(), args.steps)?;
    world.barrier();
    let seconds = start.elapsed().as_secs_f64();
    let gathered = grid.gather(ROOT)?.map(|g| g.mapv(T::as_f64));
    Ok((gathered, times, seconds))
}

fn main() {
    common::quiet_headless_vulkan();
    let Some(universe) = mpi::initialize() else {
        common::fail("MPI was already initialised");
    };
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let args = Args::parse();
    let backend = args.common.backend();
    let name = backend.name().to_owned();
    let (rows, cols) = (args.rows.unwrap_or(args.size), args.size);
    let precision = args.common.precision();
    let result = match precision {
        Precision::F32 => run::<f32>(&world, backend, (rows, cols), &args),
        Precision::F64 => run::<f64>(&world, backend, (rows, cols), &args),
    };
    let (gathered, times, seconds) =
        result.unwrap_or_else(|e| common::fail(format!("rank {rank}: {e}")));

    // Every rank's times, on the root.
    let mine = [times.compute.as_secs_f64(), times.exchange.as_secs_f64()];
    let mut all = vec![0f64; 2 * size as usize];
    world.all_gather_into(&mine[..], &mut all[..]);
    let Some(grid) = gathered else { return };

    let bands =
        hpnum::distributed::Bands::new(rows, size as usize).unwrap_or_else(|e| common::fail(e));
    for (r, t) in all.chunks(2).enumerate() {
        let band = bands.rows_of(r);
        println!(
            "rank {r}: rows {}..{} | compute {:.4} s | halo exchange {:.4} s",
            band.start, band.end, t[0], t[1]
        );
    }
    let exchange: f64 = all.chunks(2).map(|t| t[1]).sum();
    let busy: f64 = all.chunks(2).map(|t| t[0] + t[1]).sum();
    let share = if busy > 0.0 { exchange / busy } else { 0.0 };
    let common::stats::GridStats { sum, max, min, l2 } = common::stats::GridStats::of(grid.view());
    println!(
        "mpi_diffusion {rows}×{cols}, {} steps on {size} ranks × {name} ({precision}), halo {}: \
         {seconds:.4} s, {:.3} ms/step, {:.1} % exchanging halos",
        args.steps,
        args.halo,
        seconds * 1e3 / args.steps.max(1) as f64,
        share * 100.0
    );
    println!("sum {sum:e}, max {max:e}, min {min:e}, L2 {l2:e}");
    args.common.emit_json(
        "mpi_diffusion",
        &name,
        precision,
        seconds,
        serde_json::json!({
            "rows": rows, "cols": cols, "steps": args.steps, "ranks": size, "halo": args.halo,
            "exchange_share": share, "sum": sum, "max": max, "min": min, "l2": l2,
        }),
    );
}
