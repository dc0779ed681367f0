//! The SIMD backend: explicit vector code on one core, the instruction set chosen at run
//! time. The kernels' vector code lives in their folders (`src/kernels/<kernel>/simd.rs`),
//! written against the instruction-set layer (`src/simd/`).

use crate::backend::{Capabilities, Describe};
use crate::error::Result;
use crate::simd::isa::Level;
pub use crate::simd::isa::{ISA_ENV, Isa};

/// Explicit SIMD on one core.
///
/// ```
/// use hpnum::backends::simd::Isa;
/// use hpnum::{Backend, JuliaParams, Scalar, Simd};
///
/// let params = JuliaParams::<f32>::book(64, 50)?;
/// for isa in Isa::detected() {
///     // Every level this CPU runs gives the scalar reference's bits.
///     assert_eq!(Simd::with_isa(isa)?.julia(&params)?, Scalar.julia(&params)?);
/// }
/// # Ok::<(), hpnum::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Simd {
    level: Level,
}

impl Simd {
    /// The best level this CPU runs.
    pub fn new() -> Self {
        Simd {
            level: Level::best(),
        }
    }

    /// A specific level, for testing and timing the lower paths.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] if this CPU cannot run `isa`.
    pub fn with_isa(isa: Isa) -> Result<Self> {
        Ok(Simd {
            level: Level::named(isa, "simd")?,
        })
    }

    /// The level named by the `HPNUM_SIMD` environment variable ([`ISA_ENV`]) if set, else
    /// the best.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] if the variable names no level;
    /// [`crate::Error::Unsupported`] if this CPU cannot run it.
    pub fn from_env() -> Result<Self> {
        Ok(Simd {
            level: Level::from_env("simd")?,
        })
    }

    /// The level in use.
    pub fn isa(&self) -> Isa {
        self.level.isa()
    }

    pub(crate) fn level(&self) -> Level {
        self.level
    }
}

impl Default for Simd {
    fn default() -> Self {
        Simd::new()
    }
}

impl Describe for Simd {
    fn name(&self) -> &str {
        "simd"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::cpu(self.isa().name(), 1)
    }
}
