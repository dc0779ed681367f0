//! Recording, submitting and waiting: the few operations every call on the device makes,
//! and how large a dispatch is.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use web_time::Instant;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::WORKGROUP_SIZE;
use crate::backends::gpu::errors::{device_error, take_reported};
use crate::backends::gpu::options::WaitMode;
use crate::backends::gpu::signal::{Signal, WAITS_YIELD};
use crate::error::{Error, Result};

/// A dispatch's workgroup counts (x, y, z).
pub(crate) type Workgroups = (u32, u32, u32);

/// Submitted work, to be waited for with [`Context::wait`].
#[derive(Clone)]
pub(crate) struct Submission {
    index: wgpu::SubmissionIndex,
    /// Set when the work is done, where waits spin ([`WaitMode::SpinThenBlock`]) or yield
    /// ([`WAITS_YIELD`]).
    done: Option<Signal>,
}

impl Context {
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
                WaitMode::Block if !WAITS_YIELD => None,
                _ => {
                    let done = Signal::default();
                    let signal = done.clone();
                    self.queue.on_submitted_work_done(move || signal.set(1));
                    Some(done)
                }
            };
            Submission { index, done }
        })
    }

    /// Completes once `submission` has completed and its callbacks (buffer mappings) ran.
    /// Natively it blocks, as the adapter's [`WaitMode`] says, and is ready when first
    /// polled; in a browser it yields until the event loop reports the work done. Spinning
    /// polls without a wait index: wgpu 30's zero-timeout wait can trip an assertion in
    /// wgpu-core when another thread polls the same device at the same moment, a blocking
    /// wait and a plain poll cannot.
    pub(crate) async fn wait(&self, submission: Submission) -> Result<()> {
        if WAITS_YIELD {
            if let Some(done) = &submission.done {
                done.wait().await;
            }
            // What WebGPU reported while the work ran (a buffer it refused, a validation
            // error) belongs to this call.
            if let Some(failure) = take_reported() {
                return Err(failure.into_error("the GPU's work", 0));
            }
            return self.alive();
        }
        if let (WaitMode::SpinThenBlock(limit), Some(done)) = (self.summary.wait, &submission.done)
        {
            let start = Instant::now();
            while done.get().is_none() && start.elapsed() < limit {
                self.poll(wgpu::PollType::Poll)?;
                std::hint::spin_loop();
            }
            if done.get().is_some() {
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

    /// Blocks until all submitted work has completed (and pending mappings ran). In a
    /// browser it does nothing: there the mappings' own futures are what completes.
    pub(crate) fn wait_idle(&self) -> Result<()> {
        if !WAITS_YIELD {
            self.poll(wgpu::PollType::wait_indefinitely())?;
        }
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
    pub(crate) async fn round_trip(&self) -> Result<Duration> {
        let start = Instant::now();
        let submission = self.submit(self.encoder())?;
        self.wait(submission).await?;
        Ok(start.elapsed())
    }
}
