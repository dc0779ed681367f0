//! The page's crossover: the library's cases (`Kernel::cases`, the ones the native sweep
//! times) measured one point at a time so that the page can show progress and stop between
//! points, and the crossings found by the library's own rule (`hpnum::crossover::crossing`),
//! stated as one sentence per call.
//!
//! A point's JSON is the native `report` example's (`report.json`'s `measurements`):
//! `{"kernel", "label", "size", "backend", "seconds"}`, so that the page draws a native
//! report the way it draws its own run.

use std::time::Duration;

use hpnum::backends::{Gpu, NAMES, by_name};
use hpnum::crossover::{Point, crossing};
use hpnum::kernels::{Case, Kernel, Workload};
use hpnum::{Error, Result};
use serde_json::{Value, json};
use web_time::Instant;

/// The GPU flavours the page times: compute on data already on the device, and the
/// one-shot call with its transfers (the native sweep's names).
pub const GPU_FLAVOURS: [&str; 2] = ["gpu-resident", "gpu"];

/// Timed batches per point after the warm-up (the median is kept): the native quick
/// sweep's repeats.
pub const REPEATS: usize = 3;

/// What the page measures: every kernel's calls (`label`s: `julia`, `diffusion`,
/// `norm-l2`, `norm-l2sq`) at the quick sweep's sizes, and the CPU backends this target
/// runs, as JSON: `{"version", "calls": [{"label", "kernel", "size_label", "sizes"}],
/// "cpu_backends": [...], "gpu_flavours": [...]}`.
///
/// # Errors
/// What building a case returns (out of memory).
pub fn plan() -> Result<Value> {
    let mut calls = Vec::new();
    for kernel in Kernel::ALL {
        let sizes = kernel.sweep_sizes(true, false);
        let smallest = sizes.first().copied().unwrap_or(1);
        for case in kernel.cases::<f32>(smallest)? {
            calls.push(json!({
                "label": case.label(),
                "kernel": kernel.name(),
                "size_label": kernel.size_label(),
                "sizes": sizes,
            }));
        }
    }
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "calls": calls,
        "cpu_backends": cpu_backends(),
        "gpu_flavours": GPU_FLAVOURS,
    }))
}

/// The CPU backends this build runs here (in a browser: scalar, SIMD at the one level
/// WebAssembly has, rayon on the calling thread).
pub fn cpu_backends() -> Vec<String> {
    // By name, so that listing them opens no GPU: every backend but the GPU and `auto`
    // (which picks among the others).
    NAMES
        .iter()
        .filter(|&&name| name != "gpu" && name != "auto")
        .filter(|&&name| by_name(name).is_ok())
        .map(|&name| name.to_owned())
        .collect()
}

/// The case of `label` at `size`, in f32 (what WebGPU has).
fn case(label: &str, size: usize) -> Result<Box<dyn Case<f32>>> {
    let kernel_name = label.split('-').next().unwrap_or_default();
    let kernel = Kernel::parse(kernel_name)
        .ok_or_else(|| Error::invalid("call", format!("no kernel's call is named {label}")))?;
    kernel
        .cases::<f32>(size)?
        .into_iter()
        .find(|c| c.label() == label)
        .ok_or_else(|| Error::invalid("call", format!("{kernel_name} has no call {label}")))
}

/// The least time one timed batch of calls takes: a browser's clock is coarse (Chrome's
/// `performance.now()` moves in steps of 100 µs without cross-origin isolation), so short
/// calls are timed many at a time.
pub const MIN_BATCH: Duration = Duration::from_millis(10);

/// The median seconds of one `label` call at `size` on `backend` (a CPU backend's name, or
/// one of [`GPU_FLAVOURS`] on `gpu`): the calls per batch doubled until a batch takes
/// [`MIN_BATCH`] (the warm-up), then [`REPEATS`] batches timed.
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown call or backend, [`Error::Unsupported`] for
/// a GPU flavour without a GPU; what the backend returns.
pub async fn measure(label: &str, size: usize, backend: &str, gpu: Option<&Gpu>) -> Result<f64> {
    let mut case = case(label, size)?;
    let cpu = match backend {
        "gpu" | "gpu-resident" if gpu.is_none() => {
            return Err(Error::Unsupported {
                backend: backend.into(),
                what: "measuring without a GPU".into(),
            });
        }
        "gpu" | "gpu-resident" => None,
        name if cpu_backends().iter().any(|b| b == name) => Some(by_name(name)?),
        name => return Err(Error::invalid("backend", format!("no CPU backend {name}"))),
    };
    let mut batch = async |calls: usize| -> Result<Duration> {
        match (&cpu, gpu) {
            (Some(cpu), _) => {
                let start = Instant::now();
                for _ in 0..calls {
                    case.run(cpu.as_ref())?;
                }
                Ok(start.elapsed())
            }
            (None, Some(gpu)) => {
                case.time_gpu_async(gpu, backend == "gpu-resident", calls)
                    .await
            }
            (None, None) => Err(Error::invalid("backend", "no GPU")),
        }
    };
    // One call untimed first: a first call's one-off costs (pages touched, a pipeline's
    // first use) would otherwise end the calibration at one call per batch.
    batch(1).await?;
    let mut calls = 1;
    // Twice at most: a batch that fell under a quarter of the least (a pause during the
    // calibration) calibrates again from where it stands.
    for _ in 0..2 {
        while batch(calls).await? < MIN_BATCH && calls < MAX_CALLS {
            calls *= 2;
        }
        let mut batches = Vec::with_capacity(REPEATS);
        for _ in 0..REPEATS {
            batches.push(batch(calls).await?);
        }
        batches.sort();
        let median = batches[batches.len() / 2];
        if median >= MIN_BATCH / 4 || calls >= MAX_CALLS {
            // Never zero: a clock that did not move says the call took under one tick.
            let tick = Duration::from_micros(100);
            return Ok(median.max(tick).as_secs_f64() / calls as f64);
        }
    }
    Err(Error::Unsupported {
        backend: backend.into(),
        what: format!("timing {label} at {size}: this clock does not measure a batch"),
    })
}

/// The most calls in one batch.
const MAX_CALLS: usize = 1 << 20;

/// The verdict on measured points (JSON, as [`plan`]'s calls name them): per call, the
/// size from which each GPU flavour beats every CPU backend at every larger size measured
/// (the library's rule), and one sentence that says it. JSON: `[{"label", "resident",
/// "one_shot", "sentence"}]`.
///
/// # Errors
/// [`Error::InvalidParameter`] for points that are not a list of `{"kernel", "label",
/// "size", "backend", "seconds"}`.
pub fn verdicts(points: &Value, cpu_backends: &[String]) -> Result<Value> {
    let points = parse_points(points)?;
    let mut labels: Vec<(&str, Kernel)> = Vec::new();
    for (label, point) in &points {
        if !labels.iter().any(|(l, _)| l == label) {
            labels.push((label, point.kernel));
        }
    }
    let out: Vec<Value> = labels
        .into_iter()
        .map(|(label, kernel)| {
            let of_call: Vec<Point> = points
                .iter()
                .filter(|(l, _)| *l == label)
                .map(|(_, p)| p.clone())
                .collect();
            let from = |flavour| crossing(&of_call, cpu_backends, kernel, flavour);
            let measured = |flavour| of_call.iter().any(|p| p.backend == flavour);
            let (resident, one_shot) = (from("gpu-resident"), from("gpu"));
            let sentence = sentence(
                label,
                kernel,
                measured("gpu-resident").then_some(resident),
                measured("gpu").then_some(one_shot),
            );
            json!({"label": label, "resident": resident, "one_shot": one_shot, "sentence": sentence})
        })
        .collect();
    Ok(Value::Array(out))
}

/// Points from their JSON, each with its call's label.
fn parse_points(points: &Value) -> Result<Vec<(&str, Point)>> {
    let bad = |why: &str| Error::invalid("points", why.to_owned());
    let list = points.as_array().ok_or_else(|| bad("not a list"))?;
    list.iter()
        .map(|p| {
            let text = |key: &str| p[key].as_str().ok_or_else(|| bad(&format!("no {key}")));
            let kernel = Kernel::parse(text("kernel")?).ok_or_else(|| bad("an unknown kernel"))?;
            let size = p["size"].as_u64().ok_or_else(|| bad("no size"))? as usize;
            let seconds = p["seconds"].as_f64().ok_or_else(|| bad("no seconds"))?;
            let point = Point {
                kernel,
                label: text("label")?.to_owned(),
                size,
                // What the call cost is not in the JSON, and the verdict needs none.
                workload: Workload {
                    kernel,
                    work: 0.0,
                    transfer_bytes: 0.0,
                    memory_bytes: 0.0,
                    flops: 0.0,
                },
                backend: text("backend")?.to_owned(),
                seconds,
                throughput: 0.0,
                of_limit: None,
            };
            Ok((text("label")?, point))
        })
        .collect()
}

/// A size as the page writes it: `512²` for a grid side, `10⁶` for a power of ten.
fn size_words(kernel: Kernel, size: usize) -> String {
    match kernel {
        Kernel::Norm => {
            let digits = size.to_string();
            let power = digits.len() - 1;
            if size > 1 && digits[1..].bytes().all(|b| b == b'0') && digits.starts_with('1') {
                let superscript: String = power
                    .to_string()
                    .chars()
                    .map(|c| {
                        "⁰¹²³⁴⁵⁶⁷⁸⁹"
                            .chars()
                            .nth(c as usize - '0' as usize)
                            .unwrap_or(c)
                    })
                    .collect();
                format!("10{superscript} elements")
            } else {
                format!("{size} elements")
            }
        }
        _ => format!("{size}²"),
    }
}

/// One call's verdict in words; `resident` and `one_shot` are `None` where that flavour
/// was not measured, `Some(None)` where it never won.
fn sentence(
    label: &str,
    kernel: Kernel,
    resident: Option<Option<usize>>,
    one_shot: Option<Option<usize>>,
) -> String {
    let at = |size| size_words(kernel, size);
    match (resident, one_shot) {
        (None, None) => format!("{label}: no GPU was measured, so there is no crossover."),
        (Some(Some(r)), Some(Some(o))) => format!(
            "Your GPU overtakes your CPU on {label} from {}, counting transfers from {}.",
            at(r),
            at(o)
        ),
        (Some(Some(r)), _) => format!(
            "Your GPU overtakes your CPU on {label} from {} with the data already on it; \
             counting transfers, your CPU is faster at every size measured.",
            at(r)
        ),
        (_, Some(Some(o))) => format!(
            "Your GPU overtakes your CPU on {label} from {}, transfers included.",
            at(o)
        ),
        _ => format!(
            "Your CPU is faster on {label} at every size measured, even with the data \
             already on the GPU."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As in the library's test suites (`tests/common`): Mesa's device-selection layer
    /// stays quiet only if asked before the harness starts its threads.
    #[ctor::ctor(unsafe)]
    fn quiet_headless_vulkan_before_the_harness() {
        hpnum::backends::gpu::quiet_headless_vulkan();
    }

    fn point(size: usize, backend: &str, seconds: f64) -> Value {
        json!({"kernel": "diffusion", "label": "diffusion", "size": size,
               "backend": backend, "seconds": seconds})
    }

    #[test]
    fn the_verdict_names_each_flavours_first_winning_size() -> Result<()> {
        let points = json!([
            point(64, "simd", 1.0),
            point(64, "gpu-resident", 2.0),
            point(64, "gpu", 3.0),
            point(128, "simd", 4.0),
            point(128, "gpu-resident", 1.0),
            point(128, "gpu", 5.0),
            point(256, "simd", 16.0),
            point(256, "gpu-resident", 2.0),
            point(256, "gpu", 8.0),
        ]);
        let v = verdicts(&points, &["simd".to_owned()])?;
        assert_eq!(v[0]["resident"], json!(128));
        assert_eq!(v[0]["one_shot"], json!(256));
        assert_eq!(
            v[0]["sentence"],
            json!(
                "Your GPU overtakes your CPU on diffusion from 128², counting transfers from 256²."
            )
        );
        Ok(())
    }

    /// The first call's verdict sentence on `points`, against SIMD.
    fn first_sentence(points: &Value) -> Result<String> {
        let v = verdicts(points, &["simd".to_owned()])?;
        Ok(v[0]["sentence"].as_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn a_gpu_that_never_wins_and_no_gpu_are_said_so() -> Result<()> {
        let slow = json!([point(64, "simd", 1.0), point(64, "gpu-resident", 2.0)]);
        assert!(first_sentence(&slow)?.starts_with("Your CPU is faster"));
        let cpu_only = json!([point(64, "simd", 1.0)]);
        assert!(first_sentence(&cpu_only)?.contains("no GPU was measured"));
        Ok(())
    }

    #[test]
    fn points_of_another_shape_are_an_error_not_a_panic() {
        assert!(verdicts(&json!({"points": 3}), &[]).is_err());
        assert!(verdicts(&json!([{"kernel": "fft"}]), &[]).is_err());
    }

    #[test]
    fn norms_are_powers_of_ten_and_grids_squares() {
        assert_eq!(size_words(Kernel::Norm, 1_000_000), "10⁶ elements");
        assert_eq!(size_words(Kernel::Norm, 3000), "3000 elements");
        assert_eq!(size_words(Kernel::Diffusion, 512), "512²");
    }

    #[test]
    fn the_plan_lists_every_call_and_a_cpu_point_measures() -> Result<()> {
        let plan = plan()?;
        let labels: Vec<&str> = plan["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["label"].as_str())
            .collect();
        assert_eq!(labels, ["julia", "diffusion", "norm-l2", "norm-l2sq"]);
        let seconds = pollster::block_on(measure("norm-l2", 1000, "scalar", None))?;
        assert!(seconds > 0.0);
        assert!(pollster::block_on(measure("norm-l2", 1000, "gpu", None)).is_err());
        assert!(pollster::block_on(measure("fft", 1000, "scalar", None)).is_err());
        Ok(())
    }

    /// The GPU flavours the page times, natively on whatever adapter opens (Mesa's in CI,
    /// where `HPNUM_REQUIRE_GPU` makes a missing one a failure).
    #[test]
    fn the_gpu_flavours_measure_every_call() -> Result<()> {
        let gpu = match Gpu::shared() {
            Ok(gpu) => gpu,
            Err(e) if std::env::var_os("HPNUM_REQUIRE_GPU").is_some() => return Err(e),
            Err(_) => return Ok(()),
        };
        // Every call waits for the device at least once: none can cost less than half the
        // least round trip (a timing that skipped the calls would).
        let floor = gpu.round_trip()?.as_secs_f64() / 2.0;
        for label in ["julia", "diffusion", "norm-l2", "norm-l2sq"] {
            for flavour in GPU_FLAVOURS {
                let seconds = pollster::block_on(measure(label, 64, flavour, Some(&gpu)))?;
                assert!(
                    seconds > floor && seconds < 1.0,
                    "{label} {flavour}: {seconds} s, floor {floor} s"
                );
            }
        }
        Ok(())
    }
}
