//! Representative calls: one kernel at one size with its inputs built, ready to be timed on
//! every backend and, on a GPU, in every way data can move. The benchmark matrix, the
//! crossover sweep and the `report` example time these, so that a new kernel reaches all of
//! them by providing its cases ([`super::Kernel::cases`]).

use std::time::Duration;

use web_time::Instant;

use crate::backend::AnyBackend;
use crate::error::Result;
use crate::kernels::kernel::Kernel;
use crate::kernels::workload::Workload;
use crate::real::Real;

/// How a GPU call moves its data, beside the one-shot call through the trait.
#[cfg(feature = "gpu")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GpuFlavour {
    /// Compute on data already on the device; timed by the device's clock where it has
    /// timestamps ([`crate::backends::gpu::ComputeClock`]).
    Resident,
    /// Compute on resident data with K steps per dispatch (diffusion's temporal blocking).
    StepsPerDispatch(usize),
    /// The case's input copied from the host into resident data.
    Upload,
    /// Resident data copied back to the host.
    Download,
    /// Every step's result copied back to the host (diffusion): the book's PyTorch loop
    /// that calls `.cpu()` each step.
    ReadBackEveryStep,
    /// The least a resident call can do (one diffusion step, one norm, one Julia grid),
    /// untimed by the device and timed on the host: what the per-call floor
    /// ([`crate::Gpu::dispatch_round_trip`]) is compared with.
    SingleCall,
}

#[cfg(feature = "gpu")]
impl GpuFlavour {
    /// The flavour's column name: `gpu-resident`, `gpu-resident-k4`, `gpu-upload`,
    /// `gpu-download`, `gpu-readback`.
    pub fn name(self) -> String {
        match self {
            GpuFlavour::Resident => "gpu-resident".into(),
            GpuFlavour::StepsPerDispatch(k) => format!("gpu-resident-k{k}"),
            GpuFlavour::Upload => "gpu-upload".into(),
            GpuFlavour::Download => "gpu-download".into(),
            GpuFlavour::ReadBackEveryStep => "gpu-readback".into(),
            GpuFlavour::SingleCall => "gpu-call".into(),
        }
    }

    /// Whether the flavour's time is of a transfer (bytes crossing the bus), not of compute.
    pub fn is_transfer(self) -> bool {
        matches!(self, GpuFlavour::Upload | GpuFlavour::Download)
    }
}

/// A prepared call: every [`CaseRun::run`] performs it once and returns its time.
pub struct CaseRun<'a> {
    run: Box<dyn FnMut() -> Result<Duration> + 'a>,
}

impl<'a> CaseRun<'a> {
    /// A prepared call from a closure that performs it once and returns its time.
    pub fn new(run: impl FnMut() -> Result<Duration> + 'a) -> Self {
        CaseRun { run: Box::new(run) }
    }

    /// A prepared call timed on the host, around `call`.
    pub fn host_timed(mut call: impl FnMut() -> Result<()> + 'a) -> Self {
        CaseRun::new(move || {
            let start = Instant::now();
            call()?;
            Ok(start.elapsed())
        })
    }

    /// Performs the call once.
    ///
    /// # Errors
    /// What the call returns.
    pub fn run(&mut self) -> Result<Duration> {
        (self.run)()
    }
}

/// One call of a kernel at one size, with its inputs built once (see the module docs).
///
/// ```
/// use hpnum::kernels::Kernel;
/// use hpnum::Scalar;
///
/// let mut case = Kernel::Diffusion.case::<f64>(32)?;
/// assert_eq!(case.size(), 32);
/// let seconds = case.run(&Scalar)?.as_secs_f64();
/// assert!(seconds >= 0.0 && case.workload().memory_bytes > 0.0);
/// # Ok::<(), hpnum::Error>(())
/// ```
pub trait Case<T: Real>: Send {
    /// The kernel it calls.
    fn kernel(&self) -> Kernel;

    /// Its name in tables and benchmark IDs: the kernel's, or with the variant
    /// (`norm-l2`, `norm-l2sq`).
    fn label(&self) -> String {
        self.kernel().name().to_owned()
    }

    /// The size, in the kernel's [`Kernel::size_label`] unit.
    fn size(&self) -> usize;

    /// What one call costs in the cost model's units.
    fn workload(&self) -> Workload;

    /// The amount one call does in the numerator of [`Kernel::unit`]: Julia's
    /// pixel-iterations (measured on this case's grid, not the cap), diffusion's and the
    /// norms' bytes.
    fn throughput_work(&self) -> f64 {
        self.workload().memory_bytes
    }

    /// The amount of the kernel's [`super::Limit`] one call uses: floating-point
    /// operations for Julia, bytes for the others.
    fn limit_work(&self) -> f64 {
        self.workload().memory_bytes
    }

    /// Bytes of the data the call keeps on a device (the grid, the vector, the counts):
    /// what one upload or download of it moves.
    fn data_bytes(&self) -> f64 {
        self.workload().transfer_bytes
    }

    /// Runs the call once on `backend` (a GPU's one-shot call: upload, compute, download)
    /// and returns its host time.
    ///
    /// # Errors
    /// What the backend returns.
    fn run(&mut self, backend: &dyn AnyBackend) -> Result<Duration>;

    /// The call prepared on `gpu` in `flavour` (its data uploaded), or `None` where the
    /// kernel has no such flavour.
    ///
    /// # Errors
    /// What uploading to the device returns.
    #[cfg(feature = "gpu")]
    fn gpu(
        &mut self,
        gpu: &crate::backends::gpu::Gpu,
        flavour: GpuFlavour,
    ) -> Result<Option<CaseRun<'_>>>;

    /// `calls` calls on `gpu`, awaited, and their total time: what a browser times, where
    /// nothing may block and the clock is coarse (so a page times many calls at once).
    /// With `resident`, the compute on data already on the device (as
    /// [`GpuFlavour::Resident`]; the one upload before the calls is untimed); else the
    /// one-shot call, upload, compute and download, as [`Case::run`] times it on the GPU.
    ///
    /// # Errors
    /// What the device returns.
    #[cfg(feature = "gpu")]
    fn time_gpu_async<'a>(
        &'a mut self,
        gpu: &'a crate::backends::gpu::Gpu,
        resident: bool,
        calls: usize,
    ) -> GpuTime<'a>;
}

/// An awaited GPU call's time ([`Case::time_gpu_async`]).
#[cfg(feature = "gpu")]
pub type GpuTime<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Duration>> + 'a>>;

/// Host time of `call`.
pub(crate) fn host_time(call: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    call()?;
    Ok(start.elapsed())
}

/// Host time of `calls` awaited calls of `call`, one after the other (what
/// [`Case::time_gpu_async`] times).
#[cfg(feature = "gpu")]
pub(crate) async fn host_time_calls(
    calls: usize,
    mut call: impl AsyncFnMut() -> Result<()>,
) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..calls {
        call().await?;
    }
    Ok(start.elapsed())
}
