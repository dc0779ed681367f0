//! The GPU rows: the device's own limits (one probe, shared with the crossover example and
//! `Auto`), the per-call floor and each kernel's smallest call against it
//! (`overhead/gpu…`), transfers beside a host memcpy of the same size (`transfer/…`), and
//! each kernel case's flavours, transfers separated from compute.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use hpnum::Real;
use hpnum::backends::gpu::{Gpu, GpuOptions, TransferPath, WaitMode};
use hpnum::kernels::{Case, GpuFlavour, Kernel};
use ndarray::Array2;

use crate::record::{Recorder, Work};

/// The flavours of compute each case is timed in (those its kernel has).
const COMPUTE: [GpuFlavour; 4] = [
    GpuFlavour::Resident,
    GpuFlavour::StepsPerDispatch(4),
    GpuFlavour::StepsPerDispatch(8),
    GpuFlavour::ReadBackEveryStep,
];

/// The transfer flavours, timed once per kernel and size.
const TRANSFERS: [GpuFlavour; 2] = [GpuFlavour::Upload, GpuFlavour::Download];

/// The size of the cases whose smallest calls are set beside the per-call floor.
const SMALLEST: usize = 16;

/// Transfer sizes in MiB of f32: square grids of 4096² and 8192².
const TRANSFER_MIB: [usize; 2] = [64, 256];

pub fn bench(c: &mut Criterion, rec: &Recorder, gpu: &Gpu) {
    let adapter = gpu.adapter();
    println!(
        "gpu: {} ({}, {:?}), compute timed by {:?}, transfers {:?} in {} KiB chunks, {} in \
         flight, wait {:?}",
        adapter.name,
        adapter.api,
        adapter.device,
        gpu.compute_clock(),
        adapter.transfer_path,
        adapter.staging_chunk_bytes >> 10,
        adapter.staging_depth,
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
    if !adapter.f64 {
        println!("gpu f64: skipped (the adapter has no SHADER_F64)");
    }
}

/// `case`'s GPU flavours as rows `{label}/{flavour}/{precision}/{size}`; the transfer
/// flavours too when `with_transfers`.
pub fn flavours<T: Real>(
    c: &mut Criterion,
    rec: &Recorder,
    gpu: &Gpu,
    case: &mut dyn Case<T>,
    with_transfers: bool,
) {
    if !gpu.adapter().f64 && T::PRECISION == hpnum::Precision::F64 {
        return;
    }
    let (label, size) = (case.label(), case.size());
    let compute = Work::of(&*case);
    let transfer = Work::Transfer(case.data_bytes() as u64);
    let mut g = c.benchmark_group(&label);
    let flavours = COMPUTE.iter().map(|&f| (f, compute)).chain(
        TRANSFERS
            .iter()
            .filter(|_| with_transfers)
            .map(|&f| (f, transfer)),
    );
    for (flavour, work) in flavours {
        let mut run = match case.gpu(gpu, flavour) {
            Ok(Some(run)) => run,
            Ok(None) => continue,
            Err(e) => {
                println!("{label} {} {size}: {e}", flavour.name());
                continue;
            }
        };
        let id = format!("{}/{}", flavour.name(), T::PRECISION);
        g.throughput(Throughput::Elements(work.amount() as u64));
        g.bench_function(BenchmarkId::new(&id, size), |b| {
            rec.bench_timed(b, &format!("{label}/{id}/{size}"), work, |iters| {
                (0..iters).map(|_| run.run().unwrap_or_default()).sum()
            })
        });
    }
    g.finish();
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
    for kernel in Kernel::ALL {
        let Ok(mut case) = kernel.case::<f32>(SMALLEST) else {
            continue;
        };
        let name = format!("{}-{SMALLEST}", case.label());
        if let Ok(Some(mut call)) = case.gpu(gpu, GpuFlavour::SingleCall) {
            row(&name, &mut || {
                black_box(call.run().ok());
            });
        }
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
        let host = Array2::from_shape_fn((side, side), |(r, c)| ((r * 7 + c * 13) % 17) as f32);
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
