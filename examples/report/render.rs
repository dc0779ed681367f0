//! A report's Markdown, rendered from its JSON alone (so that the docs can embed it and
//! `--check-docs` can show they still match), and the peers' JSON lines.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// The JSON of `report.json` at `path`.
pub fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The lines `gpu_peers.py` printed, one JSON object each (other lines are skipped).
pub fn read_peers(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Value::Array(
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
            .filter(Value::is_object)
            .collect(),
    ))
}

/// A peer's seconds per call for `kernel` in `precision` at the report's size (10⁸ for
/// norms), if the peers' lines have it.
pub fn peer_seconds(peers: &Value, kernel: &str, peer: &str, precision: &str) -> Option<f64> {
    peers.as_array()?.iter().find_map(|line| {
        let size_matches = kernel != "norm" || line["n"].as_u64() == Some(100_000_000);
        (line["kernel"] == kernel
            && line["peer"] == peer
            && line["precision"] == precision
            && size_matches)
            .then(|| line["seconds"].as_f64())
            .flatten()
    })
}

/// Checks every report `markdown_file` embeds between `<!-- report: PATH -->` and
/// `<!-- end report -->` (PATH relative to the file's folder) against its rendering now;
/// returns how many there are.
pub fn check_docs(markdown_file: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(markdown_file)
        .map_err(|e| format!("{}: {e}", markdown_file.display()))?;
    let folder = markdown_file.parent().unwrap_or(Path::new("."));
    let mut checked = 0;
    let mut rest = text.as_str();
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end_of_tag = after.find("-->").ok_or("an unclosed report tag")?;
        let path = after[..end_of_tag].trim();
        let body_start = &after[end_of_tag + 3..];
        let close = body_start
            .find(CLOSE)
            .ok_or_else(|| format!("{path}: no {CLOSE}"))?;
        let embedded = body_start[..close].trim();
        let report = read(&folder.join(path))?;
        let rendered = embed(&report);
        if embedded != rendered.trim() {
            return Err(format!(
                "{}: the report from {path} is out of date; replace its block with the output \
                 of `cargo run --release --example report -- --render {}` (headings demoted \
                 to level 3, as `embed` does)",
                markdown_file.display(),
                folder.join(path).display()
            ));
        }
        checked += 1;
        rest = &body_start[close + CLOSE.len()..];
    }
    Ok(checked)
}

const OPEN: &str = "<!-- report:";
const CLOSE: &str = "<!-- end report -->";

/// The Markdown of a report embedded in another document: its headings two levels down.
pub fn embed(report: &Value) -> String {
    render(report, 3)
}

/// The Markdown of a report on its own page.
pub fn markdown(report: &Value) -> String {
    render(report, 1)
}

/// The settings the measurements chose (reports from before `settings` existed have no
/// such section).
fn settings(out: &mut String, r: &Value, h: &str) {
    let Some(chosen) = r["settings"]["chosen"]
        .as_object()
        .filter(|c| !c.is_empty())
    else {
        return;
    };
    let _ = writeln!(
        out,
        "\n{h} Settings chosen for this device\n\n`report --save` keeps them for every `Gpu` \
         opened on this adapter and driver ({}).\n\n| option | value |\n|---|---|",
        if r["settings"]["saved_to"].is_string() {
            "saved by this run"
        } else {
            "not saved by this run"
        }
    );
    for (field, value) in chosen {
        let _ = writeln!(out, "| `{field}` | {} |", s(value));
    }
    if let Some(why) = r["settings"]["why"].as_object() {
        let _ = writeln!(out);
        for (what, reason) in why {
            let _ = writeln!(out, "- {what}: {}", s(reason));
        }
    }
}

fn render(r: &Value, level: usize) -> String {
    let h = |n: usize| "#".repeat(level + n);
    let mut out = String::new();
    let adapter = r["adapter"]["name"].as_str().unwrap_or("no GPU");
    let _ = writeln!(
        out,
        "{} hpnum report: {adapter}\n\n`cargo run --release --example report -- {}`, {}, \
         hpnum {}{}. Host: {} threads, SIMD `{}`.",
        h(0),
        r["command"].as_str().unwrap_or(""),
        r["date"].as_str().unwrap_or("?"),
        r["hpnum"].as_str().unwrap_or("?"),
        if r["quick"] == true { " (quick)" } else { "" },
        r["host"]["threads"],
        r["host"]["isa"].as_str().unwrap_or("?"),
    );
    if let Some(a) = r["adapter"].as_object() {
        let _ = writeln!(
            out,
            "\nAdapter: {} on {} ({}), driver {}; f64 {}, timestamps {}, subgroups {}; \
             transfers {} in {} chunks, {} in flight; {} of workgroup memory per entry \
             point; norms reduce by {}.",
            adapter,
            s(&a["api"]),
            s(&a["device"]),
            s(&a["driver"]),
            a["f64"],
            a["timestamps"],
            a["subgroups"],
            s(&a["transfer_path"]),
            bytes(&a["staging_chunk_bytes"]),
            a["staging_depth"],
            bytes(&a["workgroup_storage_bytes"]),
            s(&a["norm_reduction"]),
        );
        // Reports from before the field existed render as they did.
        if a.contains_key("read_back_memory") {
            let _ = writeln!(
                out,
                "Host memory behind mapped buffers (what the CPU reads a download from): \
                 read-back staging buffers {}, data buffers mapped both ways {}.",
                memory(&a["read_back_memory"]),
                memory(&a["mapped_data_memory"]),
            );
        }
        if let Some(tuned) = a
            .get("tuned")
            .and_then(Value::as_array)
            .filter(|t| !t.is_empty())
        {
            let names: Vec<&str> = tuned.iter().filter_map(Value::as_str).collect();
            let _ = writeln!(
                out,
                "Measured with the settings saved for this device for: {}.",
                names.join(", ")
            );
        }
    }
    limits(&mut out, r, &h(1));
    transfers(&mut out, r, &h(1));
    kernels(&mut out, r, &h(1));
    settings(&mut out, r, &h(1));
    crossover(&mut out, r, &h(1));
    if let Some(notes) = r["notes"].as_array().filter(|n| !n.is_empty()) {
        let _ = writeln!(out, "\n{} Notes\n", h(1));
        for note in notes {
            let _ = writeln!(out, "- {}", s(note));
        }
    }
    out
}

fn limits(out: &mut String, r: &Value, h: &str) {
    let l = &r["limits"];
    let _ = writeln!(
        out,
        "\n{h} Limits\n\n| | copy (read + write) | read | f32 peak, no FMA | f64 peak |\n\
         |---|---:|---:|---:|---:|"
    );
    for (who, v) in [
        ("host, all cores", &l["host"]),
        ("host, one core", &l["host"]["one_core"]),
        ("device", &l["device"]),
    ] {
        if v.is_object() {
            let _ = writeln!(
                out,
                "| {who} | {} | {} | {} | {} |",
                num(&v["copy_gbs"], "GB/s"),
                num(&v["read_gbs"], "GB/s"),
                num(&v["f32_gflops"], "GFLOP/s"),
                num(&v["f64_gflops"], "GFLOP/s"),
            );
        }
    }
    let (bus, floors) = (&l["bus"], &l["floors"]);
    if bus.is_object() {
        let _ = writeln!(
            out,
            "\nBus probe ({}): upload {}, download {}. Floors: an empty submission {}, one \
             trivial dispatch {}; a 16² diffusion step {} ({}× the dispatch), a 16-element \
             L2 {} ({}×).",
            bytes(&bus["bytes"]),
            num(&bus["upload_gbs"], "GB/s"),
            num(&bus["download_gbs"], "GB/s"),
            secs(&floors["empty_submission_s"]),
            secs(&floors["one_dispatch_s"]),
            secs(&floors["diffusion_16_step_s"]),
            ratio(&floors["diffusion_16_step_over_dispatch"]),
            secs(&floors["norm_16_s"]),
            ratio(&floors["norm_16_over_dispatch"]),
        );
    }
}

fn transfers(out: &mut String, r: &Value, h: &str) {
    let t = &r["transfers"];
    if !t.is_object() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{h} Transfers of {} (an f32 grid of 8192²)\n\nOne thread's `memcpy`: {}. Per \
         transfer, phase by phase (host copy: into or out of mapped memory, with its rate):\n\n\
         | path | chunk | in flight | upload | download | direction | host copy | submit | \
         device wait | map wait | total |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        bytes(&t["bytes"]),
        num(&t["host_memcpy_gbs"], "GB/s"),
    );
    for path in t["paths"].as_array().into_iter().flatten() {
        if let Some(e) = path["error"].as_str() {
            let _ = writeln!(out, "| {} | – | – | {e} | | | | | | | |", s(&path["path"]));
            continue;
        }
        for direction in ["upload", "download"] {
            let p = &path["phases"][direction];
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {direction} | {} ({}) | {} | {} | {} | {} |",
                s(&path["path"]),
                bytes(&path["chunk_bytes"]),
                path["depth"],
                num(&path["upload_gbs"], "GB/s"),
                num(&path["download_gbs"], "GB/s"),
                secs(&p["host_copy_s"]),
                num(&p["host_copy_gbs"], "GB/s"),
                secs(&p["submit_s"]),
                secs(&p["device_wait_s"]),
                secs(&p["map_wait_s"]),
                secs(&p["total_s"]),
            );
        }
    }
    if let Some(sweep) = t["staging_sweep"].as_array().filter(|s| !s.is_empty()) {
        let _ = writeln!(
            out,
            "\nStaging chunk sizes and depths (set with `HPNUM_GPU_STAGING_CHUNK`, \
             `HPNUM_GPU_STAGING_DEPTH`); the best by its slower direction: {} chunks, {} in \
             flight.\n\n| chunk | in flight | upload | download |\n|---:|---:|---:|---:|",
            bytes(&t["staging_best"]["chunk_bytes"]),
            t["staging_best"]["depth"],
        );
        for row in sweep {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                bytes(&row["chunk_bytes"]),
                row["depth"],
                row["error"]
                    .as_str()
                    .map_or_else(|| num(&row["upload_gbs"], "GB/s"), str::to_owned),
                num(&row["download_gbs"], "GB/s"),
            );
        }
    }
}

fn kernels(out: &mut String, r: &Value, h: &str) {
    let k = &r["kernels"];
    let _ = writeln!(
        out,
        "\n{h} Kernels where the answer is decided\n\nMedian seconds per call; a diffusion \
         call is 24 steps. `gpu-resident`: compute on data already on the device (against the \
         device's limits); `gpu`: one call with its upload and download; `gpu-readback`: \
         every step read back; SIMD against one core's limits, rayon against all cores'.\n\n\
         | kernel | size | precision | backend | time | throughput | of limit |\n\
         |---|---:|---|---|---:|---:|---:|"
    );
    for row in k["rows"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} {} | {} |",
            s(&row["label"]),
            row["size"],
            s(&row["precision"]),
            s(&row["backend"]),
            secs(&row["seconds"]),
            num(&row["throughput"], ""),
            s(&row["unit"]),
            percent(&row["of_limit"]),
        );
    }
    let _ = writeln!(out, "\n| key | value |\n|---|---:|");
    for (key, value) in k.as_object().into_iter().flatten() {
        if value.is_number() || value.is_null() || value.is_string() {
            let shown = value.as_str().map_or_else(|| plain(value), str::to_owned);
            let _ = writeln!(out, "| `{key}` | {shown} |");
        }
    }
    if let Some(rows) = k["temporal_blocking_f32"]
        .as_array()
        .filter(|r| !r.is_empty())
    {
        let _ = writeln!(
            out,
            "\nTemporal blocking, f32, resident (device time per step): square tiles or \
             strips streamed through rings of rows (`GpuGrid::set_temporal_blocking`), \
             filling each workgroup-memory budget (`HPNUM_GPU_WORKGROUP_STORAGE`, \
             `HPNUM_GPU_DIFFUSION_K`):\n\n| grid | workgroup memory | K | scheme | per step \
             | speed-up over K = 1 |\n|---:|---:|---:|---|---:|---:|"
        );
        for row in rows {
            let one = rows
                .iter()
                .find(|r| {
                    r["k"] == 1
                        && r["side"] == row["side"]
                        && r["workgroup_storage_bytes"] == row["workgroup_storage_bytes"]
                })
                .and_then(|r| r["seconds_per_step"].as_f64());
            let time = row["seconds_per_step"].as_f64();
            let _ = writeln!(
                out,
                "| {}² | {} | {} | {} | {} | {} |",
                row["side"],
                bytes(&row["workgroup_storage_bytes"]),
                row["k"],
                row["scheme"].as_str().unwrap_or("tiles"),
                row["error"]
                    .as_str()
                    .map_or_else(|| secs(&row["seconds_per_step"]), str::to_owned),
                match (one, time) {
                    (Some(one), Some(t)) => format!("{:.2}×", one / t),
                    _ => "–".into(),
                }
            );
        }
        if let Some(best) = k["temporal_blocking_best_8192_f32"].as_object() {
            let _ = writeln!(
                out,
                "\nFastest K ≥ 2 at 8192²: K = {} on {} in {} of workgroup memory.",
                best["k"],
                best["scheme"].as_str().unwrap_or("?"),
                bytes(&best["workgroup_storage_bytes"]),
            );
        }
    }
}

fn crossover(out: &mut String, r: &Value, h: &str) {
    let Some(precisions) = r["crossover"].as_object() else {
        return;
    };
    let _ = writeln!(
        out,
        "\n{h} Crossover\n\nThe first size from which the GPU beats the best CPU backend at \
         every larger size swept (– : never in the range). Tables and plots: the CSV and SVG \
         files beside `report.json`.\n\n| precision | kernel | resident | one-shot | reading \
         back every step |\n|---|---|---:|---:|---:|"
    );
    for (precision, result) in precisions {
        for (label, c) in result["crossings"].as_object().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| {precision} | {label} | {} | {} | {} |",
                plain(&c["gpu_resident"]),
                plain(&c["gpu_one_shot"]),
                plain(&c["gpu_readback"]),
            );
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn plain(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) if x.abs() >= 1e-3 => format!("{x:.3}"),
        Some(x) => format!("{x:.2e}"),
        None => "–".into(),
    }
}

fn num(v: &Value, unit: &str) -> String {
    match v.as_f64() {
        Some(x) if x >= 100.0 => format!("{x:.0} {unit}"),
        Some(x) if x >= 10.0 => format!("{x:.1} {unit}"),
        Some(x) => format!("{x:.2} {unit}"),
        None => "–".into(),
    }
    .trim()
    .to_owned()
}

fn ratio(v: &Value) -> String {
    v.as_f64().map_or("–".into(), |x| format!("{x:.2}"))
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or("–".into(), |x| format!("{:.0} %", 100.0 * x))
}

fn secs(v: &Value) -> String {
    match v.as_f64() {
        Some(t) if t >= 1.0 => format!("{t:.2} s"),
        Some(t) if t >= 1e-3 => format!("{:.2} ms", t * 1e3),
        Some(t) => format!("{:.1} µs", t * 1e6),
        None => "–".into(),
    }
}

/// `Cached`, `Uncached`, or what a missing answer means.
fn memory(v: &Value) -> String {
    match v.as_str() {
        Some("Cached") => "cached".into(),
        Some("Uncached") => "**uncached** (reads at a few GB/s)".into(),
        Some(other) => other.into(),
        None => "not reported by this API".into(),
    }
}

fn bytes(v: &Value) -> String {
    match v.as_u64() {
        Some(b) if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        Some(b) if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        Some(b) => format!("{b} B"),
        None => "–".into(),
    }
}
