//! One GPU device with everything kept for it across calls (pipelines, staging, timestamp
//! query sets, kernels' buffers by shape), and the few operations every kernel needs:
//! allocating with typed errors, binding, sizing dispatches, submitting, waiting.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use super::adapter::{self, AdapterSummary, GpuOptions, TransferPath, WaitMode};
use super::contract::{WORKGROUP_SIZE, WgslStruct};
use super::errors::{self, Failure, device_error};
use super::grid::Band;
use super::julia::JuliaBuffers;
use super::pipelines::{Entry, Pipelines, unsupported_f64};
use super::pool::Pool;
use super::probe::{self, DeviceLimits, TinyKernel};
use super::staging::StagingPool;
use super::timing::{ComputeClock, Stopwatch};
use super::vector::Piece;
use crate::backend::DeviceKind;
use crate::{Error, Precision, Real, Result, memory};

/// How many one-shot calls' grids (and, apart, vectors) are kept for the next call of that
/// precision and shape: the most recent ones.
const KEEP_ONE_SHOT: usize = 4;

/// One-shot calls keep their device buffers only up to this size each: enough for the
/// sizes where reallocating costs most of a call (an 8192² f32 grid and its partner, 10⁸
/// f32 elements), not so much that a huge call pins the device's memory.
pub(crate) const KEEP_AT_MOST_BYTES: u64 = 1 << 30;

/// A dispatch's workgroup counts (x, y, z).
pub(crate) type Workgroups = (u32, u32, u32);

/// Submitted work, to be waited for with [`Context::wait`].
#[derive(Clone)]
pub(crate) struct Submission {
    index: wgpu::SubmissionIndex,
    /// Set when the work is done, where waits spin ([`WaitMode::SpinThenBlock`]).
    done: Option<Arc<AtomicBool>>,
}

pub(crate) struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub staging: StagingPool,
    /// Julia's buffers and bind groups for recently used shapes.
    pub julia: Pool<(Precision, usize, usize), JuliaBuffers>,
    /// The bands of recent one-shot diffusion calls, by precision and shape.
    pub grids: Pool<(Precision, usize, usize), Vec<Band>>,
    /// The pieces of recent one-shot norm calls, by precision and length.
    pub vectors: Pool<(Precision, usize), Vec<Piece>>,
    /// The device limits, measured on first request.
    pub device_limits: OnceLock<DeviceLimits>,
    /// The trivial kernel that measures the per-dispatch floor, built on first request.
    pub tiny_kernel: OnceLock<TinyKernel>,
    /// The precisions whose arithmetic keeps subnormals on this device (probed when it
    /// opens; WGSL allows a driver to flush them).
    pub keeps_subnormals: Vec<Precision>,
    f32_pipelines: Pipelines,
    f64_pipelines: Option<Pipelines>,
    stopwatches: Pool<(), Stopwatch>,
    lost: Arc<Mutex<Option<String>>>,
}

impl Context {
    pub(crate) fn new(options: &GpuOptions) -> Result<Context> {
        let adapter::Opened {
            device,
            queue,
            summary,
            limits,
        } = adapter::open(options)?;

        let lost = Arc::new(Mutex::new(None));
        let on_lost = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *on_lost.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("{reason:?}: {message}"));
        });
        // Every failure reaches the call that caused it through this handler (see
        // `errors`); none panics the caller's thread, as wgpu's default handler would.
        device.on_uncaptured_error(errors::recording_handler());

        let f32_pipelines = Pipelines::build(&device, Precision::F32, summary.subgroups)?;
        let f64_pipelines = if summary.f64 {
            Some(Pipelines::build(
                &device,
                Precision::F64,
                summary.subgroups,
            )?)
        } else {
            None
        };
        // Two chunks in flight measured best on the software driver (one copies while the
        // other drains, both in the CPU's cache); a discrete GPU's DMA gets a third.
        let depth = if summary.shares_host_memory() { 2 } else { 3 };
        // Long host copies go over several threads, except where the device's own copies
        // run on the host's cores too (a software driver's staging copies), where the
        // threads only compete: measured on the 2-core VM, splitting raised mapped uploads
        // from 0.99 to 1.79 × memcpy and lowered staged ones from 0.98 to 0.67 ×
        // (docs/performance.md).
        let parallel = !(summary.device == DeviceKind::SoftwareGpu
            && summary.transfer_path == TransferPath::Staging);
        let mut ctx = Context {
            staging: StagingPool::new(summary.staging_chunk_bytes, depth, parallel),
            julia: Pool::new(4),
            grids: Pool::new(KEEP_ONE_SHOT),
            vectors: Pool::new(KEEP_ONE_SHOT),
            device_limits: OnceLock::new(),
            tiny_kernel: OnceLock::new(),
            stopwatches: Pool::new(4),
            device,
            queue,
            summary,
            limits,
            f32_pipelines,
            f64_pipelines,
            lost,
            keeps_subnormals: Vec::new(),
        };
        ctx.keeps_subnormals = probe::subnormals_kept(&ctx)?;
        Ok(ctx)
    }

    /// The pipeline of `entry` in `T`'s precision, or `Unsupported` without f64.
    pub(crate) fn pipeline<T: Real>(&self, entry: Entry) -> Result<&wgpu::ComputePipeline> {
        Ok(self.pipelines(T::PRECISION)?.get(entry))
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

    /// A buffer of `bytes` bytes (at least 4) with `usage`, as a typed error if the device
    /// cannot have it.
    pub(crate) fn buffer(
        &self,
        what: &'static str,
        bytes: u64,
        usage: wgpu::BufferUsages,
        mapped_at_creation: bool,
    ) -> Result<wgpu::Buffer> {
        self.alive()?;
        let size = bytes.max(4).next_multiple_of(4);
        self.check_device_bytes(what, u128::from(size), true)?;
        errors::capture(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size,
                usage,
                mapped_at_creation,
            })
        })
        .map_err(|failure| failure.into_error(what, size))
    }

    /// A storage buffer that kernels write and transfers copy.
    pub(crate) fn storage(&self, what: &'static str, bytes: u64) -> Result<wgpu::Buffer> {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        self.buffer(what, bytes, usage, false)
    }

    /// A buffer of resident data (a grid band, a vector piece): a storage buffer, also
    /// mappable on the [`TransferPath::MappedBuffers`] path.
    pub(crate) fn data_buffer(
        &self,
        what: &'static str,
        bytes: u64,
        mapped_at_creation: bool,
    ) -> Result<wgpu::Buffer> {
        let mut usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        if self.summary.transfer_path == TransferPath::MappedBuffers {
            usage |= wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE;
        }
        self.buffer(what, bytes, usage, mapped_at_creation)
    }

    /// A staging buffer of `bytes`: for uploads (mapped, ready to write) or read-backs.
    pub(crate) fn staging_buffer(&self, bytes: u64, upload: bool) -> Result<wgpu::Buffer> {
        let usage = if upload {
            wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC
        } else {
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST
        };
        self.buffer("staging", bytes, usage, upload)
    }

    /// A storage buffer holding `data`, which kernels read and `queue.write_buffer` updates.
    pub(crate) fn storage_with<T: bytemuck::Pod>(
        &self,
        what: &'static str,
        data: &[T],
    ) -> Result<wgpu::Buffer> {
        self.buffer_with(
            what,
            bytemuck::cast_slice(data),
            // COPY_SRC: a probe reads its results back from the same small buffer.
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        )
    }

    /// A uniform buffer holding `value`, which `queue.write_buffer` updates.
    pub(crate) fn uniform<S: WgslStruct>(
        &self,
        what: &'static str,
        value: &S,
    ) -> Result<wgpu::Buffer> {
        self.buffer_with(
            what,
            bytemuck::bytes_of(value),
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )
    }

    fn buffer_with(
        &self,
        what: &'static str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        self.alive()?;
        let bytes = contents.len() as u64;
        self.check_device_bytes(what, u128::from(bytes), true)?;
        errors::capture(|| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(what),
                    contents,
                    usage,
                })
        })
        .map_err(|failure| failure.into_error(what, bytes))
    }

    /// A bind group for `pipeline`'s group 0 with each buffer at its binding number (an
    /// entry point's automatic layout holds only the bindings it uses).
    pub(crate) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.capture(|| {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        })
    }

    /// Workgroups (x, y, 1) covering `items` invocations with the shaders' linear indexing
    /// (`(wg.y · groups.x + wg.x) · WORKGROUP_SIZE + local`), within the per-dimension limit.
    pub(crate) fn workgroups(&self, items: u64) -> Result<Workgroups> {
        let groups = items.div_ceil(u64::from(WORKGROUP_SIZE)).max(1);
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension.max(1));
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        if y > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("{items} invocations in one dispatch"),
            });
        }
        Ok((x as u32, y as u32, 1))
    }

    /// Workgroups (x, y, z) covering a `cols × rows` grid with one workgroup per run of
    /// `WORKGROUP_SIZE` cells of a row, rows spread over y and z (the diffusion shader's
    /// indexing).
    pub(crate) fn workgroups_2d(&self, cols: usize, rows: usize) -> Result<Workgroups> {
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension.max(1));
        let x = (cols as u64).div_ceil(u64::from(WORKGROUP_SIZE)).max(1);
        let y = (rows as u64).clamp(1, max);
        let z = (rows as u64).div_ceil(y).max(1);
        if x > max || z > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("a {rows} × {cols} dispatch"),
            });
        }
        Ok((x as u32, y as u32, z as u32))
    }

    /// A command encoder.
    pub(crate) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device.create_command_encoder(&Default::default())
    }

    /// Submits what `encoder` recorded.
    pub(crate) fn submit(&self, encoder: wgpu::CommandEncoder) -> Result<Submission> {
        self.alive()?;
        self.capture(|| {
            let index = self.queue.submit([encoder.finish()]);
            let done = match self.summary.wait {
                WaitMode::Block => None,
                WaitMode::SpinThenBlock(_) => {
                    let done = Arc::new(AtomicBool::new(false));
                    let flag = Arc::clone(&done);
                    self.queue
                        .on_submitted_work_done(move || flag.store(true, Ordering::Release));
                    Some(done)
                }
            };
            Submission { index, done }
        })
    }

    /// Blocks until `submission` has completed and its callbacks (buffer mappings) ran,
    /// as the adapter's [`WaitMode`] says. Spinning polls without a wait index: wgpu 30's
    /// zero-timeout wait can trip an assertion in wgpu-core when another thread polls the
    /// same device at the same moment, a blocking wait and a plain poll cannot.
    pub(crate) fn wait(&self, submission: Submission) -> Result<()> {
        if let (WaitMode::SpinThenBlock(limit), Some(done)) = (self.summary.wait, &submission.done)
        {
            let start = Instant::now();
            while !done.load(Ordering::Acquire) && start.elapsed() < limit {
                self.poll(wgpu::PollType::Poll)?;
                std::hint::spin_loop();
            }
            if done.load(Ordering::Acquire) {
                // Done, and this thread's or another's poll ran its callbacks.
                return self.alive();
            }
        }
        self.poll(wgpu::PollType::Wait {
            submission_index: Some(submission.index),
            timeout: None,
        })?;
        self.alive()
    }

    /// Blocks until all submitted work has completed (and pending mappings ran).
    pub(crate) fn wait_idle(&self) -> Result<()> {
        self.poll(wgpu::PollType::wait_indefinitely())?;
        self.alive()
    }

    /// Runs whatever callbacks are ready, without blocking.
    pub(crate) fn poll_once(&self) -> Result<()> {
        self.poll(wgpu::PollType::Poll)
    }

    /// One `device.poll`. wgpu panics when a poll finds the device lost; that becomes an
    /// error here.
    fn poll(&self, poll: wgpu::PollType) -> Result<()> {
        self.alive()?;
        match catch_unwind(AssertUnwindSafe(|| self.device.poll(poll))) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(device_error(e)),
            Err(_) => Err(device_error(format!(
                "the device failed while waiting ({})",
                self.alive()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            ))),
        }
    }

    /// An empty submission and a wait for it: the floor under every call's cost.
    pub(crate) fn round_trip(&self) -> Result<Duration> {
        let start = Instant::now();
        let submission = self.submit(self.encoder())?;
        self.wait(submission)?;
        Ok(start.elapsed())
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

    /// Drops every buffer kept for reuse: staging, one-shot calls' data, Julia's shapes.
    pub(crate) fn release_cached(&self) {
        self.staging.clear();
        self.julia.clear();
        self.grids.clear();
        self.vectors.clear();
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
