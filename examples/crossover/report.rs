//! One kernel's sweep as a Markdown table, its crossover sizes, its throughput against the
//! measured limits, a CSV file and two log-log plots.

use std::fmt::Write as _;
use std::path::Path;

use hpnum::Precision;
use hpnum::kernels::workload::{JULIA_FLOPS_PER_ITERATION, Kernel};

use super::plot;
use super::sweep::{Point, STEPS, crossover};

/// One kernel's sweep.
pub struct Report {
    pub kernel: Kernel,
    pub label: &'static str,
    pub size_label: &'static str,
    pub unit: &'static str,
    pub points: Vec<Point>,
}

/// The limits throughput is judged against, measured in this run.
pub struct Limits {
    /// Host copy bandwidth, all cores, GB/s (read + write).
    pub host_copy: f64,
    /// The GPU's, if there is one.
    pub device: Option<GpuLimits>,
}

/// The GPU's limits in the report's units, from `Gpu::device_limits`.
#[derive(Debug, Clone, Copy)]
pub struct GpuLimits {
    /// Copy bandwidth, GB/s (read + write).
    pub copy: f64,
    /// Read bandwidth, GB/s.
    pub read: f64,
    /// Peak multiply-then-add arithmetic in the sweep's precision, GFLOP/s.
    pub flops: f64,
}

/// Prints the report, writes its CSV and plots under `out`, and returns its crossovers
/// as JSON.
pub fn emit(
    r: &Report,
    precision: Precision,
    repeats: usize,
    cpu: &[String],
    limits: &Limits,
    out: &Path,
) -> Result<serde_json::Value, String> {
    println!(
        "\n## {} ({precision}, median of {repeats} runs{})",
        r.label,
        if r.kernel == Kernel::Diffusion {
            format!(", {STEPS} steps per call")
        } else {
            String::new()
        }
    );
    print!("{}", table(r));
    let resident = crossover(&r.points, "gpu-resident", cpu);
    let one_shot = crossover(&r.points, "gpu", cpu);
    let readback = crossover(&r.points, "gpu-readback", cpu);
    let say = |what: &str, at: Option<usize>| match at {
        Some(size) => println!(
            "- {what} beats the best CPU backend from {} {size} on",
            r.size_label
        ),
        None => println!("- {what} never beats the best CPU backend in this range"),
    };
    if r.points.iter().any(|p| p.flavour.starts_with("gpu")) {
        say("the GPU on resident data", resident);
        say("the GPU counting upload and download", one_shot);
        if r.kernel == Kernel::Diffusion {
            say("the GPU reading back every step", readback);
        }
    }
    print_fractions(r, limits);

    let stem = out.join(format!("{}-{precision}", r.label));
    let marks: Vec<(usize, String)> = [
        (resident, "gpu resident wins"),
        (one_shot, "gpu one-shot wins"),
    ]
    .into_iter()
    .filter_map(|(at, label)| at.map(|size| (size, label.to_owned())))
    .collect();
    write_csv(&stem.with_extension("csv"), &r.points).map_err(|e| e.to_string())?;
    for (what, unit, value) in [
        (
            "time per call",
            "seconds",
            (|p: &Point| p.seconds) as fn(&Point) -> f64,
        ),
        ("throughput", r.unit, |p: &Point| p.throughput),
    ] {
        let path = stem.with_extension(if unit == "seconds" {
            "time.svg"
        } else {
            "throughput.svg"
        });
        plot::plot(
            &path,
            &format!("{} ({precision}): {what}", r.label),
            r.size_label,
            unit,
            &r.points,
            value,
            &marks,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(serde_json::json!({
        "gpu_resident": resident, "gpu_one_shot": one_shot, "gpu_readback": readback,
    }))
}

/// Throughput at the largest size against the measured limits: memory bandwidth for
/// diffusion and norms, peak arithmetic for Julia on the GPU.
fn print_fractions(r: &Report, limits: &Limits) {
    let largest = r.points.iter().map(|p| p.size).max().unwrap_or(0);
    for p in r.points.iter().filter(|p| p.size == largest) {
        let on_device = p.flavour == "gpu-resident";
        let (limit, of) = match (r.kernel, on_device, limits.device) {
            (Kernel::Julia, true, Some(d)) => (
                d.flops / JULIA_FLOPS_PER_ITERATION as f64,
                "device peak arithmetic",
            ),
            (Kernel::Julia, _, _) => continue,
            (Kernel::Diffusion, true, Some(d)) => (d.copy, "device copy bandwidth"),
            (Kernel::Norm, true, Some(d)) => (d.read, "device read bandwidth"),
            (_, true, None) => continue,
            (_, false, _) => (limits.host_copy, "host copy bandwidth"),
        };
        println!(
            "  {} at {largest}: {:.2} {} = {:.0}% of {of}",
            p.flavour,
            p.throughput,
            r.unit,
            100.0 * p.throughput / limit
        );
    }
}

fn flavours(points: &[Point]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in points {
        if !out.contains(&p.flavour) {
            out.push(p.flavour.clone());
        }
    }
    out
}

fn table(r: &Report) -> String {
    let flavours = flavours(&r.points);
    let mut sizes: Vec<usize> = r.points.iter().map(|p| p.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = format!("| {} |", r.size_label);
    for f in &flavours {
        let _ = write!(out, " {f} |");
    }
    out.push('\n');
    out.push_str(&"|---".repeat(flavours.len() + 1));
    out.push_str("|\n");
    for size in sizes {
        let _ = write!(out, "| {size} |");
        for f in &flavours {
            match r.points.iter().find(|p| p.size == size && &p.flavour == f) {
                Some(p) => {
                    let _ = write!(
                        out,
                        " {} ({:.2} {}) |",
                        human(p.seconds),
                        p.throughput,
                        r.unit
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

fn write_csv(path: &Path, points: &[Point]) -> std::io::Result<()> {
    let mut text = String::from("size,work,transfer_bytes,backend,seconds,throughput\n");
    for p in points {
        let _ = writeln!(
            text,
            "{},{},{},{},{:e},{}",
            p.size, p.workload.work, p.workload.transfer_bytes, p.flavour, p.seconds, p.throughput
        );
    }
    std::fs::write(path, text)
}
