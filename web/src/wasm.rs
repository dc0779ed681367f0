//! What the page calls: promises over hpnum's `async` GPU API (a browser cannot block), with
//! errors as messages.

use std::cell::RefCell;

use hpnum::Gpu;
use hpnum::backends::gpu::GpuOptions;
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::selftest;

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

/// The self-test's JSON (see [`selftest::run`]); never rejects: what failed is in its
/// `errors`.
#[wasm_bindgen]
pub async fn selftest() -> String {
    let gpu = gpu().await;
    selftest::run(gpu.as_ref().map_err(Clone::clone))
        .await
        .to_string()
}

/// What the self-test's console line starts with.
#[wasm_bindgen]
pub fn selftest_prefix() -> String {
    selftest::LINE_PREFIX.to_owned()
}
