//! wgpu's failures as hpnum's [`Error`]s, without error scopes on the hot path.
//!
//! wgpu reports a failed operation (validation, out of memory) to the device's error
//! handler, synchronously, on the thread that called the operation. The handler installed
//! here records the first such error in a thread-local slot, and [`capture`] runs an
//! operation between clearing and reading that slot: the error belongs to exactly the call
//! that caused it, even with many threads sharing a device, and a call costs no error-scope
//! push and pop (each a lock and an allocation in wgpu).

use std::cell::RefCell;
use std::sync::Arc;

use crate::error::Error;

/// A failure wgpu reported during a captured operation.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The device (or the host, for mapped memory) could not allocate.
    OutOfMemory(String),
    /// Anything else: a validation error or an internal one.
    Other(String),
}

impl Failure {
    /// As hpnum's error: out-of-memory with the allocation's purpose and size.
    pub(crate) fn into_error(self, what: &'static str, bytes: u64) -> Error {
        match self {
            Failure::OutOfMemory(reason) => Error::OutOfMemory {
                what,
                bytes: u128::from(bytes),
                reason,
            },
            Failure::Other(details) => device_error(details),
        }
    }
}

thread_local! {
    static FIRST_FAILURE: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// The handler to install on every device: records, never panics.
pub(crate) fn recording_handler() -> Arc<dyn wgpu::UncapturedErrorHandler> {
    Arc::new(|error: wgpu::Error| {
        let failure = match &error {
            wgpu::Error::OutOfMemory { .. } => Failure::OutOfMemory(error.to_string()),
            _ => Failure::Other(error.to_string()),
        };
        FIRST_FAILURE.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(failure);
            }
        });
    })
}

/// Runs `op` and returns what wgpu reported during it on this thread, if anything.
///
/// In a browser WebGPU reports a failure later, from the event loop, not during the
/// operation: there the slot is not cleared first, so that a failure that arrived since the
/// last look is returned by the next captured operation or wait ([`take_reported`]) of the
/// page's one thread, the call in progress, instead of being lost.
pub(crate) fn capture<R>(op: impl FnOnce() -> R) -> Result<R, Failure> {
    if !cfg!(target_arch = "wasm32") {
        FIRST_FAILURE.with(|slot| slot.borrow_mut().take());
    }
    let result = op();
    match take_reported() {
        Some(failure) => Err(failure),
        None => Ok(result),
    }
}

/// The failure reported on this thread since the last look, if any.
pub(crate) fn take_reported() -> Option<Failure> {
    FIRST_FAILURE.with(|slot| slot.borrow_mut().take())
}

/// A device error with wgpu's or the driver's message.
pub(crate) fn device_error(details: impl std::fmt::Display) -> Error {
    Error::Device {
        details: details.to_string(),
    }
}
