//! The rayon backend: the SIMD kernels on all cores. How each kernel splits its work over
//! the threads is the kernel's business (`src/kernels/<kernel>/rayon.rs`); this is the
//! pool they run on: rayon's global pool (which honours `RAYON_NUM_THREADS`) or one the
//! caller provides.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

    /// Runs `work(i)` for every `i` in `0..count`, each once, on the calling thread and on
    /// as many of the pool's threads as come. The items are cut into one run of consecutive
    /// items per thread; the caller starts at once on the first run, each pool thread takes
    /// the next run as it wakes, and a thread whose run is done goes on with the others'
    /// (claiming from the front of each, through its counter). So a worker that wakes late
    /// (tens of microseconds after a pause, on a VM) adds no tail: it finds its run taken
    /// and returns; and a thread that keeps up walks its memory in one stream, which the
    /// hardware's prefetchers follow (items handed out alternately read DRAM 10-20 % slower
    /// here). Returns when every item has run; a panic in an item is resumed here, after
    /// every claimed item has finished.
    pub(crate) fn share(&self, count: usize, work: &(dyn Fn(usize) + Sync)) {
        let helpers = self
            .threads()
            .saturating_sub(1)
            .min(count.saturating_sub(1));
        // SAFETY: only the lifetime is erased. The reference is used by `Items::run` only
        // for an index it claimed below `count`, and `Finish` (below, run on return and on
        // unwinding alike) first stops all further claims, then waits until every claimed
        // item has finished: no use of `work` outlives this call.
        let work: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let items = Arc::new(Items::new(count, helpers + 1, work));
        for _ in 0..helpers {
            let items = Arc::clone(&items);
            let help = move || items.run(items.arrivals.fetch_add(1, Ordering::AcqRel));
            match &self.pool {
                Some(pool) => pool.spawn(help),
                None => ::rayon::spawn(help),
            }
        }
        let finish = Finish(&items);
        items.run(0);
        drop(finish);
        let panic = items
            .panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(payload) = panic {
            resume_unwind(payload);
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

/// The items of one [`Rayon::share`], in runs of consecutive items, claimed in order by
/// whichever thread is free.
struct Items {
    runs: Vec<Run>,
    /// Threads that have started (the caller first): the next to arrive takes this run.
    arrivals: AtomicUsize,
    /// Claimed items that have finished.
    finished: AtomicUsize,
    /// The caller's work, its lifetime erased (see `Rayon::share`).
    work: &'static (dyn Fn(usize) + Sync),
    /// The first panic of an item run on a pool thread, for the caller to resume.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// Consecutive items `next..end`; on its own cache line, so that two threads claiming from
/// two runs do not slow each other.
#[repr(align(128))]
struct Run {
    /// The next item to claim; at or past `end`, none is left.
    next: AtomicUsize,
    end: usize,
}

impl Items {
    /// `count` items in `runs` runs of (nearly) equal length.
    fn new(count: usize, runs: usize, work: &'static (dyn Fn(usize) + Sync)) -> Self {
        let edge = |r: usize| r * count / runs;
        Items {
            runs: (0..runs)
                .map(|r| Run {
                    next: AtomicUsize::new(edge(r)),
                    end: edge(r + 1),
                })
                .collect(),
            arrivals: AtomicUsize::new(1),
            finished: AtomicUsize::new(0),
            work,
            panic: Mutex::new(None),
        }
    }

    /// Claims and runs items until none is left: run `first`'s, then each other run's.
    fn run(&self, first: usize) {
        let runs = self.runs.len();
        for r in (first..first + runs).map(|r| r % runs) {
            let run = &self.runs[r];
            loop {
                let i = run.next.fetch_add(1, Ordering::AcqRel);
                if i >= run.end {
                    break;
                }
                // A pool thread must not unwind (rayon would abort the process): the panic
                // is kept for the caller, and the item counts as finished either way.
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.work)(i))) {
                    let mut panic = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
                    panic.get_or_insert(payload);
                }
                self.finished.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Ends a [`Rayon::share`]: no item can be claimed any more, and every claimed one has
/// finished (on return and on unwinding alike).
struct Finish<'a>(&'a Items);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let items = self.0;
        // Adding the item count puts each run's counter past its end for every later claim;
        // what it held says how many of the run's claims succeeded.
        let count = items.runs.last().map_or(0, |run| run.end);
        let claimed: usize = items
            .runs
            .iter()
            .zip(std::iter::once(0).chain(items.runs.iter().map(|run| run.end)))
            .map(|(run, start)| {
                run.next
                    .fetch_add(count, Ordering::AcqRel)
                    .min(run.end)
                    .saturating_sub(start)
            })
            .sum();
        let mut spins = 0u32;
        while items.finished.load(Ordering::Acquire) < claimed {
            // The items still running are being worked on right now: a short wait.
            spins += 1;
            if spins < 1 << 10 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
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

// Pools of several threads, and panics caught: neither exists on WebAssembly.
#[cfg(all(test, not(target_family = "wasm")))]
mod tests {
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn share_runs_every_item_once_whatever_the_threads() {
        for threads in [1, 2, 3, 8] {
            let rayon = Rayon::with_threads(threads).unwrap();
            for count in [0, 1, 2, 7, 100, 1000] {
                let runs: Vec<AtomicU32> = (0..count).map(|_| AtomicU32::new(0)).collect();
                rayon.share(count, &|i| {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
                    "{threads} {count}"
                );
            }
        }
    }

    #[test]
    fn the_caller_takes_every_run_when_no_pool_thread_comes() {
        // Both pool threads are held until `share` has returned: the caller must run the
        // runs cut for them too, each item once, and alone.
        let rayon = Rayon::with_threads(2).unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        for _ in 0..2 {
            let held = Arc::clone(&held);
            rayon.install(|| {
                ::rayon::spawn(move || {
                    let held = held.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = held.recv_timeout(Duration::from_secs(10));
                })
            });
        }
        let caller = std::thread::current().id();
        let runs: Vec<AtomicU32> = (0..40).map(|_| AtomicU32::new(0)).collect();
        let elsewhere = AtomicUsize::new(0);
        rayon.share(runs.len(), &|i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
            if std::thread::current().id() != caller {
                elsewhere.fetch_add(1, Ordering::Relaxed);
            }
        });
        drop(release);
        assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
        assert_eq!(elsewhere.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn share_returns_only_after_every_claimed_item_finished() {
        // Slow items on several threads write into the caller's stack: if `share`
        // returned early, a late write would land after the check (or in a dead frame).
        let rayon = Rayon::with_threads(4).unwrap();
        for _ in 0..20 {
            let finished: Vec<AtomicU32> = (0..8).map(|_| AtomicU32::new(0)).collect();
            rayon.share(8, &|i| {
                std::thread::sleep(Duration::from_micros(200 * (i as u64 % 3)));
                finished[i].store(1, Ordering::Release);
            });
            assert!(finished.iter().all(|f| f.load(Ordering::Acquire) == 1));
        }
    }

    #[test]
    fn a_panic_in_an_item_reaches_the_caller_after_the_others_finished() {
        let rayon = Rayon::with_threads(3).unwrap();
        let finished = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            rayon.share(50, &|i| {
                std::thread::sleep(Duration::from_micros(100));
                if i == 10 {
                    panic!("item 10");
                }
                finished.fetch_add(1, Ordering::AcqRel);
            })
        }));
        assert!(result.is_err(), "the panic is the caller's");
        assert_eq!(
            finished.load(Ordering::Acquire),
            49,
            "every other item ran to its end"
        );
        // The pool is still usable.
        let ran = AtomicUsize::new(0);
        rayon.share(5, &|_| {
            ran.fetch_add(1, Ordering::AcqRel);
        });
        assert_eq!(ran.load(Ordering::Acquire), 5);
    }
}
