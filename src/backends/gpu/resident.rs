//! Data resident on the device, whatever it is for: one core under [`super::GpuGrid`],
//! [`super::GpuVector`] and a kernel's output buffers, so that the lifecycle is written
//! once: created filled (or taken from the cache of recent one-shot calls and refilled),
//! moved to and from the host through [`super::staging`], recycled into the cache, and,
//! for kernels that ping-pong between buffers, rotated.
//!
//! The data is stored as segments, each a contiguous range of its elements in buffers of
//! their own within the device's largest storage binding (a grid's segments are bands of
//! whole rows). A kernel keeps what it builds for the data (bind groups, parameters) in the
//! data's state slots ([`Resident::state`]); it never takes the data apart.

use std::any::Any;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use futures_util::lock::{Mutex, MutexGuard};

use bytemuck::Pod;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::host::{Sink, Source};
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::staging::{self, Span};
use crate::error::{Error, Result};
use crate::memory;

/// Elements `first .. first + len` of resident data, in buffers of their own: the data and,
/// for ping-pong kernels, its partners.
pub(crate) struct Segment {
    first: usize,
    len: usize,
    buffers: Vec<wgpu::Buffer>,
}

impl Segment {
    /// How many elements it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Data resident on one device (see the module's docs).
pub(crate) struct Resident<T> {
    ctx: Arc<Context>,
    key: CacheKey,
    len: usize,
    segments: Vec<Segment>,
    /// Which buffer of each segment holds the data.
    current: usize,
    /// What kernels built for this data, one value per type.
    states: Mutex<Vec<Box<dyn Any + Send>>>,
    /// Serialises transfers: two mappings of one buffer at once would fail.
    transfers: Mutex<()>,
    _element: PhantomData<T>,
}

impl<T: Pod> Resident<T> {
    /// `source` on the device as segments of `lens` elements, each with `partners` more
    /// buffers of its size, kept under `key` when recycled. Buffers a recycled call of the
    /// same key left are refilled instead of allocated.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the device (or, sharing it, the host) cannot hold the data;
    /// [`Error::Device`] if the device fails.
    pub(crate) async fn upload(
        ctx: &Arc<Context>,
        key: CacheKey,
        what: &'static str,
        lens: &[usize],
        partners: usize,
        source: &Source<'_, T>,
    ) -> Result<Self> {
        let len: usize = lens.iter().sum();
        if let Some(segments) = ctx.cache.take::<Vec<Segment>>(&key) {
            let resident = Resident::from_segments(ctx, key, len, segments);
            resident.upload_from(source).await?;
            return Ok(resident);
        }
        let copies = 1 + partners as u128;
        ctx.check_device_bytes(what, copies * memory::bytes_of::<T>(len), false)?;
        let data = staging::create_filled(ctx, what, lens, source).await?;
        let mut segments = Vec::with_capacity(lens.len());
        let mut first = 0;
        for (&len, buffer) in lens.iter().zip(data) {
            let mut buffers = vec![buffer];
            for _ in 0..partners {
                let bytes = buffers[0].size();
                buffers.push(ctx.data_buffer(what, bytes, false)?);
            }
            segments.push(Segment {
                first,
                len,
                buffers,
            });
            first += len;
        }
        Ok(Resident::from_segments(ctx, key, len, segments))
    }

    fn from_segments(
        ctx: &Arc<Context>,
        key: CacheKey,
        len: usize,
        segments: Vec<Segment>,
    ) -> Self {
        Resident {
            ctx: Arc::clone(ctx),
            key,
            len,
            segments,
            current: 0,
            states: Mutex::new(Vec::new()),
            transfers: Mutex::new(()),
            _element: PhantomData,
        }
    }

    /// Keeps the buffers for the next data of this key (one-shot calls do this; data the
    /// caller drops frees its memory), unless they are large (see [`super::pool::Cache`]).
    pub(crate) fn recycle(self) {
        let bytes: u64 = self
            .segments
            .iter()
            .flat_map(|s| &s.buffers)
            .map(|b| b.size())
            .sum();
        self.ctx.cache.put(self.key, bytes, self.segments);
    }

    /// The device.
    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// How many elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The segments, in element order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Buffer `index` of segment `segment` (0 is the one the data was uploaded into; a
    /// ping-pong kernel's partners follow).
    pub(crate) fn buffer(&self, segment: usize, index: usize) -> Result<&wgpu::Buffer> {
        self.segments
            .get(segment)
            .and_then(|s| s.buffers.get(index))
            .ok_or_else(|| device_error("no such buffer of resident data"))
    }

    /// Which buffer of each segment holds the data now.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// How many buffers each segment has (1 + partners).
    pub(crate) fn copies(&self) -> usize {
        self.segments.first().map_or(1, |s| s.buffers.len())
    }

    /// Records that the data moved `by` buffers on, as `by` ping-pong steps move it.
    pub(crate) fn rotate(&mut self, by: usize) {
        self.current = (self.current + by) % self.copies();
    }

    /// The buffers holding the data, with the elements each holds.
    fn spans(&self) -> Vec<Span<'_>> {
        self.segments
            .iter()
            .map(|s| Span {
                buffer: &s.buffers[self.current % s.buffers.len()],
                first: s.first,
                len: s.len,
            })
            .collect()
    }

    async fn one_transfer_at_a_time(&self) -> MutexGuard<'_, ()> {
        self.transfers.lock().await
    }

    /// Copies the data into `sink`.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub(crate) async fn download_into(&self, sink: &mut Sink<'_, T>) -> Result<()> {
        let _lock = self.one_transfer_at_a_time().await;
        staging::download(&self.ctx, &self.spans(), sink).await
    }

    /// Replaces the data with `source`.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub(crate) async fn upload_from(&self, source: &Source<'_, T>) -> Result<()> {
        let _lock = self.one_transfer_at_a_time().await;
        staging::upload(&self.ctx, &self.spans(), source).await
    }

    /// The parts of the segments that hold elements `range`: (segment, offset in it, count).
    fn pieces(&self, range: Range<usize>) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.segments
            .iter()
            .enumerate()
            .filter_map(move |(s, seg)| {
                let start = range.start.max(seg.first);
                let end = range.end.min(seg.first + seg.len);
                (start < end).then(|| (s, start - seg.first, end - start))
            })
    }

    fn check_range(&self, range: &Range<usize>, len: usize) -> Result<()> {
        if range.start > range.end || range.end > self.len || len != range.len() {
            return Err(Error::ShapeMismatch {
                what: "elements of resident data",
                expected: vec![range.len()],
                found: vec![len],
            });
        }
        Ok(())
    }

    /// Copies elements `range` into `out` without moving the rest (a halo exchange's
    /// rows), in one submission and one wait.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `range` is not within the data or `out` is not its
    /// length; [`Error::Device`] if the device fails.
    pub(crate) async fn download_range(&self, range: Range<usize>, out: &mut [T]) -> Result<()> {
        self.check_range(&range, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let _lock = self.one_transfer_at_a_time().await;
        let element = size_of::<T>() as u64;
        let mut readback = Readback::new(&self.ctx, element * range.len() as u64)?;
        let mut encoder = self.ctx.encoder();
        let mut placed = Vec::new();
        for (s, offset, count) in self.pieces(range) {
            let at = readback.copy(
                &mut encoder,
                self.buffer(s, self.current)?,
                offset as u64 * element,
                count as u64 * element,
            )?;
            placed.push((at, count));
        }
        let mapped = readback.finish(self.ctx.submit(encoder)?).await?;
        let mut filled = 0;
        for (at, count) in placed {
            let bytes = mapped
                .get(at..at + count * size_of::<T>())
                .ok_or_else(|| device_error("elements were not read back"))?;
            bytemuck::cast_slice_mut::<T, u8>(&mut out[filled..filled + count])
                .copy_from_slice(bytes);
            filled += count;
        }
        Ok(())
    }

    /// Overwrites elements from `first` on with `data` without moving the rest.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if they are not within the data; [`Error::Device`] if the
    /// device fails.
    pub(crate) async fn upload_range(&self, first: usize, data: &[T]) -> Result<()> {
        let range = first..first.saturating_add(data.len());
        self.check_range(&range, data.len())?;
        let _lock = self.one_transfer_at_a_time().await;
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let element = size_of::<T>();
        let mut taken = 0;
        for (s, offset, count) in self.pieces(range) {
            let buffer = self.buffer(s, self.current)?;
            self.ctx.capture(|| {
                self.ctx.queue.write_buffer(
                    buffer,
                    (offset * element) as u64,
                    &bytes[taken..taken + count * element],
                )
            })?;
            taken += count * element;
        }
        Ok(())
    }

    /// This data's state of type `S`, built by `init` the first time, locked while the
    /// returned slot lives: calls on one piece of data take turns.
    ///
    /// # Errors
    /// What `init` returns.
    pub(crate) async fn state<S: Any + Send>(
        &self,
        init: impl FnOnce(&Self) -> Result<S>,
    ) -> Result<StateSlot<'_, S>> {
        let mut states = self.states.lock().await;
        let at = match states.iter().position(|s| s.is::<S>()) {
            Some(at) => at,
            None => {
                states.push(Box::new(init(self)?));
                states.len() - 1
            }
        };
        Ok(StateSlot {
            states,
            at,
            _state: PhantomData,
        })
    }
}

impl<T: Pod> Resident<T> {
    /// Runs `f` on this data's state of type `S` (see [`Resident::state`]).
    ///
    /// # Errors
    /// What `init` or `f` returns.
    pub(crate) fn with_state<S: Any + Send, R>(
        &self,
        init: impl FnOnce(&Self) -> Result<S>,
        f: impl FnOnce(&mut S) -> Result<R>,
    ) -> Result<R> {
        block_on(async { f(self.state(init).await?.get()?) })
    }
}

/// A resident state of type `S`, locked (see [`Resident::state`]).
pub(crate) struct StateSlot<'r, S> {
    states: MutexGuard<'r, Vec<Box<dyn Any + Send>>>,
    at: usize,
    _state: PhantomData<S>,
}

impl<S: Any> StateSlot<'_, S> {
    /// The state.
    pub(crate) fn get(&mut self) -> Result<&mut S> {
        self.states
            .get_mut(self.at)
            .and_then(|s| s.downcast_mut::<S>())
            .ok_or_else(|| device_error("a resident state changed type"))
    }
}
