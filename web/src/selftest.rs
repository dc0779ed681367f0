//! The self-test: fixed cases run on the scalar backend and the GPU, written once and run
//! both in the browser (`index.html?selftest` prints them as one console line) and natively
//! (`cargo run -p hpnum-web --bin selftest`), and the contract under which the two agree
//! ([`compare`]), which CI checks.

use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::{Backend, DiffusionParams, Error, Gpu, JuliaParams, NormKind, Result, Scalar};
use ndarray::{Array1, Array2};
use serde_json::{Map, Value, json};

/// What starts the console line the browser prints: the line is this, a space, and the
/// self-test's JSON.
pub const LINE_PREFIX: &str = "hpnum-selftest";

/// The book's Julia region at 200×200, 100 iterations, f32: the sum of the counts.
pub const JULIA: &str = "julia_w200_m100_f32";
/// The book's initial 64×64 grid after 100 steps, f32: `[sum, max]`.
pub const DIFFUSION: &str = "diffusion_n64_s100_f32";
/// The L2 norm of `arange(100000)` in f32.
pub const NORM: &str = "norm_l2_arange100000_f32";

/// The backends every case runs on.
pub const BACKENDS: [&str; 2] = ["scalar", "gpu"];

/// The self-test's JSON: `{"adapter", "webgpu", "errors", "cases"}` (the format in
/// `web/README.md`). `gpu` is the device, or why none opened; `described_as` names its
/// adapter where wgpu cannot (a browser tells the page, not WebGPU's device; empty: wgpu's
/// own summary). A case that fails on a backend is `null` there, with its error in
/// `errors`.
pub async fn run(gpu: std::result::Result<&Gpu, String>, described_as: &str) -> Value {
    let mut errors = Vec::new();
    let adapter = match &gpu {
        Ok(_) if !described_as.is_empty() => described_as.to_owned(),
        Ok(gpu) => gpu.adapter().identity(),
        Err(why) => {
            errors.push(format!("gpu: {why}"));
            String::new()
        }
    };
    if let Ok(gpu) = &gpu {
        errors.extend(refusals(gpu).await);
    }
    let mut cases = Map::new();
    for case in [JULIA, DIFFUSION, NORM] {
        let mut values = Map::new();
        let scalar = on_scalar(case);
        let on_gpu = match &gpu {
            Ok(gpu) => Some(on_device(gpu, case).await),
            Err(_) => None,
        };
        for (backend, value) in [("scalar", Some(scalar)), ("gpu", on_gpu)] {
            let value = match value {
                Some(Ok(value)) => value,
                Some(Err(e)) => {
                    errors.push(format!("{case} on {backend}: {e}"));
                    Value::Null
                }
                None => Value::Null,
            };
            values.insert(backend.to_owned(), value);
        }
        cases.insert(case.to_owned(), Value::Object(values));
    }
    json!({
        "adapter": adapter,
        "webgpu": gpu.is_ok(),
        "errors": errors,
        "cases": cases,
    })
}

/// What the device or the target cannot do must be a typed error, never a crash: f64 on
/// an adapter without `SHADER_F64` (WebGPU has none), and a blocking GPU call where waits
/// must yield (a browser). Returns each way that did not hold.
async fn refusals(gpu: &Gpu) -> Vec<String> {
    let mut problems = Vec::new();
    if !gpu.adapter().f64 {
        let v = Array1::<f64>::ones(4);
        match gpu.norm_async(v.view(), NormKind::L2).await {
            Err(Error::Unsupported { .. }) => {}
            other => problems.push(format!("f64 without SHADER_F64 gave {other:?}")),
        }
    }
    if cfg!(target_arch = "wasm32") {
        match gpu.round_trip() {
            Err(Error::Unsupported { .. }) => {}
            other => problems.push(format!("a blocking call in a browser gave {other:?}")),
        }
    }
    problems
}

fn julia_params() -> Result<JuliaParams<f32>> {
    JuliaParams::book(200, 100)
}

fn norm_input() -> Array1<f32> {
    Array1::from_iter((0..100_000u32).map(|i| i as f32))
}

fn on_scalar(case: &str) -> Result<Value> {
    match case {
        JULIA => Ok(count_sum(&Scalar.julia(&julia_params()?)?)),
        DIFFUSION => {
            let mut grid = book_initial_grid::<f32>(64, 64)?;
            let mut scratch = Array2::zeros((64, 64));
            Scalar.diffuse(
                grid.view_mut(),
                scratch.view_mut(),
                &DiffusionParams::book(),
                100,
            )?;
            Ok(sum_and_max(&grid))
        }
        _ => Ok(json!(Scalar.norm(norm_input().view(), NormKind::L2)?)),
    }
}

async fn on_device(gpu: &Gpu, case: &str) -> Result<Value> {
    match case {
        JULIA => Ok(count_sum(&gpu.julia_async(&julia_params()?).await?)),
        DIFFUSION => {
            let host = book_initial_grid::<f32>(64, 64)?;
            let mut grid = gpu.upload_grid_async(host.view()).await?;
            grid.advance_async(&DiffusionParams::book(), 100).await?;
            Ok(sum_and_max(&grid.download_async().await?))
        }
        _ => Ok(json!(
            gpu.norm_async(norm_input().view(), NormKind::L2).await?
        )),
    }
}

fn count_sum(counts: &Array2<u32>) -> Value {
    json!(counts.iter().map(|&c| u64::from(c)).sum::<u64>())
}

/// The grid's sum (in f64, row by row: exact for these values' range, and one order on
/// every target) and its maximum.
fn sum_and_max(grid: &Array2<f32>) -> Value {
    let sum: f64 = grid.iter().map(|&x| f64::from(x)).sum();
    let max = grid.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    json!([sum, max])
}

/// How far a browser's value may be from the native build's, per backend, as the README
/// states the backends' contracts: the scalar backend gives the same bits on every target;
/// the GPU's Julia counts may differ in at most 0.1 % of pixels, its diffusion and norm
/// within f32 rounding (its sums are ordered by the device's workgroups).
fn tolerance(case: &str, backend: &str) -> f64 {
    match (case, backend) {
        (_, "scalar") => 0.0,
        (JULIA, _) => 0.001 * 200.0 * 200.0 * 100.0,
        _ => 1e-5,
    }
}

/// Compares a browser's self-test JSON with the native one: every case on every backend
/// must be present in both and agree within [`tolerance`] (absolute for Julia's counts,
/// relative otherwise), and the browser must report no error. Returns each disagreement.
pub fn compare(browser: &Value, native: &Value) -> Vec<String> {
    let mut problems: Vec<String> = browser["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("the browser reported: {e}"))
        .collect();
    if browser["webgpu"] != Value::Bool(true) {
        problems.push("the browser had no WebGPU adapter".into());
    }
    for case in [JULIA, DIFFUSION, NORM] {
        for backend in BACKENDS {
            let got = numbers(&browser["cases"][case][backend]);
            let want = numbers(&native["cases"][case][backend]);
            let bound = tolerance(case, backend);
            let agree = !got.is_empty()
                && got.len() == want.len()
                && got.iter().zip(&want).all(|(&g, &w)| {
                    let scale = if case == JULIA {
                        1.0
                    } else {
                        w.abs().max(1e-30)
                    };
                    (g - w).abs() <= bound * scale
                });
            if !agree {
                problems.push(format!(
                    "{case} on {backend}: the browser gave {got:?}, native {want:?} (bound {bound})"
                ));
            }
        }
    }
    problems
}

/// A case's value as numbers: one, or the elements of an array.
fn numbers(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_f64).collect(),
        other => other.as_f64().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(julia: u64) -> Value {
        json!({
            "adapter": "a", "webgpu": true, "errors": [],
            "cases": {
                JULIA: {"scalar": julia, "gpu": julia},
                DIFFUSION: {"scalar": [0.245, 0.1], "gpu": [0.245, 0.1]},
                NORM: {"scalar": 1.0e7, "gpu": 1.0e7},
            }
        })
    }

    #[test]
    fn equal_values_agree_and_a_changed_scalar_count_does_not() {
        assert!(compare(&sample(1000), &sample(1000)).is_empty());
        let problems = compare(&sample(1001), &sample(1000));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("julia_w200_m100_f32 on scalar"));
    }

    #[test]
    fn a_missing_value_an_error_or_no_webgpu_is_a_problem() {
        let mut browser = sample(1000);
        browser["cases"][NORM]["gpu"] = Value::Null;
        browser["errors"] = json!(["boom"]);
        browser["webgpu"] = json!(false);
        assert_eq!(compare(&browser, &sample(1000)).len(), 3);
    }

    #[test]
    fn the_scalar_cases_give_the_books_values() -> Result<()> {
        // The book's grid conserves its mass: 0.245 of the unit square (tests/data).
        let diffusion = numbers(&on_scalar(DIFFUSION)?);
        assert!((diffusion[0] - 0.245).abs() < 1e-6, "{diffusion:?}");
        // L2 of 0..n = sqrt((n-1) n (2n-1) / 6).
        let n = 100_000f64;
        let want = ((n - 1.0) * n * (2.0 * n - 1.0) / 6.0).sqrt();
        let got = numbers(&on_scalar(NORM)?)[0];
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        Ok(())
    }
}
