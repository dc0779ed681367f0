//! The GPU backend: WGSL compute shaders (`shaders/*.wgsl`) through wgpu, on Vulkan, Metal,
//! DX12 or GL, whichever the machine has.
//!
//! - f32 always; f64 where the adapter offers `SHADER_F64` (Mesa's software Vulkan driver
//!   does; GL does not), otherwise [`crate::Error::Unsupported`].
//! - The trait's methods are one-shot: upload, compute, download. [`Gpu::upload_grid`] and
//!   [`Gpu::upload_vector`] keep data on the device, so that many diffusion steps, or many
//!   norms, run without crossing the bus; [`GpuGrid::download_into`] and
//!   [`GpuGrid::upload_from`] move it through memory the caller owns, so that a loop
//!   allocates nothing per step; the `*_timed` methods report where the time went
//!   ([`GpuTimings`]).
//! - Transfers run through staging memory the device keeps, in overlapped chunks, or map
//!   the data buffers themselves where device memory is host memory ([`TransferPath`]).
//!   A call on resident data builds nothing and waits once.
//! - Data larger than the device's largest storage binding is split into bands (grids) or
//!   pieces (vectors); dispatches larger than 65 535 workgroups per dimension use two.
//! - The shaders hold the CPU's numerical contract on any conforming driver, which WGSL
//!   lets assume no NaN/∞, flush subnormals and fuse multiplies with adds: norms classify
//!   values by their bits (`shaders/bits/`), Julia's and diffusion's products are rounded
//!   before they are added. Diffusion's own arithmetic keeps subnormals only where the
//!   device does ([`crate::Capabilities::keeps_subnormals`]). Norm sums are ordered
//!   differently from the CPU's, so they agree within rounding, not bit for bit.
//! - Diffusion can take several steps per dispatch on tiles in workgroup memory
//!   ([`GpuGrid::set_steps_per_dispatch`]), bit-identical to single steps.
//! - [`Gpu::device_limits`] and [`Gpu::bus_rates`] measure the yardsticks: device copy and
//!   read bandwidth, peak arithmetic, transfer rates and the per-call floor.
//!
//! On a headless Linux machine, Mesa's Vulkan device-selection layer (Mesa 22, as in
//! Debian 12) prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`
//! while the adapters are enumerated, because it looks for a Wayland compositor. The
//! message is harmless; `NODEVICE_SELECT=1` in the environment silences it (hpnum's
//! examples set it for themselves when `XDG_RUNTIME_DIR` is unset).
//!
//! Layout: `adapter` (options, choice), `context` (the device and what it keeps),
//! `errors`, `pool`, `staging` (transfers), `timing`, `contract` and `shaders` and
//! `pipelines` (the host–shader contract and the entry-point table), then one file per
//! kernel (`julia`, `diffusion`, `norm`) beside the resident data (`grid`, `vector`,
//! `multi`: one grid over several devices) and the `probe`s.

mod adapter;
mod context;
mod contract;
mod diffusion;
mod errors;
mod grid;
mod julia;
mod multi;
mod norm;
mod pipelines;
mod pool;
mod probe;
mod shaders;
mod staging;
mod timing;
mod vector;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2};

pub use self::adapter::{AdapterSummary, DEFAULT_SPIN, GpuOptions, TransferPath, WaitMode};
use self::context::Context;
pub use self::grid::GpuGrid;
pub use self::multi::MultiGpuGrid;
pub use self::probe::{BusRates, DeviceLimits};
pub use self::shaders::{Reduction, Shader};
pub use self::timing::{ComputeClock, GpuTimings};
pub use self::vector::GpuVector;
use crate::backend::{Backend, Capabilities, Describe};
use crate::kernels::diffusion::{DiffusionParams, check_scratch};
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::{Precision, Real, Result, memory};

/// The wgpu version hpnum is built with, for [`GpuOptions`]' fields.
pub use wgpu;

/// Bytes the bus probe moves each way ([`Gpu::bus_rates`]).
const BUS_PROBE_BYTES: u64 = 32 << 20;

/// A GPU device with hpnum's pipelines built. Cheap to clone (shared).
#[derive(Clone)]
pub struct Gpu {
    ctx: Arc<Context>,
    bus: Arc<OnceLock<BusRates>>,
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
    /// set); [`crate::Error::Unsupported`] for options the adapter cannot honour;
    /// [`crate::Error::Device`] if the device fails.
    pub fn new(options: &GpuOptions) -> Result<Gpu> {
        Ok(Gpu {
            ctx: Arc::new(Context::new(options)?),
            bus: Arc::new(OnceLock::new()),
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

    /// How the norms' workgroups reduce in `precision` on this device: with subgroup
    /// operations where the device has them and its driver builds them, else the tree.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for f64 without `SHADER_F64`.
    pub fn norm_reduction(&self, precision: Precision) -> Result<Reduction> {
        Ok(self.ctx.pipelines(precision)?.reduction())
    }

    /// How this device's compute times are measured: GPU timestamps where the adapter
    /// has them, host time around completed submissions otherwise.
    pub fn compute_clock(&self) -> ComputeClock {
        self.ctx.clock()
    }

    /// The device's copy and read bandwidth and peak arithmetic, measured by compute
    /// shaders on first request (about a second) and remembered for the device's life.
    ///
    /// # Errors
    /// [`crate::Error::Device`] or `OutOfMemory` if the probes cannot run.
    pub fn device_limits(&self) -> Result<DeviceLimits> {
        if let Some(limits) = self.ctx.device_limits.get() {
            return Ok(*limits);
        }
        let limits = probe::device_limits(&self.ctx)?;
        Ok(*self.ctx.device_limits.get_or_init(|| limits))
    }

    /// Upload and download rates through hpnum's transfer path, and the per-call floor,
    /// measured with 32 MiB on first request and remembered for this `Gpu`'s life.
    ///
    /// # Errors
    /// As [`Gpu::device_limits`].
    pub fn bus_rates(&self) -> Result<BusRates> {
        if let Some(rates) = self.bus.get() {
            return Ok(*rates);
        }
        let rates = probe::bus_rates(&self.ctx, BUS_PROBE_BYTES)?;
        Ok(*self.bus.get_or_init(|| rates))
    }

    /// Submits nothing and waits for it: the least any call on this device can cost, and
    /// the yardstick of hpnum's per-call overhead.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn round_trip(&self) -> Result<Duration> {
        self.ctx.round_trip()
    }

    /// One trivial kernel (one workgroup) submitted and waited for: the least any kernel
    /// call can cost on this driver, a floor above [`Gpu::round_trip`]'s where launching a
    /// kernel costs more than an empty submission (Mesa's software driver: about twice).
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn dispatch_round_trip(&self) -> Result<Duration> {
        probe::dispatch_round_trip(&self.ctx)
    }

    /// Frees the device memory this device keeps for reuse: pooled staging buffers, the
    /// buffers of recent one-shot calls (the four most recent grids and four most recent
    /// vectors, each at most 1 GiB), and Julia's buffers for recent shapes (at most four,
    /// each at most 64 MiB). Calls after it allocate again.
    pub fn release_cached(&self) {
        self.ctx.release_cached();
    }

    /// Copies `grid` (any layout) to the device.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for f64 without `SHADER_F64`, or rows too long for one
    /// binding; [`crate::Error::OutOfMemory`] if the device (or, for a software device, the
    /// host) cannot hold it; [`crate::Error::Device`] if the device fails.
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
        norm::norm(v, kind, true)
    }

    /// Julia escape counts, with the time split.
    ///
    /// # Errors
    /// As [`Backend::julia`].
    pub fn julia_timed<T: Real>(
        &self,
        params: &JuliaParams<T>,
    ) -> Result<(Array2<u32>, GpuTimings)> {
        julia::julia(&self.ctx, params, true)
    }

    /// `steps` diffusion steps on `grid` in place: upload, steps, download, each timed.
    /// With [`Transfers::ReadBackEveryStep`] the grid is also copied back after every step,
    /// into one host array allocated once.
    ///
    /// # Errors
    /// As [`Backend::diffuse`].
    pub fn diffuse_timed<T: Real>(
        &self,
        grid: ArrayViewMut2<'_, T>,
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
                let (rows, cols) = grid.dim();
                let mut host = memory::zeroed_array2(rows, cols, "per-step read-back")?;
                for _ in 0..steps {
                    timings.compute += resident.step(params, 1)?;
                    let start = Instant::now();
                    resident.download_into(host.view_mut())?;
                    timings.download += start.elapsed();
                }
            }
        }
        let start = Instant::now();
        resident.download_into(grid)?;
        timings.download += start.elapsed();
        resident.recycle();
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
        let (value, mut timings) = norm::norm(&resident, kind, true)?;
        timings.upload = upload;
        resident.recycle();
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
            // The shading language, and whether the norms use subgroup operations.
            isa: match self.norm_reduction(Precision::F32) {
                Ok(Reduction::Subgroups) => "wgsl+subgroups".into(),
                _ => "wgsl".into(),
            },
            threads: 1,
            keeps_subnormals: self.ctx.keeps_subnormals.clone(),
        }
    }
}

/// The trait's calls are untimed: no timestamp queries, which on some drivers cost more than
/// a small call (the `*_timed` methods measure).
impl<T: Real> Backend<T> for Gpu {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        Ok(julia::julia(&self.ctx, params, false)?.0)
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
        if grid.is_empty() {
            return Ok(());
        }
        let mut resident = self.upload_grid(grid.view())?;
        resident.advance(params, steps)?;
        resident.download_into(grid)?;
        resident.recycle();
        Ok(())
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        let resident = self.upload_vector(v)?;
        let value = resident.norm(kind)?;
        resident.recycle();
        Ok(value)
    }
}
