//! Small results (a norm, timestamps, a small Julia grid) in the same submission as the
//! work that produced them: copies recorded into the call's own command encoder, read back
//! with the call's one wait.

use std::ops::Deref;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::staging::mapping::MapState;
use crate::backends::gpu::submit::Submission;
use crate::backends::gpu::timing::Stopwatch;
use crate::error::Result;

/// Read-back buffers for small results are at least this large (room for the timestamps
/// of every pass a stopwatch can time).
const MIN_READBACK_BYTES: u64 = 64 << 10;

/// A read-back buffer for a call's small results, filled by copies recorded into the call's
/// own command encoder, so that the results come back with the call's one wait.
pub(crate) struct Readback<'c> {
    ctx: &'c Context,
    buffer: Option<wgpu::Buffer>,
    class: u64,
    used: u64,
}

impl<'c> Readback<'c> {
    /// Room for at least `bytes` of results.
    ///
    /// # Errors
    /// As [`upload`].
    pub(crate) fn new(ctx: &'c Context, bytes: u64) -> Result<Self> {
        let class = bytes.max(MIN_READBACK_BYTES).next_power_of_two();
        let buffer = match ctx.staging.readbacks.take(&class) {
            Some(buffer) => buffer,
            None => ctx.staging_buffer(class, false)?,
        };
        Ok(Readback {
            ctx,
            buffer: Some(buffer),
            class,
            used: 0,
        })
    }

    /// The buffer and the offset at which the next `bytes` of results go (8-aligned), for
    /// a copy the caller records.
    pub(crate) fn reserve(&mut self, bytes: u64) -> Result<(&wgpu::Buffer, u64)> {
        let offset = self.used.next_multiple_of(8);
        if offset + bytes > self.class {
            return Err(device_error("a read-back outgrew its buffer"));
        }
        self.used = offset + bytes.next_multiple_of(4);
        let buffer = self
            .buffer
            .as_ref()
            .ok_or_else(|| device_error("a read-back was already finished"))?;
        Ok((buffer, offset))
    }

    /// Records a copy of `bytes` of `source` (from `source_offset`) and returns where the
    /// bytes will be in the mapped result.
    pub(crate) fn copy(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        source: &wgpu::Buffer,
        source_offset: u64,
        bytes: u64,
    ) -> Result<usize> {
        let (buffer, offset) = self.reserve(bytes)?;
        encoder.copy_buffer_to_buffer(source, source_offset, buffer, offset, bytes);
        Ok(offset as usize)
    }

    /// Records the resolution of `watch`'s timed passes into this read-back and returns
    /// where their ticks will be in the mapped result.
    pub(crate) fn timestamps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        watch: &Stopwatch,
    ) -> Result<usize> {
        let (buffer, offset) = self.reserve(watch.bytes())?;
        watch.resolve(encoder, buffer, offset);
        Ok(offset as usize)
    }

    /// Waits for `submission` (which must hold the recorded copies) and maps the results.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub(crate) async fn finish(mut self, submission: Submission) -> Result<Mapped<'c>> {
        let buffer = self
            .buffer
            .take()
            .ok_or_else(|| device_error("a read-back was already finished"))?;
        let bytes = self.used.max(4);
        let state = self
            .ctx
            .capture(|| MapState::map(&buffer, wgpu::MapMode::Read, 0..bytes))?;
        self.ctx.wait(submission).await?;
        state.check(self.ctx).await?;
        let view = self.ctx.mapped_range(&buffer, 0..bytes)?;
        Ok(Mapped {
            ctx: self.ctx,
            class: self.class,
            view: Some(view),
            buffer: Some(buffer),
        })
    }
}

impl Drop for Readback<'_> {
    fn drop(&mut self) {
        // Unused (an error came first): back to the pool, still idle.
        if let Some(buffer) = self.buffer.take() {
            self.ctx.staging.readbacks.put(self.class, buffer);
        }
    }
}

/// A call's results, mapped; the buffer returns to the pool when this is dropped.
pub(crate) struct Mapped<'c> {
    ctx: &'c Context,
    class: u64,
    view: Option<wgpu::BufferView>,
    buffer: Option<wgpu::Buffer>,
}

impl Deref for Mapped<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.view.as_deref().unwrap_or_default()
    }
}

impl Drop for Mapped<'_> {
    fn drop(&mut self) {
        self.view = None;
        if let Some(buffer) = self.buffer.take() {
            buffer.unmap();
            self.ctx.staging.readbacks.put(self.class, buffer);
        }
    }
}
