//! The rayon backend: the SIMD kernels on all cores. How each kernel splits its work over
//! the threads is the kernel's business (`src/kernels/<kernel>/rayon.rs`); this is the
//! pool they run on: rayon's global pool (which honours `RAYON_NUM_THREADS`) or one the
//! caller provides.

use std::sync::Arc;

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::backend::{Capabilities, Describe};
use crate::error::{Error, Result};
use crate::simd::isa::{Isa, Level};

/// SIMD kernels spread over a rayon thread pool.
///
/// ```
/// use hpnum::{Backend, NormKind, Rayon, Scalar};
/// use ndarray::Array1;
///
/// let rayon = Rayon::with_threads(3)?;
/// let v = Array1::from_iter((0..100_000).map(|i| (i % 7) as f64 - 3.0));
/// // The pairwise tree's shape does not depend on the threads: the same bits as one core.
/// assert_eq!(rayon.norm(v.view(), NormKind::L1)?, hpnum::Simd::new().norm(v.view(), NormKind::L1)?);
/// assert_eq!(rayon.norm(v.view(), NormKind::L1)?, Scalar.norm(v.view(), NormKind::L1)?);
/// # Ok::<(), hpnum::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rayon {
    /// The SIMD level every thread runs.
    level: Level,
    pool: Option<Arc<ThreadPool>>,
}

impl Rayon {
    /// On rayon's global pool, with the best SIMD level.
    pub fn new() -> Self {
        Rayon {
            level: Level::best(),
            pool: None,
        }
    }

    /// On rayon's global pool, with SIMD level `isa` on every thread.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if this CPU cannot run `isa`.
    pub fn with_isa(isa: Isa) -> Result<Self> {
        Ok(Rayon {
            level: Level::named(isa, "rayon")?,
            pool: None,
        })
    }

    /// On rayon's global pool, with the SIMD level named by `HPNUM_SIMD` if set
    /// ([`crate::backends::simd::ISA_ENV`]), else the best.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the variable names no level; [`Error::Unsupported`] if
    /// this CPU cannot run it.
    pub fn from_env() -> Result<Self> {
        Ok(Rayon {
            level: Level::from_env("rayon")?,
            pool: None,
        })
    }

    /// On a pool of its own with `threads` threads.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `threads` is 0 or the pool cannot be created.
    pub fn with_threads(threads: usize) -> Result<Self> {
        if threads == 0 {
            return Err(Error::invalid("threads", "must be at least 1"));
        }
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::invalid("threads", e.to_string()))?;
        Ok(Rayon::with_pool(Arc::new(pool)))
    }

    /// On the caller's pool.
    pub fn with_pool(pool: Arc<ThreadPool>) -> Self {
        Rayon {
            level: Level::best(),
            pool: Some(pool),
        }
    }

    /// The SIMD level it uses.
    pub fn isa(&self) -> Isa {
        self.level.isa()
    }

    /// The SIMD level, for the kernels' code.
    pub(crate) fn level(&self) -> Level {
        self.level
    }

    /// The threads its work is spread over.
    pub(crate) fn threads(&self) -> usize {
        match &self.pool {
            Some(pool) => pool.current_num_threads(),
            None => ::rayon::current_num_threads(),
        }
    }

    /// Runs `op` on its pool: rayon's parallel iterators inside `op` use that pool's
    /// threads.
    pub(crate) fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(op),
            None => op(),
        }
    }
}

impl Default for Rayon {
    fn default() -> Self {
        Rayon::new()
    }
}

impl Describe for Rayon {
    fn name(&self) -> &str {
        "rayon"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::cpu(self.isa().name(), self.threads())
    }
}
