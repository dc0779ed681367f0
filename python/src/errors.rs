//! hpnum's errors as the exceptions Python users expect: bad values are `ValueError`, an
//! unsupported precision or a missing adapter `hpnum.UnsupportedError`, a device failure
//! `hpnum.DeviceError` (both `RuntimeError`s), memory that cannot be had `MemoryError`.

use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
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
        // `Device`, and any kind a later hpnum adds.
        _ => DeviceError::new_err(message),
    }
}

/// `Result` with hpnum's error turned into Python's.
pub(crate) trait IntoPy<T> {
    fn py_err(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for hpnum::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
