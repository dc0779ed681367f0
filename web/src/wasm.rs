//! What the page calls: promises over hpnum's `async` GPU API (a browser cannot block), with
//! errors as messages.

use std::cell::RefCell;

use hpnum::Gpu;
use hpnum::backends::gpu::GpuOptions;
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::{crossover, selftest};

thread_local! {
    /// The page's device, opened once (WebGPU hands it over through the event loop).
    static GPU: RefCell<Option<Gpu>> = const { RefCell::new(None) };
}

/// The page's device, opened on first use.
async fn gpu() -> Result<Gpu, String> {
    if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
        return Ok(gpu);
    }
    let gpu = Gpu::new_async(&GpuOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

/// The adapter as JSON (`{"name", "api", "driver", "identity", "f64", "timestamps",
/// "subgroups", "max_binding_bytes"}`); rejects with why no WebGPU device opened.
#[wasm_bindgen]
pub async fn adapter() -> Result<String, JsError> {
    let gpu = gpu().await.map_err(|e| JsError::new(&e))?;
    let a = gpu.adapter();
    Ok(json!({
        "name": a.name,
        "api": a.api,
        "driver": a.driver,
        "identity": a.identity(),
        "f64": a.f64,
        "timestamps": a.timestamps,
        "subgroups": a.subgroups,
        "max_binding_bytes": a.max_binding_bytes,
    })
    .to_string())
}

/// The self-test's JSON (see [`selftest::run`]), its adapter named as the browser
/// describes it; never rejects: what failed is in its `errors`.
#[wasm_bindgen]
pub async fn selftest(browser_adapter: String) -> String {
    let gpu = gpu().await;
    selftest::run(gpu.as_ref().map_err(Clone::clone), &browser_adapter)
        .await
        .to_string()
}

/// What the self-test's console line starts with.
#[wasm_bindgen]
pub fn selftest_prefix() -> String {
    selftest::LINE_PREFIX.to_owned()
}

/// What the page measures: [`crate::crossover::plan`]'s JSON.
#[wasm_bindgen]
pub fn plan() -> Result<String, JsError> {
    crossover::plan()
        .map(|plan| plan.to_string())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The median seconds of one call (`label` at `size`) on `backend`: a CPU backend's name,
/// or a GPU flavour (`gpu-resident`, `gpu`) on the page's device.
#[wasm_bindgen]
pub async fn measure(label: String, size: usize, backend: String) -> Result<f64, JsError> {
    let gpu = if crossover::GPU_FLAVOURS.contains(&backend.as_str()) {
        Some(gpu().await.map_err(|e| JsError::new(&e))?)
    } else {
        None
    };
    crossover::measure(&label, size, &backend, gpu.as_ref())
        .await
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The verdicts on `points` (JSON, a list of `{"kernel", "label", "size", "backend",
/// "seconds"}`) against `cpu_backends` (JSON, a list of names): [`crate::crossover::verdicts`].
#[wasm_bindgen]
pub fn verdicts(points: &str, cpu_backends: &str) -> Result<String, JsError> {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| JsError::new(&e.to_string()))
    };
    let cpu: Vec<String> =
        serde_json::from_value(parse(cpu_backends)?).map_err(|e| JsError::new(&e.to_string()))?;
    crossover::verdicts(&parse(points)?, &cpu)
        .map(|v| v.to_string())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The device's and the bus's limits, measured by the native probes (`Gpu::device_limits`,
/// `Gpu::bus_rates`): `{"copy_gbs", "read_gbs", "f32_gflops", "upload_gbs",
/// "download_gbs", "round_trip_us", "clock"}`.
#[wasm_bindgen]
pub async fn limits() -> Result<String, JsError> {
    let error = |e: hpnum::Error| JsError::new(&e.to_string());
    let gpu = gpu().await.map_err(|e| JsError::new(&e))?;
    let device = gpu.device_limits_async().await.map_err(error)?;
    let bus = gpu.bus_rates_async().await.map_err(error)?;
    Ok(json!({
        "copy_gbs": device.copy_bytes_per_s / 1e9,
        "read_gbs": device.read_bytes_per_s / 1e9,
        "f32_gflops": device.f32_flops / 1e9,
        "upload_gbs": bus.upload_bytes_per_s / 1e9,
        "download_gbs": bus.download_bytes_per_s / 1e9,
        "round_trip_us": bus.round_trip.as_secs_f64() * 1e6,
        "clock": format!("{:?}", device.clock),
        "probe_bytes": device.probe_bytes,
    })
    .to_string())
}
