//! A diffusion grid resident on the device, with its ping-pong partner: stored as bands of
//! rows, each within the device's largest storage binding, and moved to and from the host
//! through [`super::staging`]. The steps themselves are [`super::diffusion`]'s.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::context::{Context, KEEP_AT_MOST_BYTES};
use super::diffusion::DiffusionPlan;
use super::staging::{self, Segment, Sink, Source};
use crate::kernels::diffusion::DiffusionParams;
use crate::{Error, Real, Result, memory};

/// A band of rows and its two buffers.
pub(crate) struct Band {
    pub first_row: usize,
    pub rows: usize,
    pub buffers: [wgpu::Buffer; 2],
}

/// A diffusion grid resident on the GPU. Steps run between its two buffers without a host
/// round trip; [`GpuGrid::download_into`] and [`GpuGrid::upload_from`] move the state
/// through memory the caller owns, so that a loop allocates nothing per step.
pub struct GpuGrid<T: Real> {
    pub(crate) ctx: Arc<Context>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) bands: Vec<Band>,
    /// Which buffer of each band holds the current state.
    pub(crate) current: usize,
    /// Bind groups and parameters for stepping, built by the first step.
    pub(crate) plan: Option<DiffusionPlan<T>>,
    /// Steps per dispatch (temporal blocking), 1 for one step per dispatch.
    pub(crate) steps_per_dispatch: usize,
    /// Serialises transfers of this grid: two mappings of one buffer at once would fail.
    transfers: Mutex<()>,
    _element: PhantomData<T>,
}

impl<T: Real> GpuGrid<T> {
    pub(crate) fn upload(ctx: &Arc<Context>, grid: ArrayView2<'_, T>) -> Result<Self> {
        ctx.pipelines(T::PRECISION)?;
        let (rows, cols) = grid.dim();
        // A one-shot call of this shape left its buffers: refilling them costs a copy,
        // allocating new ones also the allocation (and, on a software driver, a page
        // fault per page).
        if let Some(bands) = ctx.grids.take(&(T::PRECISION, rows, cols)) {
            let mut resident = GpuGrid::from_bands(ctx, rows, cols, bands);
            resident.upload_from(grid)?;
            return Ok(resident);
        }
        let row_bytes = (cols * size_of::<T>()) as u64;
        if row_bytes > ctx.summary.max_binding_bytes {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("grid rows of {cols} cells (one row must fit one storage binding)"),
            });
        }
        let cells = memory::elements::<T>(rows, cols, "diffusion grid on the GPU")?;
        ctx.check_device_bytes(
            "diffusion grid on the GPU (two buffers)",
            2 * memory::bytes_of::<T>(cells),
            false,
        )?;
        let band_rows =
            ((ctx.summary.max_binding_bytes / row_bytes.max(1)) as usize).clamp(1, rows.max(1));
        let spans: Vec<(usize, usize)> = (0..rows)
            .step_by(band_rows)
            .map(|first| (first, band_rows.min(rows - first)))
            .collect();
        let lens: Vec<usize> = spans.iter().map(|&(_, n)| n * cols).collect();
        let current = staging::create_filled(ctx, "diffusion grid", &lens, &Source::grid(grid))?;
        let mut bands = Vec::with_capacity(current.len());
        for ((first_row, band_rows), buffer) in spans.into_iter().zip(current) {
            let bytes = (band_rows * cols * size_of::<T>()) as u64;
            let scratch = ctx.data_buffer("diffusion grid scratch", bytes, false)?;
            bands.push(Band {
                first_row,
                rows: band_rows,
                buffers: [buffer, scratch],
            });
        }
        Ok(GpuGrid::from_bands(ctx, rows, cols, bands))
    }

    fn from_bands(ctx: &Arc<Context>, rows: usize, cols: usize, bands: Vec<Band>) -> Self {
        GpuGrid {
            ctx: Arc::clone(ctx),
            rows,
            cols,
            bands,
            current: 0,
            plan: None,
            steps_per_dispatch: ctx.summary.diffusion_steps_per_dispatch as usize,
            transfers: Mutex::new(()),
            _element: PhantomData,
        }
    }

    /// Keeps the grid's buffers for the next grid of this shape (one-shot calls do this;
    /// a grid the caller drops frees its memory), unless they are large.
    pub(crate) fn recycle(self) {
        let bytes = 2 * memory::bytes_of::<T>(self.rows * self.cols);
        if bytes <= u128::from(KEEP_AT_MOST_BYTES) {
            let key = (T::PRECISION, self.rows, self.cols);
            self.ctx.grids.put(key, self.bands);
        }
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// How many buffers (bands of rows) the grid is split into.
    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// Copies the grid into a new host array.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the host array cannot be allocated; [`Error::Device`] if
    /// the device fails.
    pub fn download(&self) -> Result<Array2<T>> {
        let mut out = memory::zeroed_array2(self.rows, self.cols, "downloaded grid")?;
        self.download_into(out.view_mut())?;
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
        self.check_shape("download target", out.dim())?;
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        staging::download(&self.ctx, &self.segments(), &mut Sink::grid(out))
    }

    /// Replaces the grid's state with `grid` (any layout), reusing the device's buffers.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `grid`'s shape is not this grid's; [`Error::Device`] if
    /// the device fails.
    pub fn upload_from(&mut self, grid: ArrayView2<'_, T>) -> Result<()> {
        self.check_shape("uploaded grid", grid.dim())?;
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        staging::upload(&self.ctx, &self.segments(), &Source::grid(grid))
    }

    /// The parts of the bands that hold rows `rows`: (band, first row in it, row count).
    fn pieces(&self, rows: std::ops::Range<usize>) -> impl Iterator<Item = (&Band, usize, usize)> {
        self.bands.iter().filter_map(move |band| {
            let start = rows.start.max(band.first_row);
            let end = rows.end.min(band.first_row + band.rows);
            (start < end).then(|| (band, start - band.first_row, end - start))
        })
    }

    fn check_rows(&self, rows: &std::ops::Range<usize>, len: usize) -> Result<()> {
        if rows.start > rows.end || rows.end > self.rows || len != rows.len() * self.cols {
            return Err(Error::ShapeMismatch {
                what: "rows of a resident grid",
                expected: vec![rows.len().min(self.rows), self.cols],
                found: vec![len / self.cols.max(1), len % self.cols.max(1)],
            });
        }
        Ok(())
    }

    /// Copies whole rows `rows` of the grid into `out` (row-major, `rows.len() × cols`)
    /// without moving the rest: what a halo exchange reads.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the rows are not the grid's or `out` is not their size;
    /// [`Error::Device`] if the device fails.
    pub fn download_rows(&self, rows: std::ops::Range<usize>, out: &mut [T]) -> Result<()> {
        self.check_rows(&rows, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let row_bytes = (self.cols * size_of::<T>()) as u64;
        let mut readback = staging::Readback::new(&self.ctx, row_bytes * rows.len() as u64)?;
        let mut encoder = self.ctx.encoder();
        let mut placed = Vec::new();
        for (band, first, count) in self.pieces(rows) {
            let at = readback.copy(
                &mut encoder,
                &band.buffers[self.current],
                first as u64 * row_bytes,
                count as u64 * row_bytes,
            )?;
            placed.push((at, count * self.cols));
        }
        let mapped = readback.finish(self.ctx.submit(encoder)?)?;
        let mut filled = 0;
        for (at, len) in placed {
            let bytes = mapped
                .get(at..at + len * size_of::<T>())
                .ok_or_else(|| super::errors::device_error("rows were not read back"))?;
            bytemuck::cast_slice_mut::<T, u8>(&mut out[filled..filled + len])
                .copy_from_slice(bytes);
            filled += len;
        }
        Ok(())
    }

    /// Overwrites whole rows from `first_row` on with `data` (row-major, whole rows) without
    /// moving the rest: what a halo exchange writes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the rows are not the grid's or `data` is not whole rows;
    /// [`Error::Device`] if the device fails.
    pub fn upload_rows(&mut self, first_row: usize, data: &[T]) -> Result<()> {
        let count = data.len() / self.cols.max(1);
        let rows = first_row..first_row + count;
        self.check_rows(&rows, data.len())?;
        let _one_at_a_time = self
            .transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let row_bytes = self.cols * size_of::<T>();
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let mut taken = 0;
        self.ctx.capture(|| {
            for (band, first, n) in self.pieces(rows.clone()) {
                self.ctx.queue.write_buffer(
                    &band.buffers[self.current],
                    (first * row_bytes) as u64,
                    &bytes[taken..taken + n * row_bytes],
                );
                taken += n * row_bytes;
            }
        })
    }

    /// Advances the grid `steps` steps on the device and returns their compute time:
    /// device time from timestamp queries where the adapter has them
    /// ([`super::Gpu::compute_clock`]), else host time until they completed.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<Duration> {
        super::diffusion::step(self, params, steps, true)
    }

    /// Advances the grid `steps` steps on the device, untimed: the cheapest call, for loops
    /// that only need the result (on some drivers a timestamp query costs more than a
    /// small step).
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn advance(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<()> {
        super::diffusion::step(self, params, steps, false).map(|_| ())
    }

    /// Sets how many steps one dispatch takes (temporal blocking, K): 1 runs one step per
    /// dispatch through device memory; K ≥ 2 loads tiles of the grid with a K-cell halo into
    /// workgroup memory and steps them K times before writing back, trading redundant
    /// halo work for K times less memory traffic. Results are bit-identical for every K.
    /// Which K is fastest depends on the device; `gpu_diffusion --steps-per-dispatch` and
    /// the bench's `diffusion-k` rows measure it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 or more than [`GpuGrid::max_steps_per_dispatch`];
    /// [`Error::Unsupported`] for K ≥ 2 on a grid stored in several bands (larger than one
    /// storage binding), where only K = 1 runs.
    pub fn set_steps_per_dispatch(&mut self, k: usize) -> Result<()> {
        let max = Self::max_steps_per_dispatch();
        if k == 0 || k > max {
            return Err(Error::invalid(
                "steps_per_dispatch",
                format!("{k} is not between 1 and {max} for {}", T::PRECISION),
            ));
        }
        if k > 1 && self.bands.len() > 1 {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!(
                    "{k} steps per dispatch on a grid in {} bands (larger than one binding)",
                    self.bands.len()
                ),
            });
        }
        self.steps_per_dispatch = k;
        Ok(())
    }

    /// Steps one dispatch takes ([`GpuGrid::set_steps_per_dispatch`]).
    pub fn steps_per_dispatch(&self) -> usize {
        self.steps_per_dispatch
    }

    /// The most steps one dispatch can take in `T`: the tile in workgroup memory (64² cells
    /// in f32, 45² in f64) must keep an interior: 31 in f32, 22 in f64.
    pub fn max_steps_per_dispatch() -> usize {
        super::contract::max_tile_steps(T::PRECISION) as usize
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

    /// The buffers holding the current state, with the host elements each holds.
    fn segments(&self) -> Vec<Segment<'_>> {
        self.bands
            .iter()
            .map(|band| Segment {
                buffer: &band.buffers[self.current],
                first: band.first_row * self.cols,
                len: band.rows * self.cols,
            })
            .collect()
    }
}
