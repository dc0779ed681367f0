//! The floating-point element types hpnum computes in.

use std::fmt::{Debug, Display};

use num_traits::Float;

/// A floating-point precision, as reported by backends and examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
}

impl Precision {
    /// The conventional short name: `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// Bytes of one value: 4 or 8.
    pub const fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F64 => 8,
        }
    }
}

impl Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            other => Err(crate::error::Error::invalid(
                "precision",
                format!("`{other}` is not one of f32, f64"),
            )),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type hpnum's kernels run in: `f32` or `f64`, nothing else (sealed), so that
/// every backend can promise both and a shader or SIMD path exists for each.
pub trait Real:
    Float + Default + Debug + Display + Send + Sync + bytemuck::Pod + 'static + sealed::Sealed
{
    /// Which precision this is.
    const PRECISION: Precision;

    /// Rounds an `f64` to this type (round to nearest, ties to even), as NumPy's
    /// `astype` does. This is how the book's f32 variants get their constants.
    fn from_f64(x: f64) -> Self;

    /// Widens to `f64`, exactly.
    fn as_f64(self) -> f64;

    /// `both` in this precision: how code generic over `T` calls a backend that serves both
    /// (`T::on(&*backend).norm(v, kind)`, with `backend` a `dyn AnyBackend`), without a
    /// `where dyn AnyBackend: Backend<T>` bound.
    fn on<P: PerPrecision + ?Sized>(both: &P) -> &P::In<Self>;
}

/// Something with one form per precision, such as a backend that serves both
/// (`dyn AnyBackend`, whose forms are `dyn Backend<f32>` and `dyn Backend<f64>`):
/// [`Real::on`] picks the form of a precision chosen by a type parameter.
pub trait PerPrecision {
    /// Its form in precision `T`.
    type In<T: Real>: ?Sized;

    /// Its f32 form.
    fn f32(&self) -> &Self::In<f32>;

    /// Its f64 form.
    fn f64(&self) -> &Self::In<f64>;
}

impl Real for f32 {
    const PRECISION: Precision = Precision::F32;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }

    fn on<P: PerPrecision + ?Sized>(both: &P) -> &P::In<f32> {
        both.f32()
    }
}

impl Real for f64 {
    const PRECISION: Precision = Precision::F64;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }

    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }

    fn on<P: PerPrecision + ?Sized>(both: &P) -> &P::In<f64> {
        both.f64()
    }
}
