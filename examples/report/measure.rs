//! The measurements of a report that neither the crossover sweep nor the library's tuning
//! (`hpnum::crossover::tune`) makes — the host's `memcpy`, the entry point a grid chose,
//! the smallest resident calls against the driver's floor — and the JSON of the tuning's
//! rows.

use std::time::{Duration, Instant};

use hpnum::backends::gpu::{Gpu, PhaseTimes};
use hpnum::crossover::tune::{Settings, StagingRow, TransferRates};
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::diffusion::tune::BlockingRow;
use hpnum::kernels::norm::lcg_vector;
use hpnum::kernels::norm::tune::NormReductions;
use hpnum::{DiffusionParams, NormKind, Result};
use serde_json::{Map, Value, json};

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

/// A transfer path's rates and phases as JSON.
pub fn rates_json(r: &TransferRates) -> Value {
    let gbs = |rate: f64| rate / 1e9;
    json!({
        "path": format!("{:?}", r.path),
        "chunk_bytes": r.chunk_bytes,
        "depth": r.depth,
        "upload_gbs": gbs(r.upload_bytes_per_s),
        "download_gbs": gbs(r.download_bytes_per_s),
        "phases": {
            "upload": phases_json(&r.phases.upload, r.uploads),
            "download": phases_json(&r.phases.download, r.downloads),
        },
    })
}

/// A staging setting's row as JSON: its rates, or its error.
pub fn staging_json(row: &StagingRow) -> Value {
    match &row.rates {
        Ok(rates) => rates_json(rates),
        Err(e) => {
            json!({"chunk_bytes": row.chunk_bytes, "depth": row.depth, "error": e.to_string()})
        }
    }
}

/// A temporal-blocking case as JSON (`scheme` `none` for K = 1).
pub fn blocking_json(row: &BlockingRow) -> Value {
    let mut out = json!({
        "side": row.side,
        "workgroup_storage_bytes": row.workgroup_storage_bytes,
        "k": row.k,
        "scheme": row.scheme.map_or("none", |s| s.name()),
    });
    match &row.seconds_per_step {
        Ok(s) => out["seconds_per_step"] = json!(s),
        Err(e) => out["error"] = json!(e.to_string()),
    }
    out
}

/// The norms' two reductions as the report's keys.
pub fn reductions_json(r: &NormReductions) -> (Value, Value) {
    (json!(r.subgroups_seconds), json!(r.tree_seconds))
}

/// The chosen settings and their reasons as JSON objects.
pub fn settings_json(settings: &Settings) -> Value {
    let object = |pairs: &[(&'static str, String)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect::<Map<String, Value>>(),
        )
    };
    json!({"chosen": object(&settings.chosen), "why": object(&settings.why)})
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
