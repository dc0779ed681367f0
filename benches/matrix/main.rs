//! `cargo bench`: every kernel on every backend, in both precisions, over a range of
//! sizes, beside the machine's measured limits. The kernels, their sizes and their calls
//! come from the library's one list (`Kernel::ALL`, `Kernel::cases`), so a new kernel is
//! benchmarked without a line here. GPU rows come in flavours that separate the
//! transfers: `gpu` (one call: upload, compute, download), `gpu-resident` (compute on data
//! already on the device), `gpu-resident-kK` (K steps per dispatch), `gpu-upload`,
//! `gpu-download`, and `gpu-readback` (the grid copied back after every step). Without an
//! adapter they are skipped with a note. Benchmark IDs have one shape,
//! `kernel/backend/precision/size`. After criterion's own report, a Markdown table shows
//! each result as throughput and as a fraction of the measured limit (copy bandwidth for
//! diffusion, read bandwidth for norms, peak FLOP/s for Julia: one core's for the scalar
//! and SIMD rows, all cores' for the others), and rayon's speed-up over the SIMD backend
//! on one core.
//!
//! `cargo bench --bench matrix -- diffusion` runs one kernel (the probes always run with
//! the table, so filter with `bandwidth|diffusion` to keep the fractions).

#[cfg(feature = "gpu")]
mod gpu;
mod probe;
mod record;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::kernels::{Case, Kernel};
use hpnum::{AnyBackend, Real};
use record::{Recorder, Work};

/// Every kernel's cases at every bench size in `T`, each timed on every backend (and, with
/// a GPU, in its flavours).
fn kernels<T: Real>(c: &mut Criterion, rec: &Recorder, backends: &[Arc<dyn AnyBackend>]) {
    for kernel in Kernel::ALL {
        for &size in kernel.bench_sizes() {
            let cases = match kernel.cases::<T>(size) {
                Ok(cases) => cases,
                Err(e) => {
                    println!("{kernel} {size} {}: skipped ({e})", T::PRECISION);
                    continue;
                }
            };
            for (variant, mut case) in cases.into_iter().enumerate() {
                let label = case.label();
                let work = Work::of(&*case);
                let mut g = c.benchmark_group(&label);
                g.throughput(Throughput::Elements(case.throughput_work() as u64));
                for backend in backends {
                    let id = format!("{}/{}", backend.name(), T::PRECISION);
                    g.bench_function(BenchmarkId::new(&id, size), |b| {
                        rec.bench_timed(b, &format!("{label}/{id}/{size}"), work, |iters| {
                            (0..iters)
                                .map(|_| case.run(backend.as_ref()).unwrap_or_default())
                                .sum()
                        })
                    });
                }
                g.finish();
                #[cfg(feature = "gpu")]
                if let Ok(device) = hpnum::Gpu::shared() {
                    // The data's transfers are the same for every variant of a kernel.
                    gpu::flavours(c, rec, &device, case.as_mut(), variant == 0);
                }
                #[cfg(not(feature = "gpu"))]
                let _ = variant;
            }
        }
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
    // follow each case.
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
    probe::bench(&rec);
    #[cfg(feature = "gpu")]
    if let Ok(gpu) = hpnum::Gpu::shared() {
        gpu::bench(&mut c, &rec, &gpu);
    }
    kernels::<f64>(&mut c, &rec, &backends);
    kernels::<f32>(&mut c, &rec, &backends);
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

/// `case`'s work in the recorder's terms.
impl Work {
    fn of<T: Real>(case: &dyn Case<T>) -> Work {
        Work::Kernel {
            amount: case.throughput_work(),
            unit: case.kernel().unit(),
            limit: case.kernel().limit(),
            limit_amount: case.limit_work(),
        }
    }
}
