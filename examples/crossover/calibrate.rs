//! The sweep as the `Auto` backend's cost model: each backend's measured points, which it
//! interpolates, and the GPU's link (transfer rate, per-call floor) as measured.

use hpnum::Precision;
use hpnum::backends::auto::model::{Calibration, Cost};

use super::report::Report;

/// The GPU's link, measured by `Gpu::bus_rates`: bytes per second across the bus (the
/// slower direction) and the fixed seconds of a one-shot call's waits.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub transfer_rate: f64,
    pub overhead: f64,
}

/// Fits the cost model to `r` and keeps the measured points: each CPU backend in `cpu`
/// from its times; the GPU from its one-shot times less the time its bytes take across
/// the bus at the measured rate (without a measured link, the rate is inferred from the
/// one-shot and resident times at the largest size).
pub fn calibrate(
    cal: &mut Calibration,
    r: &Report,
    precision: Precision,
    cpu: &[String],
    link: Option<Link>,
) {
    let samples = |f: &str| -> Vec<(f64, f64)> {
        r.points
            .iter()
            .filter(|p| p.flavour == f)
            .map(|p| (p.workload.work, p.seconds))
            .collect()
    };
    for f in cpu {
        if let Some(cost) = Cost::fit(&samples(f), f64::INFINITY) {
            cal.set(r.kernel, precision, f, cost);
            cal.set_points(r.kernel, precision, f, &samples(f));
        }
    }
    let (Some(resident), Some(one_shot)) = (
        Cost::fit(&samples("gpu-resident"), 1.0),
        Cost::fit(&samples("gpu"), 1.0),
    ) else {
        return;
    };
    let inferred_rate = || {
        let big = r
            .points
            .iter()
            .filter(|p| p.flavour == "gpu")
            .max_by(|a, b| a.workload.work.total_cmp(&b.workload.work))?;
        let compute = r
            .points
            .iter()
            .find(|p| p.flavour == "gpu-resident" && p.size == big.size)?;
        let transfer = (big.seconds - compute.seconds).max(1e-9);
        Some(big.workload.transfer_bytes / transfer)
    };
    let transfer_rate = link
        .map(|l| l.transfer_rate)
        .or_else(inferred_rate)
        .unwrap_or(1e10);
    cal.set(
        r.kernel,
        precision,
        "gpu",
        Cost {
            overhead: one_shot
                .overhead
                .max(resident.overhead)
                .max(link.map_or(0.0, |l| l.overhead)),
            rate: resident.rate,
            transfer_rate,
        },
    );
    // Everything but the bus time, per size: at small sizes that is launch and read-back
    // latency, at large ones the compute.
    let points: Vec<(f64, f64)> = r
        .points
        .iter()
        .filter(|p| p.flavour == "gpu")
        .map(|p| {
            (
                p.workload.work,
                (p.seconds - p.workload.transfer_bytes / transfer_rate).max(1e-9),
            )
        })
        .collect();
    cal.set_points(r.kernel, precision, "gpu", &points);
}
