//! Backends by name, opened once per process: every call on "auto" goes to the same `Auto`,
//! so that its last choice can be asked for.

use std::sync::{Arc, OnceLock};

use hpnum::{AnyBackend, Auto, Result};

/// The process's `Auto` backend (or the error that opening it gave, every time).
pub(crate) fn auto() -> Result<Arc<Auto>> {
    static AUTO: OnceLock<Result<Arc<Auto>>> = OnceLock::new();
    AUTO.get_or_init(|| Auto::new().map(Arc::new)).clone()
}

/// The backend called `name`: `scalar`, `simd`, `rayon`, `gpu` or `auto`.
pub(crate) fn backend(name: &str) -> Result<Arc<dyn AnyBackend>> {
    match name {
        "auto" => Ok(auto()?),
        other => hpnum::backends::by_name(other),
    }
}
