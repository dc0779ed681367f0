//! One GPU device and what it keeps across calls: its pipelines, staging buffers,
//! timestamp query sets and the cache of recent calls' buffers. It knows no kernel: the
//! shaders it builds are handed to it, and what the cache holds is opaque to it.
//! Allocation (`allocate.rs`) and submission (`submit.rs`) are further `impl Context`
//! blocks beside this one.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use crate::backend::DeviceKind;
use crate::backends::gpu::adapter::{self, AdapterSummary};
use crate::backends::gpu::errors::{self, Failure, device_error};
use crate::backends::gpu::options::{GpuOptions, TransferPath};
use crate::backends::gpu::pipelines::{Pipelines, unsupported_f64};
use crate::backends::gpu::pool::{Cache, Pool, StagingPool};
use crate::backends::gpu::shaders::{Entry, Shader};
use crate::backends::gpu::timing::{ComputeClock, PhaseTimes, Stopwatch, TransferPhases};
use crate::error::{Error, Result};
use crate::memory;
use crate::real::{Precision, Real};

/// Entries of each kind the cache of one-shot calls keeps (the most recent ones).
const KEEP_PER_KIND: usize = 4;

/// The largest buffers a one-shot call leaves for the next: enough for the sizes where
/// reallocating costs most of a call (an 8192² f32 grid and its partner, 10⁸ f32 elements),
/// not so much that a huge call pins the device's memory.
const KEEP_AT_MOST_BYTES: u64 = 1 << 30;

/// What the cache of one-shot calls holds at most, in all.
const KEEP_IN_ALL_BYTES: u64 = 2 << 30;

pub(crate) struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub staging: StagingPool,
    /// Buffers of recent one-shot calls, for the next call of the same kind and shape.
    pub cache: Cache,
    f32_pipelines: Pipelines,
    f64_pipelines: Option<Pipelines>,
    stopwatches: Pool<(), Stopwatch>,
    lost: Arc<Mutex<Option<String>>>,
    /// Where the time of the transfers since the last reset went.
    transfer_phases: Mutex<TransferPhases>,
}

impl Context {
    /// Opens the adapter `options` describe and builds every entry point of `shaders`.
    pub(crate) async fn new(options: &GpuOptions, shaders: &[Shader]) -> Result<Context> {
        let adapter::Opened {
            device,
            queue,
            summary,
            limits,
        } = adapter::open(options).await?;

        let lost = Arc::new(Mutex::new(None));
        let on_lost = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *on_lost.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("{reason:?}: {message}"));
        });
        // Every failure reaches the call that caused it through this handler (see
        // `errors`); none panics the caller's thread, as wgpu's default handler would.
        device.on_uncaptured_error(errors::recording_handler());

        let build = |precision| {
            Pipelines::build(
                &device,
                shaders,
                precision,
                summary.subgroups,
                summary.workgroup_storage_bytes,
            )
        };
        let f32_pipelines = build(Precision::F32)?;
        let f64_pipelines = if summary.f64 {
            Some(build(Precision::F64)?)
        } else {
            None
        };
        // Long host copies go over several threads, except where the device's own copies
        // run on the host's cores too (a software driver's staging copies), where the
        // threads only compete: measured on the 2-core VM, splitting raised mapped uploads
        // from 0.99 to 1.79 × memcpy and lowered staged ones from 0.98 to 0.67 ×
        // (docs/performance.md).
        let parallel = !(summary.device == DeviceKind::SoftwareGpu
            && summary.transfer_path == TransferPath::Staging);
        Ok(Context {
            staging: StagingPool::new(summary.staging_chunk_bytes, summary.staging_depth, parallel),
            cache: Cache::new(KEEP_PER_KIND, KEEP_AT_MOST_BYTES, KEEP_IN_ALL_BYTES),
            stopwatches: Pool::new(4),
            device,
            queue,
            summary,
            limits,
            f32_pipelines,
            f64_pipelines,
            lost,
            transfer_phases: Mutex::new(TransferPhases::default()),
        })
    }

    /// The pipeline of `entry` in `T`'s precision, or `Unsupported` without f64.
    pub(crate) fn pipeline<T: Real>(&self, entry: Entry) -> Result<&wgpu::ComputePipeline> {
        self.pipelines(T::PRECISION)?.get(entry)
    }

    /// The pipelines of `precision`, or `Unsupported` without f64.
    pub(crate) fn pipelines(&self, precision: Precision) -> Result<&Pipelines> {
        self.alive()?;
        match precision {
            Precision::F32 => Ok(&self.f32_pipelines),
            Precision::F64 => self
                .f64_pipelines
                .as_ref()
                .ok_or_else(|| unsupported_f64(&self.summary.name)),
        }
    }

    /// `Err` once the device has been lost.
    pub(crate) fn alive(&self) -> Result<()> {
        match &*self.lost.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(reason) => Err(device_error(format!("device lost ({reason})"))),
            None => Ok(()),
        }
    }

    /// Runs `op`, a sequence of wgpu calls that allocate nothing, and returns wgpu's
    /// complaint about it as an error.
    pub(crate) fn capture<R>(&self, op: impl FnOnce() -> R) -> Result<R> {
        errors::capture(op).map_err(|failure| match failure {
            Failure::OutOfMemory(details) | Failure::Other(details) => device_error(details),
        })
    }

    /// How compute time is measured on this device.
    pub(crate) fn clock(&self) -> ComputeClock {
        if self.summary.timestamps {
            ComputeClock::Timestamps
        } else {
            ComputeClock::Host
        }
    }

    /// Checks that `bytes` more of device memory can be asked for, for `what`: within the
    /// device's largest buffer (`single`), and within the host's available memory where
    /// the device shares it (a software driver would otherwise let the operating system
    /// kill the process when the pages are touched).
    pub(crate) fn check_device_bytes(
        &self,
        what: &'static str,
        bytes: u128,
        single: bool,
    ) -> Result<()> {
        if single && bytes > u128::from(self.limits.max_buffer_size) {
            return Err(Error::OutOfMemory {
                what,
                bytes,
                reason: format!(
                    "the device's largest buffer is {} bytes",
                    self.limits.max_buffer_size
                ),
            });
        }
        if self.summary.shares_host_memory() {
            memory::check_host(bytes, what)?;
        }
        Ok(())
    }

    /// A stopwatch for one call, if the adapter has timestamps (reused across calls;
    /// give it back with [`Context::return_stopwatch`]).
    pub(crate) fn stopwatch(&self) -> Result<Option<Stopwatch>> {
        if !self.summary.timestamps {
            return Ok(None);
        }
        if let Some(mut watch) = self.stopwatches.take(&()) {
            watch.reset();
            return Ok(Some(watch));
        }
        self.capture(|| Stopwatch::new(&self.device)).map(Some)
    }

    /// Keeps a stopwatch for the next call.
    pub(crate) fn return_stopwatch(&self, watch: Option<Stopwatch>) {
        if let Some(watch) = watch {
            self.stopwatches.put((), watch);
        }
    }

    /// Drops every buffer kept for reuse: staging, and recent one-shot calls' data.
    pub(crate) fn release_cached(&self) {
        self.staging.clear();
        self.cache.clear();
    }

    /// Adds one transfer's phases to the totals of its direction.
    pub(crate) fn record_transfer(&self, upload: bool, phases: &PhaseTimes) {
        let mut totals = self
            .transfer_phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if upload {
            totals.upload.add(phases);
        } else {
            totals.download.add(phases);
        }
    }

    /// The transfers' phases since the last reset; `reset` also zeroes them.
    pub(crate) fn transfer_phases(&self, reset: bool) -> TransferPhases {
        let mut totals = self
            .transfer_phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let phases = *totals;
        if reset {
            *totals = TransferPhases::default();
        }
        phases
    }

    /// Nanoseconds per timestamp tick.
    pub(crate) fn timestamp_period(&self) -> f32 {
        self.queue.get_timestamp_period()
    }

    /// Bytes `range` of a buffer mapped for reading.
    pub(crate) fn mapped_range(
        &self,
        buffer: &wgpu::Buffer,
        range: Range<u64>,
    ) -> Result<wgpu::BufferView> {
        buffer.get_mapped_range(range).map_err(device_error)
    }

    /// Bytes `range` of a buffer mapped for writing (views of disjoint ranges may be held
    /// at once, and written from different threads).
    pub(crate) fn mapped_range_mut(
        &self,
        buffer: &wgpu::Buffer,
        range: Range<u64>,
    ) -> Result<wgpu::BufferViewMut> {
        buffer.get_mapped_range_mut(range).map_err(device_error)
    }
}
