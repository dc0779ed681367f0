//! Where a GPU run's time went.

use std::time::Duration;

/// How the compute time was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeClock {
    /// GPU timestamp queries around the compute passes: device time only.
    Timestamps,
    /// Host time around submitting the work and waiting for it to complete: includes
    /// submission and scheduling overhead.
    Host,
}

/// A GPU run's time, split into its transfers and its computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuTimings {
    /// Host → device copies (including staging), host-timed until complete.
    pub upload: Duration,
    /// The kernels themselves.
    pub compute: Duration,
    /// Device → host copies, host-timed until the data is in host memory.
    pub download: Duration,
    /// How `compute` was measured.
    pub compute_clock: ComputeClock,
}

impl GpuTimings {
    pub(crate) fn new(compute_clock: ComputeClock) -> Self {
        GpuTimings {
            upload: Duration::ZERO,
            compute: Duration::ZERO,
            download: Duration::ZERO,
            compute_clock,
        }
    }

    /// Upload + compute + download.
    pub fn total(&self) -> Duration {
        self.upload + self.compute + self.download
    }
}
