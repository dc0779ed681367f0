//! Diffusion on the GPU: steps of `shaders/diffusion.wgsl` between a resident grid's two
//! buffers. The first step of a grid builds its bind groups (one per band and parity) and
//! parameter buffers; every later call only rewrites D·dt when it changed, records its
//! passes, and waits once, reading its timestamps back in the same submission.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{Context, Workgroups};
use super::contract::DiffusionDims;
use super::grid::GpuGrid;
use super::pipelines::Entry;
use super::staging::Readback;
use super::timing::MAX_TIMED_PASSES;
use crate::kernels::diffusion::DiffusionParams;
use crate::{Real, Result};

/// Cell-steps per submission: bounds the work of one submission so that a long run never
/// trips an operating system's GPU watchdog (a couple of seconds on some desktops), even
/// on a software driver.
const CELL_STEPS_PER_SUBMISSION: usize = 1 << 26;

/// What stepping a grid needs on the device, built once per grid.
pub(crate) struct DiffusionPlan<T> {
    coefficient: wgpu::Buffer,
    /// The D·dt the buffer holds.
    value: T,
    /// Per parity p (reading buffers[p], writing buffers[1 - p]): each band's dispatch.
    dispatches: [Vec<(wgpu::BindGroup, Workgroups)>; 2],
    /// The bands' dims, kept alive with the bind groups that use them.
    _dims: Vec<wgpu::Buffer>,
}

impl<T: Real> DiffusionPlan<T> {
    fn new(ctx: &Context, grid: &GpuGrid<T>, value: T) -> Result<Self> {
        let pipeline = ctx.pipeline::<T>(Entry::Diffusion)?;
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
                        (0, &band.buffers[parity]),
                        (1, &above.buffers[parity]),
                        (2, &below.buffers[parity]),
                        (3, &band.buffers[1 - parity]),
                        (4, &coefficient),
                        (5, &dims[b]),
                    ],
                )?;
                dispatches.push((group, ctx.workgroups_2d(grid.cols, band.rows)?));
            }
        }
        Ok(DiffusionPlan {
            coefficient,
            value,
            dispatches,
            _dims: dims,
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
    let pipeline = ctx.pipeline::<T>(Entry::Diffusion)?;
    let value = params.coefficient();
    let plan = match grid.plan.take() {
        Some(plan) => plan,
        None => DiffusionPlan::new(&ctx, grid, value)?,
    };
    let plan = grid.plan.insert(plan);
    // Rewritten only when it changed (by bits: exactly what the buffer holds).
    if plan.value.as_f64().to_bits() != value.as_f64().to_bits() {
        ctx.capture(|| {
            ctx.queue
                .write_buffer(&plan.coefficient, 0, bytemuck::bytes_of(&value))
        })?;
        plan.value = value;
    }

    let start = Instant::now();
    let per_submission = (CELL_STEPS_PER_SUBMISSION / (grid.rows * grid.cols))
        .max(steps.div_ceil(MAX_TIMED_PASSES as usize))
        .max(1);
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
            pass.set_pipeline(pipeline);
            for s in 0..n {
                for (group, (x, y, z)) in &plan.dispatches[(grid.current + s) % 2] {
                    pass.set_bind_group(0, group, &[]);
                    pass.dispatch_workgroups(*x, *y, *z);
                }
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
        grid.current = (grid.current + n) % 2;
    }
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
