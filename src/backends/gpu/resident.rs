//! Data that lives on the device between calls: a diffusion grid (with its ping-pong
//! partner) and a vector. Large ones are stored as several buffers, each within the
//! device's largest storage binding.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::context::{Context, MAX_TIMED_PASSES};
use crate::kernels::diffusion::DiffusionParams;
use crate::{Error, Real, Result};

/// Cell-steps per submission: bounds the work of one submission so that a long run never
/// trips an operating system's GPU watchdog (a couple of seconds on some desktops), even
/// on a software driver.
const CELL_STEPS_PER_SUBMISSION: usize = 1 << 26;

/// A dispatch's workgroup counts (x, y, z).
type Workgroups = (u32, u32, u32);

/// A band of rows and its two buffers.
struct Band {
    rows: usize,
    buffers: [wgpu::Buffer; 2],
}

/// A diffusion grid resident on the GPU. Steps run between its two buffers without a host
/// round trip; [`GpuGrid::download`] brings the state back.
pub struct GpuGrid<T: Real> {
    ctx: Arc<Context>,
    rows: usize,
    cols: usize,
    bands: Vec<Band>,
    /// Which buffer of each band holds the current state.
    current: usize,
    _element: PhantomData<T>,
}

impl<T: Real> GpuGrid<T> {
    pub(crate) fn upload(ctx: &Arc<Context>, grid: ArrayView2<'_, T>) -> Result<Self> {
        ctx.pipelines::<T>()?;
        let (rows, cols) = grid.dim();
        let row_bytes = (cols * size_of::<T>()) as u64;
        if row_bytes > ctx.summary.max_binding_bytes {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("grid rows of {cols} cells (one row must fit one storage binding)"),
            });
        }
        let band_rows =
            ((ctx.summary.max_binding_bytes / row_bytes.max(1)) as usize).clamp(1, rows.max(1));
        let standard = grid.as_standard_layout();
        let cells = standard.as_slice().unwrap_or_default();
        let mut bands = Vec::new();
        for first in (0..rows).step_by(band_rows) {
            let n = band_rows.min(rows - first);
            let data = &cells[first * cols..(first + n) * cols];
            let bytes = size_of_val(data) as u64;
            bands.push(Band {
                rows: n,
                buffers: [
                    ctx.buffer_with("grid", data)?,
                    ctx.buffer("grid scratch", bytes)?,
                ],
            });
        }
        ctx.wait()?;
        Ok(GpuGrid {
            ctx: Arc::clone(ctx),
            rows,
            cols,
            bands,
            current: 0,
            _element: PhantomData,
        })
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// How many buffers (bands of rows) the grid is split into.
    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// Copies the grid to the host.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn download(&self) -> Result<Array2<T>> {
        let mut cells = Vec::with_capacity(self.rows * self.cols);
        for band in &self.bands {
            cells.extend(self.ctx.read::<T>(
                &band.buffers[self.current],
                0,
                band.rows * self.cols,
            )?);
        }
        Array2::from_shape_vec((self.rows, self.cols), cells).map_err(|e| Error::Device {
            details: e.to_string(),
        })
    }

    /// Advances the grid `steps` steps on the device, many per submission, and returns
    /// their compute time: device time from timestamp queries where the adapter has them
    /// ([`super::Gpu::compute_clock`]), else host time until they completed.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<Duration> {
        let start = Instant::now();
        if steps == 0 || self.rows == 0 || self.cols == 0 {
            return Ok(start.elapsed());
        }
        let ctx = Arc::clone(&self.ctx);
        let pipeline = &ctx.pipelines::<T>()?.diffusion;
        let coefficient = ctx.buffer_with("coefficient", &[params.coefficient()])?;
        // One bind group per band and parity: parity p reads buffers[p], writes buffers[1-p].
        let mut binds: [Vec<(wgpu::BindGroup, Workgroups)>; 2] = [Vec::new(), Vec::new()];
        let count = self.bands.len();
        for (parity, binds) in binds.iter_mut().enumerate() {
            for (b, band) in self.bands.iter().enumerate() {
                let above = &self.bands[(b + count - 1) % count];
                let below = &self.bands[(b + 1) % count];
                let dims = ctx.uniform(
                    "diffusion dims",
                    [self.cols as u32, band.rows as u32, above.rows as u32 - 1, 0],
                )?;
                let group = ctx.bind(
                    pipeline,
                    &[
                        (0, &band.buffers[parity]),
                        (1, &above.buffers[parity]),
                        (2, &below.buffers[parity]),
                        (3, &band.buffers[1 - parity]),
                        (4, &coefficient),
                        (5, &dims),
                    ],
                )?;
                binds.push((group, ctx.workgroups_2d(self.cols, band.rows)?));
            }
        }
        let per_submission = (CELL_STEPS_PER_SUBMISSION / (self.rows * self.cols))
            .max(steps.div_ceil(MAX_TIMED_PASSES as usize))
            .max(1);
        let mut watch = ctx.stopwatch()?;
        let mut done = 0;
        while done < steps {
            let n = per_submission.min(steps - done);
            let first_parity = self.current;
            ctx.compute(watch.as_mut(), |pass| {
                pass.set_pipeline(pipeline);
                for s in 0..n {
                    for (group, (x, y, z)) in &binds[(first_parity + s) % 2] {
                        pass.set_bind_group(0, group, &[]);
                        pass.dispatch_workgroups(*x, *y, *z);
                    }
                }
            })?;
            self.current = (self.current + n) % 2;
            done += n;
        }
        ctx.wait()?;
        let host = start.elapsed();
        match watch {
            Some(watch) => ctx.elapsed(&watch),
            None => Ok(host),
        }
    }
}

/// A vector resident on the GPU, in pieces of at most one storage binding each.
pub struct GpuVector<T: Real> {
    pub(crate) ctx: Arc<Context>,
    pub(crate) len: usize,
    pub(crate) pieces: Vec<(wgpu::Buffer, usize)>,
    _element: PhantomData<T>,
}

impl<T: Real> GpuVector<T> {
    pub(crate) fn upload(ctx: &Arc<Context>, v: ArrayView1<'_, T>) -> Result<Self> {
        ctx.pipelines::<T>()?;
        let contiguous = crate::backends::contiguous::norm_input(&v);
        let per_piece = (ctx.summary.max_binding_bytes as usize / size_of::<T>()).max(1);
        let pieces = contiguous
            .chunks(per_piece)
            .map(|piece| Ok((ctx.buffer_with("vector", piece)?, piece.len())))
            .collect::<Result<Vec<_>>>()?;
        ctx.wait()?;
        Ok(GpuVector {
            ctx: Arc::clone(ctx),
            len: contiguous.len(),
            pieces,
            _element: PhantomData,
        })
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
