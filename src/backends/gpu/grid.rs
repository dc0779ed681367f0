//! A 2D grid resident on the device, with a partner buffer for kernels that step from one
//! into the other: bands of whole rows, each within the device's largest storage binding
//! (the segments of [`super::resident::Resident`]). What a kernel does with it lives in the
//! kernel's folder (diffusion's steps: `GpuGrid::step`, `advance`).

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::backends::gpu::context::Context;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::host::{Sink, Source};
use crate::error::{Error, Result};
use crate::memory;
use crate::real::Real;

/// A grid resident on the GPU (a diffusion grid, with its ping-pong partner). Steps run
/// between its two buffers without a host round trip; [`GpuGrid::download_into`] and
/// [`GpuGrid::upload_from`] move the state through memory the caller owns, so that a loop
/// allocates nothing per step.
///
/// ```
/// # fn main() -> hpnum::Result<()> {
/// use hpnum::{DiffusionParams, Gpu};
/// use hpnum::kernels::diffusion::book_initial_grid;
///
/// let Ok(gpu) = Gpu::shared() else { return Ok(()) }; // no adapter on this machine
/// let mut host = book_initial_grid::<f32>(64, 64)?;
/// let mut grid = gpu.upload_grid(host.view())?;
/// grid.advance(&DiffusionParams::book(), 100)?; // on the device, nothing crosses the bus
/// grid.download_into(host.view_mut())?;
/// assert!((host.sum() - 0.245).abs() < 1e-6); // diffusion conserves the block's mass
/// # Ok(())
/// # }
/// ```
pub struct GpuGrid<T: Real> {
    resident: Resident<T>,
    rows: usize,
    cols: usize,
}

impl<T: Real> GpuGrid<T> {
    pub(crate) async fn upload(
        ctx: &std::sync::Arc<Context>,
        grid: ArrayView2<'_, T>,
    ) -> Result<Self> {
        ctx.pipelines(T::PRECISION)?;
        let (rows, cols) = grid.dim();
        let row_bytes = (cols * size_of::<T>()) as u64;
        if row_bytes > ctx.summary.max_binding_bytes {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("grid rows of {cols} cells (one row must fit one storage binding)"),
            });
        }
        memory::elements::<T>(rows, cols, "grid on the GPU")?;
        let band_rows =
            ((ctx.summary.max_binding_bytes / row_bytes.max(1)) as usize).clamp(1, rows.max(1));
        let lens: Vec<usize> = (0..rows)
            .step_by(band_rows)
            .map(|first| band_rows.min(rows - first) * cols)
            .collect();
        let key = CacheKey {
            what: "grid",
            precision: T::PRECISION,
            shape: [rows, cols],
        };
        let resident = Resident::upload(
            ctx,
            key,
            "grid on the GPU (two buffers)",
            &lens,
            1,
            &Source::grid(grid),
        )
        .await?;
        Ok(GpuGrid {
            resident,
            rows,
            cols,
        })
    }

    /// The data on the device, for the kernels that act on it.
    pub(crate) fn resident(&self) -> &Resident<T> {
        &self.resident
    }

    /// As [`GpuGrid::resident`], for kernels that rotate its buffers.
    pub(crate) fn resident_mut(&mut self) -> &mut Resident<T> {
        &mut self.resident
    }

    /// Keeps the grid's buffers for the next grid of this shape (one-shot calls do this;
    /// a grid the caller drops frees its memory), unless they are large.
    pub(crate) fn recycle(self) {
        self.resident.recycle();
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// How many buffers (bands of rows) the grid is split into.
    pub fn bands(&self) -> usize {
        self.resident.segments().len()
    }

    /// Copies the grid into a new host array.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the host array cannot be allocated; [`Error::Device`] if
    /// the device fails.
    pub fn download(&self) -> Result<Array2<T>> {
        block_on(self.download_async())
    }

    /// [`GpuGrid::download`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::download`].
    pub async fn download_async(&self) -> Result<Array2<T>> {
        let mut out = memory::zeroed_array2(self.rows, self.cols, "downloaded grid")?;
        self.download_into_async(out.view_mut()).await?;
        Ok(out)
    }

    /// Copies the grid into `out`, which may have any layout (non-contiguous, transposed,
    /// negative strides): straight from mapped memory into the caller's array, nothing
    /// allocated when `out` is contiguous.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `out`'s shape is not the grid's; [`Error::Device`] if
    /// the device fails.
    pub fn download_into(&self, out: ArrayViewMut2<'_, T>) -> Result<()> {
        block_on(self.download_into_async(out))
    }

    /// [`GpuGrid::download_into`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::download_into`].
    pub async fn download_into_async(&self, out: ArrayViewMut2<'_, T>) -> Result<()> {
        self.check_shape("download target", out.dim())?;
        self.resident.download_into(&mut Sink::grid(out)).await
    }

    /// Replaces the grid's state with `grid` (any layout), reusing the device's buffers.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `grid`'s shape is not this grid's; [`Error::Device`] if
    /// the device fails.
    pub fn upload_from(&mut self, grid: ArrayView2<'_, T>) -> Result<()> {
        block_on(self.upload_from_async(grid))
    }

    /// [`GpuGrid::upload_from`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::upload_from`].
    pub async fn upload_from_async(&mut self, grid: ArrayView2<'_, T>) -> Result<()> {
        self.check_shape("uploaded grid", grid.dim())?;
        self.resident.upload_from(&Source::grid(grid)).await
    }

    /// The elements of whole rows `rows`, or the error naming them.
    fn elements(&self, rows: &Range<usize>, len: usize) -> Result<Range<usize>> {
        if rows.start > rows.end || rows.end > self.rows || len != rows.len() * self.cols {
            return Err(Error::ShapeMismatch {
                what: "rows of a resident grid",
                expected: vec![rows.len().min(self.rows), self.cols],
                found: vec![len / self.cols.max(1), len % self.cols.max(1)],
            });
        }
        Ok(rows.start * self.cols..rows.end * self.cols)
    }

    /// Copies whole rows `rows` of the grid into `out` (row-major, `rows.len() × cols`)
    /// without moving the rest: what a halo exchange reads.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the rows are not the grid's or `out` is not their size;
    /// [`Error::Device`] if the device fails.
    pub fn download_rows(&self, rows: Range<usize>, out: &mut [T]) -> Result<()> {
        block_on(self.download_rows_async(rows, out))
    }

    /// [`GpuGrid::download_rows`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::download_rows`].
    pub async fn download_rows_async(&self, rows: Range<usize>, out: &mut [T]) -> Result<()> {
        let elements = self.elements(&rows, out.len())?;
        self.resident.download_range(elements, out).await
    }

    /// Overwrites whole rows from `first_row` on with `data` (row-major, whole rows) without
    /// moving the rest: what a halo exchange writes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the rows are not the grid's or `data` is not whole rows;
    /// [`Error::Device`] if the device fails.
    pub fn upload_rows(&mut self, first_row: usize, data: &[T]) -> Result<()> {
        block_on(self.upload_rows_async(first_row, data))
    }

    /// [`GpuGrid::upload_rows`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::upload_rows`].
    pub async fn upload_rows_async(&mut self, first_row: usize, data: &[T]) -> Result<()> {
        let count = data.len() / self.cols.max(1);
        let elements = self.elements(&(first_row..first_row.saturating_add(count)), data.len())?;
        self.resident.upload_range(elements.start, data).await
    }

    fn check_shape(&self, what: &'static str, dim: (usize, usize)) -> Result<()> {
        if dim != (self.rows, self.cols) {
            return Err(Error::ShapeMismatch {
                what,
                expected: vec![self.rows, self.cols],
                found: vec![dim.0, dim.1],
            });
        }
        Ok(())
    }
}
