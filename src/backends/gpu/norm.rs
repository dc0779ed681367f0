//! Norms on the GPU: the tree reduction of `shaders/norm.wgsl`, all levels in one pass.

use std::time::{Duration, Instant};

use super::resident::GpuVector;
use super::timing::{ComputeClock, GpuTimings};
use crate::kernels::norm::{NormKind, l2_from_parts};
use crate::{Real, Result};

/// Elements one workgroup reduces (256 invocations × 8 elements each, as in the shader).
const PER_WORKGROUP: usize = 2048;

/// What each element contributes, as the shader's `job.y` selects.
#[derive(Clone, Copy)]
enum Summand {
    Abs = 0,
    Square = 1,
    ScaledSquare = 2,
}

/// Σ summand(x) and max |x| (NaN-sticky) of the whole vector, and the device time of the
/// reduction where the adapter has timestamps.
fn reduce<T: Real>(
    v: &GpuVector<T>,
    summand: Summand,
    scale: T,
) -> Result<((T, T), Option<Duration>)> {
    let ctx = &v.ctx;
    let pipelines = ctx.pipelines::<T>()?;
    let pair = 2 * size_of::<T>() as u64;
    let scale = ctx.buffer_with("scale", &[scale])?;

    // Level 0: every piece's workgroups write their (sum, max) pairs side by side.
    let mut jobs = Vec::new();
    let mut count = 0usize;
    for (buffer, len) in &v.pieces {
        jobs.push((buffer, *len, count));
        count += len.div_ceil(PER_WORKGROUP);
    }
    let mut level = ctx.buffer("partials", count as u64 * pair)?;
    let mut binds = Vec::new();
    for (buffer, len, offset) in jobs {
        let job = ctx.uniform("norm job", [len as u32, summand as u32, offset as u32, 0])?;
        let group = ctx.bind(
            &pipelines.norm_leaves,
            &[(0, &job), (1, &scale), (2, buffer), (3, &level)],
        )?;
        binds.push((
            &pipelines.norm_leaves,
            group,
            ctx.workgroups(len.div_ceil(8) as u64)?,
        ));
    }
    // Then combine levels until one pair is left.
    let mut levels = Vec::new();
    while count > 1 {
        let next_count = count.div_ceil(PER_WORKGROUP);
        let next = ctx.buffer("partials", next_count as u64 * pair)?;
        let job = ctx.uniform("norm job", [count as u32, 0, 0, 0])?;
        let group = ctx.bind(
            &pipelines.norm_combine,
            &[(0, &job), (3, &next), (4, &level)],
        )?;
        binds.push((
            &pipelines.norm_combine,
            group,
            ctx.workgroups(count.div_ceil(8) as u64)?,
        ));
        levels.push(std::mem::replace(&mut level, next));
        count = next_count;
    }
    let mut watch = ctx.stopwatch()?;
    ctx.compute(watch.as_mut(), |pass| {
        for (pipeline, group, (x, y)) in &binds {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, 1);
        }
    })?;
    let result = ctx.read::<T>(&level, 0, 2)?;
    let device_time = watch.map(|w| ctx.elapsed(&w)).transpose()?;
    Ok(((result[0], result[1]), device_time))
}

/// The norm `kind` of a resident vector, with the semantics of [`crate::kernels::norm`].
pub(crate) fn norm<T: Real>(v: &GpuVector<T>, kind: NormKind) -> Result<(T, GpuTimings)> {
    let mut timings = GpuTimings::new(v.ctx.clock());
    let start = Instant::now();
    let mut device = Duration::ZERO;
    let mut run = |summand, scale| {
        let (pair, time) = reduce(v, summand, scale)?;
        device += time.unwrap_or_default();
        Ok::<_, crate::Error>(pair)
    };
    let value = if v.is_empty() {
        T::zero()
    } else {
        match kind {
            NormKind::L1 => run(Summand::Abs, T::one())?.0,
            NormKind::L2Squared => run(Summand::Square, T::one())?.0,
            NormKind::LInf => run(Summand::Abs, T::one())?.1,
            NormKind::L2 => {
                let (sum, amax) = run(Summand::Square, T::one())?;
                if sum.is_nan() {
                    T::nan()
                } else {
                    // The shared L2 logic decides whether the scaled pass runs; its
                    // closures cannot fail, so a device error is carried out beside it.
                    let mut scaled = Ok(T::zero());
                    let l2 = l2_from_parts(
                        amax,
                        || sum,
                        |amax| {
                            scaled = run(Summand::ScaledSquare, amax).map(|(s, _)| s);
                            *scaled.as_ref().unwrap_or(&T::nan())
                        },
                    );
                    scaled?;
                    l2
                }
            }
        }
    };
    timings.compute = match timings.compute_clock {
        ComputeClock::Timestamps => device,
        // The result's read-back is a few bytes: the time is the reduction's.
        ComputeClock::Host => start.elapsed(),
    };
    Ok((value, timings))
}
