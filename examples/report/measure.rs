//! The measurements of a report that the crossover sweep does not make: transfers phase by
//! phase on each path and over staging chunk sizes and depths, temporal blocking for
//! several K, the norms' two workgroup reductions, and the smallest resident calls against
//! the driver's floor.

use std::time::{Duration, Instant};

use hpnum::backends::gpu::{
    Gpu, GpuOptions, PhaseTimes, Reduction, ShaderTarget, TemporalBlocking, TransferPath,
};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::norm::lcg_vector;
use hpnum::{DiffusionParams, NormKind, Precision, Result};
use ndarray::Array2;
use serde_json::{Value, json};

/// The transfer size the targets name: a 256 MiB f32 grid, 8192².
pub const TRANSFER_SIDE: usize = 8192;

/// The median of `f`'s durations over `repeats` runs after one untimed run.
pub fn median(repeats: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    f()?;
    let mut times = (0..repeats.max(1))
        .map(|_| f())
        .collect::<Result<Vec<Duration>>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

/// How long `f` takes, as a `Duration` result.
pub fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn gbs(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64().max(1e-12) / 1e9
}

/// One direction's phases as JSON: seconds per phase for one transfer, and the host copy's
/// rate (against `memcpy`, what says whether mapped memory is cached).
pub fn phases_json(times: &PhaseTimes, transfers: u32) -> Value {
    let per = |d: Duration| d.as_secs_f64() / f64::from(transfers.max(1));
    json!({
        "chunks_per_transfer": times.chunks as f64 / f64::from(transfers.max(1)),
        "host_copy_s": per(times.host_copy),
        "submit_s": per(times.submit),
        "device_wait_s": per(times.device_wait),
        "map_wait_s": per(times.map_wait),
        "total_s": per(times.total),
        "host_copy_gbs": times.host_copy_bytes_per_s() / 1e9,
    })
}

/// Upload and download rates of a 256 MiB f32 grid through `gpu`'s path, with their phases.
pub fn transfers(gpu: &Gpu, repeats: usize) -> Result<Value> {
    let host = book_initial_grid::<f32>(TRANSFER_SIDE, TRANSFER_SIDE)?;
    let bytes = (host.len() * 4) as u64;
    let mut back = Array2::<f32>::ones(host.dim()); // touched: no page faults in the timing
    let mut grid = gpu.upload_grid(host.view())?;
    grid.download_into(back.view_mut())?; // the first transfers build the staging pool
    gpu.reset_transfer_phases();
    let up = median(repeats, || timed(|| grid.upload_from(host.view())))?;
    let down = median(repeats, || timed(|| grid.download_into(back.view_mut())))?;
    let phases = gpu.transfer_phases();
    let transfers = repeats as u32 + 1;
    if back != host {
        return Err(hpnum::Error::Device {
            details: "a transfer came back different".into(),
        });
    }
    Ok(json!({
        "path": format!("{:?}", gpu.adapter().transfer_path),
        "chunk_bytes": gpu.adapter().staging_chunk_bytes,
        "depth": gpu.adapter().staging_depth,
        "upload_gbs": gbs(bytes, up),
        "download_gbs": gbs(bytes, down),
        "phases": {
            "upload": phases_json(&phases.upload, transfers),
            "download": phases_json(&phases.download, transfers),
        },
    }))
}

/// One thread's `memcpy` of the transfer's size: the yardstick of the host copies.
pub fn host_memcpy_gbs(repeats: usize) -> Result<f64> {
    let n = TRANSFER_SIDE * TRANSFER_SIDE;
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let time = median(repeats, || {
        timed(|| {
            dst.copy_from_slice(&src);
            std::hint::black_box(&dst);
            Ok(())
        })
    })?;
    Ok(gbs((n * 4) as u64, time))
}

/// The staging path over chunk sizes and depths: which the link prefers (each a device of
/// its own, so that its pool starts empty).
pub fn staging_sweep(quick: bool, repeats: usize) -> Vec<Value> {
    let chunks: &[u64] = if quick {
        &[4 << 20, 16 << 20]
    } else {
        &[4 << 20, 16 << 20, 64 << 20]
    };
    let depths: &[usize] = if quick { &[2, 3] } else { &[2, 3, 4] };
    let mut out = Vec::new();
    for &chunk in chunks {
        for &depth in depths {
            let options = GpuOptions {
                transfer_path: Some(TransferPath::Staging),
                staging_chunk_bytes: Some(chunk),
                staging_depth: Some(depth),
                ..GpuOptions::from_env()
            };
            let row = Gpu::new(&options).and_then(|gpu| transfers(&gpu, repeats));
            out.push(match row {
                Ok(row) => row,
                Err(e) => json!({"chunk_bytes": chunk, "depth": depth, "error": e.to_string()}),
            });
        }
    }
    out
}

/// Seconds per step of resident square f32 grids at each K steps per dispatch (device
/// time), for each workgroup-memory budget temporal blocking may fill (the guaranteed
/// 16 KiB and the device's grant) and, for K ≥ 2, each scheme (tiles, streamed strips), or
/// the reason a case could not run.
pub fn temporal_blocking(sides: &[usize], ks: &[usize], repeats: usize) -> Vec<Value> {
    let grant = Gpu::shared().map_or(0, |g| g.adapter().workgroup_storage_bytes);
    let mut budgets = vec![ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES];
    if grant > budgets[0] {
        budgets.push(grant);
    }
    let mut rows = Vec::new();
    for &budget in &budgets {
        let gpu = Gpu::new(&GpuOptions {
            workgroup_storage_bytes: Some(budget),
            ..GpuOptions::from_env()
        });
        for &side in sides {
            let params = DiffusionParams::<f32>::book();
            let steps = 24;
            let mut grid = gpu
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|gpu| gpu.upload_grid(book_initial_grid::<f32>(side, side)?.view()));
            for &k in ks {
                // One step per dispatch has no scheme: timed once.
                let schemes: &[TemporalBlocking] = if k == 1 {
                    &[TemporalBlocking::Tiles]
                } else {
                    &[TemporalBlocking::Tiles, TemporalBlocking::Stream]
                };
                for &scheme in schemes {
                    let seconds = match &mut grid {
                        Ok(grid) => grid
                            .set_steps_per_dispatch(1)
                            .and_then(|()| grid.set_temporal_blocking(scheme))
                            .and_then(|()| grid.set_steps_per_dispatch(k))
                            .and_then(|()| {
                                let time = median(repeats, || grid.step(&params, steps))?;
                                Ok(time.as_secs_f64() / steps as f64)
                            }),
                        Err(e) => Err(e.clone()),
                    };
                    let name = if k == 1 { "none" } else { scheme.name() };
                    let mut row = json!({
                        "side": side, "workgroup_storage_bytes": budget, "k": k, "scheme": name,
                    });
                    match seconds {
                        Ok(s) => row["seconds_per_step"] = json!(s),
                        Err(e) => row["error"] = json!(e.to_string()),
                    }
                    rows.push(row);
                }
            }
        }
    }
    rows
}

/// Device seconds of a resident L2 of `n` f32 values with each workgroup reduction the device
/// has: subgroup operations (`None` where it has none) and the workgroup-memory tree, each
/// on a device of its own (the reduction is chosen when the device opens).
pub fn norm_reductions(n: usize, repeats: usize) -> Result<(Option<f64>, f64)> {
    let host = lcg_vector::<f32>(n, 1)?;
    let time = |subgroups: bool| -> Result<(Reduction, f64)> {
        let gpu = Gpu::new(&GpuOptions {
            subgroups: Some(subgroups),
            ..GpuOptions::from_env()
        })?;
        let v = gpu.upload_vector(host.view())?;
        let compute = median(repeats, || {
            Ok(gpu.norm_resident(&v, NormKind::L2)?.1.compute)
        })?;
        Ok((gpu.norm_reduction(Precision::F32)?, compute.as_secs_f64()))
    };
    let (reduction, seconds) = time(true)?;
    let (_, tree) = time(false)?;
    Ok(((reduction == Reduction::Subgroups).then_some(seconds), tree))
}

/// The one-step entry point a resident `side`² grid in `T` chooses on `gpu` (timing both
/// where the grid is large enough).
pub fn entry_point<T: hpnum::Real>(gpu: &Gpu, side: usize) -> Result<Option<&'static str>> {
    let mut grid = gpu.upload_grid(book_initial_grid::<T>(side, side)?.view())?;
    grid.advance(&DiffusionParams::<T>::book(), 1)?;
    Ok(grid.entry_point())
}

/// The smallest resident calls, host-timed end to end, against one trivial dispatch: what a
/// call costs beyond the driver's floor.
pub fn tiny_calls(gpu: &Gpu, repeats: usize) -> Result<Value> {
    let repeats = repeats.max(9);
    let floor = median(repeats, || gpu.dispatch_round_trip())?;
    let empty = median(repeats, || gpu.round_trip())?;
    let host = book_initial_grid::<f32>(16, 16)?;
    let mut grid = gpu.upload_grid(host.view())?;
    let params = DiffusionParams::<f32>::book();
    let step = median(repeats, || timed(|| grid.advance(&params, 1)))?;
    let v = gpu.upload_vector(lcg_vector::<f32>(16, 1)?.view())?;
    let norm = median(repeats, || timed(|| v.norm(NormKind::L2).map(|_| ())))?;
    let ratio = |t: Duration| t.as_secs_f64() / floor.as_secs_f64().max(1e-12);
    Ok(json!({
        "empty_submission_s": empty.as_secs_f64(),
        "one_dispatch_s": floor.as_secs_f64(),
        "diffusion_16_step_s": step.as_secs_f64(),
        "norm_16_s": norm.as_secs_f64(),
        "diffusion_16_step_over_dispatch": ratio(step),
        "norm_16_over_dispatch": ratio(norm),
    }))
}
