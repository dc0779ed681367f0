//! One command that measures a machine: the host's and the device's limits, every transfer
//! split into its phases on both paths and over staging chunk sizes and depths, each
//! kernel's resident and one-shot GPU rows beside the best CPU backend at the sizes where
//! the GPU's answer is decided (8192² grids, 10⁸-element vectors), temporal blocking for
//! several K, the smallest calls against the driver's floor, and the crossover sweep.
//! Writes `DIR/<adapter>/report.json` (the keys are listed in `docs/reports/README.md`),
//! `report.md` (rendered from the JSON alone) and the crossover's CSV and SVG plots.
//!
//! ```text
//! cargo run --release --example report -- --quick                  # a few minutes on a software driver
//! cargo run --release --example report -- --peers peers.jsonl     # beside gpu_peers.py's output
//! cargo run --release --example report -- --save                   # and keep this device's best settings
//! cargo run --release --example report -- --render docs/reports/X/report.json
//! cargo run --release --example report -- --check-docs docs/performance.md
//! ```
//!
//! `--check-docs` re-renders every report that `docs/performance.md` embeds (between
//! `<!-- report: PATH -->` and `<!-- end report -->`) and fails if the embedded text
//! differs: a figure in the docs cannot drift from its measurement.

#[path = "../common/mod.rs"]
mod common;
mod measure;
// The crossover example's tables and plots, shared (each example uses its own part).
#[allow(dead_code)]
#[path = "../crossover/plot.rs"]
mod plot;
mod render;
#[allow(dead_code)]
#[path = "../crossover/report.rs"]
mod sweep_report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use hpnum::backends::gpu::Gpu;
use hpnum::calibration::Calibration;
use hpnum::crossover::tune::{self, Measurements, Settings};
use hpnum::crossover::{Crossover, HostLimits, Point, SweepOptions, sweep};
use hpnum::kernels::Kernel;
use hpnum::{Precision, Real};
use serde_json::{Value, json};

/// Measures this machine's CPU and GPU and writes a report.
#[derive(Debug, Parser)]
struct Args {
    /// Fewer repeats, K values, staging settings and sweep sizes: minutes on a software
    /// driver. The key sizes (8192², 10⁸) are measured either way.
    #[arg(long)]
    quick: bool,

    /// Directory under which `<adapter>/` is written.
    #[arg(long, default_value = "out/report")]
    out: PathBuf,

    /// The JSON lines `benches/peers/gpu_peers.py` printed in the same session, for the
    /// `*_vs_torch` and `*_vs_cupy` keys.
    #[arg(long)]
    peers: Option<PathBuf>,

    /// Keep the settings the measurements chose (staging, transfer path, K and scheme) for
    /// every `Gpu` opened on this adapter and driver, and `Auto`'s calibration from the
    /// crossover sweep, in the calibration file (`Calibration::default_path`).
    #[arg(long)]
    save: bool,

    /// Only print the Markdown of an existing `report.json`.
    #[arg(long, conflicts_with = "check_docs")]
    render: Option<PathBuf>,

    /// Only check that the reports a Markdown file embeds are rendered as they are now.
    #[arg(long)]
    check_docs: Option<PathBuf>,
}

fn main() {
    common::quiet_headless_vulkan();
    let args = Args::parse();
    if let Some(path) = &args.render {
        let report = render::read(path).unwrap_or_else(|e| common::fail(e));
        print!("{}", render::markdown(&report));
        return;
    }
    if let Some(path) = &args.check_docs {
        match render::check_docs(path) {
            Ok(n) => println!(
                "{}: {n} embedded report(s), each as it renders now",
                path.display()
            ),
            Err(e) => common::fail(e),
        }
        return;
    }
    let started = Instant::now();
    let (mut report, measured) = measure_all(&args).unwrap_or_else(|e| common::fail(e));
    let dir = args.out.join(report_dir_name(&report));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| common::fail(format!("creating {}: {e}", dir.display())));
    // The library's rule, on this report's measurements (as `hpnum.tune()` on its own).
    let settings = measured.as_ref().map(tune::choose);
    if let Some(settings) = &settings {
        report["settings"] = measure::settings_json(settings);
    }
    // The crossover sweep writes its CSV and plots beside the report.
    let (crossover, sweeps) = crossover(&args, &dir).unwrap_or_else(|e| common::fail(e));
    report["crossover"] = crossover;
    if args.save {
        let path = save(&sweeps, settings.as_ref()).unwrap_or_else(|e| common::fail(e));
        println!(
            "saved this device's settings and Auto's calibration to {}",
            path.display()
        );
        report["settings"]["saved_to"] = json!(path.display().to_string());
    }
    report["seconds"] = json!(started.elapsed().as_secs_f64());
    let text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| common::fail(e));
    write(&dir.join("report.json"), &text);
    write(&dir.join("report.md"), &render::markdown(&report));
    println!(
        "\nwrote {} (report.json, report.md, crossover CSV and SVG) in {:.0} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}

/// `Auto`'s calibration from `sweeps` over the saved one, with `settings` for their adapter,
/// written to the calibration file.
fn save(sweeps: &[Crossover], settings: Option<&Settings>) -> hpnum::Result<PathBuf> {
    let mut cal = match sweeps.first() {
        Some(first) => first.calibration()?,
        None => Calibration::load()?.unwrap_or_default(),
    };
    for sweep in sweeps.iter().skip(1) {
        sweep.calibrate(&mut cal);
    }
    if let Some(settings) = settings {
        settings.apply_to(&mut cal);
    }
    cal.save()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text)
        .unwrap_or_else(|e| common::fail(format!("writing {}: {e}", path.display())));
}

/// The adapter's name as a directory: lowercase, words joined by `-`.
fn report_dir_name(report: &Value) -> String {
    let name = report["adapter"]["name"].as_str().unwrap_or("no-gpu");
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Everything but the crossover sweep, and (with a GPU) the measurements the device's
/// settings are chosen from.
fn measure_all(args: &Args) -> Result<(Value, Option<Measurements>), String> {
    let quick = args.quick;
    let repeats = if quick { 2 } else { 5 };
    let err = |e: hpnum::Error| e.to_string();
    let gpu = match Gpu::shared() {
        Ok(gpu) => Some(gpu),
        Err(e) => {
            println!("no GPU: {e}; the report has the CPU's figures only");
            None
        }
    };
    println!("measuring the host's limits");
    let host = HostLimits::measure().map_err(err)?;
    let mut report = json!({
        // 2: the crossover's measurements are in it (what the web page draws).
        "schema": 2,
        "date": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "quick": quick,
        "command": std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        "hpnum": env!("CARGO_PKG_VERSION"),
        "host": {
            "threads": rayon::current_num_threads(),
            "isa": hpnum::Simd::new().isa().name(),
        },
        "adapter": gpu.as_ref().map(adapter_json),
        "limits": {"host": host_json(&host)},
        "transfers": Value::Null,
        "kernels": {},
        "peers": Value::Null,
        "notes": [],
    });
    let mut notes: Vec<String> = Vec::new();
    let mut measured = match &gpu {
        Some(_) => Some(Measurements::of_default_gpu().map_err(err)?),
        None => None,
    };
    if let (Some(gpu), Some(m)) = (&gpu, &mut measured) {
        println!("measuring the device's limits and floors");
        let device = gpu.device_limits().map_err(err)?;
        let bus = gpu.bus_rates().map_err(err)?;
        let tiny = measure::tiny_calls(gpu, repeats).map_err(err)?;
        report["limits"]["device"] = json!({
            "copy_gbs": device.copy_bytes_per_s / 1e9,
            "read_gbs": device.read_bytes_per_s / 1e9,
            "f32_gflops": device.f32_flops / 1e9,
            "f64_gflops": device.f64_flops.map(|f| f / 1e9),
            "clock": format!("{:?}", device.clock),
        });
        report["limits"]["bus"] = json!({
            "upload_gbs": bus.upload_bytes_per_s / 1e9,
            "download_gbs": bus.download_bytes_per_s / 1e9,
            "bytes": bus.bytes,
        });
        report["limits"]["floors"] = tiny;
        println!("measuring transfers of 256 MiB on each path");
        report["transfers"] = transfers(gpu, quick, repeats, m).map_err(err)?;
    } else {
        notes.push("no GPU adapter: no device, transfer or GPU kernel figures".into());
    }
    report["kernels"] = kernels(gpu.as_ref(), quick, repeats, measured.as_mut(), &mut notes)?;
    if let Some(path) = &args.peers {
        let peers = render::read_peers(path)?;
        report["peers"] = peers;
        compare_with_peers(&mut report);
    }
    report["notes"] = json!(notes);
    Ok((report, measured))
}

fn adapter_json(gpu: &Gpu) -> Value {
    let a = gpu.adapter();
    let diffusion = hpnum::DiffusionSettings::of(&a.kernel_settings);
    json!({
        "name": a.name,
        "identity": a.identity(),
        "api": a.api,
        "device": format!("{:?}", a.device),
        "driver": a.driver,
        "f64": a.f64,
        "timestamps": a.timestamps,
        "subgroups": a.subgroups,
        "transfer_path": format!("{:?}", a.transfer_path),
        "staging_chunk_bytes": a.staging_chunk_bytes,
        "staging_depth": a.staging_depth,
        "max_binding_bytes": a.max_binding_bytes,
        "workgroup_storage_bytes": a.workgroup_storage_bytes,
        "read_back_memory": a.read_back_memory.map(|m| format!("{m:?}")),
        "mapped_data_memory": a.mapped_data_memory.map(|m| format!("{m:?}")),
        "norm_reduction": gpu.norm_reduction(Precision::F32).ok().map(|r| format!("{r:?}")),
        "diffusion_steps_per_dispatch": diffusion.steps_per_dispatch.unwrap_or(1),
        "diffusion_blocking": diffusion.blocking.unwrap_or_default().name(),
        "tuned": a.tuned,
    })
}

fn host_json(host: &HostLimits) -> Value {
    json!({
        "copy_gbs": host.copy_bytes_per_s / 1e9,
        "read_gbs": host.read_bytes_per_s / 1e9,
        "f32_gflops": host.f32_flops / 1e9,
        "f64_gflops": host.f64_flops / 1e9,
        "one_core": {
            "copy_gbs": host.one_core_copy_bytes_per_s / 1e9,
            "read_gbs": host.one_core_read_bytes_per_s / 1e9,
            "f32_gflops": host.one_core_f32_flops / 1e9,
            "f64_gflops": host.one_core_f64_flops / 1e9,
        },
    })
}

/// The transfer section: the default path's rates and phases, the other path's, the host's
/// `memcpy`, and the staging sweep (kept in `m` for choosing the settings).
fn transfers(gpu: &Gpu, quick: bool, repeats: usize, m: &mut Measurements) -> hpnum::Result<Value> {
    let side = measure::TRANSFER_SIDE;
    // Each path on a device of its own; the default path's first, as the tables show it.
    let mut paths = tune::transfer_paths(side, repeats)?;
    paths.sort_by_key(|p| p.path != gpu.adapter().transfer_path);
    println!("sweeping staging chunk sizes and depths");
    let (chunks, depths): (&[u64], &[usize]) = if quick {
        (&[4 << 20, 16 << 20], &[2, 3])
    } else {
        (&[4 << 20, 16 << 20, 64 << 20], &[2, 3, 4])
    };
    let sweep = tune::staging_sweep(side, chunks, depths, repeats)?;
    let best = sweep
        .iter()
        .filter_map(|row| row.rates.as_ref().ok())
        .max_by(|a, b| a.slower_bytes_per_s().total_cmp(&b.slower_bytes_per_s()))
        .map(|r| json!({"chunk_bytes": r.chunk_bytes, "depth": r.depth}));
    let default = paths.first().map(measure::rates_json).unwrap_or_default();
    let out = json!({
        "bytes": side * side * 4,
        "upload_gbs": default["upload_gbs"],
        "download_gbs": default["download_gbs"],
        "phases": default["phases"],
        "host_memcpy_gbs": measure::host_memcpy_gbs(repeats)?,
        "paths": paths.iter().map(measure::rates_json).collect::<Vec<_>>(),
        "staging_sweep": sweep.iter().map(measure::staging_json).collect::<Vec<_>>(),
        "staging_best": best,
    });
    m.paths = paths;
    m.staging = sweep;
    Ok(out)
}

/// Each kernel at the size where the GPU's answer is decided, on the SIMD and rayon
/// backends and the GPU's flavours, in both precisions; temporal blocking; the probe
/// against Julia.
fn kernels(
    gpu: Option<&Gpu>,
    quick: bool,
    repeats: usize,
    mut measured: Option<&mut Measurements>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let mut rows: Vec<Value> = Vec::new();
    let mut keys = serde_json::Map::new();
    let sizes = [
        (Kernel::Diffusion, 8192),
        (Kernel::Norm, 100_000_000),
        (Kernel::Julia, if quick { 1000 } else { 4000 }),
    ];
    for precision in [Precision::F32, Precision::F64] {
        for (kernel, size) in sizes {
            println!("{kernel} at {size} in {precision}");
            let points = match precision {
                Precision::F32 => kernel_points::<f32>(kernel, size, quick),
                Precision::F64 => kernel_points::<f64>(kernel, size, quick),
            }?;
            if points.is_empty() {
                notes.push(format!("{kernel} {size} {precision}: no backend ran"));
            }
            let at = |backend: &str| points.iter().find(|p| p.backend == backend);
            let p = precision.name();
            match kernel {
                Kernel::Diffusion => {
                    keys.insert(
                        format!("diffusion_8192_{p}_copy_fraction"),
                        json!(at("gpu-resident").and_then(|p| p.of_limit)),
                    );
                    let entry = gpu.and_then(|gpu| match precision {
                        Precision::F32 => measure::entry_point::<f32>(gpu, size).ok(),
                        Precision::F64 => measure::entry_point::<f64>(gpu, size).ok(),
                    });
                    keys.insert(
                        format!("diffusion_8192_{p}_entry_point"),
                        json!(entry.flatten()),
                    );
                }
                Kernel::Norm => {
                    keys.insert(
                        format!("norm_l2_1e8_{p}_seconds"),
                        json!(at("gpu-resident").map(|p| p.seconds)),
                    );
                }
                Kernel::Julia => {
                    // The probe's peak over Julia's own rate: at least 1 for an honest probe.
                    let fraction = at("gpu-resident").and_then(|p| p.of_limit);
                    keys.insert(
                        format!("probe_over_julia_{p}"),
                        json!(fraction.map(|f| 1.0 / f.max(1e-12))),
                    );
                }
            }
            rows.extend(points.iter().map(|p| point_json(p, precision)));
        }
    }
    if let Some(m) = measured.as_deref_mut() {
        println!("norms' workgroup reductions, f32");
        let (subgroups, tree) =
            match hpnum::kernels::norm::tune::norm_reductions(100_000_000, repeats) {
                Ok(reductions) => {
                    m.reductions = Some(reductions);
                    measure::reductions_json(&reductions)
                }
                Err(e) => {
                    notes.push(format!("norm reductions at 10⁸: {e}"));
                    (Value::Null, Value::Null)
                }
            };
        keys.insert("norm_l2_1e8_f32_subgroups_seconds".into(), subgroups);
        keys.insert("norm_l2_1e8_f32_tree_seconds".into(), tree);
    }
    let blocking: Vec<Value> = match measured {
        Some(m) => {
            println!("temporal blocking, f32");
            let ks: &[usize] = if quick { &[1, 2, 4] } else { &[1, 2, 4, 8, 16] };
            // The key size, 8192², and a smaller grid for the trend: 2048² when quick
            // (on a software driver each K ≥ 2 step of 4096² costs a third of a second).
            let sides: &[usize] = if quick { &[2048, 8192] } else { &[4096, 8192] };
            m.blocking = hpnum::kernels::diffusion::tune::temporal_blocking(sides, ks, repeats)
                .map_err(|e| e.to_string())?;
            m.blocking.iter().map(measure::blocking_json).collect()
        }
        None => Vec::new(),
    };
    // One note per distinct refusal at 8192², naming the K values it stopped.
    let mut refusals: Vec<(String, Vec<String>)> = Vec::new();
    for row in blocking.iter().filter(|r| r["side"] == 8192) {
        if let Some(e) = row["error"].as_str() {
            let k = row["k"].to_string();
            match refusals.iter_mut().find(|(seen, _)| seen == e) {
                Some((_, ks)) if !ks.contains(&k) => ks.push(k),
                Some(_) => {}
                None => refusals.push((e.to_string(), vec![k])),
            }
        }
    }
    for (e, ks) in refusals {
        notes.push(format!(
            "temporal blocking at 8192², K = {}: {e}",
            ks.join(", ")
        ));
    }
    // The best K ≥ 2 over both budgets and schemes, against one step per dispatch.
    let fastest = |k_wanted: fn(u64) -> bool| {
        blocking
            .iter()
            .filter(|r| r["side"] == 8192 && r["k"].as_u64().is_some_and(k_wanted))
            .filter(|r| r["seconds_per_step"].is_f64())
            .min_by(|a, b| {
                let s = |r: &Value| r["seconds_per_step"].as_f64().unwrap_or(f64::INFINITY);
                s(a).total_cmp(&s(b))
            })
    };
    let (one, best) = (fastest(|k| k == 1), fastest(|k| k > 1));
    let speedup = match (one, best) {
        (Some(one), Some(best)) => json!(
            one["seconds_per_step"].as_f64().unwrap_or(f64::NAN)
                / best["seconds_per_step"].as_f64().unwrap_or(f64::NAN)
        ),
        _ => Value::Null,
    };
    keys.insert("temporal_blocking_speedup_8192_f32".into(), speedup);
    // Which K, scheme and budget that was: what a device's default would be set to.
    let best_setting = best.map(|b| {
        json!({"k": b["k"], "scheme": b["scheme"], "workgroup_storage_bytes": b["workgroup_storage_bytes"]})
    });
    keys.insert(
        "temporal_blocking_best_8192_f32".into(),
        json!(best_setting),
    );
    keys.insert("temporal_blocking_f32".into(), Value::Array(blocking));
    for p in ["f32", "f64"] {
        keys.insert(format!("norm_l2_1e8_{p}_vs_torch"), Value::Null);
    }
    keys.insert("rows".into(), Value::Array(rows));
    Ok(Value::Object(keys))
}

/// `kernel` at `size` on the SIMD and rayon backends and every GPU flavour.
fn kernel_points<T: Real>(kernel: Kernel, size: usize, quick: bool) -> Result<Vec<Point>, String> {
    let options = SweepOptions {
        kernels: vec![kernel],
        backends: Some(vec!["simd".into(), "rayon".into(), "gpu".into()]),
        sizes: Some(vec![size]),
        repeats: Some(if quick { 1 } else { 3 }),
        ..SweepOptions::full()
    };
    let result = sweep::<T>(&options, &mut |_| Ok(())).map_err(|e| e.to_string())?;
    Ok(result.points)
}

fn point_json(p: &Point, precision: Precision) -> Value {
    json!({
        "kernel": p.kernel.name(),
        "label": p.label,
        "size": p.size,
        "precision": precision.name(),
        "backend": p.backend,
        "seconds": p.seconds,
        "throughput": p.throughput,
        "unit": p.kernel.unit(),
        "of_limit": p.of_limit,
    })
}

/// The crossover sweep in f32 (and f64 in a full report, where the device has it), its
/// CSV and plots written into `dir`; the crossings as JSON, and the sweeps.
fn crossover(args: &Args, dir: &Path) -> Result<(Value, Vec<Crossover>), String> {
    let options = if args.quick {
        SweepOptions::quick()
    } else {
        SweepOptions::full()
    };
    let mut out = serde_json::Map::new();
    let mut sweeps = Vec::new();
    let precisions: &[Precision] = if args.quick {
        &[Precision::F32]
    } else {
        &[Precision::F32, Precision::F64]
    };
    for &precision in precisions {
        println!("\ncrossover sweep in {precision}");
        let result: Crossover = match precision {
            Precision::F32 => sweep::<f32>(&options, &mut |_| Ok(())),
            Precision::F64 => sweep::<f64>(&options, &mut |_| Ok(())),
        }
        .map_err(|e| e.to_string())?;
        let crossings = sweep_report::emit_all(&result, dir)?;
        out.insert(
            precision.name().into(),
            json!({
                "crossings": crossings,
                "points": result.points.len(),
                // Each point as the web page reads it (web/src/crossover.rs), so that the
                // page draws this report as it draws its own run.
                "measurements": result.points.iter().map(|p| json!({
                    "kernel": p.kernel.name(),
                    "label": p.label,
                    "size": p.size,
                    "backend": p.backend,
                    "seconds": p.seconds,
                })).collect::<Vec<_>>(),
                "cpu_backends": result.cpu_backends,
            }),
        );
        sweeps.push(result);
    }
    Ok((Value::Object(out), sweeps))
}

/// Fills the `*_vs_torch` and `*_vs_cupy` keys from the peers' figures: hpnum's time over
/// the peer's (below 1: hpnum is faster).
fn compare_with_peers(report: &mut Value) {
    for p in ["f32", "f64"] {
        let ours = report["kernels"][format!("norm_l2_1e8_{p}_seconds")].as_f64();
        let torch = render::peer_seconds(&report["peers"], "norm", "torch_vector_norm", p);
        report["kernels"][format!("norm_l2_1e8_{p}_vs_torch")] = match (ours, torch) {
            (Some(ours), Some(torch)) => json!(ours / torch),
            _ => Value::Null,
        };
    }
}
