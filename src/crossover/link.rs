//! What the sweep and `Auto`'s calibration know of the GPU's link to the host.

/// The GPU's link, measured by `Gpu::bus_rates`: bytes per second across the bus (the
/// slower direction) and the fixed seconds of a one-shot call's waits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Bytes per second, the slower of upload and download.
    pub transfer_rate: f64,
    /// Seconds a one-shot call waits at the least (three round trips).
    pub overhead: f64,
}
