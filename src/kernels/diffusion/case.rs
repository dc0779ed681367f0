//! The diffusion calls the benchmarks and the crossover sweep time: a smooth n×n field (no
//! cell ever becomes subnormal and slows the arithmetic, as the book's decaying block
//! eventually would), 24 steps per call, so that a one-shot GPU call transfers once per 24
//! steps (24: whole dispatches for temporal blocking with K = 2, 3, 4, 6 or 8).

use std::time::Duration;

#[cfg(feature = "gpu")]
use web_time::Instant;

use ndarray::Array2;

use crate::backend::AnyBackend;
use crate::error::{Error, Result};
use crate::kernels::case::{Case, host_time};
#[cfg(feature = "gpu")]
use crate::kernels::case::{CaseRun, GpuFlavour, GpuTime, host_time_calls};
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::kernel::Kernel;
use crate::kernels::norm::{LCG_SEED, lcg_vector};
use crate::kernels::workload::Workload;
use crate::memory;
use crate::real::Real;

/// Steps per call.
pub(crate) const STEPS: usize = 24;

struct DiffusionCase<T: Real> {
    n: usize,
    grid: Array2<T>,
    scratch: Array2<T>,
    params: DiffusionParams<T>,
}

/// An n×n field in [0.2, 1): diffusion averages, so no value ever becomes subnormal.
///
/// # Errors
/// [`Error::OutOfMemory`] if it cannot be allocated.
pub(crate) fn smooth_field<T: Real>(n: usize) -> Result<Array2<T>> {
    let cells = memory::elements::<T>(n, n, "diffusion grid")?;
    let field =
        lcg_vector::<T>(cells, LCG_SEED)?.mapv_into(|x| (x + T::from_f64(1.5)) / T::from_f64(2.5));
    field
        .into_shape_with_order((n, n))
        .map_err(|_| Error::ShapeMismatch {
            what: "diffusion grid",
            expected: vec![n, n],
            found: vec![cells],
        })
}

/// The n×n smooth field, [`STEPS`] steps of the book's D and dt.
pub(crate) fn cases<T: Real>(n: usize) -> Result<Vec<Box<dyn Case<T>>>> {
    if n == 0 {
        return Err(Error::invalid("size", "must be at least 1"));
    }
    Ok(vec![Box::new(DiffusionCase {
        n,
        grid: smooth_field(n)?,
        scratch: memory::zeroed_array2(n, n, "diffusion scratch")?,
        params: DiffusionParams::book(),
    })])
}

impl<T: Real> Case<T> for DiffusionCase<T> {
    fn kernel(&self) -> Kernel {
        Kernel::Diffusion
    }

    fn size(&self) -> usize {
        self.n
    }

    fn workload(&self) -> Workload {
        Workload::diffusion::<T>(self.n, self.n, STEPS)
    }

    fn data_bytes(&self) -> f64 {
        (self.grid.len() * size_of::<T>()) as f64
    }

    fn run(&mut self, backend: &dyn AnyBackend) -> Result<Duration> {
        let (grid, scratch) = (self.grid.view_mut(), self.scratch.view_mut());
        host_time(|| T::on(backend).diffuse(grid, scratch, &self.params, STEPS))
    }

    #[cfg(feature = "gpu")]
    fn gpu(
        &mut self,
        gpu: &crate::backends::gpu::Gpu,
        flavour: GpuFlavour,
    ) -> Result<Option<CaseRun<'_>>> {
        use crate::kernels::diffusion::gpu::Transfers;
        let params = self.params;
        let grid = &mut self.grid;
        Ok(Some(match flavour {
            GpuFlavour::Resident => {
                let mut resident = gpu.upload_grid(grid.view())?;
                CaseRun::new(move || resident.step(&params, STEPS))
            }
            GpuFlavour::SingleCall => {
                let mut resident = gpu.upload_grid(grid.view())?;
                CaseRun::host_timed(move || resident.advance(&params, 1))
            }
            GpuFlavour::StepsPerDispatch(k) => {
                let mut resident = gpu.upload_grid(grid.view())?;
                if resident.set_steps_per_dispatch(k).is_err() {
                    return Ok(None);
                }
                CaseRun::new(move || resident.step(&params, STEPS))
            }
            GpuFlavour::Upload => {
                let mut resident = gpu.upload_grid(grid.view())?;
                CaseRun::host_timed(move || resident.upload_from(grid.view()))
            }
            GpuFlavour::Download => {
                let resident = gpu.upload_grid(grid.view())?;
                CaseRun::host_timed(move || resident.download_into(grid.view_mut()))
            }
            GpuFlavour::ReadBackEveryStep => {
                let gpu = gpu.clone();
                CaseRun::new(move || {
                    let timings = gpu.diffuse_timed(
                        grid.view_mut(),
                        &params,
                        STEPS,
                        Transfers::ReadBackEveryStep,
                    )?;
                    Ok(timings.total())
                })
            }
        }))
    }

    #[cfg(feature = "gpu")]
    fn time_gpu_async<'a>(
        &'a mut self,
        gpu: &'a crate::backends::gpu::Gpu,
        resident: bool,
        calls: usize,
    ) -> GpuTime<'a> {
        Box::pin(async move {
            if resident {
                let mut grid = gpu.upload_grid_async(self.grid.view()).await?;
                let start = Instant::now();
                grid.advance_async(&self.params, calls * STEPS).await?;
                let elapsed = start.elapsed();
                grid.recycle();
                return Ok(elapsed);
            }
            let (grid, scratch, params) = (&mut self.grid, &mut self.scratch, &self.params);
            host_time_calls(calls, async || {
                let (grid, scratch) = (grid.view_mut(), scratch.view_mut());
                crate::kernels::diffusion::gpu::diffuse(gpu, grid, scratch, params, STEPS).await
            })
            .await
        })
    }
}
