//! The GPU rows that separate transfers from compute, and the device's copy bandwidth.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::backends::gpu::{Gpu, Transfers};
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{DiffusionParams, JuliaParams, NormKind, Real};

use crate::record::{Recorder, Work};
use crate::{DIFFUSION_SIZES, JULIA_FLOPS, JULIA_WIDTHS, NORM_SIZES, smooth_field};

pub fn bench(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let adapter = gpu.adapter();
    println!(
        "gpu: {} ({}, {:?}), compute timed by {:?}",
        adapter.name,
        adapter.api,
        adapter.device,
        gpu.compute_clock()
    );
    let probe_bytes = 256 << 20;
    match gpu.measure_copy_bandwidth(probe_bytes, 20) {
        Ok(bytes_per_s) => {
            let bytes = 2 * probe_bytes.min(adapter.max_binding_bytes);
            let per_copy = Duration::from_secs_f64(bytes as f64 / bytes_per_s);
            rec.record_limit("bandwidth/gpu-copy/device", Work::Bytes(bytes), per_copy);
        }
        Err(e) => println!("gpu copy probe failed: {e}"),
    }
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

fn julia<T: Real>(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let mut g = c.benchmark_group("julia");
    for width in JULIA_WIDTHS {
        let Ok(params) = JuliaParams::<T>::book(width, 300) else {
            continue;
        };
        let work =
            hpnum::kernels::julia::pixel_iterations(&hpnum::kernels::julia::reference(&params));
        g.throughput(Throughput::Elements(work));
        let id = format!("gpu-resident/{}", T::PRECISION);
        g.bench_function(BenchmarkId::new(&id, width), |b| {
            let work = Work::PixelIterations {
                count: work,
                flops: JULIA_FLOPS,
            };
            rec.bench_timed(b, &format!("julia/{id}/{width}"), work, |iters| {
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
        let grid_bytes = (n * n * size_of::<T>()) as u64;
        let step_bytes = 2 * 2 * grid_bytes; // two steps, each reads and writes the grid
        let p = T::PRECISION;
        let mut row = |flavour: &str, work: Work, routine: &mut dyn FnMut(u64) -> Duration| {
            let id = format!("{flavour}/{p}");
            let bytes = match work {
                Work::Bytes(b) | Work::BytesRead(b) => b,
                _ => 0,
            };
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function(BenchmarkId::new(&id, n), |b| {
                rec.bench_timed(b, &format!("diffusion/{id}/{n}"), work, &mut *routine)
            });
        };
        row("gpu-resident", Work::Bytes(step_bytes), &mut |iters| {
            (0..iters)
                .map(|_| resident.step(&params, 2).unwrap_or_default())
                .sum()
        });
        row("gpu-upload", Work::BytesRead(grid_bytes), &mut |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(gpu.upload_grid(grid.view()).ok());
            }
            start.elapsed()
        });
        row("gpu-download", Work::BytesRead(grid_bytes), &mut |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(resident.download().ok());
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
            let v = lcg_vector::<T>(n, LCG_SEED);
            let Ok(resident) = gpu.upload_vector(v.view()) else {
                continue;
            };
            let bytes = (n * size_of::<T>()) as u64;
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
                        Work::BytesRead(bytes),
                        || {
                            black_box(gpu.upload_vector(v.view()).ok());
                        },
                    )
                });
            }
        }
        g.finish();
    }
}
