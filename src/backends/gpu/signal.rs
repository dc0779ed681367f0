//! Waiting for the device in a way that also works where nothing may block.
//!
//! wgpu reports completed work and finished buffer mappings through callbacks. A native
//! program makes them run by blocking in `device.poll`; a browser runs them from its event
//! loop, which only turns once the program has returned to it, so there a wait must be a
//! future that yields. Every wait of the GPU plumbing is written once as an `async fn` over
//! a [`Signal`]; on native targets the wait inside it blocks and the future is ready when
//! first polled, and the blocking API drives it with [`block_on`].

use std::future::{Future, poll_fn};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use crate::error::{Error, Result};

/// Whether waits must yield to the caller's event loop (a browser) instead of blocking.
pub(crate) const WAITS_YIELD: bool = cfg!(target_arch = "wasm32");

/// A value set once by a wgpu callback, read or awaited by the thread that waits for it.
#[derive(Clone, Default)]
pub(crate) struct Signal(Arc<Mutex<SignalState>>);

#[derive(Default)]
struct SignalState {
    value: Option<u8>,
    wakers: Vec<Waker>,
}

impl Signal {
    /// Sets the value (the first set wins) and wakes every task awaiting it.
    pub(crate) fn set(&self, value: u8) {
        let wakers = {
            let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            state.value.get_or_insert(value);
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The value, if set.
    pub(crate) fn get(&self) -> Option<u8> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).value
    }

    /// Completes with the value once it is set.
    pub(crate) fn wait(&self) -> impl Future<Output = u8> + '_ {
        poll_fn(|cx| {
            let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match state.value {
                Some(value) => Poll::Ready(value),
                None => {
                    if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                        state.wakers.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
    }
}

/// Runs a GPU call's future to completion on this thread: what each blocking method does
/// with its `async` twin, so that there is one implementation of both.
///
/// # Errors
/// What the future returns; in a browser, where a wait cannot block, a future that does
/// not complete at once is [`Error::Unsupported`] (the `async` method is the one to call).
pub(crate) fn block_on<R>(future: impl Future<Output = Result<R>>) -> Result<R> {
    if !WAITS_YIELD {
        return pollster::block_on(future);
    }
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::Unsupported {
            backend: "gpu".into(),
            what: "a blocking GPU call in a browser, where the GPU's answers arrive through \
                   the event loop (call the method's `async` twin)"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_wakes_its_waiter_and_keeps_the_first_value() {
        let signal = Signal::default();
        let waiting = std::thread::spawn({
            let signal = signal.clone();
            move || pollster::block_on(async move { signal.wait().await })
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        signal.set(2);
        signal.set(1);
        assert_eq!(waiting.join().ok(), Some(2));
        assert_eq!(signal.get(), Some(2));
    }

    #[test]
    fn block_on_gives_the_futures_result() {
        assert_eq!(block_on(async { Ok(7) }).ok(), Some(7));
    }
}
