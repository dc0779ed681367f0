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
//!   the work that produced them and come back with its one wait ([`Readback`]).

use std::collections::VecDeque;
use std::ops::{Deref, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

use super::context::Context;
use super::contract::LOAD_BYTES;
use super::errors::device_error;
use super::options::TransferPath;
use super::submit::Submission;
use super::timing::{PhaseClock, PhaseTimes, Stopwatch};
use crate::error::Result;

/// Host copies at least this long are split over the rayon pool's threads.
const PARALLEL_COPY_BYTES: usize = 4 << 20;
/// Each thread's share of a split copy is at least this long.
const PARALLEL_PIECE_BYTES: usize = 1 << 20;
/// How long a completed transfer's mapping may take to be reported (see [`MapState::check`]).
const MAPPING_SETTLES_WITHIN: Duration = Duration::from_secs(10);
/// Read-back buffers for small results are at least this large (room for the timestamps
/// of every pass a stopwatch can time).
const MIN_READBACK_BYTES: u64 = 64 << 10;

/// The host side of an upload, in the order of the device buffer's elements.
pub(crate) enum Source<'a, T> {
    /// Contiguous: copied straight into mapped memory.
    Slice(&'a [T]),
    /// Any other layout, read row by row (a vector is one row).
    Rows(ArrayView2<'a, T>),
}

impl<'a, T: Pod> Source<'a, T> {
    /// A grid of any layout, in row-major order.
    pub(crate) fn grid(view: ArrayView2<'a, T>) -> Self {
        match view.to_slice() {
            Some(slice) => Source::Slice(slice),
            None => Source::Rows(view),
        }
    }

    /// A vector of any stride, in index order.
    pub(crate) fn vector(view: ArrayView1<'a, T>) -> Self {
        match view.to_slice() {
            Some(slice) => Source::Slice(slice),
            None => Source::Rows(view.insert_axis(Axis(0))),
        }
    }

    /// Elements `range` into `out` (their bytes), gathering strided rows through `gather`.
    fn write(
        &self,
        range: Range<usize>,
        out: wgpu::WriteOnly<'_, [u8]>,
        gather: &mut Vec<T>,
    ) -> Result<()> {
        if range.end > self.len() {
            return Err(short_host_side());
        }
        match self {
            Source::Slice(slice) => {
                let mut out = out;
                out.copy_from_slice(bytemuck::cast_slice(&slice[range]));
            }
            Source::Rows(view) => {
                let mut out = out;
                for (row, cols, at) in row_pieces(range, view.ncols()) {
                    let piece = view.slice(s![row, cols]);
                    let bytes = at * size_of::<T>()..(at + piece.len()) * size_of::<T>();
                    let mut part = out.slice(bytes);
                    match piece.as_slice() {
                        Some(p) => part.copy_from_slice(bytemuck::cast_slice(p)),
                        None => {
                            gather.clear();
                            gather.extend(piece.iter().copied());
                            part.copy_from_slice(bytemuck::cast_slice(gather));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        match self {
            Source::Slice(slice) => slice.len(),
            Source::Rows(view) => view.len(),
        }
    }
}

/// The host side of a transfer is shorter than its device side: a bug, reported as an
/// error rather than a panic.
fn short_host_side() -> crate::error::Error {
    device_error("a transfer's host array is shorter than its device buffers")
}

/// The host side of a download, in the order of the device buffer's elements.
pub(crate) enum Sink<'a, T> {
    /// Contiguous: copied straight out of mapped memory.
    Slice(&'a mut [T]),
    /// Any other layout, written row by row (a vector is one row).
    Rows(ArrayViewMut2<'a, T>),
}

impl<'a, T: Pod> Sink<'a, T> {
    /// A grid of any layout, in row-major order.
    pub(crate) fn grid(view: ArrayViewMut2<'a, T>) -> Self {
        if !view.is_standard_layout() {
            return Sink::Rows(view);
        }
        // A standard-layout view is contiguous, so this is always `Some`; were it not, the
        // empty sink would fail the transfer with an error (see `Sink::read`).
        Sink::Slice(view.into_slice().unwrap_or_default())
    }

    /// A vector of any stride, in index order.
    pub(crate) fn vector(view: ArrayViewMut1<'a, T>) -> Self {
        Sink::grid(view.insert_axis(Axis(0)))
    }

    /// Elements `range` from `bytes` (their bytes, as mapped), a long contiguous copy over
    /// several threads if `parallel`.
    fn read(&mut self, range: Range<usize>, bytes: &[u8], parallel: bool) -> Result<()> {
        match self {
            Sink::Slice(slice) => {
                let out = slice.get_mut(range).ok_or_else(short_host_side)?;
                copy_from(bytemuck::cast_slice_mut(out), bytes, parallel);
            }
            Sink::Rows(view) => {
                if range.end > view.len() {
                    return Err(short_host_side());
                }
                // Mapped memory is aligned for any element type in practice; the fallback
                // copies once into aligned memory.
                let owned;
                let elements: &[T] = match bytemuck::try_cast_slice(bytes) {
                    Ok(elements) => elements,
                    Err(_) => {
                        owned = bytemuck::pod_collect_to_vec::<u8, T>(bytes);
                        &owned
                    }
                };
                let cols = view.ncols();
                for (row, cols, at) in row_pieces(range, cols) {
                    let mut piece = view.slice_mut(s![row, cols]);
                    let n = piece.len();
                    piece.assign(&ArrayView1::from(&elements[at..at + n]));
                }
            }
        }
        Ok(())
    }
}

/// The pieces of rows that the row-major element range `range` covers in a grid of `cols`
/// columns: `(row, columns, offset of the piece within the range)`.
fn row_pieces(
    range: Range<usize>,
    cols: usize,
) -> impl Iterator<Item = (usize, Range<usize>, usize)> {
    let start = range.start;
    let mut at = range.start;
    std::iter::from_fn(move || {
        if at >= range.end || cols == 0 {
            return None;
        }
        let (row, first) = (at / cols, at % cols);
        let last = cols.min(first + (range.end - at));
        let piece = (row, first..last, at - start);
        at += last - first;
        Some(piece)
    })
}

/// Writes the host elements `host` of `source` into `buffer`, mapped for writing from its
/// byte 0. A long contiguous source is split over the rayon pool's threads (where the pool
/// says so), each writing its part through a mapped view of its own: wgpu's write-only
/// slice of one view cannot be sent to another thread (wgpu 30), but views of disjoint
/// ranges of one buffer can.
fn write_mapped<T: Pod>(
    ctx: &Context,
    buffer: &wgpu::Buffer,
    host: Range<usize>,
    source: &Source<'_, T>,
    gather: &mut Vec<T>,
) -> Result<()> {
    let bytes = host.len() * size_of::<T>();
    let threads = rayon::current_num_threads();
    if let Source::Slice(slice) = source
        && ctx.staging.parallel
        && bytes >= PARALLEL_COPY_BYTES
        && threads > 1
    {
        let src: &[u8] = bytemuck::cast_slice(slice.get(host).ok_or_else(short_host_side)?);
        // Parts start on multiples of 8 bytes, as mapped views must (MAP_ALIGNMENT).
        let part = bytes
            .div_ceil(threads)
            .max(PARALLEL_PIECE_BYTES)
            .next_multiple_of(8);
        let views = (0..bytes)
            .step_by(part)
            .map(|start| {
                let range = start..(start + part).min(bytes);
                let view = ctx.mapped_range_mut(buffer, range.start as u64..range.end as u64)?;
                Ok((view, range))
            })
            .collect::<Result<Vec<_>>>()?;
        views
            .into_par_iter()
            .for_each(|(mut view, range)| view.copy_from_slice(&src[range]));
        return Ok(());
    }
    let mut view = ctx.mapped_range_mut(buffer, 0..bytes as u64)?;
    source.write(host, view.slice(..), gather)
}

/// Mapped memory into `dst`, over several threads when long and `parallel`.
fn copy_from(dst: &mut [u8], src: &[u8], parallel: bool) {
    if !parallel || src.len() < PARALLEL_COPY_BYTES || rayon::current_num_threads() < 2 {
        dst.copy_from_slice(src);
        return;
    }
    let piece = src
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(PARALLEL_PIECE_BYTES);
    dst.par_chunks_mut(piece)
        .zip(src.par_chunks(piece))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

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

/// Where a buffer's `map_async` stands: pending (0, the default) until its callback runs.
#[derive(Clone, Default)]
struct MapState(Arc<AtomicU8>);

impl MapState {
    const MAPPED: u8 = 1;
    const FAILED: u8 = 2;

    /// Starts mapping `range` of `buffer`.
    fn map(buffer: &wgpu::Buffer, mode: wgpu::MapMode, range: Range<u64>) -> MapState {
        let state = MapState::default();
        let flag = Arc::clone(&state.0);
        buffer.map_async(mode, range, move |result| {
            let value = if result.is_ok() {
                MapState::MAPPED
            } else {
                MapState::FAILED
            };
            flag.store(value, Ordering::Release);
        });
        state
    }

    /// `Ok` once mapped. Call after the wait that completes the mapping: with several
    /// threads polling one device, another thread's poll may have collected this mapping's
    /// callback and be about to run it, so a pending state is given a moment to settle.
    fn check(&self, ctx: &Context) -> Result<()> {
        let deadline = Instant::now() + MAPPING_SETTLES_WITHIN;
        loop {
            match self.0.load(Ordering::Acquire) {
                MapState::MAPPED => return Ok(()),
                MapState::FAILED => return Err(device_error("mapping a buffer failed")),
                _ if Instant::now() >= deadline => {
                    return Err(device_error("a buffer mapping did not complete"));
                }
                _ => {
                    ctx.poll_once()?;
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Copies `source` into the buffers of `spans`.
///
/// # Errors
/// [`crate::Error::Device`] if the device fails; `OutOfMemory` if staging cannot be had.
pub(crate) fn upload<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
) -> Result<()> {
    let mut clock = PhaseClock::start();
    let chunks = match ctx.summary.transfer_path {
        TransferPath::MappedBuffers => upload_mapped(ctx, spans, source, &mut clock),
        TransferPath::Staging => upload_staged(ctx, spans, source, &mut clock),
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
pub(crate) fn download<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
) -> Result<()> {
    let mut clock = PhaseClock::start();
    let chunks = match ctx.summary.transfer_path {
        TransferPath::MappedBuffers => download_mapped(ctx, spans, sink, &mut clock),
        TransferPath::Staging => download_staged(ctx, spans, sink, &mut clock),
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
pub(crate) fn create_filled<T: Pod>(
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
        upload_staged(ctx, &spans, source, &mut clock)?
    };
    ctx.record_transfer(true, &clock.finish(spans_bytes::<T>(&spans), chunks));
    Ok(buffers)
}

/// Maps every non-empty span's buffer in `mode` and waits until all are mapped.
fn map_all(
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
    clock.time(map_wait, || {
        states.iter().try_for_each(|state| state.check(ctx))
    })
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

fn upload_mapped<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    source: &Source<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    map_all(ctx, spans, wgpu::MapMode::Write, size_of::<T>(), clock)?;
    fill_mapped(ctx, spans, source, clock)?;
    Ok(mapped_pieces(spans))
}

fn download_mapped<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    map_all(ctx, spans, wgpu::MapMode::Read, size_of::<T>(), clock)?;
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
fn upload_staged<T: Pod>(
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
            clock.time(device_wait, || ctx.wait(done.submission))?;
            clock.time(map_wait, || done.state.check(ctx))?;
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
        clock.time(device_wait, || ctx.wait(last.submission.clone()))?;
    }
    for done in in_flight {
        clock.time(map_wait, || done.state.check(ctx))?;
        pool.uploads.put(class, done.buffer);
    }
    Ok(moved)
}

/// Returns the chunks it moved.
fn download_staged<T: Pod>(
    ctx: &Context,
    spans: &[Span<'_>],
    sink: &mut Sink<'_, T>,
    clock: &mut PhaseClock,
) -> Result<u64> {
    let pool = &ctx.staging;
    let class = pool.chunk_bytes;
    let mut in_flight: VecDeque<InFlight<'_>> = VecDeque::new();
    let drain =
        |done: InFlight<'_>, sink: &mut Sink<'_, T>, clock: &mut PhaseClock| -> Result<()> {
            clock.time(device_wait, || ctx.wait(done.submission))?;
            clock.time(map_wait, || done.state.check(ctx))?;
            clock.time(host_copy, || -> Result<()> {
                let view = ctx.mapped_range(&done.buffer, 0..done.chunk.bytes::<T>())?;
                sink.read(done.chunk.host.clone(), &view, pool.parallel)
            })?;
            done.buffer.unmap();
            pool.readbacks.put(class, done.buffer);
            Ok(())
        };
    let mut moved = 0;
    for chunk in chunks(spans, pool.chunk_elements::<T>(), size_of::<T>()) {
        if in_flight.len() >= pool.depth
            && let Some(done) = in_flight.pop_front()
        {
            drain(done, sink, clock)?;
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
        drain(done, sink, clock)?;
    }
    Ok(moved)
}

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
    pub(crate) fn finish(mut self, submission: Submission) -> Result<Mapped<'c>> {
        let buffer = self
            .buffer
            .take()
            .ok_or_else(|| device_error("a read-back was already finished"))?;
        let bytes = self.used.max(4);
        let state = self
            .ctx
            .capture(|| MapState::map(&buffer, wgpu::MapMode::Read, 0..bytes))?;
        self.ctx.wait(submission)?;
        state.check(self.ctx)?;
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

#[cfg(test)]
mod tests {
    use super::row_pieces;

    #[test]
    fn row_pieces_cover_a_range_exactly() {
        let pieces: Vec<_> = row_pieces(3..11, 4).collect();
        assert_eq!(pieces, vec![(0, 3..4, 0), (1, 0..4, 1), (2, 0..3, 5)]);
        assert_eq!(row_pieces(0..0, 4).count(), 0);
        assert_eq!(row_pieces(4..8, 4).collect::<Vec<_>>(), vec![(1, 0..4, 0)]);
    }
}
