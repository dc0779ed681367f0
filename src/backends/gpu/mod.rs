//! The GPU backend's plumbing: WGSL compute shaders through wgpu, on Vulkan, Metal, DX12 or
//! GL, whichever the machine has. It knows no kernel: each kernel's host code and shader
//! live in its folder (`src/kernels/<kernel>/gpu.rs` beside its `.wgsl`), and reach the
//! device through what is here.
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
//! - Data larger than the device's largest storage binding is split into segments (a
//!   grid's are bands of rows); dispatches larger than 65 535 workgroups per dimension use
//!   two.
//! - The shaders hold the CPU's numerical contract on any conforming driver, which WGSL
//!   lets assume no NaN/∞, flush subnormals and fuse multiplies with adds: norms classify
//!   values by their bits (`wgsl/bits_*.wgsl`), Julia's and diffusion's products are
//!   rounded before they are added. Diffusion's own arithmetic keeps subnormals only where
//!   the device does ([`crate::Capabilities::keeps_subnormals`]). Norm sums are ordered
//!   differently from the CPU's, so they agree within rounding, not bit for bit.
//! - [`Gpu::device_limits`] and [`Gpu::bus_rates`] measure the yardsticks: device copy and
//!   read bandwidth, peak arithmetic, transfer rates and the per-call floor.
//!
//! On a headless Linux machine, Mesa's Vulkan device-selection layer (Mesa 22, as in
//! Debian 12) prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`
//! while the adapters are enumerated, because it looks for a Wayland compositor. The
//! message is harmless; `NODEVICE_SELECT=1` silences it, and opening a device sets it where
//! that is sound ([`quiet_headless_vulkan`]; the Python package sets it at import).
//!
//! Layout (each file depends only on those before it): `errors`, `pool` (reuse pools and
//! the cache of recent calls), `timing`, `adapter` (options, choice), `contract` and
//! `shaders` (the host–shader contract, a shader's description), `pipelines` (the
//! entry-point table), `context` (the device and what it keeps) with `allocate` and
//! `submit`, `staging` (transfers), `resident` (data on the device: the one lifecycle)
//! under `grid` and `vector`, `probe` (the device's limits), and this file, the [`Gpu`]
//! handle.
//!
//! ```
//! use hpnum::{Backend, Gpu, JuliaParams, Scalar};
//!
//! let Ok(gpu) = Gpu::shared() else { return Ok(()) }; // no adapter on this machine
//! let params = JuliaParams::<f32>::book(64, 50)?;
//! assert_eq!(gpu.julia(&params)?, Scalar.julia(&params)?); // the reference's bits
//! # Ok::<(), hpnum::Error>(())
//! ```

pub(crate) mod adapter;
pub(crate) mod allocate;
pub(crate) mod context;
pub(crate) mod contract;
pub(crate) mod errors;
pub(crate) mod grid;
pub(crate) mod host_memory;
pub(crate) mod options;
pub(crate) mod pipelines;
pub(crate) mod pool;
pub(crate) mod probe;
pub(crate) mod resident;
pub(crate) mod shaders;
pub(crate) mod signal;
pub(crate) mod staging;
pub(crate) mod submit;
pub(crate) mod timing;
pub(crate) mod vector;

use std::sync::Arc;
use std::time::Duration;

use ndarray::{ArrayView1, ArrayView2};

pub use self::adapter::{AdapterSummary, quiet_headless_vulkan};
use self::context::Context;
pub use self::grid::GpuGrid;
pub use self::host_memory::HostMemory;
pub use self::options::{
    DEFAULT_SPIN, GpuOptions, KernelSetting, KernelSettings, TUNABLE, TransferPath, WaitMode,
};
pub use self::probe::{BusRates, DeviceLimits};
pub use self::shaders::{Reduction, Shader, ShaderTarget};
use self::signal::block_on;
pub use self::timing::{ComputeClock, GpuTimings, PhaseTimes, TransferPhases};
pub use self::vector::GpuVector;
use crate::backend::{Capabilities, Describe};
use crate::error::Result;
use crate::real::{Precision, Real};

/// The wgpu version hpnum is built with, for [`GpuOptions`]' fields.
pub use wgpu;

/// Bytes the bus probe moves each way ([`Gpu::bus_rates`]).
const BUS_PROBE_BYTES: u64 = 32 << 20;

/// A GPU device with hpnum's pipelines built. Cheap to clone (shared).
#[derive(Clone)]
pub struct Gpu {
    ctx: Arc<Context>,
    probes: Arc<probe::Probes>,
    /// The precisions whose arithmetic keeps subnormals on this device (probed when it
    /// opens; WGSL allows a driver to flush them).
    keeps_subnormals: Vec<Precision>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.ctx.summary)
            .finish()
    }
}

impl Gpu {
    /// Opens the adapter `options` describe and builds the pipelines of `shaders` (what
    /// `Gpu::new` gives it: every kernel's, and the probes').
    pub(crate) async fn open(options: &GpuOptions, shaders: &[Shader]) -> Result<Gpu> {
        let ctx = Arc::new(Context::new(options, shaders).await?);
        let keeps_subnormals = probe::subnormals_kept(&ctx).await?;
        Ok(Gpu {
            ctx,
            probes: Arc::new(probe::Probes::default()),
            keeps_subnormals,
        })
    }

    /// The device, for the kernels' host code.
    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.summary
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
        block_on(self.device_limits_async())
    }

    /// [`Gpu::device_limits`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::device_limits`].
    pub async fn device_limits_async(&self) -> Result<DeviceLimits> {
        if let Some(limits) = self.probes.device_limits.get() {
            return Ok(*limits);
        }
        let limits = probe::device_limits(&self.ctx).await?;
        Ok(*self.probes.device_limits.get_or_init(|| limits))
    }

    /// Upload and download rates through hpnum's transfer path, and the per-call floor,
    /// measured with 32 MiB on first request and remembered for this `Gpu`'s life.
    ///
    /// # Errors
    /// As [`Gpu::device_limits`].
    pub fn bus_rates(&self) -> Result<BusRates> {
        block_on(self.bus_rates_async())
    }

    /// [`Gpu::bus_rates`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::bus_rates`].
    pub async fn bus_rates_async(&self) -> Result<BusRates> {
        if let Some(rates) = self.probes.bus.get() {
            return Ok(*rates);
        }
        let rates = probe::bus_rates(&self.ctx, BUS_PROBE_BYTES).await?;
        Ok(*self.probes.bus.get_or_init(|| rates))
    }

    /// Submits nothing and waits for it: the least any call on this device can cost, and
    /// the yardstick of hpnum's per-call overhead.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn round_trip(&self) -> Result<Duration> {
        block_on(self.ctx.round_trip())
    }

    /// [`Gpu::round_trip`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::round_trip`].
    pub async fn round_trip_async(&self) -> Result<Duration> {
        self.ctx.round_trip().await
    }

    /// One trivial kernel (one workgroup) submitted and waited for: the least any kernel
    /// call can cost on this driver, a floor above [`Gpu::round_trip`]'s where launching a
    /// kernel costs more than an empty submission (Mesa's software driver: about twice).
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn dispatch_round_trip(&self) -> Result<Duration> {
        block_on(self.dispatch_round_trip_async())
    }

    /// [`Gpu::dispatch_round_trip`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::dispatch_round_trip`].
    pub async fn dispatch_round_trip_async(&self) -> Result<Duration> {
        probe::dispatch_round_trip(&self.ctx, &self.probes).await
    }

    /// Where the time of every upload and download since the last
    /// [`Gpu::reset_transfer_phases`] (or since the device opened) went, phase by phase:
    /// host copies, submissions, the device's copies, mapping callbacks. Calls' small
    /// results (a norm, timestamps) ride in their call's own submission and are not
    /// counted.
    pub fn transfer_phases(&self) -> TransferPhases {
        self.ctx.transfer_phases(false)
    }

    /// Starts [`Gpu::transfer_phases`]' totals afresh.
    pub fn reset_transfer_phases(&self) {
        self.ctx.transfer_phases(true);
    }

    /// Frees the device memory this device keeps for reuse: pooled staging buffers and the
    /// buffers of recent one-shot calls (at most four of each kind — grids, vectors, a
    /// kernel's outputs — each at most 1 GiB, 2 GiB in all). Calls after it allocate again.
    pub fn release_cached(&self) {
        self.ctx.release_cached();
    }

    /// Bytes of device memory kept for reuse now: the cache of recent one-shot calls and
    /// the pooled staging buffers (see [`Gpu::release_cached`]). Bounded: what a soak of
    /// many threads and calls checks stays so.
    pub fn cached_bytes(&self) -> u64 {
        self.ctx.cache.bytes() + self.ctx.staging.bytes()
    }

    /// Copies `grid` (any layout) to the device.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for f64 without `SHADER_F64`, or rows too long for one
    /// binding; [`crate::Error::OutOfMemory`] if the device (or, for a software device, the
    /// host) cannot hold it; [`crate::Error::Device`] if the device fails.
    pub fn upload_grid<T: Real>(&self, grid: ArrayView2<'_, T>) -> Result<GpuGrid<T>> {
        block_on(self.upload_grid_async(grid))
    }

    /// [`Gpu::upload_grid`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::upload_grid`].
    pub async fn upload_grid_async<T: Real>(&self, grid: ArrayView2<'_, T>) -> Result<GpuGrid<T>> {
        GpuGrid::upload(&self.ctx, grid).await
    }

    /// Copies `v` (any layout) to the device.
    ///
    /// # Errors
    /// As [`Gpu::upload_grid`].
    pub fn upload_vector<T: Real>(&self, v: ArrayView1<'_, T>) -> Result<GpuVector<T>> {
        block_on(self.upload_vector_async(v))
    }

    /// [`Gpu::upload_vector`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::upload_grid`].
    pub async fn upload_vector_async<T: Real>(&self, v: ArrayView1<'_, T>) -> Result<GpuVector<T>> {
        GpuVector::upload(&self.ctx, v).await
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
            // The shading language, and whether reductions use subgroup operations.
            isa: match self.ctx.pipelines(Precision::F32).map(|p| p.reduction()) {
                Ok(Reduction::Subgroups) => "wgsl+subgroups".into(),
                _ => "wgsl".into(),
            },
            threads: 1,
            keeps_subnormals: self.keeps_subnormals.clone(),
        }
    }
}
