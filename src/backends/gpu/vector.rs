//! A vector resident on the device, in segments of at most one storage binding each (the
//! segments of [`super::resident::Resident`]). What a kernel does with it lives in the
//! kernel's folder (the norms: `GpuVector::norm`).

use ndarray::{Array1, ArrayView1, ArrayViewMut1};

use crate::backends::gpu::context::Context;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::host::{Sink, Source};
use crate::error::{Error, Result};
use crate::memory;
use crate::real::Real;

/// A vector resident on the GPU: many norms of it run without crossing the bus.
///
/// ```
/// # fn main() -> hpnum::Result<()> {
/// use hpnum::{Gpu, NormKind};
/// use ndarray::Array1;
///
/// let Ok(gpu) = Gpu::shared() else { return Ok(()) }; // no adapter on this machine
/// let v = gpu.upload_vector(Array1::from_vec(vec![3.0f32, -4.0]).view())?;
/// assert_eq!(v.norm(NormKind::L2)?, 5.0);
/// assert_eq!(v.norm(NormKind::L1)?, 7.0); // the same upload, another norm
/// # Ok(())
/// # }
/// ```
pub struct GpuVector<T: Real> {
    resident: Resident<T>,
}

impl<T: Real> GpuVector<T> {
    pub(crate) async fn upload(
        ctx: &std::sync::Arc<Context>,
        v: ArrayView1<'_, T>,
    ) -> Result<Self> {
        ctx.pipelines(T::PRECISION)?;
        let len = v.len();
        let per_segment = (ctx.summary.max_binding_bytes as usize / size_of::<T>()).max(1);
        let lens: Vec<usize> = (0..len)
            .step_by(per_segment)
            .map(|first| per_segment.min(len - first))
            .collect();
        let key = CacheKey {
            what: "vector",
            precision: T::PRECISION,
            shape: [len, 1],
        };
        let resident =
            Resident::upload(ctx, key, "vector on the GPU", &lens, 0, &Source::vector(v)).await?;
        Ok(GpuVector { resident })
    }

    /// The data on the device, for the kernels that act on it.
    pub(crate) fn resident(&self) -> &Resident<T> {
        &self.resident
    }

    /// Keeps the vector's buffers for the next vector of this length (one-shot calls do
    /// this; a vector the caller drops frees its memory), unless they are large.
    pub(crate) fn recycle(self) {
        self.resident.recycle();
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.resident.len()
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the vector into a new host array.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the host array cannot be allocated; [`Error::Device`] if
    /// the device fails.
    pub fn download(&self) -> Result<Array1<T>> {
        block_on(self.download_async())
    }

    /// [`GpuVector::download`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuVector::download`].
    pub async fn download_async(&self) -> Result<Array1<T>> {
        let mut out = Array1::from_vec(memory::zeroed_vec(self.len(), "downloaded vector")?);
        self.download_into_async(out.view_mut()).await?;
        Ok(out)
    }

    /// Copies the vector into `out`, of any stride.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `out`'s length differs; [`Error::Device`] if the device
    /// fails.
    pub fn download_into(&self, out: ArrayViewMut1<'_, T>) -> Result<()> {
        block_on(self.download_into_async(out))
    }

    /// [`GpuVector::download_into`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuVector::download_into`].
    pub async fn download_into_async(&self, out: ArrayViewMut1<'_, T>) -> Result<()> {
        self.check_len("download target", out.len())?;
        self.resident.download_into(&mut Sink::vector(out)).await
    }

    /// Replaces the vector's elements with `v` (any stride), reusing the device's buffers.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `v`'s length differs; [`Error::Device`] if the device
    /// fails.
    pub fn upload_from(&mut self, v: ArrayView1<'_, T>) -> Result<()> {
        block_on(self.upload_from_async(v))
    }

    /// [`GpuVector::upload_from`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuVector::upload_from`].
    pub async fn upload_from_async(&mut self, v: ArrayView1<'_, T>) -> Result<()> {
        self.check_len("uploaded vector", v.len())?;
        self.resident.upload_from(&Source::vector(v)).await
    }

    fn check_len(&self, what: &'static str, len: usize) -> Result<()> {
        if len != self.len() {
            return Err(Error::ShapeMismatch {
                what,
                expected: vec![self.len()],
                found: vec![len],
            });
        }
        Ok(())
    }
}
