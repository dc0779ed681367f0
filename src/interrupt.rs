//! Stopping long calls from outside them: [`interrupt_running_calls`] asks every call that
//! is running now to stop as soon as it can, and each returns [`crate::Error::Interrupted`].
//! It is how the Python package honours Ctrl-C during a Julia set or a norm, and what a
//! Rust program's own signal handler can call.
//!
//! The calls check at their natural boundaries — a row of Julia, a leaf of a norm's
//! pairwise tree, a diffusion step, a GPU submission — so stopping takes at most one of
//! those; work already submitted to a GPU finishes first, which leaves the device ready
//! for the next call. A stopped call's outputs (a diffusion grid stepped in place) are
//! unspecified.
//!
//! ```
//! use hpnum::{Backend, Error, JuliaParams, Rayon};
//!
//! let params = JuliaParams::<f64>::book(2000, 100_000)?; // minutes of work
//! let long = std::thread::spawn(move || Rayon::new().julia(&params));
//! while !long.is_finished() {
//!     hpnum::interrupt_running_calls(); // whenever the call has started, it stops
//!     std::thread::sleep(std::time::Duration::from_millis(10));
//! }
//! assert_eq!(long.join().unwrap().map(|_| ()), Err(Error::Interrupted));
//! # Ok::<(), hpnum::Error>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Bumped by every request to stop: a call stops when it differs from the value it started
/// with, so calls that start after a request are not affected by it.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Asks every hpnum call running now, on any thread, to stop and return
/// [`Error::Interrupted`]. Calls that start afterwards run normally. One atomic addition:
/// safe from any thread and from a signal handler.
pub fn interrupt_running_calls() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// What a long call holds to notice a request to stop: the generation it started in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch(u64);

impl Watch {
    /// A watch for a call starting now.
    pub(crate) fn start() -> Watch {
        Watch(GENERATION.load(Ordering::SeqCst))
    }

    /// Whether a stop was asked for since the call started (a relaxed load: cheap enough
    /// for every row or leaf).
    #[inline]
    pub(crate) fn interrupted(self) -> bool {
        GENERATION.load(Ordering::Relaxed) != self.0
    }

    /// A watch that has already seen a stop: for tests of what a kernel does then, without
    /// stopping the calls of other tests.
    #[cfg(test)]
    pub(crate) fn stopped() -> Watch {
        Watch(GENERATION.load(Ordering::SeqCst).wrapping_sub(1))
    }

    /// `Err(Interrupted)` once a stop was asked for.
    pub(crate) fn check(self) -> Result<()> {
        if self.interrupted() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}
