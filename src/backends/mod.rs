//! The backends, one module each, and lookup by name.

use std::sync::Arc;

use crate::backend::AnyBackend;
use crate::{Error, Result};

pub mod scalar;

pub use scalar::Scalar;

/// The names [`by_name`] accepts, in the order [`all`] returns them.
pub const NAMES: &[&str] = &["scalar"];

/// The backend called `name` (one of [`NAMES`]).
///
/// # Errors
/// [`Error::UnknownBackend`] for any other name.
pub fn by_name(name: &str) -> Result<Arc<dyn AnyBackend>> {
    match name {
        "scalar" => Ok(Arc::new(Scalar)),
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
