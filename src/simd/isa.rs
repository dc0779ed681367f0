//! Which SIMD instruction set a kernel runs with, detected at run time.

use std::fmt::Display;
use std::str::FromStr;

use pulp::WithSimd;

use crate::error::{Error, Result};

/// An instruction-set level of the SIMD backend. Kernels are written once, generic over
/// the level; [`Isa::detected`] lists the levels this CPU can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Isa {
    /// One lane: pulp's portable scalar level, the last resort on any CPU.
    Scalar,
    /// x86-64-v2: 128-bit SSE up to SSE4.2 (every x86-64 CPU since about 2009).
    Sse42,
    /// x86-64-v3: 256-bit AVX2 (FMA is available but the kernels do not use it).
    Avx2,
    /// x86-64-v4: 512-bit AVX-512 (F, BW, CD, DQ, VL).
    Avx512,
    /// aarch64: 128-bit NEON.
    Neon,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 5] = [Isa::Scalar, Isa::Sse42, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// The name used in capabilities and by `HPNUM_SIMD`: `scalar`, `sse4.2`, `avx2`,
    /// `avx512` or `neon`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse42 => "sse4.2",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// The levels this CPU runs, best first.
    pub fn detected() -> Vec<Isa> {
        let mut levels: Vec<Isa> = Isa::ALL
            .into_iter()
            .filter(|isa| Level::new(*isa).is_some())
            .collect();
        levels.reverse();
        levels
    }

    /// The best level this CPU runs.
    pub fn best() -> Isa {
        Isa::detected().first().copied().unwrap_or(Isa::Scalar)
    }
}

impl Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Isa::ALL.iter().map(|isa| isa.name()).collect();
                Error::invalid("isa", format!("`{s}` is not one of {}", names.join(", ")))
            })
    }
}

/// A proof that the CPU runs a level: pulp's token, which only `try_new` creates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level {
    Scalar(pulp::Scalar),
    #[cfg(target_arch = "x86_64")]
    Sse42(pulp::x86::V2),
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
    #[cfg(target_arch = "x86_64")]
    Avx512(pulp::x86::V4),
    #[cfg(target_arch = "aarch64")]
    Neon(pulp::aarch64::Neon),
}

/// Environment variable that caps the level `Simd::from_env` and `Rayon::from_env` pick (`avx2`, …), so the
/// lower paths can be run and timed on a CPU that has better.
pub const ISA_ENV: &str = "HPNUM_SIMD";

impl Level {
    /// The best level this CPU runs.
    pub(crate) fn best() -> Level {
        Level::new(Isa::best()).unwrap_or(Level::Scalar(pulp::Scalar::new()))
    }

    /// The level `isa`, for testing and timing the lower paths; `backend` names who asks,
    /// for the error.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if this CPU cannot run `isa`.
    pub(crate) fn named(isa: Isa, backend: &str) -> Result<Level> {
        Level::new(isa).ok_or_else(|| Error::Unsupported {
            backend: backend.into(),
            what: format!(
                "instruction set {isa} on this CPU (it runs: {})",
                Isa::detected()
                    .iter()
                    .map(|isa| isa.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// The level named by [`ISA_ENV`] if set, else the best.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the variable names no level; [`Error::Unsupported`] if
    /// this CPU cannot run it.
    pub(crate) fn from_env(backend: &str) -> Result<Level> {
        match std::env::var(ISA_ENV) {
            Ok(name) if !name.is_empty() => {
                let isa = name.parse().map_err(|e| match e {
                    // Named as the user wrote it: the variable, not the API's parameter.
                    Error::InvalidParameter { reason, .. } => Error::invalid(ISA_ENV, reason),
                    other => other,
                })?;
                Level::named(isa, backend)
            }
            _ => Ok(Level::best()),
        }
    }

    /// Which instruction set this is.
    pub(crate) fn isa(self) -> Isa {
        match self {
            Level::Scalar(_) => Isa::Scalar,
            #[cfg(target_arch = "x86_64")]
            Level::Sse42(_) => Isa::Sse42,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2(_) => Isa::Avx2,
            #[cfg(target_arch = "x86_64")]
            Level::Avx512(_) => Isa::Avx512,
            #[cfg(target_arch = "aarch64")]
            Level::Neon(_) => Isa::Neon,
        }
    }

    /// The level for `isa`, if this CPU runs it.
    pub(crate) fn new(isa: Isa) -> Option<Level> {
        match isa {
            Isa::Scalar => Some(Level::Scalar(pulp::Scalar::new())),
            #[cfg(target_arch = "x86_64")]
            Isa::Sse42 => pulp::x86::V2::try_new().map(Level::Sse42),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => pulp::x86::V3::try_new().map(Level::Avx2),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => pulp::x86::V4::try_new().map(Level::Avx512),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => pulp::aarch64::Neon::try_new().map(Level::Neon),
            #[allow(unreachable_patterns)] // the other architecture's levels
            _ => None,
        }
    }

    /// Runs `op` compiled for this level.
    #[inline(always)]
    pub(crate) fn dispatch<Op: WithSimd>(self, op: Op) -> Op::Output {
        match self {
            Level::Scalar(s) => pulp::Simd::vectorize(s, op),
            #[cfg(target_arch = "x86_64")]
            Level::Sse42(s) => pulp::Simd::vectorize(s, op),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2(s) => pulp::Simd::vectorize(s, op),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512(s) => pulp::Simd::vectorize(s, op),
            #[cfg(target_arch = "aarch64")]
            Level::Neon(s) => pulp::Simd::vectorize(s, op),
        }
    }
}
