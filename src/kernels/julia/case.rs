//! The Julia calls the benchmarks and the crossover sweep time: the book's grid at a width,
//! with the book's 300 iterations.

use std::time::Duration;

use crate::backend::AnyBackend;
use crate::backends::rayon::Rayon;
use crate::error::Result;
use crate::kernels::case::{Case, host_time};
#[cfg(feature = "gpu")]
use crate::kernels::case::{CaseRun, GpuFlavour, GpuTime, host_time_calls};
use crate::kernels::julia::{FLOPS_PER_ITERATION, JuliaParams, pixel_iterations};
use crate::kernels::kernel::Kernel;
use crate::kernels::workload::Workload;
use crate::real::Real;

/// The iteration cap of every case: the book's.
pub(crate) const MAX_ITER: u32 = 300;

struct JuliaCase<T: Real> {
    width: usize,
    params: JuliaParams<T>,
    /// The pixel-iterations the grid really takes (from the counts).
    iterations: f64,
}

/// The book's grid of `width`, 300 iterations.
pub(crate) fn cases<T: Real>(width: usize) -> Result<Vec<Box<dyn Case<T>>>> {
    let params = JuliaParams::<T>::book(width, MAX_ITER)?;
    // Rayon gives the reference's bits, fast.
    let counts = T::on(&Rayon::new()).julia(&params)?;
    let iterations = pixel_iterations(&counts) as f64;
    Ok(vec![Box::new(JuliaCase {
        width,
        params,
        iterations,
    })])
}

impl<T: Real> Case<T> for JuliaCase<T> {
    fn kernel(&self) -> Kernel {
        Kernel::Julia
    }

    fn size(&self) -> usize {
        self.width
    }

    fn workload(&self) -> Workload {
        Workload::julia(&self.params)
    }

    fn throughput_work(&self) -> f64 {
        self.iterations
    }

    fn limit_work(&self) -> f64 {
        self.iterations * FLOPS_PER_ITERATION as f64
    }

    fn data_bytes(&self) -> f64 {
        let (rows, cols) = self.params.shape();
        (rows * cols * size_of::<u32>()) as f64
    }

    fn run(&mut self, backend: &dyn AnyBackend) -> Result<Duration> {
        host_time(|| T::on(backend).julia(&self.params).map(drop))
    }

    #[cfg(feature = "gpu")]
    fn gpu(
        &mut self,
        gpu: &crate::backends::gpu::Gpu,
        flavour: GpuFlavour,
    ) -> Result<Option<CaseRun<'_>>> {
        let gpu = gpu.clone();
        let params = &self.params;
        Ok(match flavour {
            // The axes stay on the device between calls of one shape; what a call moves
            // is its counts, which the resident time leaves out.
            GpuFlavour::Resident => {
                Some(CaseRun::new(move || Ok(gpu.julia_timed(params)?.1.compute)))
            }
            GpuFlavour::SingleCall => Some(CaseRun::host_timed(move || {
                T::on(&gpu).julia(params).map(drop)
            })),
            _ => None,
        })
    }

    #[cfg(feature = "gpu")]
    fn time_gpu_async<'a>(
        &'a mut self,
        gpu: &'a crate::backends::gpu::Gpu,
        resident: bool,
        calls: usize,
    ) -> GpuTime<'a> {
        let params = &self.params;
        Box::pin(async move {
            if !resident {
                return host_time_calls(calls, async || gpu.julia_async(params).await.map(drop))
                    .await;
            }
            // Julia has no input to upload: its resident time is the compute without the
            // counts' copy back, as the call's own clock measures it.
            let mut compute = Duration::ZERO;
            for _ in 0..calls {
                compute += gpu.julia_timed_async(params).await?.1.compute;
            }
            Ok(compute)
        })
    }
}
