//! Norms on the GPU: the tree reduction of `shaders/norm.wgsl`, all levels in one pass.

use std::time::Instant;

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

/// Σ summand(x) and max |x| (NaN-sticky) of the whole vector.
fn reduce<T: Real>(v: &GpuVector<T>, summand: Summand, scale: T) -> Result<(T, T)> {
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
    ctx.compute(|pass| {
        for (pipeline, group, (x, y)) in &binds {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, 1);
        }
    })?;
    let result = ctx.read::<T>(&level, 0, 2)?;
    Ok((result[0], result[1]))
}

/// The norm `kind` of a resident vector, with the semantics of [`crate::kernels::norm`].
pub(crate) fn norm<T: Real>(v: &GpuVector<T>, kind: NormKind) -> Result<(T, GpuTimings)> {
    let mut timings = GpuTimings::new(ComputeClock::Host);
    let start = Instant::now();
    let value = if v.is_empty() {
        T::zero()
    } else {
        match kind {
            NormKind::L1 => reduce(v, Summand::Abs, T::one())?.0,
            NormKind::L2Squared => reduce(v, Summand::Square, T::one())?.0,
            NormKind::LInf => reduce(v, Summand::Abs, T::one())?.1,
            NormKind::L2 => {
                let (sum, amax) = reduce(v, Summand::Square, T::one())?;
                if sum.is_nan() {
                    T::nan()
                } else {
                    let mut scaled = Ok(T::zero());
                    let l2 = l2_from_parts(
                        amax,
                        || sum,
                        |amax| {
                            scaled = reduce(v, Summand::ScaledSquare, amax).map(|(s, _)| s);
                            *scaled.as_ref().unwrap_or(&T::nan())
                        },
                    );
                    scaled?;
                    l2
                }
            }
        }
    };
    // The result's read-back is a few bytes; the time is the reduction's.
    timings.compute = start.elapsed();
    Ok((value, timings))
}
