//! `cargo bench`: every kernel on every backend, in both precisions, over a range of
//! sizes, beside the machine's measured limits. GPU rows come in flavours that separate
//! the transfers: `gpu` (one call: upload, compute, download), `gpu-resident` (compute on
//! data already on the device), `gpu-upload`, `gpu-download`, and for diffusion
//! `gpu-readback` (the grid copied back after every step). Without an adapter they are
//! skipped with a note. Benchmark IDs have one shape,
//! `kernel/backend/precision/size`. After criterion's own report, a Markdown table shows
//! each result as throughput and as a fraction of the measured limit (copy bandwidth for
//! diffusion, read bandwidth for norms, peak FLOP/s for Julia).
//!
//! `cargo bench --bench matrix -- diffusion` runs one kernel (the probes always run with
//! the table, so filter with `bandwidth|diffusion` to keep the fractions).

#[cfg(feature = "gpu")]
mod gpu;
mod probe;
mod record;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::kernels::julia::pixel_iterations;
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::kernels::workload::{JULIA_FLOPS_PER_ITERATION, Workload};
use hpnum::{AnyBackend, Backend, DiffusionParams, JuliaParams, NormKind, Real};
use ndarray::Array2;
use record::{JuliaWork, Recorder, Work};

const JULIA_WIDTHS: [usize; 2] = [200, 1000];
const DIFFUSION_SIZES: [usize; 4] = [256, 1024, 2048, 4096];
const NORM_SIZES: [usize; 3] = [10_000, 1_000_000, 100_000_000];

fn julia<T: Real>(c: &mut Criterion, rec: &Recorder, backends: &[std::sync::Arc<dyn AnyBackend>])
where
    dyn AnyBackend: Backend<T>,
{
    let mut g = c.benchmark_group("julia");
    for width in JULIA_WIDTHS {
        let Ok(params) = JuliaParams::<T>::book(width, 300) else {
            continue;
        };
        let work = julia_work(&params);
        g.throughput(Throughput::Elements(work.count));
        for backend in backends {
            let id = format!("{}/{}", backend.name(), T::PRECISION);
            g.bench_with_input(BenchmarkId::new(&id, width), &params, |b, p| {
                let full = format!("julia/{id}/{width}");
                rec.bench(b, &full, work.into(), || {
                    black_box(backend.julia(p).ok());
                })
            });
        }
    }
    g.finish();
}

/// The pixel-iterations `params` really takes (from the scalar reference), at
/// [`JULIA_FLOPS_PER_ITERATION`] each.
fn julia_work<T: Real>(params: &JuliaParams<T>) -> JuliaWork {
    let counts = hpnum::kernels::julia::reference(params).expect("the bench's Julia grids fit");
    JuliaWork {
        count: pixel_iterations(&counts),
        flops: JULIA_FLOPS_PER_ITERATION,
    }
}

/// An n×n field in [0.2, 1): diffusion averages, so no value ever becomes subnormal and
/// slows the arithmetic down as the book's decaying block eventually would.
fn smooth_field<T: Real>(n: usize) -> Array2<T> {
    let field = lcg_vector::<T>(n * n, LCG_SEED)
        .expect("the bench's grids fit")
        .mapv(|x| (x + T::from_f64(1.5)) / T::from_f64(2.5));
    field
        .into_shape_with_order((n, n))
        .expect("n × n elements make an n × n grid")
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
    for n in DIFFUSION_SIZES {
        let mut grid = smooth_field::<T>(n);
        let mut scratch = Array2::<T>::zeros((n, n));
        // Two steps per iteration, so the result ends in the grid without a copy; the table
        // reports per iteration, the bytes count both steps.
        let bytes = Workload::diffusion::<T>(n, n, 2).memory_bytes as u64;
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
    for kind in [NormKind::L2, NormKind::L2Squared] {
        let kernel = format!("norm-{kind}");
        let mut g = c.benchmark_group(&kernel);
        for n in NORM_SIZES {
            let v = lcg_vector::<T>(n, LCG_SEED).expect("the bench's vectors fit");
            let bytes = Workload::norm::<T>(n).memory_bytes as u64;
            g.throughput(Throughput::Bytes(bytes));
            for backend in backends {
                let id = format!("{}/{}", backend.name(), T::PRECISION);
                g.bench_function(BenchmarkId::new(&id, n), |b| {
                    let full = format!("{kernel}/{id}/{n}");
                    rec.bench(b, &full, Work::BytesRead(bytes), || {
                        black_box(backend.norm(v.view(), kind).ok());
                    })
                });
            }
        }
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let rec = Recorder::default();
    // The GPU's one-shot rows come with the CPU backends; its transfer-separated rows
    // follow in their own groups.
    let backends = hpnum::backends::all();
    if !backends.iter().any(|b| b.name() == "gpu") {
        println!("gpu: skipped ({})", gpu_unavailable());
    }
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
    #[cfg(feature = "gpu")]
    if let Ok(gpu) = hpnum::Gpu::shared() {
        gpu::bench(&mut c, &rec, &gpu);
    }
    c.final_summary();
    rec.print_summary();
}

fn gpu_unavailable() -> String {
    #[cfg(feature = "gpu")]
    return match hpnum::Gpu::shared() {
        Ok(_) => "available".into(),
        Err(e) => e.to_string(),
    };
    #[cfg(not(feature = "gpu"))]
    "built without the `gpu` feature".into()
}
