//! The backends: what each one *is* (its device, threads, instruction set; the GPU's
//! plumbing; `Auto`'s model), knowing no kernel, and lookup by name. What a backend
//! computes for a kernel lives in the kernel's folder ([`crate::kernels`]); the
//! `Backend` trait's implementations in `src/backend.rs` connect the two.

use std::sync::Arc;

use crate::backend::AnyBackend;
use crate::{Error, Result};

pub mod auto;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod gpu;
pub mod rayon;
pub mod scalar;
pub mod simd;

pub use self::auto::Auto;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use self::gpu::Gpu;
pub use self::rayon::Rayon;
pub use scalar::Scalar;
pub use simd::Simd;

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
        "rayon" => Ok(Arc::new(Rayon::with_simd(Simd::from_env()?))),
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
