//! Where the kernels meet the backends: each backend's implementation of [`Backend`], one
//! line per kernel calling that kernel's version in its folder (`src/kernels/<kernel>/`);
//! the backends by name; what needs every kernel at once (a [`Kernel`]'s cases and shader,
//! every [`Shader`], a [`Gpu`] opened with all of them, an [`Auto`] over every backend).
//! It sits at the top: nothing below it names it, and it is the one file that names every
//! kernel and every backend. Adding a kernel adds a line to each implementation here and an
//! arm to `cases` and `shader`; adding a backend adds an implementation and a name.

use std::sync::Arc;
#[cfg(feature = "gpu")]
use std::sync::OnceLock;

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::backend::{AnyBackend, Backend};
use crate::backends::auto::{Auto, CostSource};
#[cfg(feature = "gpu")]
use crate::backends::gpu::options::{GpuOptions, KernelSetting, KernelSettings};
#[cfg(feature = "gpu")]
use crate::backends::gpu::shaders::Shader;
#[cfg(feature = "gpu")]
use crate::backends::gpu::signal::block_on;
#[cfg(feature = "gpu")]
use crate::backends::gpu::{Gpu, probe};
use crate::backends::rayon::Rayon;
use crate::backends::scalar::Scalar;
use crate::backends::simd::Simd;
use crate::calibration::Calibration;
use crate::error::{Error, Result};
use crate::kernels::case::Case;
use crate::kernels::diffusion::{self, DiffusionParams};
use crate::kernels::julia::{self, JuliaParams};
use crate::kernels::kernel::Kernel;
use crate::kernels::norm::{self, NormKind};
use crate::kernels::workload::Workload;
use crate::real::Real;
use crate::simd::element::SimdReal;

impl<T: Real> Backend<T> for Scalar {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        julia::reference(params)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        diffusion::diffuse_reference(grid, scratch, params, steps)
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        Ok(norm::reference(v, kind))
    }
}

impl<T: SimdReal> Backend<T> for Simd {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        julia::simd::counts(self.level(), params)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        diffusion::simd::diffuse(self.level(), grid, scratch, params, steps)
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        norm::simd::norm(self.level(), v, kind)
    }
}

impl<T: SimdReal> Backend<T> for Rayon {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        julia::rayon::counts(self, params)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        diffusion::rayon::diffuse(self, grid, scratch, params, steps)
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        norm::rayon::norm(self, v, kind)
    }
}

/// One-shot calls: upload, compute, download. They are untimed (no timestamp queries,
/// which on some drivers cost more than a small call); the `*_timed` methods measure.
#[cfg(feature = "gpu")]
impl<T: Real> Backend<T> for Gpu {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        block_on(self.julia_async(params))
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        block_on(diffusion::gpu::diffuse(self, grid, scratch, params, steps))
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        block_on(self.norm_async(v, kind))
    }
}

/// Each call goes to the backend `Auto` predicts fastest for its workload.
impl<T: Real> Backend<T> for Auto {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        T::on(&*self.pick(Workload::julia(params), T::PRECISION)?).julia(params)
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        let (rows, cols) = grid.dim();
        let workload = Workload::diffusion::<T>(rows, cols, steps);
        T::on(&*self.pick(workload, T::PRECISION)?).diffuse(grid, scratch, params, steps)
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        T::on(&*self.pick(Workload::norm::<T>(v.len()), T::PRECISION)?).norm(v, kind)
    }
}

impl Kernel {
    /// The kernel's representative calls at `size`, inputs built: one per variant the
    /// benchmarks time (norms: L2 and the book's ‖v‖²), the first being the one the
    /// crossover sweep uses.
    ///
    /// # Errors
    /// [`crate::Error::OutOfMemory`] if the inputs cannot be allocated;
    /// [`crate::Error::InvalidParameter`] for a size of 0.
    pub fn cases<T: Real>(self, size: usize) -> Result<Vec<Box<dyn Case<T>>>> {
        match self {
            Kernel::Julia => julia::case::cases(size),
            Kernel::Diffusion => diffusion::case::cases(size),
            Kernel::Norm => norm::case::cases(size),
        }
    }

    /// The first of [`Kernel::cases`]: the call the crossover sweep times.
    ///
    /// # Errors
    /// As [`Kernel::cases`].
    pub fn case<T: Real>(self, size: usize) -> Result<Box<dyn Case<T>>> {
        self.cases(size)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("kernel", format!("{} has no case", self.name())))
    }

    /// The settings the kernel owns on a GPU ([`GpuOptions::kernel_settings`]).
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu_settings(self) -> &'static [KernelSetting] {
        match self {
            Kernel::Julia | Kernel::Norm => &[],
            Kernel::Diffusion => diffusion::settings::SETTINGS,
        }
    }

    /// The GPU shader holding the kernel's entry points.
    #[cfg(feature = "gpu")]
    pub(crate) fn shader(self) -> Shader {
        match self {
            Kernel::Julia => julia::gpu::SHADER,
            Kernel::Diffusion => diffusion::gpu::shader::SHADER,
            Kernel::Norm => norm::gpu::SHADER,
        }
    }
}

/// Nothing set, every kernel's GPU settings known: the plumbing that defines the options
/// knows no kernel, and this is where the kernels are listed.
#[cfg(feature = "gpu")]
impl Default for GpuOptions {
    fn default() -> Self {
        let settings = Kernel::ALL
            .iter()
            .flat_map(|k| k.gpu_settings().iter().copied());
        GpuOptions::unset(KernelSettings::new(settings))
    }
}

#[cfg(feature = "gpu")]
impl Shader {
    /// Every shader hpnum builds: each kernel's (in [`Kernel::ALL`]'s order), then the
    /// probes'.
    pub fn all() -> Vec<Shader> {
        Kernel::ALL
            .iter()
            .map(|kernel| kernel.shader())
            .chain([probe::SHADER])
            .collect()
    }

    /// The shader called `name` ([`Shader::name`]).
    pub fn named(name: &str) -> Option<Shader> {
        Shader::all().into_iter().find(|s| s.name() == name)
    }
}

#[cfg(feature = "gpu")]
impl Gpu {
    /// Opens the adapter `options` describe and builds the pipelines of every shader.
    ///
    /// # Errors
    /// [`crate::Error::NoAdapter`] if there is none (the message says what to install or
    /// set); [`crate::Error::Unsupported`] for options the adapter cannot honour;
    /// [`crate::Error::Device`] if the device fails.
    pub fn new(options: &GpuOptions) -> Result<Gpu> {
        block_on(Gpu::new_async(options))
    }

    /// [`Gpu::new`], awaited instead of blocking: the way to open a device in a browser,
    /// where WebGPU hands the adapter over through the event loop.
    ///
    /// # Errors
    /// As [`Gpu::new`].
    pub async fn new_async(options: &GpuOptions) -> Result<Gpu> {
        Gpu::open(options, &Shader::all()).await
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
}

impl Auto {
    /// Every backend this machine runs ([`all`]), with the saved
    /// calibration if there is one (see [`Calibration::default_path`]), else the defaults.
    /// With a GPU, the defaults price its calls at the link measured now
    /// (`Gpu::bus_rates`: transfer rate and per-call floor), and a saved calibration's GPU
    /// costs are used only if they were measured on this adapter and driver.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a saved calibration exists but does not parse, or an
    /// environment variable the CPU backends read ([`crate::backends::simd::ISA_ENV`],
    /// [`crate::backends::rayon::SPIN_ENV`]) holds no valid value; [`Error::Unsupported`]
    /// if `HPNUM_SIMD` names a level this CPU cannot run.
    pub fn new() -> Result<Self> {
        // A CPU backend the environment configures wrongly is the caller's error, not a
        // backend this machine lacks (which `all` leaves out): `auto` would otherwise run
        // without the SIMD and rayon backends and say nothing.
        Rayon::from_env()?;
        let backends = all();
        let mut defaults = Calibration::defaults(&backends);
        let adapter = measured_gpu_link(&backends, &mut defaults);
        let (calibration, source) = match Calibration::load()? {
            Some(mut saved) => {
                saved.keep_gpu_costs_of(adapter.as_deref());
                let path = Calibration::default_path().unwrap_or_default();
                // Backends the file does not know keep their defaults.
                defaults.merge(&saved);
                (defaults, CostSource::Calibrated(path))
            }
            None => (defaults, CostSource::Defaults),
        };
        Ok(Auto::build(backends, calibration, source))
    }
}

/// Prices the GPU's calls in `defaults` at its measured link and returns its identity, if
/// `backends` has a GPU.
#[cfg(feature = "gpu")]
fn measured_gpu_link(
    backends: &[Arc<dyn AnyBackend>],
    defaults: &mut Calibration,
) -> Option<String> {
    if !backends.iter().any(|b| b.name() == "gpu") {
        return None;
    }
    let gpu = Gpu::shared().ok()?;
    if let Ok(rates) = gpu.bus_rates() {
        // A one-shot call waits three times: for its upload, its kernel, its read-back.
        let overhead = 3.0 * rates.round_trip.as_secs_f64();
        let transfer = rates.upload_bytes_per_s.min(rates.download_bytes_per_s);
        defaults.set_link("gpu", overhead, transfer);
    }
    Some(gpu.adapter().identity())
}

#[cfg(not(feature = "gpu"))]
fn measured_gpu_link(_: &[Arc<dyn AnyBackend>], _: &mut Calibration) -> Option<String> {
    None
}

/// The names [`by_name`] accepts, in the order [`all`] returns them.
#[cfg(feature = "gpu")]
pub const NAMES: &[&str] = &["scalar", "simd", "rayon", "gpu", "auto"];
/// The names [`by_name`] accepts, in the order [`all`] returns them.
#[cfg(not(feature = "gpu"))]
pub const NAMES: &[&str] = &["scalar", "simd", "rayon", "auto"];

/// The backend called `name` (one of [`NAMES`]). `simd` and `rayon` use the SIMD level
/// named by `HPNUM_SIMD` if set ([`Simd::from_env`]), else the best this CPU runs.
///
/// # Errors
/// [`Error::UnknownBackend`] for any other name; the errors of [`Simd::from_env`] and, for
/// `gpu`, of `Gpu::shared`.
pub fn by_name(name: &str) -> Result<Arc<dyn AnyBackend>> {
    match name {
        "scalar" => Ok(Arc::new(Scalar)),
        "simd" => Ok(Arc::new(Simd::from_env()?)),
        "rayon" => Ok(Arc::new(Rayon::from_env()?)),
        #[cfg(feature = "gpu")]
        "gpu" => Ok(Arc::new(Gpu::shared()?)),
        "auto" => Ok(Arc::new(Auto::new()?)),
        _ => Err(Error::UnknownBackend {
            name: name.to_owned(),
            available: NAMES.join(", "),
        }),
    }
}

/// Every concrete backend this build has and this machine runs (the GPU backend only
/// where an adapter opens), in the order of [`NAMES`]; not `auto`, which dispatches to
/// these.
pub fn all() -> Vec<Arc<dyn AnyBackend>> {
    NAMES
        .iter()
        .filter(|&&name| name != "auto")
        .filter_map(|name| by_name(name).ok())
        .collect()
}
