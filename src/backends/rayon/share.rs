//! [`Rayon::share`]: items run by the caller at once and by pool threads as they come, and
//! the lobby where pool threads wait for the next call.
//!
//! A call's items are cut into one run of consecutive items per thread. The caller starts
//! at once on the first run; each pool thread takes the next run as it arrives, and a
//! thread whose run is done goes on with the others' (claiming from the front of each,
//! through its counter). So a pool thread that wakes late (tens of microseconds after a
//! pause, on a VM) adds no tail: it finds its run taken and returns; and a thread that
//! keeps up walks its memory in one stream, which the hardware's prefetchers follow (items
//! handed out alternately read DRAM 10-20 % slower on the development VM).
//!
//! After its call a pool thread waits in the pool's [`Lobby`] for up to the backend's
//! spin time ([`Rayon::with_spin`]), so that the next call of a loop finds it awake: it
//! joins that call within a microsecond or so instead of after a wake-up.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use web_time::Instant;

use super::Rayon;

/// See [`Rayon::share`] and the module's documentation. Returns when every item has run; a
/// panic in an item is resumed here, after every claimed item has finished.
pub(super) fn share(rayon: &Rayon, count: usize, work: &(dyn Fn(usize) + Sync)) {
    let helpers = rayon
        .threads()
        .saturating_sub(1)
        .min(count.saturating_sub(1));
    // SAFETY: only the lifetime is erased. The reference is used by `Items::run` only for
    // an index it claimed below `count`, and `Finish` (below, run on return and on
    // unwinding alike) first stops all further claims, then waits until every claimed item
    // has finished: no use of `work` outlives this call, though `Items` may (a pool thread
    // that arrives late, or the lobby, holds it; it then finds nothing to claim).
    let work: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
    let lobby = &rayon.lobby;
    let items = Arc::new(Items::new(
        count,
        helpers + 1,
        work,
        lobby.next_generation(),
    ));
    if helpers > 0 {
        // Posted first, then the waiting threads counted: a thread that stops waiting in
        // between sees the post (`Lobby::wait`), so it is not lost to both sides.
        lobby.post(&items);
        for _ in lobby.waiting.load(Ordering::SeqCst).min(helpers)..helpers {
            let (items, lobby, spin) = (Arc::clone(&items), Arc::clone(lobby), rayon.spin);
            rayon.spawn(move || help(items, &lobby, spin));
        }
    }
    let finish = Finish(&items);
    items.run(0);
    drop(finish);
    if helpers > 0 {
        lobby.withdraw(&items);
    }
    lobby.call_ended();
    let panic = items
        .panic
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// A pool thread's part: the items it came for, then those of each call posted while it
/// waits in the lobby.
fn help(mut items: Arc<Items>, lobby: &Lobby, spin: Duration) {
    loop {
        items.run(items.arrivals.fetch_add(1, Ordering::AcqRel));
        match lobby.wait(items.generation, spin) {
            Some(next) => items = next,
            None => return,
        }
    }
}

/// Polls of the lobby between two offers of the core to other work (the pool's, then the
/// system's): a poll is a load and a pause (tens of nanoseconds), a system call a
/// microsecond or so on a VM, which would be the delay before a waiting thread joins.
const POLLS_PER_YIELD: u32 = 32;

/// Where a pool's threads wait for the next [`Rayon::share`] after theirs.
#[derive(Default)]
pub(super) struct Lobby {
    /// The call now running, while it runs.
    posted: Mutex<Option<Arc<Items>>>,
    /// The generation of the last call posted; a new post changes it.
    generation: AtomicU64,
    /// The last generation handed out.
    issued: AtomicU64,
    /// Pool threads waiting here now.
    waiting: AtomicUsize,
    /// When the pool's last call ended, in nanoseconds since [`epoch`].
    last_end: AtomicU64,
    /// Calls joined by a thread from here (for the tests).
    joined: AtomicUsize,
}

/// The origin of [`Lobby`]'s clock.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`] (centuries fit).
fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for Lobby {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lobby")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Lobby {
    /// The lobby of rayon's global pool.
    pub(super) fn global() -> Arc<Lobby> {
        static GLOBAL: OnceLock<Arc<Lobby>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(Arc::default))
    }

    /// Whether a pool thread waits here now.
    pub(super) fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// Notes that a call of the pool has ended, shared or not.
    pub(super) fn call_ended(&self) {
        self.last_end.store(now_nanos(), Ordering::Relaxed);
    }

    /// Whether the pool's last call ended less than `spin` ago.
    pub(super) fn ended_within(&self, spin: Duration) -> bool {
        let last = self.last_end.load(Ordering::Relaxed);
        last != 0 && Duration::from_nanos(now_nanos().saturating_sub(last)) < spin
    }

    /// A generation no earlier call has had.
    fn next_generation(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    fn post(&self, items: &Arc<Items>) {
        *self.posted.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(items));
        self.generation.store(items.generation, Ordering::SeqCst);
    }

    /// Takes a finished call down, unless a later one replaced it.
    fn withdraw(&self, items: &Arc<Items>) {
        let mut posted = self.posted.lock().unwrap_or_else(PoisonError::into_inner);
        if posted.as_ref().is_some_and(|p| Arc::ptr_eq(p, items)) {
            *posted = None;
        }
    }

    fn take(&self) -> Option<Arc<Items>> {
        self.posted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits up to `spin` for a call after generation `seen`; meanwhile runs the pool's
    /// other work and yields the core to any thread that wants it.
    fn wait(&self, mut seen: u64, spin: Duration) -> Option<Arc<Items>> {
        if spin.is_zero() {
            return None;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        let mut polls = 0u32;
        let found = loop {
            let generation = self.generation.load(Ordering::SeqCst);
            if generation != seen {
                if let Some(items) = self.take().filter(|items| items.generation != seen) {
                    break Some(items);
                }
                // That call has finished already.
                seen = generation;
            }
            polls = polls.wrapping_add(1);
            if !polls.is_multiple_of(POLLS_PER_YIELD) {
                std::hint::spin_loop();
                continue;
            }
            if ::rayon::yield_now() != Some(::rayon::Yield::Executed) {
                std::thread::yield_now();
            }
            if start.elapsed() >= spin {
                break None;
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // A call posted as this thread gave up may have counted it as waiting.
        let found = found.or_else(|| {
            (self.generation.load(Ordering::SeqCst) != seen)
                .then(|| self.take())
                .flatten()
                .filter(|items| items.generation != seen)
        });
        if found.is_some() {
            self.joined.fetch_add(1, Ordering::Relaxed);
        }
        found
    }
}

/// The items of one [`Rayon::share`], in runs of consecutive items, claimed in order by
/// whichever thread is free.
struct Items {
    runs: Vec<Run>,
    /// Tells this call from the others in the lobby.
    generation: u64,
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
    fn new(
        count: usize,
        runs: usize,
        work: &'static (dyn Fn(usize) + Sync),
        generation: u64,
    ) -> Self {
        let edge = |r: usize| r * count / runs;
        Items {
            runs: (0..runs)
                .map(|r| Run {
                    next: AtomicUsize::new(edge(r)),
                    end: edge(r + 1),
                })
                .collect(),
            generation,
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

// Pools of several threads, and panics caught: neither exists on WebAssembly.
#[cfg(all(test, not(target_family = "wasm")))]
mod tests {
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Waits up to 10 s for `condition`.
    fn eventually(condition: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while !condition() {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    }

    #[test]
    fn a_pool_thread_waits_for_the_next_call_then_joins_it() {
        let rayon = Rayon::with_threads(2)
            .unwrap()
            .with_spin(Duration::from_millis(500));
        rayon.share(4, &|_| std::thread::sleep(Duration::from_millis(1)));
        assert!(eventually(|| rayon.lobby.waiting()), "a thread waits");
        assert!(rayon.helpers_awake());
        let joined = rayon.lobby.joined.load(Ordering::Relaxed);
        let caller = std::thread::current().id();
        let elsewhere = AtomicUsize::new(0);
        rayon.share(20, &|_| {
            std::thread::sleep(Duration::from_millis(1));
            if std::thread::current().id() != caller {
                elsewhere.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(rayon.lobby.joined.load(Ordering::Relaxed), joined + 1);
        assert!(elsewhere.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_call_that_just_ended_counts_as_an_awake_pool_for_the_spin_time() {
        // A loop of calls too small to have shared yet: the next call may share (and so
        // seed the lobby) while the last ended less than the spin time ago.
        let rayon = Rayon::with_threads(2)
            .unwrap()
            .with_spin(Duration::from_millis(200));
        assert!(!rayon.helpers_awake(), "no call yet");
        rayon.alone(|| ());
        assert!(rayon.helpers_awake());
        std::thread::sleep(Duration::from_millis(250));
        assert!(!rayon.helpers_awake());
        let parking = Rayon::with_threads(2).unwrap().with_spin(Duration::ZERO);
        parking.alone(|| ());
        assert!(!parking.helpers_awake(), "spin 0 parks at once");
    }

    #[test]
    fn pool_threads_stop_waiting_after_the_spin_time() {
        for spin in [Duration::ZERO, Duration::from_millis(20)] {
            let rayon = Rayon::with_threads(2).unwrap().with_spin(spin);
            rayon.share(4, &|_| std::thread::sleep(Duration::from_millis(1)));
            if !spin.is_zero() {
                assert!(eventually(|| rayon.lobby.waiting()));
            }
            let start = Instant::now();
            assert!(eventually(|| !rayon.lobby.waiting()));
            assert!(start.elapsed() < spin + Duration::from_secs(1), "{spin:?}");
            std::thread::sleep(spin);
            assert!(!rayon.helpers_awake(), "{spin:?}");
        }
    }

    #[test]
    fn many_callers_at_once_each_get_every_item_once() {
        let rayon = Rayon::with_threads(3)
            .unwrap()
            .with_spin(Duration::from_micros(200));
        std::thread::scope(|scope| {
            for caller in 0..4 {
                let rayon = &rayon;
                scope.spawn(move || {
                    for call in 0..300 {
                        let count = (caller * 7 + call) % 50;
                        let runs: Vec<AtomicU32> = (0..count).map(|_| AtomicU32::new(0)).collect();
                        rayon.share(count, &|i| {
                            runs[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
    }

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
