//! The GPU's host path: transfers through the staging pool and through mapped buffers, at
//! sizes around chunk and binding boundaries, from and into arrays of any layout, from many
//! threads at once; sizes beyond the machine as typed errors; the probes; both wait modes.
//! Skipped (with a message) without an adapter, unless `HPNUM_REQUIRE_GPU=1`, as in CI.

#![cfg(feature = "gpu")]

mod common;

use std::time::Duration;

use hpnum::backends::gpu::{Gpu, GpuOptions, TransferPath, WaitMode};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::julia::{BOOK_C, BOOK_REGION};
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{Backend, DiffusionParams, Error, JuliaParams, NormKind, Scalar};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ShapeBuilder, s};

/// Bytes per staging chunk and per binding on the cramped devices: 16 f32 per chunk, 1024
/// per binding, so small arrays cross every boundary.
const CHUNK: u64 = 64;
const BINDING: u64 = 4096;

/// A device on `path` with tiny chunks and bindings, or `None` without an adapter.
fn cramped(path: TransferPath) -> Option<Gpu> {
    common::gpu()?;
    on_path(
        path,
        GpuOptions {
            staging_chunk_bytes: Some(CHUNK),
            max_binding_bytes: Some(BINDING),
            ..GpuOptions::from_env()
        },
    )
}

/// A device on `path`, or `None` (with a note) where the adapter cannot take it: mapping
/// data buffers needs `MAPPABLE_PRIMARY_BUFFERS`, which wgpu's GL backend lacks; asking
/// for it there must be `Error::Unsupported`.
fn on_path(path: TransferPath, options: GpuOptions) -> Option<Gpu> {
    match Gpu::new(&GpuOptions {
        transfer_path: Some(path),
        ..options
    }) {
        Ok(gpu) => Some(gpu),
        Err(hpnum::Error::Unsupported { what, .. }) if path == TransferPath::MappedBuffers => {
            eprintln!("note: {path:?} skipped: {what}");
            None
        }
        Err(e) => panic!("{path:?}: {e}"),
    }
}

fn paths() -> Vec<Gpu> {
    [TransferPath::Staging, TransferPath::MappedBuffers]
        .into_iter()
        .filter_map(cramped)
        .collect()
}

/// Distinct values, so that a misplaced element shows.
fn numbered(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(r, c)| (r * cols + c) as f32 + 0.25)
}

#[test]
fn grids_round_trip_across_chunk_and_binding_boundaries() {
    for gpu in paths() {
        assert_eq!(gpu.adapter().staging_chunk_bytes, CHUNK);
        // Row lengths around a chunk (16 f32) and a binding (1024 f32); row counts that
        // split into several bands.
        for (rows, cols) in [
            (1, 1),
            (1, 15),
            (1, 16),
            (1, 17),
            (3, 16),
            (5, 33),
            (64, 16),
            (65, 16),
            (2, 1023),
            (2, 1024),
            (3, 1000),
            (47, 61),
        ] {
            let host = numbered(rows, cols);
            let resident = gpu.upload_grid(host.view()).unwrap();
            let label = format!("{rows}×{cols} on {:?}", gpu.adapter().transfer_path);
            assert_eq!(resident.download().unwrap(), host, "{label}");
            if rows * cols * 4 > BINDING as usize {
                assert!(resident.bands() > 1, "{label}: bands {}", resident.bands());
            }
        }
    }
}

#[test]
fn every_transfer_says_where_its_time_went() {
    for gpu in paths() {
        let label = format!("{:?}", gpu.adapter().transfer_path);
        let host = numbered(47, 61);
        let bytes = (47 * 61 * 4) as u64;
        gpu.reset_transfer_phases();
        assert_eq!(gpu.transfer_phases(), Default::default(), "{label}: reset");
        let mut resident = gpu.upload_grid(host.view()).unwrap();
        let mut back = Array2::<f32>::zeros((47, 61));
        resident.download_into(back.view_mut()).unwrap();
        resident.upload_from(host.view()).unwrap();
        assert_eq!(back, host);
        let phases = gpu.transfer_phases();
        for (direction, times, transfers) in [
            ("upload", phases.upload, 2),
            ("download", phases.download, 1),
        ] {
            let label = format!("{label} {direction}");
            assert_eq!(times.bytes, transfers * bytes, "{label}: {times:?}");
            // The cramped device's chunks are 64 bytes, its bindings 4096: the staging
            // path moves the grid in chunks, the mapped path in its bands' buffers.
            let pieces = match gpu.adapter().transfer_path {
                TransferPath::Staging => bytes.div_ceil(CHUNK),
                TransferPath::MappedBuffers => bytes.div_ceil(BINDING),
            };
            assert!(times.chunks >= transfers * pieces, "{label}: {times:?}");
            let phases_sum = times.host_copy + times.submit + times.device_wait + times.map_wait;
            assert!(!times.host_copy.is_zero(), "{label}: {times:?}");
            assert!(phases_sum <= times.total, "{label}: {times:?}");
            assert!(times.bytes_per_s() > 0.0 && times.host_copy_bytes_per_s() > 0.0);
        }
    }
}

fn vector_round_trips<T: hpnum::Real>(gpu: &Gpu) {
    for len in [0, 1, 15, 16, 17, 1023, 1024, 1025, 3001] {
        let host = Array1::from_shape_fn(len, |i| T::from_f64(i as f64 - 0.5));
        let mut resident = gpu.upload_vector(host.view()).unwrap();
        assert_eq!(resident.len(), len);
        assert_eq!(
            resident.download().unwrap(),
            host,
            "{} length {len}",
            T::PRECISION
        );
        let other = host.mapv(|x| T::from_f64(-2.0) * x);
        resident.upload_from(other.view()).unwrap();
        let mut back = Array1::zeros(len);
        resident.download_into(back.view_mut()).unwrap();
        assert_eq!(
            back,
            other,
            "{} length {len} after upload_from",
            T::PRECISION
        );
    }
}

#[test]
fn vectors_round_trip_across_chunk_and_binding_boundaries() {
    for gpu in paths() {
        vector_round_trips::<f32>(&gpu);
        if gpu.adapter().f64 {
            vector_round_trips::<f64>(&gpu);
        }
    }
}

/// A grid of 1001 × 1003 (exact in both precisions) up, down, replaced and down again.
fn long_grid_round_trip<T: hpnum::Real>(gpu: &Gpu) {
    let path = gpu.adapter().transfer_path;
    let grid = Array2::from_shape_fn((1001, 1003), |(r, c)| T::from_f64((r * 1003 + c) as f64));
    let mut resident = gpu.upload_grid(grid.view()).unwrap();
    assert_eq!(
        resident.download().unwrap(),
        grid,
        "{path:?} {}",
        T::PRECISION
    );
    let other = grid.mapv(|x| -x);
    resident.upload_from(other.view()).unwrap();
    let mut back = Array2::<T>::zeros((1001, 1003));
    resident.download_into(back.view_mut()).unwrap();
    assert_eq!(back, other, "{path:?} {} after upload_from", T::PRECISION);
}

#[test]
fn long_transfers_split_over_threads_arrive_whole() {
    let Some(_) = common::gpu() else { return };
    // Above the 4 MiB from which host copies are split over threads (where the path does),
    // with odd lengths: the parts end on 8-byte boundaries and the last one is shorter.
    for path in [TransferPath::MappedBuffers, TransferPath::Staging] {
        let Some(gpu) = on_path(path, GpuOptions::from_env()) else {
            continue;
        };
        if gpu.adapter().f64 {
            long_grid_round_trip::<f64>(&gpu);
        }
        long_grid_round_trip::<f32>(&gpu);
        let v = Array1::from_shape_fn(1_234_567, |i| i as f32);
        let resident = gpu.upload_vector(v.view()).unwrap();
        assert_eq!(resident.download().unwrap(), v, "{path:?} vector");
    }
}

#[test]
fn any_layout_goes_up_and_comes_down_in_place() {
    for gpu in paths() {
        let base = numbered(40, 30);
        let want = base.slice(s![..;2, 1..;3]).to_owned(); // 20 × 10, strided both ways
        let sources: Vec<(&str, ArrayView2<'_, f32>)> = vec![
            ("strided", base.slice(s![..;2, 1..;3])),
            ("reversed rows", base.slice(s![..;-1, ..])),
            ("reversed columns", base.slice(s![.., ..;-1])),
            ("transposed", base.t()),
        ];
        for (what, view) in sources {
            let resident = gpu.upload_grid(view).unwrap();
            assert_eq!(resident.download().unwrap(), view.to_owned(), "{what} up");
        }
        // Down into a column-major array, a strided window and a reversed view.
        let resident = gpu.upload_grid(want.view()).unwrap();
        let mut fortran = Array2::<f32>::zeros((20, 10).f());
        resident.download_into(fortran.view_mut()).unwrap();
        assert_eq!(fortran, want, "column-major target");
        let mut wide = Array2::<f32>::from_elem((40, 30), -1.0);
        resident
            .download_into(wide.slice_mut(s![..;2, ..;3]))
            .unwrap();
        assert_eq!(wide.slice(s![..;2, ..;3]), want, "strided target");
        assert!(
            wide.slice(s![1..;2, ..]).iter().all(|&x| x == -1.0),
            "cells between the target's rows were written"
        );
        let mut reversed = Array2::<f32>::zeros((20, 10));
        resident
            .download_into(reversed.slice_mut(s![..;-1, ..;-1]))
            .unwrap();
        assert_eq!(reversed.slice(s![..;-1, ..;-1]), want, "reversed target");
        // Vectors: a negative stride keeps index order, unlike the norms' memory order.
        let v = Array1::from_shape_fn(50, |i| i as f32);
        let resident = gpu.upload_vector(v.slice(s![..;-3])).unwrap();
        assert_eq!(resident.download().unwrap(), v.slice(s![..;-3]).to_owned());
        let mut target = Array1::<f32>::zeros(34);
        resident.download_into(target.slice_mut(s![..;2])).unwrap();
        assert_eq!(target.slice(s![..;2]), v.slice(s![..;-3]));
    }
}

#[test]
fn julia_grids_larger_than_a_staging_chunk_come_back_whole() {
    // With 64-byte chunks every grid takes the chunked download, not the one-submission
    // read-back of small grids; bands of 4 KiB split the counts over several buffers.
    for gpu in paths() {
        let backend: &dyn hpnum::AnyBackend = &gpu;
        for (cols, rows) in [(5, 3), (64, 64), (200, 150)] {
            let params = JuliaParams::<f32>::new(BOOK_REGION, cols, rows, BOOK_C, 100).unwrap();
            let want = Scalar.julia(&params).unwrap();
            let (got, timings) = gpu.julia_timed(&params).unwrap();
            let label = format!("{cols}×{rows} on {:?}", gpu.adapter().transfer_path);
            common::assert_counts_close(backend, &got, &want, &label);
            assert_eq!(
                Backend::<f32>::julia(&gpu, &params).unwrap(),
                got,
                "{label}"
            );
            assert!(timings.download > Duration::ZERO, "{label}");
        }
    }
}

#[test]
fn uploading_into_a_resident_grid_replaces_its_state() {
    for gpu in paths() {
        let params = DiffusionParams::book();
        let first = book_initial_grid::<f32>(33, 47).unwrap();
        let mut resident = gpu.upload_grid(first.view()).unwrap();
        resident.advance(&params, 3).unwrap();
        let second = numbered(33, 47).mapv(|x| x * 1e-4);
        resident.upload_from(second.t().t()).unwrap();
        resident.advance(&params, 5).unwrap();
        let mut want = second.clone();
        Scalar
            .diffuse(
                want.view_mut(),
                Array2::zeros((33, 47)).view_mut(),
                &params,
                5,
            )
            .unwrap();
        let backend = Gpu::shared().unwrap();
        common::assert_grid_close(
            &backend,
            &resident.download().unwrap(),
            &want,
            1e-6,
            "upload_from",
        );
    }
}

#[test]
fn one_shot_calls_reuse_buffers_without_carrying_state_over() {
    for gpu in paths() {
        let params = DiffusionParams::book();
        // Twice: with the buffers kept, then after they were released.
        for _ in 0..2 {
            for seed in [1.0f32, 7.0, 3.0] {
                // Same shape each time: the second call onwards refills the first's buffers.
                let init = numbered(21, 34).mapv(|x| (x * seed).sin().abs() * 1e-3);
                let mut got = init.clone();
                let mut want = init.clone();
                for (backend, grid) in [
                    (&gpu as &dyn hpnum::AnyBackend, &mut got),
                    (&Scalar as &dyn hpnum::AnyBackend, &mut want),
                ] {
                    backend
                        .diffuse(
                            grid.view_mut(),
                            Array2::zeros((21, 34)).view_mut(),
                            &params,
                            6,
                        )
                        .unwrap();
                }
                common::assert_grid_close(&gpu, &got, &want, 1e-6, "refilled grid");
                let v = lcg_vector::<f32>(5_003, seed as u64).unwrap();
                let (got, want) = (
                    gpu.norm(v.view(), NormKind::L1).unwrap(),
                    Scalar.norm(v.view(), NormKind::L1).unwrap(),
                );
                assert!(
                    common::rel_err(f64::from(got), f64::from(want)) < 1e-6,
                    "refilled vector: {got} vs {want}"
                );
            }
            gpu.release_cached();
        }
    }
}

#[test]
fn timed_and_untimed_calls_compute_the_same() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let params = DiffusionParams::book();
    let init = book_initial_grid::<f32>(50, 70).unwrap();
    let mut timed = gpu.upload_grid(init.view()).unwrap();
    let mut untimed = gpu.upload_grid(init.view()).unwrap();
    let elapsed = timed.step(&params, 9).unwrap();
    untimed.advance(&params, 9).unwrap();
    assert!(elapsed > Duration::ZERO);
    assert_eq!(timed.download().unwrap(), untimed.download().unwrap());
    let v = lcg_vector::<f32>(10_007, LCG_SEED).unwrap();
    let resident = gpu.upload_vector(v.view()).unwrap();
    for kind in NormKind::ALL {
        let (with_time, _) = gpu.norm_resident(&resident, kind).unwrap();
        assert_eq!(
            with_time.to_bits(),
            resident.norm(kind).unwrap().to_bits(),
            "{kind}"
        );
    }
}

#[test]
fn shapes_that_do_not_match_are_typed_errors() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let mut grid = gpu.upload_grid(numbered(4, 5).view()).unwrap();
    let mut wrong = Array2::<f32>::zeros((5, 4));
    assert!(matches!(
        grid.download_into(wrong.view_mut()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        grid.upload_from(wrong.view()),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut v = gpu
        .upload_vector(ArrayView1::from(&[1.0f32, 2.0][..]))
        .unwrap();
    assert!(matches!(
        v.upload_from(ArrayView1::from(&[1.0f32][..])),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn many_threads_transfer_at_once() {
    for gpu in paths() {
        let shared = gpu.upload_grid(numbered(37, 29).view()).unwrap();
        std::thread::scope(|scope| {
            for t in 0..6 {
                let (gpu, shared) = (&gpu, &shared);
                scope.spawn(move || {
                    for round in 0..4 {
                        // Its own grid, up and down through the shared staging pool...
                        let host = numbered(20 + t, 17 + round).mapv(|x| x + t as f32);
                        let mut mine = gpu.upload_grid(host.view()).unwrap();
                        assert_eq!(mine.download().unwrap(), host);
                        mine.upload_from(host.mapv(|x| -x).view()).unwrap();
                        assert_eq!(mine.download().unwrap(), host.mapv(|x| -x));
                        // ... and a grid every thread reads at the same time.
                        let mut out = Array2::zeros((37, 29));
                        shared.download_into(out.view_mut()).unwrap();
                        assert_eq!(out, numbered(37, 29));
                    }
                });
            }
        });
    }
}

#[test]
fn both_wait_modes_give_the_same_results() {
    let Some(_) = common::gpu() else { return };
    let init = book_initial_grid::<f32>(64, 64).unwrap();
    let mut results = Vec::new();
    for wait in [
        WaitMode::Block,
        WaitMode::SpinThenBlock(Duration::from_micros(50)),
        WaitMode::SpinThenBlock(Duration::from_secs(1)),
    ] {
        let gpu = Gpu::new(&GpuOptions {
            wait: Some(wait),
            ..GpuOptions::from_env()
        })
        .unwrap();
        assert_eq!(gpu.adapter().wait, wait);
        assert!(gpu.round_trip().unwrap() > Duration::ZERO);
        let mut grid = init.clone();
        gpu.diffuse(
            grid.view_mut(),
            Array2::zeros((64, 64)).view_mut(),
            &DiffusionParams::book(),
            25,
        )
        .unwrap();
        results.push(grid);
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn the_probes_measure_something_plausible() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let limits = gpu.device_limits().unwrap();
    assert!(limits.probe_bytes >= 64 << 20, "{limits:?}");
    for rate in [
        limits.copy_bytes_per_s,
        limits.read_bytes_per_s,
        limits.f32_flops,
    ] {
        assert!(rate.is_finite() && rate > 1e6, "{limits:?}");
    }
    assert_eq!(limits.f64_flops.is_some(), gpu.adapter().f64);
    // Measured once per device.
    assert_eq!(gpu.device_limits().unwrap(), limits);
    let bus = gpu.bus_rates().unwrap();
    assert!(
        bus.upload_bytes_per_s > 1e6 && bus.download_bytes_per_s > 1e6,
        "{bus:?}"
    );
    assert!(bus.round_trip > Duration::ZERO);
    assert!(gpu.dispatch_round_trip().unwrap() > Duration::ZERO);
}

#[test]
fn sizes_beyond_the_machine_are_typed_errors() {
    // Host allocations, on every build: 10¹³ f64 (80 TB) is beyond any machine, yet within
    // the address space, so the available-memory check answers, not the overflow check.
    let oom = |result: hpnum::Result<()>, what: &str| match result {
        Err(Error::OutOfMemory { bytes, .. }) => assert!(bytes > 1 << 40, "{what}: {bytes}"),
        other => panic!("{what}: expected OutOfMemory, got {other:?}"),
    };
    oom(
        lcg_vector::<f64>(10_000_000_000_000, 1).map(drop),
        "lcg_vector",
    );
    oom(
        book_initial_grid::<f64>(1_000_000, 10_000_000).map(drop),
        "book_initial_grid",
    );
    // Julia prices its counts when its parameters are built: a grid whose counts no backend
    // could return is refused before its axes exist.
    oom(
        JuliaParams::<f32>::new(BOOK_REGION, 10_000_000, 10_000_000, BOOK_C, 10).map(drop),
        "julia counts",
    );
    let axis = vec![0.0f32; 10_000_000];
    oom(
        JuliaParams::from_axes(axis.clone(), axis, BOOK_C, 10).map(drop),
        "julia counts from axes",
    );
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    // A huge grid and vector without the host memory behind them: broadcast views.
    let one = Array1::<f32>::ones(1);
    let grid = one.broadcast((300_000, 300_000)).unwrap();
    match gpu.upload_grid(grid) {
        Err(Error::OutOfMemory { .. } | Error::Unsupported { .. }) => {}
        other => panic!("expected OutOfMemory, got {:?}", other.map(|g| g.dim())),
    }
    let vector = one.broadcast(200_000_000_000).unwrap();
    match gpu.upload_vector(vector) {
        Err(Error::OutOfMemory { .. } | Error::Unsupported { .. }) => {}
        other => panic!("expected OutOfMemory, got {:?}", other.map(|v| v.len())),
    }
}
