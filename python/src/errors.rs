//! hpnum's errors as the exceptions Python users expect: bad values are `ValueError`, an
//! unsupported precision or a missing adapter `hpnum.UnsupportedError`, a device failure
//! `hpnum.DeviceError` (both `RuntimeError`s), memory that cannot be had `MemoryError`.

use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::{PyErr, create_exception};

create_exception!(
    hpnum,
    UnsupportedError,
    PyRuntimeError,
    "The backend cannot do this here: f64 on an adapter without it, no GPU adapter at all."
);
create_exception!(
    hpnum,
    DeviceError,
    PyRuntimeError,
    "The GPU device failed (lost, out of device memory, a driver error)."
);

/// The Python exception for an hpnum error, its message hpnum's own.
pub(crate) fn to_py(error: hpnum::Error) -> PyErr {
    let message = error.to_string();
    match error {
        hpnum::Error::InvalidParameter { .. }
        | hpnum::Error::ShapeMismatch { .. }
        | hpnum::Error::Unstable { .. }
        | hpnum::Error::UnknownBackend { .. } => PyValueError::new_err(message),
        hpnum::Error::Unsupported { .. } | hpnum::Error::NoAdapter { .. } => {
            UnsupportedError::new_err(message)
        }
        hpnum::Error::OutOfMemory { .. } => PyMemoryError::new_err(message),
        // Stopped by Ctrl-C (in this call or, Ctrl-C being the process's, in another).
        hpnum::Error::Interrupted => PyKeyboardInterrupt::new_err(message),
        // `Device`, and any kind a later hpnum adds.
        _ => DeviceError::new_err(message),
    }
}

/// Runs `work` without the GIL. A `long` call runs on a thread of its own while this one
/// checks for Ctrl-C every [`CHECK_EVERY`]; on Ctrl-C it asks the library to stop the call
/// ([`hpnum::interrupt_running_calls`], honoured at the kernel's next row, leaf or step),
/// waits for it to return, and raises `KeyboardInterrupt`. Short calls run here directly:
/// a thread costs tens of microseconds, which they would notice.
pub(crate) fn interruptible<R: Send>(
    py: pyo3::Python<'_>,
    long: bool,
    work: impl FnOnce() -> hpnum::Result<R> + Send,
) -> pyo3::PyResult<R> {
    if !long {
        return py.detach(work).py_err();
    }
    watched(py, |_| work()).and_then(IntoPy::py_err)
}

/// Runs `work` on a thread of its own, without the GIL, while this thread checks for
/// Ctrl-C every [`CHECK_EVERY`]. On Ctrl-C it raises `stop` (for work made of many calls,
/// which must look at it between them), asks the library to stop the running call, waits
/// for `work` to return and raises `KeyboardInterrupt`; otherwise it returns what `work`
/// returned. `work` may take the GIL (to call back into Python): this thread holds it only
/// while it looks for a signal.
pub(crate) fn watched<R: Send>(
    py: pyo3::Python<'_>,
    work: impl FnOnce(&AtomicBool) -> R + Send,
) -> pyo3::PyResult<R> {
    let stop = &AtomicBool::new(false);
    let done = &AtomicBool::new(false);
    let waiting = &std::thread::current();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let result = work(stop);
            done.store(true, Ordering::Release);
            waiting.unpark();
            result
        });
        loop {
            // Woken when the work is done, or after CHECK_EVERY to look for Ctrl-C.
            py.detach(|| std::thread::park_timeout(CHECK_EVERY));
            if done.load(Ordering::Acquire) {
                break;
            }
            if let Err(interrupt) = py.check_signals() {
                stop.store(true, Ordering::Release);
                hpnum::interrupt_running_calls();
                // It stops within a row, a leaf or a step, and must return before the
                // arrays it reads go back to Python.
                py.detach(|| worker.join()).ok();
                return Err(interrupt);
            }
        }
        py.detach(|| worker.join())
            .map_err(|_| PyRuntimeError::new_err("an hpnum call panicked"))
    })
}

/// How often a long call's caller checks for Ctrl-C.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// `Result` with hpnum's error turned into Python's.
pub(crate) trait IntoPy<T> {
    fn py_err(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for hpnum::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
