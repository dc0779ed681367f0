//! The one interface every backend implements ([`Backend`]), and what a backend says about
//! itself ([`Describe`], [`Capabilities`]). It sits below every backend and knows none: each
//! backend's implementation, one line per kernel, is in `src/matrix.rs`. Adding a kernel
//! adds a method here; adding a backend adds nothing here.

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::error::Result;
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::real::{PerPrecision, Precision, Real};

/// What kind of device a backend runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceKind {
    /// The host CPU.
    Cpu,
    /// A discrete GPU with its own memory.
    DiscreteGpu,
    /// A GPU sharing memory with the CPU.
    IntegratedGpu,
    /// A GPU made available through virtualisation.
    VirtualGpu,
    /// A GPU API implemented in software on the CPU (Mesa's lavapipe, for example): correct,
    /// not fast.
    SoftwareGpu,
}

/// What a backend can do and where it runs, as reported by [`Describe::capabilities`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The precisions it computes in; the others return [`crate::Error::Unsupported`].
    pub precisions: Vec<Precision>,
    /// The device kind.
    pub device: DeviceKind,
    /// A human-readable device name (CPU architecture, GPU adapter).
    pub device_name: String,
    /// The instruction set or shading language its kernels use (`scalar`, `avx512`, …).
    pub isa: String,
    /// How many threads it uses on the host (1 for the scalar and SIMD backends).
    pub threads: usize,
    /// The precisions in which its arithmetic keeps subnormal numbers (IEEE 754's gradual
    /// underflow). In the others a subnormal operand or result may become zero, as WGSL
    /// allows a GPU driver to do: diffusion cells that fall below the smallest normal
    /// become 0 there. Norms keep subnormals on every device (they work on the bits).
    pub keeps_subnormals: Vec<Precision>,
}

impl Capabilities {
    /// A CPU backend that runs both precisions.
    pub(crate) fn cpu(isa: impl Into<String>, threads: usize) -> Self {
        Capabilities {
            precisions: vec![Precision::F32, Precision::F64],
            device: DeviceKind::Cpu,
            device_name: format!("{} CPU", std::env::consts::ARCH),
            isa: isa.into(),
            threads,
            keeps_subnormals: vec![Precision::F32, Precision::F64],
        }
    }

    /// Whether `precision` is among [`Capabilities::precisions`].
    pub fn supports(&self, precision: Precision) -> bool {
        self.precisions.contains(&precision)
    }

    /// Whether `precision` is among [`Capabilities::keeps_subnormals`].
    pub fn keeps_subnormals_in(&self, precision: Precision) -> bool {
        self.keeps_subnormals.contains(&precision)
    }
}

/// What a backend says about itself, the same for every precision.
pub trait Describe {
    /// A short stable name, as accepted by [`crate::backends::by_name`] (`scalar`, …).
    fn name(&self) -> &str;

    /// Device, instruction set, precisions and threads.
    fn capabilities(&self) -> Capabilities;
}

/// The three kernels in precision `T`. Every backend implements it for `f32` and `f64`
/// (see [`AnyBackend`]); a backend whose device lacks a precision returns
/// [`crate::Error::Unsupported`] from every method of that precision.
///
/// Inputs are ndarray views of any layout (non-contiguous, negative strides); a backend that
/// needs contiguous memory copies internally. The trait is object safe: `dyn Backend<f32>`.
///
/// ```
/// use hpnum::{AnyBackend, Backend, NormKind};
/// use ndarray::Array1;
///
/// let v = Array1::from_vec(vec![3.0f64, -4.0]);
/// for backend in hpnum::backends::all() {
///     // Every backend, through one interface; the precision comes from the argument.
///     assert_eq!(backend.norm(v.view(), NormKind::L2)?, 5.0, "{}", backend.name());
/// }
/// # Ok::<(), hpnum::Error>(())
/// ```
pub trait Backend<T: Real>: Describe + Send + Sync {
    /// Escape counts of the Julia set described by `params`, shape
    /// [`JuliaParams::shape`].
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] if the backend cannot run precision `T`; device errors
    /// for device backends.
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>>;

    /// Advances `grid` by `steps` diffusion steps in place. `scratch` must have `grid`'s
    /// shape; its contents on return are unspecified. Nothing is allocated per step, so a
    /// long run in a loop allocates nothing at all on the CPU backends.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] if `scratch` has another shape;
    /// [`crate::Error::Unsupported`] as for [`Backend::julia`].
    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()>;

    /// The norm `kind` of `v` (0 for the empty vector, NaN if `v` holds a NaN).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] as for [`Backend::julia`].
    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T>;
}

/// A backend for both precisions: what the example programs and the benchmark matrix hold as
/// `Arc<dyn AnyBackend>`. Implemented automatically; method calls pick the precision from
/// their arguments (`backend.norm(v32.view(), NormKind::L2)` calls `Backend<f32>`).
pub trait AnyBackend: Backend<f32> + Backend<f64> {}

impl<B: Backend<f32> + Backend<f64> + ?Sized> AnyBackend for B {}

/// A backend for both precisions is `dyn Backend<f32>` in one and `dyn Backend<f64>` in
/// the other: what lets generic code write `T::on(&*backend)` ([`Real::on`]).
impl<'a> PerPrecision for dyn AnyBackend + 'a {
    type In<T: Real> = dyn Backend<T> + 'a;

    fn f32(&self) -> &(dyn Backend<f32> + 'a) {
        self
    }

    fn f64(&self) -> &(dyn Backend<f64> + 'a) {
        self
    }
}

/// A concrete backend for both precisions (`T::on(&Scalar)`), as its trait object.
impl<B: Backend<f32> + Backend<f64> + 'static> PerPrecision for B {
    type In<T: Real> = dyn Backend<T>;

    fn f32(&self) -> &(dyn Backend<f32> + 'static) {
        self
    }

    fn f64(&self) -> &(dyn Backend<f64> + 'static) {
        self
    }
}
