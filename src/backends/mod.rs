//! The backends, one module each, and lookup by name.

use std::sync::Arc;

use crate::backend::AnyBackend;
use crate::{Error, Result};

mod contiguous;
pub mod rayon;
pub mod scalar;
pub mod simd;

pub use self::rayon::Rayon;
pub use scalar::Scalar;
pub use simd::Simd;

/// The names [`by_name`] accepts, in the order [`all`] returns them.
pub const NAMES: &[&str] = &["scalar", "simd", "rayon"];

/// The backend called `name` (one of [`NAMES`]). `simd` and `rayon` use the SIMD level
/// named by `HPNUM_SIMD` if set ([`Simd::from_env`]), else the best this CPU runs.
///
/// # Errors
/// [`Error::UnknownBackend`] for any other name; the errors of [`Simd::from_env`].
pub fn by_name(name: &str) -> Result<Arc<dyn AnyBackend>> {
    match name {
        "scalar" => Ok(Arc::new(Scalar)),
        "simd" => Ok(Arc::new(Simd::from_env()?)),
        "rayon" => Ok(Arc::new(Rayon::with_simd(Simd::from_env()?))),
        _ => Err(Error::UnknownBackend {
            name: name.to_owned(),
            available: NAMES.join(", "),
        }),
    }
}

/// Every backend this build has, in the order of [`NAMES`].
pub fn all() -> Vec<Arc<dyn AnyBackend>> {
    NAMES.iter().filter_map(|name| by_name(name).ok()).collect()
}
