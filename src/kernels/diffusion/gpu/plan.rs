//! What stepping a grid builds on the device, once per grid: the one-step entry point
//! (chosen by timing both where the grid is large), its bind groups per band and parity,
//! and the temporally blocked dispatch for the K and scheme last used.

use std::time::Duration;

use web_time::Instant;

use crate::backends::gpu::contract::WORKGROUP_SIZE;
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::shaders::Entry;
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::submit::Workgroups;
use crate::error::{Error, Result};
use crate::kernels::diffusion::gpu::shader::{
    DiffusionDims, DiffusionStream, DiffusionTile, MAIN, QUADS, SHADER, STREAM_STRIP_ROWS,
    STREAMED, TILED, tile_side,
};
use crate::kernels::diffusion::settings::TemporalBlocking;
use crate::real::Real;

/// What stepping a grid needs on the device, built once per grid.
pub(super) struct DiffusionPlan<T> {
    /// The one-step entry point: `quads` where rows are whole quads, else `main`.
    entry: Entry,
    coefficient: wgpu::Buffer,
    /// The D·dt the buffer holds.
    value: T,
    /// Per parity p (reading buffer p of each band, writing buffer 1 - p): each band's
    /// dispatch.
    dispatches: [Vec<(wgpu::BindGroup, Workgroups)>; 2],
    /// The bands' dims, kept alive with the bind groups that use them.
    _dims: Vec<wgpu::Buffer>,
    /// The temporally blocked dispatch for the K and scheme last used, built when either
    /// changes.
    blocked: Option<BlockedPlan>,
}

/// K steps per dispatch on a one-band grid: the `tiled` or `streamed` entry point's bind
/// groups per parity, and its workgroups (one per tile, or per strip).
pub(super) struct BlockedPlan {
    steps: usize,
    scheme: TemporalBlocking,
    entry: Entry,
    dispatches: [wgpu::BindGroup; 2],
    workgroups: Workgroups,
    _uniform: wgpu::Buffer,
}

impl BlockedPlan {
    pub(super) fn new<T: Real>(
        grid: &Resident<T>,
        (rows, cols): (usize, usize),
        coefficient: &wgpu::Buffer,
        steps: usize,
        scheme: TemporalBlocking,
    ) -> Result<Self> {
        let ctx = grid.ctx();
        let (entry, uniform, binding, (x, y)) = match scheme {
            TemporalBlocking::Tiles => {
                let side = tile_side(T::PRECISION, ctx.summary.workgroup_storage_bytes);
                let interior = side as usize - 2 * steps;
                let tile = ctx.uniform(
                    "diffusion tile",
                    &DiffusionTile {
                        cols: cols as u32,
                        rows: rows as u32,
                        steps: steps as u32,
                        interior: interior as u32,
                    },
                )?;
                let tiles = (cols.div_ceil(interior), rows.div_ceil(interior));
                (Entry::new(SHADER, TILED), tile, 6, tiles)
            }
            TemporalBlocking::Stream => {
                let interior = WORKGROUP_SIZE as usize - 2 * steps;
                let strip_rows = STREAM_STRIP_ROWS.min(rows);
                let stream = ctx.uniform(
                    "diffusion stream",
                    &DiffusionStream {
                        cols: cols as u32,
                        rows: rows as u32,
                        steps: steps as u32,
                        strip_rows: strip_rows as u32,
                    },
                )?;
                let strips = (cols.div_ceil(interior), rows.div_ceil(strip_rows));
                (Entry::new(SHADER, STREAMED), stream, 11, strips)
            }
        };
        let pipeline = ctx.pipeline::<T>(entry)?;
        let bind = |parity: usize| {
            ctx.bind(
                pipeline,
                &[
                    (0, grid.buffer(0, parity)?),
                    (3, grid.buffer(0, 1 - parity)?),
                    (4, coefficient),
                    (binding, &uniform),
                ],
            )
        };
        let dispatches = [bind(0)?, bind(1)?];
        let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
        if x > max || y > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("{y} × {x} workgroups of {} in one dispatch", scheme.name()),
            });
        }
        Ok(BlockedPlan {
            steps,
            scheme,
            entry,
            dispatches,
            workgroups: (x as u32, y as u32, 1),
            _uniform: uniform,
        })
    }
}

/// Grids from this many cells choose their one-step entry point by timing both once per
/// device, precision and power-of-two size (FFTW's "measure"): on the H200 the f64 quads
/// ran at 76 % of the copy probe where the one-cell entry had reached 92 % on an H100.
/// Smaller grids take `quads` where rows are whole quads, too small a step to time well.
const MEASURE_ENTRY_FROM_CELLS: usize = 1 << 22;

impl<T: Real> DiffusionPlan<T> {
    /// The plan of a grid of `rows × cols`, on the faster one-step entry point: `main`
    /// where rows are not whole quads, else whichever of `quads` and `main` measured faster
    /// for grids of this size class on this device (`quads` for small grids).
    pub(super) async fn build(
        grid: &Resident<T>,
        (rows, cols): (usize, usize),
        value: T,
    ) -> Result<Self> {
        if !cols.is_multiple_of(4) {
            return Self::new(grid, cols, value, MAIN);
        }
        let quads = Self::new(grid, cols, value, QUADS)?;
        let cells = rows * cols;
        if cells < MEASURE_ENTRY_FROM_CELLS {
            return Ok(quads);
        }
        let ctx = grid.ctx();
        let key = CacheKey {
            what: "diffusion one-step entry",
            precision: T::PRECISION,
            shape: [cells.next_power_of_two().trailing_zeros() as usize, 0],
        };
        let faster = match ctx.cache.take::<&'static str>(&key) {
            Some(QUADS) => quads,
            Some(_) => Self::new(grid, cols, value, MAIN)?,
            None => {
                let one_cell = Self::new(grid, cols, value, MAIN)?;
                if one_cell.time_one_step(grid).await? < quads.time_one_step(grid).await? {
                    one_cell
                } else {
                    quads
                }
            }
        };
        ctx.cache.put(key, 0, faster.entry.function);
        Ok(faster)
    }

    /// One step's time on the grid's data, writing the buffer the next step overwrites
    /// anyway (the grid's state is unchanged): the second of two dispatches, on the device's
    /// clock where it has timestamps, else from submission to completion.
    async fn time_one_step(&self, grid: &Resident<T>) -> Result<Duration> {
        let ctx = grid.ctx();
        let pipeline = ctx.pipeline::<T>(self.entry)?;
        let parity = grid.current();
        let mut watch = ctx.stopwatch()?;
        let mut times = Vec::new();
        let mut encoder = ctx.encoder();
        for _ in 0..2 {
            let start = Instant::now();
            {
                let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("diffusion entry trial"),
                    timestamp_writes,
                });
                pass.set_pipeline(pipeline);
                for (group, (x, y, z)) in &self.dispatches[parity] {
                    pass.set_bind_group(0, group, &[]);
                    pass.dispatch_workgroups(*x, *y, *z);
                }
            }
            if watch.is_none() {
                let finished = std::mem::replace(&mut encoder, ctx.encoder());
                ctx.wait(ctx.submit(finished)?).await?;
                times.push(start.elapsed());
            }
        }
        if let Some(w) = &watch {
            let mut rb = Readback::new(ctx, w.bytes())?;
            let at = rb.timestamps(&mut encoder, w)?;
            let mapped = rb.finish(ctx.submit(encoder)?).await?;
            times = w.each(&mapped[at..], ctx.timestamp_period())?;
        }
        ctx.return_stopwatch(watch);
        times
            .last()
            .copied()
            .ok_or_else(|| device_error("a diffusion trial step was not timed"))
    }

    fn new(grid: &Resident<T>, cols: usize, value: T, function: &'static str) -> Result<Self> {
        let ctx = grid.ctx();
        // Four cells per invocation (`quads`): 16-byte loads and stores.
        let (entry, base, invocations_per_row) = if function == QUADS {
            (Entry::new(SHADER, QUADS), 7, cols / 4)
        } else {
            (Entry::new(SHADER, MAIN), 0, cols)
        };
        let pipeline = ctx.pipeline::<T>(entry)?;
        // D·dt and 1.0 (the shader's `rounded` needs a one it cannot fold).
        let coefficient = ctx.storage_with("diffusion coefficient", &[value, T::one()])?;
        let bands = grid.segments();
        let count = bands.len();
        let band_rows = |b: usize| bands[b].len() / cols.max(1);
        let mut dims = Vec::with_capacity(count);
        for b in 0..count {
            let above = (b + count - 1) % count;
            dims.push(ctx.uniform(
                "diffusion dims",
                &DiffusionDims {
                    cols: cols as u32,
                    rows: band_rows(b) as u32,
                    above_row: band_rows(above) as u32 - 1,
                    below_row: 0,
                },
            )?);
        }
        let mut dispatches: [Vec<_>; 2] = [Vec::new(), Vec::new()];
        for (parity, dispatches) in dispatches.iter_mut().enumerate() {
            for (b, band_dims) in dims.iter().enumerate() {
                let (above, below) = ((b + count - 1) % count, (b + 1) % count);
                let group = ctx.bind(
                    pipeline,
                    &[
                        (base, grid.buffer(b, parity)?),
                        (base + 1, grid.buffer(above, parity)?),
                        (base + 2, grid.buffer(below, parity)?),
                        (base + 3, grid.buffer(b, 1 - parity)?),
                        (4, &coefficient),
                        (5, band_dims),
                    ],
                )?;
                dispatches.push((group, ctx.workgroups_2d(invocations_per_row, band_rows(b))?));
            }
        }
        Ok(DiffusionPlan {
            entry,
            coefficient,
            value,
            dispatches,
            _dims: dims,
            blocked: None,
        })
    }
}

impl<T: Real> DiffusionPlan<T> {
    /// The one-step entry point's function name (`main` or `quads`).
    pub(super) fn entry_function(&self) -> &'static str {
        self.entry.function
    }

    /// Makes the device's D·dt `value`, rewriting it only when it changed (by bits: exactly
    /// what the buffer holds).
    pub(super) fn set_coefficient(&mut self, grid: &Resident<T>, value: T) -> Result<()> {
        if self.value.as_f64().to_bits() == value.as_f64().to_bits() {
            return Ok(());
        }
        let ctx = grid.ctx();
        ctx.capture(|| {
            ctx.queue
                .write_buffer(&self.coefficient, 0, bytemuck::bytes_of(&value))
        })?;
        self.value = value;
        Ok(())
    }

    /// Builds the blocked dispatch for `steps` per dispatch with `scheme`, unless the one
    /// kept is for those already; nothing for one step per dispatch.
    pub(super) fn block(
        &mut self,
        grid: &Resident<T>,
        shape: (usize, usize),
        steps: usize,
        scheme: TemporalBlocking,
    ) -> Result<()> {
        let current = self.blocked.as_ref();
        if steps > 1 && current.is_none_or(|b| b.steps != steps || b.scheme != scheme) {
            let blocked = BlockedPlan::new(grid, shape, &self.coefficient, steps, scheme)?;
            self.blocked = Some(blocked);
        }
        Ok(())
    }

    /// Records `steps` steps into `pass`, reading the buffers of `parity` first: dispatches
    /// of the blocked plan while at least its K steps remain (where `blocked`), single
    /// steps after. Returns how many dispatches it recorded: each reads one buffer of every
    /// band and writes the other, whether it takes one step or K.
    pub(super) fn record(
        &self,
        grid: &Resident<T>,
        pass: &mut wgpu::ComputePass<'_>,
        parity: usize,
        steps: usize,
        blocked: bool,
    ) -> Result<usize> {
        let ctx = grid.ctx();
        let one_step = ctx.pipeline::<T>(self.entry)?;
        let blocked = match self.blocked.as_ref().filter(|_| blocked) {
            Some(b) => Some((b, ctx.pipeline::<T>(b.entry)?)),
            None => None,
        };
        let (mut parity, mut left, mut dispatches) = (parity, steps, 0);
        while left > 0 {
            match blocked {
                Some((b, pipeline)) if left >= b.steps => {
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, &b.dispatches[parity], &[]);
                    let (x, y, z) = b.workgroups;
                    pass.dispatch_workgroups(x, y, z);
                    left -= b.steps;
                }
                _ => {
                    pass.set_pipeline(one_step);
                    for (group, (x, y, z)) in &self.dispatches[parity] {
                        pass.set_bind_group(0, group, &[]);
                        pass.dispatch_workgroups(*x, *y, *z);
                    }
                    left -= 1;
                }
            }
            parity = 1 - parity;
            dispatches += 1;
        }
        Ok(dispatches)
    }
}
