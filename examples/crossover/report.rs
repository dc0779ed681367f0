//! A sweep as Markdown tables, crossover sizes, throughput against the measured limits, a
//! CSV file and two log-log plots per kernel.

use std::fmt::Write as _;
use std::path::Path;

use hpnum::crossover::{Crossover, Point};
use hpnum::kernels::Kernel;

use super::plot;

/// Prints the limits the sweep measured beside its points.
pub fn limits(result: &Crossover) {
    let host = &result.host;
    println!(
        "host (all cores): copy {:.1} GB/s, read {:.1} GB/s, peak {:.1} GFLOP/s without FMA",
        host.copy_bytes_per_s / 1e9,
        host.read_bytes_per_s / 1e9,
        host.flops(result.precision) / 1e9
    );
    if let Some(adapter) = &result.adapter {
        println!("gpu: {adapter}");
    }
    #[cfg(feature = "gpu")]
    if let Some(d) = &result.device {
        let flops = match result.precision {
            hpnum::Precision::F32 => Some(d.f32_flops),
            hpnum::Precision::F64 => d.f64_flops,
        };
        println!(
            "gpu limits: copy {:.1} GB/s, read {:.1} GB/s, peak {} ({:?})",
            d.copy_bytes_per_s / 1e9,
            d.read_bytes_per_s / 1e9,
            flops.map_or("–".into(), |f| format!("{:.1} GFLOP/s", f / 1e9)),
            d.clock
        );
    }
    if let Some(link) = &result.link {
        println!(
            "gpu link: {:.2} GB/s (the slower way), {} per one-shot call's waits",
            link.transfer_rate / 1e9,
            human(link.overhead)
        );
    }
}

/// The GPU's copy bandwidth in GB/s, if one was swept.
pub fn gpu_copy(result: &Crossover) -> Option<f64> {
    #[cfg(feature = "gpu")]
    return result.device.map(|d| d.copy_bytes_per_s / 1e9);
    #[cfg(not(feature = "gpu"))]
    {
        let _ = result;
        None
    }
}

/// Prints every kernel's report, writes its CSV and plots under `out`, and returns the
/// crossovers as JSON, by kernel label.
pub fn emit_all(result: &Crossover, out: &Path) -> Result<serde_json::Value, String> {
    let mut crossovers = serde_json::Map::new();
    for kernel in Kernel::ALL {
        let points: Vec<&Point> = result.points_of(kernel).collect();
        let Some(first) = points.first() else {
            continue;
        };
        let label = first.label.clone();
        crossovers.insert(label.clone(), emit(result, kernel, &label, &points, out)?);
    }
    Ok(serde_json::Value::Object(crossovers))
}

fn emit(
    result: &Crossover,
    kernel: Kernel,
    label: &str,
    points: &[&Point],
    out: &Path,
) -> Result<serde_json::Value, String> {
    let precision = result.precision;
    println!(
        "\n## {label} ({precision}, median of {} runs; a call is {})",
        result.repeats,
        describe_call(points)
    );
    print!("{}", table(kernel, points));
    let crossings = result.crossings();
    let at = |flavour: &str| {
        crossings
            .iter()
            .find(|c| c.kernel == kernel && c.flavour == flavour)
            .and_then(|c| c.size)
    };
    for c in crossings.iter().filter(|c| c.kernel == kernel) {
        let what = match c.flavour {
            "gpu-resident" => "the GPU on resident data",
            "gpu" => "the GPU counting upload and download",
            _ => "the GPU reading back every step",
        };
        match c.size {
            Some(size) => println!(
                "- {what} beats the best CPU backend from {} {size} on",
                kernel.size_label()
            ),
            None => println!("- {what} never beats the best CPU backend in this range"),
        }
    }
    print_fractions(kernel, points);

    let stem = out.join(format!("{label}-{precision}"));
    let marks: Vec<(usize, String)> = [
        (at("gpu-resident"), "gpu resident wins"),
        (at("gpu"), "gpu one-shot wins"),
    ]
    .into_iter()
    .filter_map(|(at, label)| at.map(|size| (size, label.to_owned())))
    .collect();
    write_csv(&stem.with_extension("csv"), points).map_err(|e| e.to_string())?;
    for (what, unit, extension, value) in [
        (
            "time per call",
            "seconds",
            "time.svg",
            (|p: &Point| p.seconds) as fn(&Point) -> f64,
        ),
        (
            "throughput",
            kernel.unit(),
            "throughput.svg",
            |p: &Point| p.throughput,
        ),
    ] {
        let path = stem.with_extension(extension);
        let verdict = match (at("gpu-resident"), at("gpu")) {
            (None, None) => "the CPU wins at every size".to_owned(),
            (Some(r), None) => format!("GPU wins resident from {r}"),
            (None, Some(o)) => format!("GPU wins from {o}, transfers included"),
            (Some(r), Some(o)) => format!("GPU wins from {r} resident, {o} with transfers"),
        };
        plot::plot(
            &path,
            &format!("{label} ({precision}): {what}; {verdict}"),
            kernel.size_label(),
            unit,
            points,
            value,
            &marks,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(serde_json::json!({
        "gpu_resident": at("gpu-resident"), "gpu_one_shot": at("gpu"),
        "gpu_readback": at("gpu-readback"),
    }))
}

/// What one call of the sweep does, from its workload.
fn describe_call(points: &[&Point]) -> String {
    let Some(p) = points.first() else {
        return String::new();
    };
    match p.kernel {
        Kernel::Diffusion => {
            let cells = (p.size * p.size) as f64;
            format!("{} steps", (p.workload.work / cells).round())
        }
        Kernel::Julia => format!(
            "{} iterations at most",
            p.workload.work / (p.size * p.size) as f64
        ),
        Kernel::Norm => "one norm".into(),
    }
}

/// Throughput at the largest size as a fraction of its limit, where one applies.
fn print_fractions(kernel: Kernel, points: &[&Point]) {
    let largest = points.iter().map(|p| p.size).max().unwrap_or(0);
    for p in points.iter().filter(|p| p.size == largest) {
        if let Some(fraction) = p.of_limit {
            println!(
                "  {} at {largest}: {:.2} {} = {:.0}% of its {:?} limit",
                p.backend,
                p.throughput,
                kernel.unit(),
                100.0 * fraction,
                kernel.limit()
            );
        }
    }
}

fn backends(points: &[&Point]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in points {
        if !out.contains(&p.backend) {
            out.push(p.backend.clone());
        }
    }
    out
}

fn table(kernel: Kernel, points: &[&Point]) -> String {
    let backends = backends(points);
    let mut sizes: Vec<usize> = points.iter().map(|p| p.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = format!("| {} |", kernel.size_label());
    for b in &backends {
        let _ = write!(out, " {b} |");
    }
    out.push('\n');
    out.push_str(&"|---".repeat(backends.len() + 1));
    out.push_str("|\n");
    for size in sizes {
        let _ = write!(out, "| {size} |");
        for b in &backends {
            match points.iter().find(|p| p.size == size && &p.backend == b) {
                Some(p) => {
                    let _ = write!(
                        out,
                        " {} ({:.2} {}) |",
                        human(p.seconds),
                        p.throughput,
                        kernel.unit()
                    );
                }
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

pub fn human(secs: f64) -> String {
    match secs {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} µs", s * 1e6),
    }
}

fn write_csv(path: &Path, points: &[&Point]) -> std::io::Result<()> {
    let mut text = String::from("size,work,transfer_bytes,backend,seconds,throughput,of_limit\n");
    for p in points {
        let _ = writeln!(
            text,
            "{},{},{},{},{:e},{},{}",
            p.size,
            p.workload.work,
            p.workload.transfer_bytes,
            p.backend,
            p.seconds,
            p.throughput,
            p.of_limit.map_or(String::new(), |f| f.to_string())
        );
    }
    std::fs::write(path, text)
}
