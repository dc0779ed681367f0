//! Where a GPU run's time went, and the device's own clock: timestamp queries around
//! compute passes, resolved in the same submission as the work they time.

use std::time::Duration;

use web_time::Instant;

use crate::backends::gpu::errors::device_error;
use crate::error::Result;

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
    /// All zero, compute to be measured by `compute_clock`.
    pub fn new(compute_clock: ComputeClock) -> Self {
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

/// Where the time of one direction's transfers went, summed over the transfers since the
/// last [`super::Gpu::reset_transfer_phases`]: what tells a slow transfer's cause (a host
/// copy far below `memcpy` means the CPU reads or writes uncached memory; a long device
/// wait, a slow bus or too few chunks in flight; a long map wait, the driver's callback
/// latency).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Bytes moved.
    pub bytes: u64,
    /// Pieces they moved in: staging chunks, or mapped data buffers.
    pub chunks: u64,
    /// Host copies between the caller's memory and mapped memory (gathering or scattering
    /// strided rows included).
    pub host_copy: Duration,
    /// Recording and submitting the device's copies and asking for the mappings.
    pub submit: Duration,
    /// Waiting for the device's copies (or, on the mapped path, for the device to be idle).
    pub device_wait: Duration,
    /// Waiting, once the device was done, for a mapping to be reported.
    pub map_wait: Duration,
    /// The transfers end to end: less than the phases' sum where chunks overlap.
    pub total: Duration,
}

impl PhaseTimes {
    /// Bytes per second end to end (0 when nothing moved).
    pub fn bytes_per_s(&self) -> f64 {
        rate(self.bytes, self.total)
    }

    /// Bytes per second of the host copies alone: against the host's `memcpy`, what says
    /// whether the mapped memory is cached.
    pub fn host_copy_bytes_per_s(&self) -> f64 {
        rate(self.bytes, self.host_copy)
    }

    pub(crate) fn add(&mut self, other: &PhaseTimes) {
        self.bytes += other.bytes;
        self.chunks += other.chunks;
        self.host_copy += other.host_copy;
        self.submit += other.submit;
        self.device_wait += other.device_wait;
        self.map_wait += other.map_wait;
        self.total += other.total;
    }
}

fn rate(bytes: u64, time: Duration) -> f64 {
    if time.is_zero() {
        0.0
    } else {
        bytes as f64 / time.as_secs_f64()
    }
}

/// Both directions' [`PhaseTimes`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TransferPhases {
    /// Host → device.
    pub upload: PhaseTimes,
    /// Device → host.
    pub download: PhaseTimes,
}

/// Times the phases of one transfer: each `time` call adds its closure's duration to a
/// phase; `finish` adds the whole.
pub(crate) struct PhaseClock {
    started: Instant,
    pub times: PhaseTimes,
}

impl PhaseClock {
    pub(crate) fn start() -> Self {
        PhaseClock {
            started: Instant::now(),
            times: PhaseTimes::default(),
        }
    }

    /// Runs `op`, adding its duration to the phase `phase` selects.
    pub(crate) fn time<R>(
        &mut self,
        phase: fn(&mut PhaseTimes) -> &mut Duration,
        op: impl FnOnce() -> R,
    ) -> R {
        let start = Instant::now();
        let result = op();
        *phase(&mut self.times) += start.elapsed();
        result
    }

    /// As [`PhaseClock::time`], for a step that waits.
    pub(crate) async fn time_async<R>(
        &mut self,
        phase: fn(&mut PhaseTimes) -> &mut Duration,
        op: impl Future<Output = R>,
    ) -> R {
        let start = Instant::now();
        let result = op.await;
        *phase(&mut self.times) += start.elapsed();
        result
    }

    /// The phases, with the whole transfer's duration.
    pub(crate) fn finish(mut self, bytes: u64, chunks: u64) -> PhaseTimes {
        self.times.bytes = bytes;
        self.times.chunks = chunks;
        self.times.total = self.started.elapsed();
        self.times
    }
}

/// Passes one stopwatch can time (WebGPU allows 4096 queries in a set, two per pass).
pub(crate) const MAX_TIMED_PASSES: u32 = 2048;

/// Timestamp queries around compute passes, reused across calls (see
/// [`super::context::Context::stopwatch`]).
pub(crate) struct Stopwatch {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    used: u32,
}

impl Stopwatch {
    /// A query set for [`MAX_TIMED_PASSES`] passes and the buffer it resolves into.
    pub(crate) fn new(device: &wgpu::Device) -> Stopwatch {
        let queries = 2 * MAX_TIMED_PASSES;
        Stopwatch {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("hpnum timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: queries,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("hpnum timestamps"),
                size: u64::from(queries) * 8,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            used: 0,
        }
    }

    /// Forgets the passes of the previous call.
    pub(crate) fn reset(&mut self) {
        self.used = 0;
    }

    /// Timestamp writes for one more pass, or `None` once the set is full (that pass is
    /// then untimed, and [`Stopwatch::passes`] says so).
    pub(crate) fn next_pass(&mut self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.used + 2 > 2 * MAX_TIMED_PASSES {
            return None;
        }
        self.used += 2;
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(self.used - 2),
            end_of_pass_write_index: Some(self.used - 1),
        })
    }

    /// How many passes it has timed.
    pub(crate) fn passes(&self) -> u32 {
        self.used / 2
    }

    /// Bytes [`Stopwatch::resolve`] writes.
    pub(crate) fn bytes(&self) -> u64 {
        u64::from(self.used) * 8
    }

    /// Records the resolution of the timed passes and a copy of their ticks into
    /// `destination` at `offset`, to be read back with the call's results.
    pub(crate) fn resolve(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        destination: &wgpu::Buffer,
        offset: u64,
    ) {
        if self.used == 0 {
            return;
        }
        encoder.resolve_query_set(&self.set, 0..self.used, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, destination, offset, self.bytes());
    }

    /// The device time of each timed pass, from the ticks [`Stopwatch::resolve`] copied.
    pub(crate) fn each(&self, ticks: &[u8], period_ns: f32) -> Result<Vec<Duration>> {
        let ticks: Vec<u64> = ticks
            .get(..self.bytes() as usize)
            .ok_or_else(|| device_error("the timestamps were not read back"))?
            .chunks_exact(8)
            .map(bytemuck::pod_read_unaligned)
            .collect();
        Ok(ticks
            .chunks_exact(2)
            .map(|pair| {
                let ticks = pair[1].saturating_sub(pair[0]);
                Duration::from_secs_f64(ticks as f64 * f64::from(period_ns) * 1e-9)
            })
            .collect())
    }

    /// The device time of all timed passes together.
    pub(crate) fn elapsed(&self, ticks: &[u8], period_ns: f32) -> Result<Duration> {
        Ok(self.each(ticks, period_ns)?.into_iter().sum())
    }
}
