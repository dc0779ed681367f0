//! The GPU rows: the device's own limits (one probe, shared with the crossover example and
//! `Auto`), the per-call floor and tiny calls against it (`overhead/gpu…`), transfers
//! beside a host memcpy of the same size (`transfer/…`), and the kernels with transfers
//! separated from compute.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::backends::gpu::{Gpu, GpuOptions, TransferPath, Transfers, WaitMode};
use hpnum::kernels::julia::{BOOK_C, BOOK_REGION};
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::kernels::workload::Workload;
use hpnum::{Backend, DiffusionParams, JuliaParams, NormKind, Real};
use ndarray::{Array1, Array2};

use crate::record::{Recorder, Work};
use crate::{DIFFUSION_SIZES, JULIA_WIDTHS, NORM_SIZES, julia_work, smooth_field};

/// Transfer sizes in MiB of f32: square grids of 4096² and 8192².
const TRANSFER_MIB: [usize; 2] = [64, 256];

pub fn bench(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let adapter = gpu.adapter();
    println!(
        "gpu: {} ({}, {:?}), compute timed by {:?}, transfers {:?} in {} KiB chunks, wait {:?}",
        adapter.name,
        adapter.api,
        adapter.device,
        gpu.compute_clock(),
        adapter.transfer_path,
        adapter.staging_chunk_bytes >> 10,
        adapter.wait,
    );
    limits(rec, gpu);
    overhead(c, rec, gpu, "gpu");
    let other_wait = match adapter.wait {
        WaitMode::Block => WaitMode::SpinThenBlock(hpnum::backends::gpu::DEFAULT_SPIN),
        WaitMode::SpinThenBlock(_) => WaitMode::Block,
    };
    if let Ok(other) = Gpu::new(&GpuOptions {
        wait: Some(other_wait),
        ..GpuOptions::from_env()
    }) {
        let flavour = match other_wait {
            WaitMode::Block => "gpu-block",
            WaitMode::SpinThenBlock(_) => "gpu-spin",
        };
        overhead(c, rec, &other, flavour);
    }
    transfers(c, rec, gpu);
    julia::<f32>(c, rec, gpu);
    diffusion::<f32>(c, rec, gpu);
    norm::<f32>(c, rec, gpu);
    if adapter.f64 {
        julia::<f64>(c, rec, gpu);
        diffusion::<f64>(c, rec, gpu);
        norm::<f64>(c, rec, gpu);
    } else {
        println!("gpu f64: skipped (the adapter has no SHADER_F64)");
    }
}

/// The device's copy and read bandwidth and peak arithmetic, as limits for the table.
fn limits(rec: &Recorder, gpu: &Gpu) {
    match gpu.device_limits() {
        Ok(limits) => {
            let per = |rate: f64, amount: u64| Duration::from_secs_f64(amount as f64 / rate);
            let bytes = limits.probe_bytes;
            rec.record_limit(
                "bandwidth/gpu-copy/device",
                Work::Bytes(2 * bytes),
                per(limits.copy_bytes_per_s, 2 * bytes),
            );
            rec.record_limit(
                "bandwidth/gpu-read/device",
                Work::BytesRead(bytes),
                per(limits.read_bytes_per_s, bytes),
            );
            let flops = 1 << 30;
            rec.record_limit(
                "peak/gpu-flops/f32",
                Work::Flops(flops),
                per(limits.f32_flops, flops),
            );
            if let Some(f64_flops) = limits.f64_flops {
                rec.record_limit(
                    "peak/gpu-flops/f64",
                    Work::Flops(flops),
                    per(f64_flops, flops),
                );
            }
            println!(
                "gpu limits ({:?}, {} MiB per buffer): copy {:.1} GB/s, read {:.1} GB/s, \
                 {:.1} GFLOP/s f32{}",
                limits.clock,
                bytes >> 20,
                limits.copy_bytes_per_s / 1e9,
                limits.read_bytes_per_s / 1e9,
                limits.f32_flops / 1e9,
                limits
                    .f64_flops
                    .map(|f| format!(", {:.1} GFLOP/s f64", f / 1e9))
                    .unwrap_or_default(),
            );
        }
        Err(e) => println!("gpu limits: probe failed: {e}"),
    }
}

/// The per-call floor (an empty submission and its wait; one trivial dispatch) beside the
/// smallest resident calls, all on `gpu`, whose rows are called `overhead/{flavour}/…`.
fn overhead(c: &mut Criterion, rec: &Recorder, gpu: &Gpu, flavour: &str) {
    let mut g = c.benchmark_group("overhead");
    g.throughput(Throughput::Elements(1));
    let mut row = |name: &str, routine: &mut dyn FnMut()| {
        g.bench_function(BenchmarkId::new(flavour, name), |b| {
            rec.bench(
                b,
                &format!("overhead/{flavour}/{name}"),
                Work::Call,
                &mut *routine,
            )
        });
    };
    row("empty-submission", &mut || {
        black_box(gpu.round_trip().ok());
    });
    row("one-dispatch", &mut || {
        black_box(gpu.dispatch_round_trip().ok());
    });
    let params = DiffusionParams::<f32>::book();
    if let Ok(mut grid) = gpu.upload_grid(smooth_field::<f32>(16).view()) {
        row("diffusion-16x16-1-step", &mut || {
            black_box(grid.advance(&params, 1).ok());
        });
    }
    if let Ok(v) = lcg_vector::<f32>(16, LCG_SEED).and_then(|v| gpu.upload_vector(v.view())) {
        row("norm-l2-16", &mut || {
            black_box(v.norm(NormKind::L2).ok());
        });
    }
    if let Ok(julia) = JuliaParams::<f32>::new(BOOK_REGION, 16, 16, BOOK_C, 300) {
        row("julia-16x16", &mut || {
            black_box(Backend::<f32>::julia(gpu, &julia).ok());
        });
    }
    g.finish();
}

/// Uploads into and downloads out of a resident grid, through memory the caller owns,
/// beside one core's memcpy of the same bytes; on the default transfer path and, where the
/// adapter has both, the other.
fn transfers(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let other_path = match gpu.adapter().transfer_path {
        TransferPath::MappedBuffers => Some(TransferPath::Staging),
        TransferPath::Staging => Some(TransferPath::MappedBuffers),
    }
    .and_then(|path| {
        Gpu::new(&GpuOptions {
            transfer_path: Some(path),
            ..GpuOptions::from_env()
        })
        .ok()
    });
    let mut g = c.benchmark_group("transfer");
    for mib in TRANSFER_MIB {
        let bytes = (mib << 20) as u64;
        let side = ((mib << 20) as f64 / 4.0).sqrt() as usize;
        let size = format!("{mib}MiB");
        g.throughput(Throughput::Bytes(bytes));
        let src = vec![1u8; mib << 20];
        let mut dst = vec![0u8; mib << 20];
        g.bench_function(BenchmarkId::new("memcpy/u8", &size), |b| {
            rec.bench(
                b,
                &format!("transfer/memcpy/u8/{size}"),
                Work::Transfer(bytes),
                || {
                    dst.copy_from_slice(black_box(&src));
                },
            )
        });
        drop((src, dst));
        let host = smooth_field::<f32>(side);
        let mut out = Array2::<f32>::zeros((side, side));
        for gpu in [Some(gpu), other_path.as_ref()].into_iter().flatten() {
            let path = match gpu.adapter().transfer_path {
                TransferPath::MappedBuffers => "mapped",
                TransferPath::Staging => "staged",
            };
            let Ok(mut resident) = gpu.upload_grid(host.view()) else {
                println!("transfer {size}: the device cannot hold the grid");
                continue;
            };
            let upload = format!("gpu-upload-{path}/f32");
            g.bench_function(BenchmarkId::new(&upload, &size), |b| {
                rec.bench(
                    b,
                    &format!("transfer/{upload}/{size}"),
                    Work::Transfer(bytes),
                    || {
                        black_box(resident.upload_from(host.view()).ok());
                    },
                )
            });
            let download = format!("gpu-download-{path}/f32");
            g.bench_function(BenchmarkId::new(&download, &size), |b| {
                rec.bench(
                    b,
                    &format!("transfer/{download}/{size}"),
                    Work::Transfer(bytes),
                    || {
                        black_box(resident.download_into(out.view_mut()).ok());
                    },
                )
            });
        }
    }
    g.finish();
}

fn julia<T: Real>(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let mut g = c.benchmark_group("julia");
    for width in JULIA_WIDTHS {
        let Ok(params) = JuliaParams::<T>::book(width, 300) else {
            continue;
        };
        let work = julia_work(&params);
        g.throughput(Throughput::Elements(work.count));
        let id = format!("gpu-resident/{}", T::PRECISION);
        g.bench_function(BenchmarkId::new(&id, width), |b| {
            rec.bench_timed(b, &format!("julia/{id}/{width}"), work.into(), |iters| {
                (0..iters)
                    .map(|_| {
                        gpu.julia_timed(&params)
                            .map(|(_, t)| t.compute)
                            .unwrap_or_default()
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

fn diffusion<T: Real>(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let mut g = c.benchmark_group("diffusion");
    let params = DiffusionParams::<T>::book();
    for n in DIFFUSION_SIZES {
        let mut grid = smooth_field::<T>(n);
        let Ok(mut resident) = gpu.upload_grid(grid.view()) else {
            continue;
        };
        let mut host = Array2::<T>::zeros((n, n));
        let grid_bytes = (n * n * size_of::<T>()) as u64;
        // Two steps per iteration, each reading and writing the grid.
        let step_bytes = Workload::diffusion::<T>(n, n, 2).memory_bytes as u64;
        let p = T::PRECISION;
        let mut row = |flavour: &str, work: Work, routine: &mut dyn FnMut(u64) -> Duration| {
            let id = format!("{flavour}/{p}");
            g.throughput(Throughput::Bytes(work.bytes()));
            g.bench_function(BenchmarkId::new(&id, n), |b| {
                rec.bench_timed(b, &format!("diffusion/{id}/{n}"), work, &mut *routine)
            });
        };
        row("gpu-resident", Work::Bytes(step_bytes), &mut |iters| {
            (0..iters)
                .map(|_| resident.step(&params, 2).unwrap_or_default())
                .sum()
        });
        // Temporal blocking: K steps per dispatch on tiles in workgroup memory, counted as
        // K steps' traffic, so that a rate above the copy bandwidth is what blocking buys.
        for k in [4usize, 8] {
            if resident.set_steps_per_dispatch(k).is_err() {
                continue;
            }
            let bytes = Workload::diffusion::<T>(n, n, k).memory_bytes as u64;
            row(
                &format!("gpu-resident-k{k}"),
                Work::Bytes(bytes),
                &mut |iters| {
                    (0..iters)
                        .map(|_| resident.step(&params, k).unwrap_or_default())
                        .sum()
                },
            );
        }
        if resident.set_steps_per_dispatch(1).is_err() {
            continue;
        }
        row("gpu-upload", Work::Transfer(grid_bytes), &mut |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(resident.upload_from(grid.view()).ok());
            }
            start.elapsed()
        });
        row("gpu-download", Work::Transfer(grid_bytes), &mut |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(resident.download_into(host.view_mut()).ok());
            }
            start.elapsed()
        });
        row("gpu-readback", Work::Bytes(step_bytes), &mut |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(
                    gpu.diffuse_timed(grid.view_mut(), &params, 2, Transfers::ReadBackEveryStep)
                        .ok(),
                );
            }
            start.elapsed()
        });
    }
    g.finish();
}

fn norm<T: Real>(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    for kind in [NormKind::L2, NormKind::L2Squared] {
        let kernel = format!("norm-{kind}");
        let mut g = c.benchmark_group(&kernel);
        for n in NORM_SIZES {
            let Ok(v) = lcg_vector::<T>(n, LCG_SEED) else {
                continue;
            };
            let Ok(mut resident) = gpu.upload_vector(v.view()) else {
                continue;
            };
            let bytes = Workload::norm::<T>(n).memory_bytes as u64;
            g.throughput(Throughput::Bytes(bytes));
            let id = format!("gpu-resident/{}", T::PRECISION);
            g.bench_function(BenchmarkId::new(&id, n), |b| {
                rec.bench_timed(
                    b,
                    &format!("{kernel}/{id}/{n}"),
                    Work::BytesRead(bytes),
                    |iters| {
                        (0..iters)
                            .map(|_| {
                                gpu.norm_resident(&resident, kind)
                                    .map(|(_, t)| t.compute)
                                    .unwrap_or_default()
                            })
                            .sum()
                    },
                )
            });
            if kind == NormKind::L2 {
                let id = format!("gpu-upload/{}", T::PRECISION);
                g.bench_function(BenchmarkId::new(&id, n), |b| {
                    rec.bench(
                        b,
                        &format!("{kernel}/{id}/{n}"),
                        Work::Transfer(bytes),
                        || {
                            black_box(resident.upload_from(v.view()).ok());
                        },
                    )
                });
                let mut host = Array1::<T>::zeros(n);
                let id = format!("gpu-download/{}", T::PRECISION);
                g.bench_function(BenchmarkId::new(&id, n), |b| {
                    rec.bench(
                        b,
                        &format!("{kernel}/{id}/{n}"),
                        Work::Transfer(bytes),
                        || {
                            black_box(resident.download_into(host.view_mut()).ok());
                        },
                    )
                });
            }
        }
        g.finish();
    }
}
