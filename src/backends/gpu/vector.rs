//! A vector resident on the device, in pieces of at most one storage binding each, moved to
//! and from the host through [`super::staging`]. Its norms are [`super::norm`]'s.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::{Array1, ArrayView1, ArrayViewMut1};

use super::context::{Context, KEEP_AT_MOST_BYTES};
use super::norm::NormPlan;
use super::staging::{self, Segment, Sink, Source};
use crate::{Error, Real, Result, memory};

/// A piece of the vector: its elements `first .. first + len` in one buffer.
pub(crate) struct Piece {
    pub first: usize,
    pub len: usize,
    pub buffer: wgpu::Buffer,
}

/// A vector resident on the GPU: many norms of it run without crossing the bus.
pub struct GpuVector<T: Real> {
    pub(crate) ctx: Arc<Context>,
    pub(crate) len: usize,
    pub(crate) pieces: Vec<Piece>,
    /// The reduction's buffers and bind groups, built by the first norm; the lock also
    /// keeps two threads' norms of this vector from interleaving their parameters.
    pub(crate) norm: Mutex<Option<NormPlan>>,
    /// Serialises transfers of this vector: two mappings of one buffer at once would fail.
    transfers: Mutex<()>,
    _element: PhantomData<T>,
}

impl<T: Real> GpuVector<T> {
    pub(crate) fn upload(ctx: &Arc<Context>, v: ArrayView1<'_, T>) -> Result<Self> {
        ctx.pipelines(T::PRECISION)?;
        let len = v.len();
        // A one-shot call of this length left its buffers (see `GpuGrid::upload`).
        if let Some(pieces) = ctx.vectors.take(&(T::PRECISION, len)) {
            let mut resident = GpuVector::from_pieces(ctx, len, pieces);
            resident.upload_from(v)?;
            return Ok(resident);
        }
        ctx.check_device_bytes("vector on the GPU", memory::bytes_of::<T>(len), false)?;
        let per_piece = (ctx.summary.max_binding_bytes as usize / size_of::<T>()).max(1);
        let lens: Vec<usize> = (0..len)
            .step_by(per_piece)
            .map(|first| per_piece.min(len - first))
            .collect();
        let buffers = staging::create_filled(ctx, "vector", &lens, &Source::vector(v))?;
        let mut first = 0;
        let pieces = buffers
            .into_iter()
            .zip(lens)
            .map(|(buffer, len)| {
                first += len;
                Piece {
                    first: first - len,
                    len,
                    buffer,
                }
            })
            .collect();
        Ok(GpuVector::from_pieces(ctx, len, pieces))
    }

    fn from_pieces(ctx: &Arc<Context>, len: usize, pieces: Vec<Piece>) -> Self {
        GpuVector {
            ctx: Arc::clone(ctx),
            len,
            pieces,
            norm: Mutex::new(None),
            transfers: Mutex::new(()),
            _element: PhantomData,
        }
    }

    /// Keeps the vector's buffers for the next vector of this length (one-shot calls do
    /// this; a vector the caller drops frees its memory), unless they are large.
    pub(crate) fn recycle(self) {
        if memory::bytes_of::<T>(self.len) <= u128::from(KEEP_AT_MOST_BYTES) {
            let key = (T::PRECISION, self.len);
            self.ctx.vectors.put(key, self.pieces);
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the vector into a new host array.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the host array cannot be allocated; [`Error::Device`] if
    /// the device fails.
    pub fn download(&self) -> Result<Array1<T>> {
        let mut out = Array1::from_vec(memory::zeroed_vec(self.len, "downloaded vector")?);
        self.download_into(out.view_mut())?;
        Ok(out)
    }

    /// Copies the vector into `out`, of any stride.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `out`'s length differs; [`Error::Device`] if the device
    /// fails.
    pub fn download_into(&self, out: ArrayViewMut1<'_, T>) -> Result<()> {
        self.check_len("download target", out.len())?;
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        staging::download(&self.ctx, &self.segments(), &mut Sink::vector(out))
    }

    /// Replaces the vector's elements with `v` (any stride), reusing the device's buffers.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `v`'s length differs; [`Error::Device`] if the device
    /// fails.
    pub fn upload_from(&mut self, v: ArrayView1<'_, T>) -> Result<()> {
        self.check_len("uploaded vector", v.len())?;
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        staging::upload(&self.ctx, &self.segments(), &Source::vector(v))
    }

    /// The norm `kind` of the vector, untimed: the cheapest call (see
    /// [`super::Gpu::norm_resident`] for the timed one).
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn norm(&self, kind: crate::NormKind) -> Result<T> {
        super::norm::norm(self, kind, false).map(|(value, _)| value)
    }

    fn check_len(&self, what: &'static str, len: usize) -> Result<()> {
        if len != self.len {
            return Err(Error::ShapeMismatch {
                what,
                expected: vec![self.len],
                found: vec![len],
            });
        }
        Ok(())
    }

    fn segments(&self) -> Vec<Segment<'_>> {
        self.pieces
            .iter()
            .map(|piece| Segment {
                buffer: &piece.buffer,
                first: piece.first,
                len: piece.len,
            })
            .collect()
    }
}
