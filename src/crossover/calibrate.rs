//! A sweep as the `Auto` backend's cost model: each backend's measured points, which it
//! interpolates, and the GPU's link (transfer rate, per-call floor) as measured.

use crate::calibration::{Calibration, Cost};
use crate::crossover::Crossover;

impl Crossover {
    /// Fits the cost model to the sweep and keeps the measured points in `cal`: each CPU
    /// backend from its times; the GPU from its one-shot times less the time its bytes
    /// take across the bus at the measured rate (without a measured link, the rate is
    /// inferred from the one-shot and resident times at the largest size). Records the
    /// adapter the GPU's costs belong to, forgetting the GPU costs and settings `cal` held
    /// for another.
    pub fn calibrate(&self, cal: &mut Calibration) {
        if let Some(identity) = &self.adapter {
            if cal.adapter().is_some_and(|saved| saved != identity) {
                // Another GPU's (or driver's) costs and settings say nothing about this one.
                cal.keep_gpu_costs_of(Some(identity));
            }
            cal.set_adapter(identity.clone());
        }
        let precision = self.precision;
        let mut kernels = Vec::new();
        for p in &self.points {
            if !kernels.contains(&p.kernel) {
                kernels.push(p.kernel);
            }
        }
        for kernel in kernels {
            let points: Vec<_> = self.points_of(kernel).collect();
            let samples = |f: &str| -> Vec<(f64, f64)> {
                points
                    .iter()
                    .filter(|p| p.backend == f)
                    .map(|p| (p.workload.work, p.seconds))
                    .collect()
            };
            for f in &self.cpu_backends {
                if let Some(cost) = Cost::fit(&samples(f), f64::INFINITY) {
                    cal.set(kernel, precision, f, cost);
                    cal.set_points(kernel, precision, f, &samples(f));
                }
            }
            let (Some(resident), Some(one_shot)) = (
                Cost::fit(&samples("gpu-resident"), 1.0),
                Cost::fit(&samples("gpu"), 1.0),
            ) else {
                continue;
            };
            let inferred_rate = || {
                let big = points
                    .iter()
                    .filter(|p| p.backend == "gpu")
                    .max_by(|a, b| a.workload.work.total_cmp(&b.workload.work))?;
                let compute = points
                    .iter()
                    .find(|p| p.backend == "gpu-resident" && p.size == big.size)?;
                let transfer = (big.seconds - compute.seconds).max(1e-9);
                Some(big.workload.transfer_bytes / transfer)
            };
            let link = self.link;
            let transfer_rate = link
                .map(|l| l.transfer_rate)
                .or_else(inferred_rate)
                .unwrap_or(1e10);
            cal.set(
                kernel,
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
            // Everything but the bus time, per size: at small sizes that is launch and
            // read-back latency, at large ones the compute.
            let gpu_points: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.backend == "gpu")
                .map(|p| {
                    (
                        p.workload.work,
                        (p.seconds - p.workload.transfer_bytes / transfer_rate).max(1e-9),
                    )
                })
                .collect();
            cal.set_points(kernel, precision, "gpu", &gpu_points);
        }
    }

    /// `Auto`'s table after this sweep: the defaults for this machine's backends, the
    /// saved calibration over them, this sweep's measurements over both.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] if a saved calibration exists but does not parse.
    pub fn calibration(&self) -> crate::error::Result<Calibration> {
        let mut cal = Calibration::defaults(&crate::matrix::all());
        if let Some(saved) = Calibration::load()? {
            cal.merge(&saved);
        }
        self.calibrate(&mut cal);
        Ok(cal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossover::limits::HostLimits;
    use crate::real::Precision;

    /// A sweep without points, on the GPU `adapter`.
    fn swept_on(adapter: &str) -> Crossover {
        let one = 1e9;
        Crossover {
            precision: Precision::F32,
            points: Vec::new(),
            cpu_backends: Vec::new(),
            repeats: 1,
            host: HostLimits {
                copy_bytes_per_s: one,
                read_bytes_per_s: one,
                f32_flops: one,
                f64_flops: one,
                one_core_copy_bytes_per_s: one,
                one_core_read_bytes_per_s: one,
                one_core_f32_flops: one,
                one_core_f64_flops: one,
            },
            #[cfg(feature = "gpu")]
            device: None,
            link: None,
            adapter: Some(adapter.to_owned()),
        }
    }

    #[test]
    fn a_sweep_on_another_gpu_drops_the_old_gpus_costs_and_settings() {
        let (old, new) = ("GPU A | Vulkan | 1", "GPU B | Vulkan | 1");
        let mut cal = Calibration::new();
        cal.set_adapter(old);
        cal.set_gpu_setting("staging_depth", "4");
        let cost = Cost {
            overhead: 1e-4,
            rate: 1e10,
            transfer_rate: 1e10,
        };
        cal.set(
            crate::kernels::kernel::Kernel::Norm,
            Precision::F32,
            "gpu",
            cost,
        );
        swept_on(old).calibrate(&mut cal);
        assert_eq!(cal.gpu_settings().len(), 1, "the same GPU keeps them");
        swept_on(new).calibrate(&mut cal);
        assert_eq!(cal.adapter(), Some(new));
        assert!(cal.gpu_settings().is_empty());
        let norm = cal.cost(crate::kernels::kernel::Kernel::Norm, Precision::F32, "gpu");
        assert!(norm.is_none(), "{norm:?}");
    }
}
