//! Host ↔ device transfers at the speed of the bus.
//!
//! - Staging memory belongs to the device context and is reused: a pool of mapped upload
//!   buffers and of read-back buffers ([`super::pool::StagingPool`]), never a fresh one per
//!   call.
//! - Large transfers go in chunks, with up to `depth` chunks in flight: the host copies one
//!   chunk into (out of) mapped memory while the device copies another.
//! - Data moves straight between the caller's memory and mapped memory: a contiguous array
//!   is one copy each way, spread over the rayon pool's threads for large chunks; a strided
//!   view is gathered (scattered) row piece by row piece, never through a whole-array copy.
//! - With [`TransferPath::MappedBuffers`] (software drivers, where device memory is host
//!   memory) the data buffers themselves are mapped and the staging copy disappears.
//! - Small results (a norm, timestamps, a small Julia grid) ride in the same submission as
//!   the work that produced them and come back with its one wait
//!   ([`readback::Readback`]).
//!
//! Here: the chunked paths, staged and mapped; `host.rs`: the host side, any layout;
//! `mapping.rs`: where a mapping stands; `readback.rs`: a call's small results.

pub(crate) mod host;
mod mapping;
pub(crate) mod readback;

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use bytemuck::Pod;

use super::context::Context;
use super::contract::LOAD_BYTES;
use super::errors::device_error;
use super::options::TransferPath;
use super::submit::Submission;
use super::timing::{PhaseClock, PhaseTimes};
use crate::error::Result;

use self::host::{Sink, Source, write_mapped};
use self::mapping::MapState;

/// A span of the host elements, `first .. first + len`, held by a device buffer from its
/// byte 0: what a transfer moves, one span per buffer.
pub(crate) struct Span<'b> {
    pub buffer: &'b wgpu::Buffer,
    pub first: usize,
    pub len: usize,
}

impl Span<'_> {
    /// The host elements it holds.
    fn host(&self) -> Range<usize> {
        self.first..self.first + self.len
    }

    /// Its bytes, for elements of `element` bytes.
    fn bytes(&self, element: usize) -> u64 {
        (self.len * element) as u64
    }
}

/// One chunk of a transfer.
struct Chunk<'b> {
    buffer: &'b wgpu::Buffer,
    /// Byte offset in `buffer`.
    offset: u64,
    /// Host elements.
    host: Range<usize>,
}

impl Chunk<'_> {
    fn bytes<T>(&self) -> u64 {
        (self.host.len() * size_of::<T>()) as u64
    }
}

fn chunks<'b>(spans: &[Span<'b>], per_chunk: usize, element: usize) -> Vec<Chunk<'b>> {
    let mut out = Vec::new();
    for span in spans {
        let mut done = 0;
        while done < span.len {
            let n = per_chunk.min(span.len - done);
            out.push(Chunk {
                buffer: span.buffer,
                offset: (done * element) as u64,
                host: span.first + done..span.first + done + n,
            });
            done += n;
        }
    }
    out
}

/// Copies `source` into the buffers of `spans`.
///
/// # Errors
/// [`crate::Error::Device`] if the device fails; `OutOfMemory` if staging cannot be had.
pub(crate) async fn upload<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
) -> Result<()> {
    let mut clock = PhaseClock::start();
    let chunks = match ctx.summary.transfer_path {
        TransferPath::MappedBuffers => upload_mapped(ctx, spans, source, &mut clock).await,
        TransferPath::Staging => upload_staged(ctx, spans, source, &mut clock).await,
    }?;
    let phases = clock.finish(spans_bytes::<T>(spans), chunks);
    ctx.record_transfer(true, &phases);
    Ok(())
}

/// Bytes the spans hold, for elements of `T`.
fn spans_bytes<T>(spans: &[Span<'_>]) -> u64 {
    spans.iter().map(|s| s.bytes(size_of::<T>())).sum()
}

/// Chunks of a transfer: the number of non-empty spans on the mapped path.
fn mapped_pieces(spans: &[Span<'_>]) -> u64 {
    spans.iter().filter(|s| s.len > 0).count() as u64
}

/// Copies the buffers of `spans` into `sink`.
///
/// # Errors
/// As [`upload`].
pub(crate) async fn download<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
) -> Result<()> {
    let mut clock = PhaseClock::start();
    let chunks = match ctx.summary.transfer_path {
        TransferPath::MappedBuffers => download_mapped(ctx, spans, sink, &mut clock).await,
        TransferPath::Staging => download_staged(ctx, spans, sink, &mut clock).await,
    }?;
    let phases = clock.finish(spans_bytes::<T>(spans), chunks);
    ctx.record_transfer(false, &phases);
    Ok(())
}

/// New data buffers of `lens` elements each, filled from consecutive ranges of `source`:
/// written in place while mapped at creation on the mapped path, uploaded otherwise.
///
/// # Errors
/// As [`upload`].
pub(crate) async fn create_filled<T: Pod>(
    ctx: &Context,
    what: &'static str,
    lens: &[usize],
    source: &Source<'_, T>,
) -> Result<Vec<wgpu::Buffer>> {
    let mapped = ctx.summary.transfer_path == TransferPath::MappedBuffers;
    let mut buffers = Vec::with_capacity(lens.len());
    for &len in lens {
        // Whole shader loads: a shader may read LOAD_BYTES at a time, and the padding
        // (zeroed by wgpu, never written by a transfer) holds zeros, which add nothing to
        // a reduction. The binding limit is a multiple of 16, so a buffer within it stays
        // within it.
        let bytes = (len * size_of::<T>()).next_multiple_of(LOAD_BYTES);
        buffers.push(ctx.data_buffer(what, bytes as u64, mapped)?);
    }
    let mut first = 0;
    let spans: Vec<Span<'_>> = buffers
        .iter()
        .zip(lens)
        .map(|(buffer, &len)| {
            first += len;
            Span {
                buffer,
                first: first - len,
                len,
            }
        })
        .collect();
    let mut clock = PhaseClock::start();
    let chunks = if mapped {
        fill_mapped(ctx, &spans, source, &mut clock)?;
        mapped_pieces(&spans)
    } else {
        upload_staged(ctx, &spans, source, &mut clock).await?
    };
    ctx.record_transfer(true, &clock.finish(spans_bytes::<T>(&spans), chunks));
    Ok(buffers)
}

/// Maps every non-empty span's buffer in `mode` and waits until all are mapped.
async fn map_all(
    ctx: &Context,
    spans: &[Span<'_>],
    mode: wgpu::MapMode,
    element: usize,
    clock: &mut PhaseClock,
) -> Result<()> {
    let states: Vec<MapState> = clock.time(submit, || {
        spans
            .iter()
            .filter(|s| s.len > 0)
            .map(|s| ctx.capture(|| MapState::map(s.buffer, mode, 0..s.bytes(element))))
            .collect::<Result<_>>()
    })?;
    clock.time(device_wait, || ctx.wait_idle())?;
    clock
        .time_async(map_wait, async {
            for state in &states {
                state.check(ctx).await?;
            }
            Ok(())
        })
        .await
}

/// Writes `source` into spans whose buffers are mapped for writing, and unmaps them.
fn fill_mapped<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
    clock: &mut PhaseClock,
) -> Result<()> {
    let mut gather = Vec::new();
    for span in spans {
        if span.len > 0 {
            clock.time(host_copy, || {
                write_mapped(ctx, span.buffer, span.host(), source, &mut gather)
            })?;
        }
        span.buffer.unmap();
    }
    Ok(())
}

async fn upload_mapped<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    map_all(ctx, spans, wgpu::MapMode::Write, size_of::<T>(), clock).await?;
    fill_mapped(ctx, spans, source, clock)?;
    Ok(mapped_pieces(spans))
}

async fn download_mapped<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    map_all(ctx, spans, wgpu::MapMode::Read, size_of::<T>(), clock).await?;
    for span in spans.iter().filter(|s| s.len > 0) {
        clock.time(host_copy, || -> Result<()> {
            let view = ctx.mapped_range(span.buffer, 0..span.bytes(size_of::<T>()))?;
            sink.read(span.host(), &view, ctx.staging.parallel)
        })?;
        span.buffer.unmap();
    }
    Ok(mapped_pieces(spans))
}

// The phases a transfer's steps add to (for `PhaseClock::time`).
fn host_copy(t: &mut PhaseTimes) -> &mut Duration {
    &mut t.host_copy
}
fn submit(t: &mut PhaseTimes) -> &mut Duration {
    &mut t.submit
}
fn device_wait(t: &mut PhaseTimes) -> &mut Duration {
    &mut t.device_wait
}
fn map_wait(t: &mut PhaseTimes) -> &mut Duration {
    &mut t.map_wait
}

/// A staging buffer whose copy has been submitted.
struct InFlight<'b> {
    buffer: wgpu::Buffer,
    submission: Submission,
    state: MapState,
    chunk: Chunk<'b>,
}

/// Returns the chunks it moved.
async fn upload_staged<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    let pool = &ctx.staging;
    let class = pool.chunk_bytes;
    let mut in_flight: VecDeque<InFlight<'_>> = VecDeque::new();
    let mut gather = Vec::new();
    let mut moved = 0;
    for chunk in chunks(spans, pool.chunk_elements::<T>(), size_of::<T>()) {
        let buffer = if in_flight.len() >= pool.depth {
            // The oldest copy is done once its re-mapping is: then it can be written again.
            let done = in_flight
                .pop_front()
                .ok_or_else(|| device_error("no staging"))?;
            clock
                .time_async(device_wait, ctx.wait(done.submission))
                .await?;
            clock.time_async(map_wait, done.state.check(ctx)).await?;
            done.buffer
        } else {
            match pool.uploads.take(&class) {
                Some(buffer) => buffer,
                None => ctx.staging_buffer(class, true)?,
            }
        };
        let bytes = chunk.bytes::<T>();
        clock.time(host_copy, || {
            write_mapped(ctx, &buffer, chunk.host.clone(), source, &mut gather)
        })?;
        let (submission, state) = clock.time(submit, || -> Result<_> {
            buffer.unmap();
            let mut encoder = ctx.encoder();
            encoder.copy_buffer_to_buffer(&buffer, 0, chunk.buffer, chunk.offset, bytes);
            let submission = ctx.submit(encoder)?;
            let state = ctx.capture(|| MapState::map(&buffer, wgpu::MapMode::Write, 0..class))?;
            Ok((submission, state))
        })?;
        moved += 1;
        in_flight.push_back(InFlight {
            buffer,
            submission,
            state,
            chunk,
        });
    }
    if let Some(last) = in_flight.back() {
        clock
            .time_async(device_wait, ctx.wait(last.submission.clone()))
            .await?;
    }
    for done in in_flight {
        clock.time_async(map_wait, done.state.check(ctx)).await?;
        pool.uploads.put(class, done.buffer);
    }
    Ok(moved)
}

/// Returns the chunks it moved.
async fn download_staged<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    let pool = &ctx.staging;
    let class = pool.chunk_bytes;
    let mut in_flight: VecDeque<InFlight<'_>> = VecDeque::new();
    let mut moved = 0;
    for chunk in chunks(spans, pool.chunk_elements::<T>(), size_of::<T>()) {
        if in_flight.len() >= pool.depth
            && let Some(done) = in_flight.pop_front()
        {
            drain(ctx, done, sink, clock).await?;
        }
        let buffer = match pool.readbacks.take(&class) {
            Some(buffer) => buffer,
            None => ctx.staging_buffer(class, false)?,
        };
        let bytes = chunk.bytes::<T>();
        let (submission, state) = clock.time(submit, || -> Result<_> {
            let mut encoder = ctx.encoder();
            encoder.copy_buffer_to_buffer(chunk.buffer, chunk.offset, &buffer, 0, bytes);
            let submission = ctx.submit(encoder)?;
            let state = ctx.capture(|| MapState::map(&buffer, wgpu::MapMode::Read, 0..bytes))?;
            Ok((submission, state))
        })?;
        moved += 1;
        in_flight.push_back(InFlight {
            buffer,
            submission,
            state,
            chunk,
        });
    }
    while let Some(done) = in_flight.pop_front() {
        drain(ctx, done, sink, clock).await?;
    }
    Ok(moved)
}

/// Waits for a read-back chunk, copies it into `sink` and returns its staging buffer to
/// the pool.
async fn drain<T: Pod>(
    ctx: &Context,
    done: InFlight<'_>,
    sink: &mut Sink<'_, T>,
    clock: &mut PhaseClock,
) -> Result<()> {
    let pool = &ctx.staging;
    clock
        .time_async(device_wait, ctx.wait(done.submission))
        .await?;
    clock.time_async(map_wait, done.state.check(ctx)).await?;
    clock.time(host_copy, || -> Result<()> {
        let view = ctx.mapped_range(&done.buffer, 0..done.chunk.bytes::<T>())?;
        sink.read(done.chunk.host.clone(), &view, pool.parallel)
    })?;
    done.buffer.unmap();
    pool.readbacks.put(pool.chunk_bytes, done.buffer);
    Ok(())
}
