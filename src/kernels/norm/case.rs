//! The norm calls the benchmarks and the crossover sweep time: the reference's LCG vector
//! of a length, as L2 (the crossover's) and as the book's ‖v‖².

use std::time::Duration;

use ndarray::Array1;

use crate::backend::AnyBackend;
use crate::error::{Error, Result};
use crate::kernels::case::{Case, host_time};
#[cfg(feature = "gpu")]
use crate::kernels::case::{CaseRun, GpuFlavour, GpuTime, host_time_calls};
use crate::kernels::kernel::Kernel;
use crate::kernels::norm::{LCG_SEED, NormKind, lcg_vector};
use crate::kernels::workload::Workload;
use crate::real::Real;

struct NormCase<T: Real> {
    v: Array1<T>,
    kind: NormKind,
}

/// L2 and ‖v‖² of the LCG vector of length `n`.
pub(crate) fn cases<T: Real>(n: usize) -> Result<Vec<Box<dyn Case<T>>>> {
    if n == 0 {
        return Err(Error::invalid("size", "must be at least 1"));
    }
    let v = lcg_vector::<T>(n, LCG_SEED)?;
    Ok(vec![
        Box::new(NormCase {
            v: v.clone(),
            kind: NormKind::L2,
        }),
        Box::new(NormCase {
            v,
            kind: NormKind::L2Squared,
        }),
    ])
}

impl<T: Real> Case<T> for NormCase<T> {
    fn kernel(&self) -> Kernel {
        Kernel::Norm
    }

    fn label(&self) -> String {
        format!("norm-{}", self.kind)
    }

    fn size(&self) -> usize {
        self.v.len()
    }

    fn workload(&self) -> Workload {
        Workload::norm::<T>(self.v.len())
    }

    fn run(&mut self, backend: &dyn AnyBackend) -> Result<Duration> {
        host_time(|| T::on(backend).norm(self.v.view(), self.kind).map(drop))
    }

    #[cfg(feature = "gpu")]
    fn gpu(
        &mut self,
        gpu: &crate::backends::gpu::Gpu,
        flavour: GpuFlavour,
    ) -> Result<Option<CaseRun<'_>>> {
        let kind = self.kind;
        let v = &mut self.v;
        Ok(match flavour {
            GpuFlavour::Resident => {
                let gpu = gpu.clone();
                let resident = gpu.upload_vector(v.view())?;
                Some(CaseRun::new(move || {
                    Ok(gpu.norm_resident(&resident, kind)?.1.compute)
                }))
            }
            GpuFlavour::SingleCall => {
                let resident = gpu.upload_vector(v.view())?;
                Some(CaseRun::host_timed(move || resident.norm(kind).map(drop)))
            }
            GpuFlavour::Upload => {
                let mut resident = gpu.upload_vector(v.view())?;
                Some(CaseRun::host_timed(move || resident.upload_from(v.view())))
            }
            GpuFlavour::Download => {
                let resident = gpu.upload_vector(v.view())?;
                Some(CaseRun::host_timed(move || {
                    resident.download_into(v.view_mut())
                }))
            }
            GpuFlavour::StepsPerDispatch(_) | GpuFlavour::ReadBackEveryStep => None,
        })
    }

    #[cfg(feature = "gpu")]
    fn time_gpu_async<'a>(
        &'a mut self,
        gpu: &'a crate::backends::gpu::Gpu,
        resident: bool,
        calls: usize,
    ) -> GpuTime<'a> {
        let kind = self.kind;
        Box::pin(async move {
            if resident {
                let v = gpu.upload_vector_async(self.v.view()).await?;
                let elapsed = host_time_calls(calls, async || v.norm_async(kind).await.map(drop));
                let elapsed = elapsed.await;
                v.recycle();
                return elapsed;
            }
            let v = self.v.view();
            host_time_calls(calls, async || gpu.norm_async(v, kind).await.map(drop)).await
        })
    }
}
