//! `cargo bench`: every kernel on every CPU backend, in both precisions, over a range of
//! sizes, beside the machine's measured limits. Benchmark IDs have one shape,
//! `kernel/backend/precision/size`. After criterion's own report, a Markdown table shows
//! each result as throughput and as a fraction of the measured limit (copy bandwidth for
//! diffusion, read bandwidth for norms, peak FLOP/s for Julia).
//!
//! `cargo bench --bench matrix -- diffusion` runs one kernel (the probes always run with
//! the table, so filter with `bandwidth|diffusion` to keep the fractions).

mod probe;
mod record;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::kernels::julia::pixel_iterations;
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{AnyBackend, Backend, DiffusionParams, JuliaParams, NormKind, Real};
use ndarray::Array2;
use record::{Recorder, Work};

/// Floating-point operations per Julia pixel-iteration: four products, five sums.
const JULIA_FLOPS: u64 = 9;

fn julia<T: Real>(c: &mut Criterion, rec: &Recorder, backends: &[std::sync::Arc<dyn AnyBackend>])
where
    dyn AnyBackend: Backend<T>,
{
    let mut g = c.benchmark_group("julia");
    for width in [200, 1000] {
        let Ok(params) = JuliaParams::<T>::book(width, 300) else {
            continue;
        };
        let work = pixel_iterations(&hpnum::kernels::julia::reference(&params));
        g.throughput(Throughput::Elements(work));
        for backend in backends {
            let id = format!("{}/{}", backend.name(), T::PRECISION);
            g.bench_with_input(BenchmarkId::new(&id, width), &params, |b, p| {
                let full = format!("julia/{id}/{width}");
                rec.bench(
                    b,
                    &full,
                    Work::PixelIterations {
                        count: work,
                        flops: JULIA_FLOPS,
                    },
                    || {
                        black_box(backend.julia(p).ok());
                    },
                )
            });
        }
    }
    g.finish();
}

fn diffusion<T: Real>(
    c: &mut Criterion,
    rec: &Recorder,
    backends: &[std::sync::Arc<dyn AnyBackend>],
) where
    dyn AnyBackend: Backend<T>,
{
    let mut g = c.benchmark_group("diffusion");
    let params = DiffusionParams::<T>::book();
    for n in [256usize, 1024, 2048, 4096] {
        // A field in [0.2, 1): diffusion averages, so no value ever becomes subnormal and
        // slows the arithmetic down as the book's decaying block eventually would.
        let field =
            lcg_vector::<T>(n * n, LCG_SEED).mapv(|x| (x + T::from_f64(1.5)) / T::from_f64(2.5));
        let Ok(mut grid) = field.into_shape_with_order((n, n)) else {
            continue;
        };
        let mut scratch = Array2::<T>::zeros((n, n));
        // Two steps per iteration, so the result ends in the grid without a copy; the table
        // reports per iteration, the bytes count both steps.
        let bytes = 2 * 2 * (n * n * size_of::<T>()) as u64;
        g.throughput(Throughput::Bytes(bytes));
        for backend in backends {
            let id = format!("{}/{}", backend.name(), T::PRECISION);
            g.bench_function(BenchmarkId::new(&id, n), |b| {
                let full = format!("diffusion/{id}/{n}");
                rec.bench(b, &full, Work::Bytes(bytes), || {
                    black_box(
                        backend
                            .diffuse(grid.view_mut(), scratch.view_mut(), &params, 2)
                            .ok(),
                    );
                })
            });
        }
    }
    g.finish();
}

fn norms<T: Real>(c: &mut Criterion, rec: &Recorder, backends: &[std::sync::Arc<dyn AnyBackend>])
where
    dyn AnyBackend: Backend<T>,
{
    let mut g = c.benchmark_group("norm");
    for n in [10_000usize, 1_000_000, 100_000_000] {
        let v = lcg_vector::<T>(n, LCG_SEED);
        let bytes = (n * size_of::<T>()) as u64;
        g.throughput(Throughput::Bytes(bytes));
        for kind in [NormKind::L2, NormKind::L2Squared] {
            for backend in backends {
                let id = format!("{}-{}/{}", kind, backend.name(), T::PRECISION);
                g.bench_function(BenchmarkId::new(&id, n), |b| {
                    let full = format!("norm/{id}/{n}");
                    rec.bench(b, &full, Work::BytesRead(bytes), || {
                        black_box(backend.norm(v.view(), kind).ok());
                    })
                });
            }
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let rec = Recorder::default();
    let backends = hpnum::backends::all();
    for backend in &backends {
        let caps = backend.capabilities();
        println!(
            "backend {}: {} ({}), {} threads",
            backend.name(),
            caps.device_name,
            caps.isa,
            caps.threads
        );
    }
    probe::bench(&mut c, &rec);
    julia::<f64>(&mut c, &rec, &backends);
    julia::<f32>(&mut c, &rec, &backends);
    diffusion::<f64>(&mut c, &rec, &backends);
    diffusion::<f32>(&mut c, &rec, &backends);
    norms::<f64>(&mut c, &rec, &backends);
    norms::<f32>(&mut c, &rec, &backends);
    c.final_summary();
    rec.print_summary();
}
