//! The GPU backend: WGSL compute shaders (`shaders/*.wgsl`) through wgpu, on Vulkan, Metal,
//! DX12 or GL, whichever the machine has.
//!
//! - f32 always; f64 where the adapter offers `SHADER_F64` (Mesa's software Vulkan driver
//!   does; GL does not), otherwise [`Error::Unsupported`].
//! - The trait's methods are one-shot: upload, compute, download. [`Gpu::upload_grid`] and
//!   [`Gpu::upload_vector`] keep data on the device, so that many diffusion steps, or many
//!   norms, run without crossing the bus; the `*_timed` methods report where the time went
//!   ([`GpuTimings`]).
//! - Data larger than the device's largest storage binding is split into bands (grids) or
//!   pieces (vectors); dispatches larger than 65 535 workgroups per dimension use two.
//! - A shader compiler may fuse a multiply and an add, so results can differ from the CPU
//!   backends in the last bits (diffusion, norms) or on a few boundary pixels (Julia).

mod context;
mod julia;
mod norm;
mod probe;
mod resident;
mod shaders;
mod timing;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2};

use self::context::Context;
pub use self::context::{AdapterSummary, GpuOptions};
pub use self::resident::{GpuGrid, GpuVector};
pub use self::shaders::Shader;
pub use self::timing::{ComputeClock, GpuTimings};
use crate::backend::{Backend, Capabilities, Describe};
use crate::kernels::diffusion::{DiffusionParams, check_scratch};
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::{Precision, Real, Result};

/// The wgpu version hpnum is built with, for [`GpuOptions`]' fields.
pub use wgpu;

/// A GPU device with hpnum's pipelines built. Cheap to clone (shared).
#[derive(Clone)]
pub struct Gpu {
    ctx: Arc<Context>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.ctx.summary)
            .finish()
    }
}

/// How [`Gpu::diffuse_timed`] moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfers {
    /// Upload once, run every step on the device, download once.
    #[default]
    Resident,
    /// Download the grid after every step, as a loop that calls `.cpu()` each step does:
    /// the book's PyTorch mistake, reproduced so that its cost can be measured.
    ReadBackEveryStep,
}

impl Gpu {
    /// Opens the adapter `options` describe and builds the pipelines.
    ///
    /// # Errors
    /// [`crate::Error::NoAdapter`] if there is none (the message says what to install or
    /// set); [`crate::Error::Device`] if the device fails.
    pub fn new(options: &GpuOptions) -> Result<Gpu> {
        Ok(Gpu {
            ctx: Arc::new(Context::new(options)?),
        })
    }

    /// The process-wide default device, opened on first use with
    /// [`GpuOptions::from_env`]; later calls share it (or its error).
    ///
    /// # Errors
    /// As [`Gpu::new`], the same error every time.
    pub fn shared() -> Result<Gpu> {
        static SHARED: OnceLock<Result<Gpu>> = OnceLock::new();
        SHARED
            .get_or_init(|| Gpu::new(&GpuOptions::from_env()))
            .clone()
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.summary
    }

    /// The device's copy bandwidth in bytes per second (read + write), from `repeats`
    /// buffer-to-buffer copies of `bytes` each (capped at one binding): the memory limit
    /// the GPU kernels are measured against.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn measure_copy_bandwidth(&self, bytes: u64, repeats: u32) -> Result<f64> {
        let bytes = bytes.min(self.ctx.summary.max_binding_bytes) / 4 * 4;
        let time = probe::copy_time(&self.ctx, bytes, repeats)?;
        Ok(2.0 * bytes as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE))
    }

    /// How this device's compute times are measured: GPU timestamps where the adapter
    /// has them, host time around completed submissions otherwise.
    pub fn compute_clock(&self) -> ComputeClock {
        self.ctx.clock()
    }

    /// Copies `grid` (any layout) to the device.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for f64 without `SHADER_F64`, or rows too long for one
    /// binding; [`crate::Error::Device`] if the device fails (out of memory, lost).
    pub fn upload_grid<T: Real>(&self, grid: ArrayView2<'_, T>) -> Result<GpuGrid<T>> {
        GpuGrid::upload(&self.ctx, grid)
    }

    /// Copies `v` (any layout) to the device.
    ///
    /// # Errors
    /// As [`Gpu::upload_grid`].
    pub fn upload_vector<T: Real>(&self, v: ArrayView1<'_, T>) -> Result<GpuVector<T>> {
        GpuVector::upload(&self.ctx, v)
    }

    /// The norm `kind` of a resident vector.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn norm_resident<T: Real>(
        &self,
        v: &GpuVector<T>,
        kind: NormKind,
    ) -> Result<(T, GpuTimings)> {
        norm::norm(v, kind)
    }

    /// Julia escape counts, with the time split.
    ///
    /// # Errors
    /// As [`Backend::julia`].
    pub fn julia_timed<T: Real>(
        &self,
        params: &JuliaParams<T>,
    ) -> Result<(Array2<u32>, GpuTimings)> {
        julia::julia(&self.ctx, params)
    }

    /// `steps` diffusion steps on `grid` in place: upload, steps, download, each timed.
    ///
    /// # Errors
    /// As [`Backend::diffuse`].
    pub fn diffuse_timed<T: Real>(
        &self,
        mut grid: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
        transfers: Transfers,
    ) -> Result<GpuTimings> {
        let mut timings = GpuTimings::new(self.ctx.clock());
        if grid.is_empty() {
            return Ok(timings);
        }
        let start = Instant::now();
        let mut resident = self.upload_grid(grid.view())?;
        timings.upload = start.elapsed();
        match transfers {
            Transfers::Resident => timings.compute = resident.step(params, steps)?,
            Transfers::ReadBackEveryStep => {
                for _ in 0..steps {
                    timings.compute += resident.step(params, 1)?;
                    let start = Instant::now();
                    let host = resident.download()?;
                    timings.download += start.elapsed();
                    std::hint::black_box(&host);
                }
            }
        }
        let start = Instant::now();
        grid.assign(&resident.download()?);
        timings.download += start.elapsed();
        Ok(timings)
    }

    /// The norm `kind` of `v`: upload, reduce, read back, each timed.
    ///
    /// # Errors
    /// As [`Backend::norm`].
    pub fn norm_timed<T: Real>(
        &self,
        v: ArrayView1<'_, T>,
        kind: NormKind,
    ) -> Result<(T, GpuTimings)> {
        let start = Instant::now();
        let resident = self.upload_vector(v)?;
        let upload = start.elapsed();
        let (value, mut timings) = norm::norm(&resident, kind)?;
        timings.upload = upload;
        Ok((value, timings))
    }
}

impl Describe for Gpu {
    fn name(&self) -> &str {
        "gpu"
    }

    fn capabilities(&self) -> Capabilities {
        let summary = &self.ctx.summary;
        let mut precisions = vec![Precision::F32];
        if summary.f64 {
            precisions.push(Precision::F64);
        }
        Capabilities {
            precisions,
            device: summary.device,
            device_name: format!("{} ({}, {})", summary.name, summary.api, summary.driver),
            isa: "wgsl".into(),
            threads: 1,
        }
    }
}

impl<T: Real> Backend<T> for Gpu {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        Ok(self.julia_timed(params)?.0)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        // The device keeps its own second buffer; the scratch is only checked, so that a
        // call that is wrong for one backend is wrong for all.
        check_scratch(&grid, &scratch)?;
        self.diffuse_timed(grid, params, steps, Transfers::Resident)
            .map(|_| ())
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        Ok(self.norm_timed(v, kind)?.0)
    }
}
