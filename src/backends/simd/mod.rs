//! The SIMD backend: explicit vector code on one core, the instruction set chosen at run
//! time. The kernels' vector code lives in their folders (`src/kernels/<kernel>/simd.rs`);
//! this is the layer they are written against: the element trait over both precisions
//! (`element.rs`) and the instruction-set levels and their dispatch (`isa.rs`).
//!
//! Kernels are written once, generic over [pulp]'s `Simd` trait, and pulp compiles each for
//! every level it supports and dispatches to the best one the CPU has: AVX-512, AVX2 or
//! SSE4.2 on x86-64, NEON on aarch64, a one-lane fallback elsewhere. One binary therefore runs
//! its best path on every machine, without `-C target-cpu=native`, and hpnum contains no
//! per-ISA intrinsics and no `unsafe`. pulp is faer's SIMD layer, maintained with it; hand
//! written `std::arch` code would mean three copies of every kernel per precision.
//!
//! Julia and diffusion perform the reference's operations in the reference's order, lane by
//! lane and without FMA, so they equal the scalar backend bit for bit. Norms use a pairwise
//! tree with the same error bound as the reference, not the same bits.
//!
//! [pulp]: https://docs.rs/pulp

pub(crate) mod element;
pub(crate) mod isa;

pub use self::isa::Isa;
use self::isa::Level;
use crate::backend::{Capabilities, Describe};
use crate::error::{Error, Result};

/// Environment variable that caps the level [`Simd::from_env`] picks (`avx2`, …), so the
/// lower paths can be run and timed on a CPU that has better.
pub const ISA_ENV: &str = "HPNUM_SIMD";

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
    isa: Isa,
    level: Level,
}

impl Simd {
    /// The best level this CPU runs.
    pub fn new() -> Self {
        let isa = Isa::best();
        match Level::new(isa) {
            Some(level) => Simd { isa, level },
            None => Simd::scalar(),
        }
    }

    fn scalar() -> Self {
        Simd {
            isa: Isa::Scalar,
            level: Level::Scalar(pulp::Scalar::new()),
        }
    }

    /// A specific level, for testing and timing the lower paths.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if this CPU cannot run `isa`.
    pub fn with_isa(isa: Isa) -> Result<Self> {
        Level::new(isa)
            .map(|level| Simd { isa, level })
            .ok_or_else(|| Error::Unsupported {
                backend: "simd".into(),
                what: format!(
                    "instruction set {isa} on this CPU (it runs: {})",
                    names(&Isa::detected())
                ),
            })
    }

    /// The level named by the `HPNUM_SIMD` environment variable if set, else the best.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the variable names no level; [`Error::Unsupported`] if
    /// this CPU cannot run it.
    pub fn from_env() -> Result<Self> {
        match std::env::var(ISA_ENV) {
            Ok(name) if !name.is_empty() => Simd::with_isa(name.parse()?),
            _ => Ok(Simd::new()),
        }
    }

    /// The level in use.
    pub fn isa(&self) -> Isa {
        self.isa
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

fn names(isas: &[Isa]) -> String {
    isas.iter()
        .map(|isa| isa.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Describe for Simd {
    fn name(&self) -> &str {
        "simd"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::cpu(self.isa.name(), 1)
    }
}
