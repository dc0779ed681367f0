//! Diffusion on the GPU: steps of `shaders/diffusion.wgsl` between a resident grid's two
//! buffers. The first step of a grid builds its bind groups (one per band and parity) and
//! parameter buffers; every later call only rewrites D·dt when it changed, records its
//! passes, and waits once, reading its timestamps back in the same submission.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{Context, Workgroups};
use super::contract::{DiffusionDims, DiffusionTile, max_tile_steps, tile_side};
use super::grid::GpuGrid;
use super::pipelines::Entry;
use super::staging::Readback;
use super::timing::MAX_TIMED_PASSES;
use crate::kernels::diffusion::DiffusionParams;
use crate::{Error, Real, Result};

/// Cell-steps per submission: bounds the work of one submission so that a long run never
/// trips an operating system's GPU watchdog (a couple of seconds on some desktops), even
/// on a software driver.
const CELL_STEPS_PER_SUBMISSION: usize = 1 << 26;

/// What stepping a grid needs on the device, built once per grid.
pub(crate) struct DiffusionPlan<T> {
    /// The one-step entry point: `quads` where rows are whole quads, else `main`.
    entry: Entry,
    coefficient: wgpu::Buffer,
    /// The D·dt the buffer holds.
    value: T,
    /// Per parity p (reading buffers[p], writing buffers[1 - p]): each band's dispatch.
    dispatches: [Vec<(wgpu::BindGroup, Workgroups)>; 2],
    /// The bands' dims, kept alive with the bind groups that use them.
    _dims: Vec<wgpu::Buffer>,
    /// The temporally blocked dispatch for the K last used, built when K changes.
    tiled: Option<TiledPlan>,
}

/// K steps per dispatch on a one-band grid: the `tiled` entry point's bind groups per
/// parity, and its workgroups (one per tile).
struct TiledPlan {
    steps: usize,
    dispatches: [wgpu::BindGroup; 2],
    workgroups: Workgroups,
    _tile: wgpu::Buffer,
}

impl TiledPlan {
    fn new<T: Real>(
        ctx: &Context,
        grid: &GpuGrid<T>,
        coefficient: &wgpu::Buffer,
        steps: usize,
    ) -> Result<Self> {
        let pipeline = ctx.pipeline::<T>(Entry::DiffusionTiled)?;
        let interior = tile_side(T::PRECISION) as usize - 2 * steps;
        let tile = ctx.uniform(
            "diffusion tile",
            &DiffusionTile {
                cols: grid.cols as u32,
                rows: grid.rows as u32,
                steps: steps as u32,
                interior: interior as u32,
            },
        )?;
        let band = &grid.bands[0];
        let bind = |parity: usize| {
            ctx.bind(
                pipeline,
                &[
                    (0, &band.buffers[parity]),
                    (3, &band.buffers[1 - parity]),
                    (4, coefficient),
                    (6, &tile),
                ],
            )
        };
        let dispatches = [bind(0)?, bind(1)?];
        let (x, y) = (grid.cols.div_ceil(interior), grid.rows.div_ceil(interior));
        let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
        if x > max || y > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("{y} × {x} tiles in one dispatch"),
            });
        }
        Ok(TiledPlan {
            steps,
            dispatches,
            workgroups: (x as u32, y as u32, 1),
            _tile: tile,
        })
    }
}

impl<T: Real> DiffusionPlan<T> {
    fn new(ctx: &Context, grid: &GpuGrid<T>, value: T) -> Result<Self> {
        // Four cells per invocation where rows are whole quads: 16-byte loads and stores.
        let (entry, base, invocations_per_row) = if grid.cols.is_multiple_of(4) {
            (Entry::DiffusionQuads, 7, grid.cols / 4)
        } else {
            (Entry::Diffusion, 0, grid.cols)
        };
        let pipeline = ctx.pipeline::<T>(entry)?;
        // D·dt and 1.0 (the shader's `rounded` needs a one it cannot fold).
        let coefficient = ctx.storage_with("diffusion coefficient", &[value, T::one()])?;
        let count = grid.bands.len();
        let mut dims = Vec::with_capacity(count);
        for (b, band) in grid.bands.iter().enumerate() {
            let above = &grid.bands[(b + count - 1) % count];
            dims.push(ctx.uniform(
                "diffusion dims",
                &DiffusionDims {
                    cols: grid.cols as u32,
                    rows: band.rows as u32,
                    above_row: above.rows as u32 - 1,
                    below_row: 0,
                },
            )?);
        }
        let mut dispatches: [Vec<_>; 2] = [Vec::new(), Vec::new()];
        for (parity, dispatches) in dispatches.iter_mut().enumerate() {
            for (b, band) in grid.bands.iter().enumerate() {
                let above = &grid.bands[(b + count - 1) % count];
                let below = &grid.bands[(b + 1) % count];
                let group = ctx.bind(
                    pipeline,
                    &[
                        (base, &band.buffers[parity]),
                        (base + 1, &above.buffers[parity]),
                        (base + 2, &below.buffers[parity]),
                        (base + 3, &band.buffers[1 - parity]),
                        (4, &coefficient),
                        (5, &dims[b]),
                    ],
                )?;
                dispatches.push((group, ctx.workgroups_2d(invocations_per_row, band.rows)?));
            }
        }
        Ok(DiffusionPlan {
            entry,
            coefficient,
            value,
            dispatches,
            _dims: dims,
            tiled: None,
        })
    }
}

/// Advances `grid` by `steps` steps and returns their compute time: device time when
/// `timed` and the adapter has timestamps, else host time (see [`GpuGrid::step`]).
/// Untimed calls skip the timestamp queries, which cost more than a tiny step on some
/// drivers (Mesa's software driver flushes its pipeline at each one).
pub(crate) fn step<T: Real>(
    grid: &mut GpuGrid<T>,
    params: &DiffusionParams<T>,
    steps: usize,
    timed: bool,
) -> Result<Duration> {
    if steps == 0 || grid.rows == 0 || grid.cols == 0 {
        return Ok(Duration::ZERO);
    }
    let ctx = Arc::clone(&grid.ctx);
    let value = params.coefficient();
    // Taken out while stepping (the grid's buffers are read beside it) and put back
    // after; a failed call leaves it to be rebuilt.
    let mut plan = match grid.plan.take() {
        Some(plan) => plan,
        None => DiffusionPlan::new(&ctx, grid, value)?,
    };
    // Rewritten only when it changed (by bits: exactly what the buffer holds).
    if plan.value.as_f64().to_bits() != value.as_f64().to_bits() {
        ctx.capture(|| {
            ctx.queue
                .write_buffer(&plan.coefficient, 0, bytemuck::bytes_of(&value))
        })?;
        plan.value = value;
    }

    // Temporal blocking where asked for and possible (one band); K = 1 otherwise.
    let k = if grid.bands.len() == 1 {
        grid.steps_per_dispatch
            .clamp(1, max_tile_steps(T::PRECISION) as usize)
    } else {
        1
    };
    if k > 1 && plan.tiled.as_ref().is_none_or(|t| t.steps != k) {
        plan.tiled = Some(TiledPlan::new(&ctx, grid, &plan.coefficient, k)?);
    }
    let pipeline = ctx.pipeline::<T>(plan.entry)?;
    let tiled = plan.tiled.as_ref().filter(|_| k > 1);
    let tiled_pipeline = match tiled {
        Some(_) => Some(ctx.pipeline::<T>(Entry::DiffusionTiled)?),
        None => None,
    };

    let start = Instant::now();
    let per_submission = (CELL_STEPS_PER_SUBMISSION / (grid.rows * grid.cols))
        .max(steps.div_ceil(MAX_TIMED_PASSES as usize))
        .max(1)
        .next_multiple_of(k);
    let mut watch = if timed { ctx.stopwatch()? } else { None };
    let mut readback = None;
    let mut done = 0;
    let mut last = None;
    while done < steps {
        let n = per_submission.min(steps - done);
        let mut encoder = ctx.encoder();
        {
            let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("diffusion"),
                timestamp_writes,
            });
            // Every dispatch reads one buffer of each band and writes the other, whether
            // it takes one step or K.
            let mut left = n;
            while left > 0 {
                match (tiled, tiled_pipeline) {
                    (Some(t), Some(p)) if left >= t.steps => {
                        pass.set_pipeline(p);
                        pass.set_bind_group(0, &t.dispatches[grid.current], &[]);
                        let (x, y, z) = t.workgroups;
                        pass.dispatch_workgroups(x, y, z);
                        left -= t.steps;
                    }
                    _ => {
                        pass.set_pipeline(pipeline);
                        for (group, (x, y, z)) in &plan.dispatches[grid.current] {
                            pass.set_bind_group(0, group, &[]);
                            pass.dispatch_workgroups(*x, *y, *z);
                        }
                        left -= 1;
                    }
                }
                grid.current = 1 - grid.current;
            }
        }
        done += n;
        // The last submission carries the timestamps back, so the call waits once.
        if done == steps
            && let Some(w) = &watch
        {
            let mut rb = Readback::new(&ctx, w.bytes())?;
            let at = rb.timestamps(&mut encoder, w)?;
            readback = Some((rb, at));
        }
        last = Some(ctx.submit(encoder)?);
    }
    grid.plan = Some(plan);
    let elapsed = match (readback, last, &watch) {
        (Some((rb, at)), Some(last), Some(w)) => {
            let mapped = rb.finish(last)?;
            w.elapsed(&mapped[at..], ctx.timestamp_period())
        }
        (_, Some(last), _) => {
            ctx.wait(last)?;
            Ok(start.elapsed())
        }
        _ => Ok(start.elapsed()),
    };
    ctx.return_stopwatch(watch);
    elapsed
}
