//! The rayon backend: the SIMD kernels on all cores. How each kernel splits its work over
//! the threads is the kernel's business (`src/kernels/<kernel>/rayon.rs`); this is the
//! pool they run on: rayon's global pool (which honours `RAYON_NUM_THREADS`) or one the
//! caller provides.

mod share;

use std::sync::Arc;
use std::time::Duration;

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::backend::{Capabilities, Describe};
use crate::error::{Error, Result};
use crate::simd::isa::{Isa, Level};

use share::Lobby;

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
    /// Where the pool's threads wait for the next [`Rayon::share`] (one per pool).
    lobby: Arc<Lobby>,
    /// How long they wait there after one, before parking.
    spin: Duration,
}

/// Environment variable: how many microseconds the rayon backend's pool threads wait for
/// the next norm after one (read by [`Rayon::from_env`]; see [`Rayon::with_spin`]).
pub const SPIN_ENV: &str = "HPNUM_SPIN_US";

/// How long pool threads wait for the next norm by default: longer than the gap between
/// two calls in a loop (a Python call's own cost is 0.3 µs), short enough that a core is
/// not held long after the last one. OpenBLAS's threads spin far longer (2²⁸ cycles).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

impl Rayon {
    /// On rayon's global pool, with the best SIMD level.
    pub fn new() -> Self {
        Rayon::on(None, Level::best())
    }

    /// On rayon's global pool, with SIMD level `isa` on every thread.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if this CPU cannot run `isa`.
    pub fn with_isa(isa: Isa) -> Result<Self> {
        Ok(Rayon::on(None, Level::named(isa, "rayon")?))
    }

    /// On rayon's global pool, with the SIMD level named by `HPNUM_SIMD` if set
    /// ([`crate::backends::simd::ISA_ENV`]), else the best, and pool threads that wait
    /// for the next norm as long as [`SPIN_ENV`] says, in microseconds, if set.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a variable names no level or no whole number of
    /// microseconds; [`Error::Unsupported`] if this CPU cannot run the level.
    pub fn from_env() -> Result<Self> {
        let rayon = Rayon::on(None, Level::from_env("rayon")?);
        match std::env::var(SPIN_ENV) {
            Ok(text) if !text.is_empty() => Ok(rayon.with_spin(parse_spin(&text)?)),
            _ => Ok(rayon),
        }
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
        Rayon::on(Some(pool), Level::best())
    }

    /// With pool threads that wait up to `spin` for the next norm after one, polling
    /// (yielding the core to any other thread that wants it, and running the pool's other
    /// work meanwhile), before they park: a loop of calls then finds them awake instead of
    /// waking them (tens of microseconds on a VM, as long as a norm of 10⁵ elements). The
    /// price is a core kept busy up to `spin` after each call, as with OpenMP's
    /// `OMP_WAIT_POLICY`. `Duration::ZERO` parks them at once. Default [`DEFAULT_SPIN`].
    pub fn with_spin(self, spin: Duration) -> Self {
        Rayon { spin, ..self }
    }

    fn on(pool: Option<Arc<ThreadPool>>, level: Level) -> Self {
        let lobby = match &pool {
            Some(_) => Arc::new(Lobby::default()),
            None => Lobby::global(),
        };
        Rayon {
            level,
            pool,
            lobby,
            spin: DEFAULT_SPIN,
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

    /// Runs `work(i)` for every `i` in `0..count`, each once, on the calling thread and on
    /// as many of the pool's threads as come: see [`share`] (how the items are handed out)
    /// and [`Rayon::with_spin`] (how long pool threads wait for the next call).
    pub(crate) fn share(&self, count: usize, work: &(dyn Fn(usize) + Sync)) {
        share::share(self, count, work)
    }

    /// Whether the pool's threads are awake for the next [`Rayon::share`]: one waits for it
    /// now, or the pool's last call ended less than the spin time ago (a loop of calls, in
    /// which the first share's wake-up pays for the rest, the threads then waiting between
    /// calls). A share then reaches a pool thread within a microsecond or so instead of
    /// after a wake-up.
    pub(crate) fn helpers_awake(&self) -> bool {
        self.lobby.waiting() || self.lobby.ended_within(self.spin)
    }

    /// Runs `op` on the calling thread alone, as a call of this pool: its end counts for
    /// [`Rayon::helpers_awake`].
    pub(crate) fn alone<R>(&self, op: impl FnOnce() -> R) -> R {
        let result = op();
        self.lobby.call_ended();
        result
    }

    /// Queues `job` on its pool.
    fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        match &self.pool {
            Some(pool) => pool.spawn(job),
            None => ::rayon::spawn(job),
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

/// A spin time in whole microseconds, as [`SPIN_ENV`] gives it.
fn parse_spin(text: &str) -> Result<Duration> {
    text.trim()
        .parse::<u64>()
        .map(Duration::from_micros)
        .map_err(|_| {
            Error::invalid(
                SPIN_ENV,
                format!("`{text}` is not a whole number of microseconds"),
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spin_time_is_whole_microseconds() {
        assert_eq!(parse_spin("250"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_spin(" 0 "), Ok(Duration::ZERO));
        for bad in ["-1", "1.5", "fast", "1e3", "99999999999999999999999"] {
            assert!(
                matches!(parse_spin(bad), Err(Error::InvalidParameter { .. })),
                "{bad}"
            );
        }
    }
}
