//! Norms on the GPU: the tree reduction of `shaders/norm.wgsl`, every level in one
//! submission. A vector's first norm builds its partial buffers and bind groups; every later
//! call rewrites only what it sums (and the scale) when that changed, and brings its result
//! and timestamps back with its one wait.

use std::time::{Duration, Instant};

use super::context::{Context, Workgroups};
use super::contract::{
    NORM_ELEMENTS_PER_INVOCATION, NORM_ELEMENTS_PER_WORKGROUP, NormCall, NormJob, SUMMAND_ABS,
    SUMMAND_SCALED_SQUARE, SUMMAND_SQUARE,
};
use super::errors::device_error;
use super::pipelines::Entry;
use super::staging::Readback;
use super::timing::{ComputeClock, GpuTimings};
use super::vector::GpuVector;
use crate::kernels::norm::{NormKind, l2_from_parts};
use crate::{Error, Real, Result};

/// A vector's reduction: its dispatches, their buffers, and the per-call parameters.
pub(crate) struct NormPlan<T> {
    call: wgpu::Buffer,
    /// The `NormCall` the buffer holds.
    written: NormCall,
    scale: wgpu::Buffer,
    /// The scale the buffer holds.
    scale_value: T,
    dispatches: Vec<(Entry, wgpu::BindGroup, Workgroups)>,
    /// The last level: one (sum, max) pair.
    result: wgpu::Buffer,
    /// Job uniforms and intermediate levels, kept alive with the bind groups.
    _buffers: Vec<wgpu::Buffer>,
}

impl<T: Real> NormPlan<T> {
    fn new(ctx: &Context, v: &GpuVector<T>) -> Result<Self> {
        let leaves = ctx.pipeline::<T>(Entry::NormLeaves)?;
        let combine = ctx.pipeline::<T>(Entry::NormCombine)?;
        let pair = 2 * size_of::<T>() as u64;
        let call = ctx.uniform("norm call", &NormCall::default())?;
        let scale = ctx.storage_with("norm scale", &[T::one()])?;
        let mut buffers = Vec::new();
        let mut dispatches = Vec::new();

        // Level 0: every piece's workgroups write their (sum, max) pairs side by side.
        let count: usize = v
            .pieces
            .iter()
            .map(|p| p.len.div_ceil(NORM_ELEMENTS_PER_WORKGROUP))
            .sum();
        let mut level = partials(ctx, count, pair)?;
        let mut first_partial = 0;
        for piece in &v.pieces {
            let job = ctx.uniform(
                "norm job",
                &NormJob {
                    len: piece.len as u32,
                    first_partial: first_partial as u32,
                    first_input: 0,
                },
            )?;
            let group = ctx.bind(
                leaves,
                &[
                    (0, &job),
                    (1, &scale),
                    (2, &piece.buffer),
                    (3, &level),
                    (5, &call),
                ],
            )?;
            let invocations = piece.len.div_ceil(NORM_ELEMENTS_PER_INVOCATION as usize);
            dispatches.push((
                Entry::NormLeaves,
                group,
                ctx.workgroups(invocations as u64)?,
            ));
            buffers.push(job);
            first_partial += piece.len.div_ceil(NORM_ELEMENTS_PER_WORKGROUP);
        }
        // Then combine levels until one pair is left.
        let mut count = count;
        while count > 1 {
            let next_count = count.div_ceil(NORM_ELEMENTS_PER_WORKGROUP);
            let next = partials(ctx, next_count, pair)?;
            let job = ctx.uniform(
                "norm job",
                &NormJob {
                    len: count as u32,
                    first_partial: 0,
                    first_input: 0,
                },
            )?;
            let group = ctx.bind(combine, &[(0, &job), (3, &next), (4, &level)])?;
            let invocations = count.div_ceil(NORM_ELEMENTS_PER_INVOCATION as usize);
            dispatches.push((
                Entry::NormCombine,
                group,
                ctx.workgroups(invocations as u64)?,
            ));
            buffers.push(job);
            buffers.push(std::mem::replace(&mut level, next));
            count = next_count;
        }
        Ok(NormPlan {
            call,
            written: NormCall::default(),
            scale,
            scale_value: T::one(),
            dispatches,
            result: level,
            _buffers: buffers,
        })
    }
}

/// A buffer of `count` (sum, max) pairs, within one binding.
fn partials(ctx: &Context, count: usize, pair: u64) -> Result<wgpu::Buffer> {
    let bytes = count as u64 * pair;
    if bytes > ctx.summary.max_binding_bytes {
        return Err(Error::Unsupported {
            backend: "gpu".into(),
            what: format!("{count} partial sums in one binding"),
        });
    }
    ctx.storage("norm partials", bytes)
}

/// Σ summand(x) and max |x| (NaN-sticky) of the whole vector, and the device time of the
/// reduction where the adapter has timestamps.
fn reduce<T: Real>(
    v: &GpuVector<T>,
    summand: u32,
    scale: T,
    timed: bool,
) -> Result<((T, T), Option<Duration>)> {
    let ctx = &v.ctx;
    let mut guard = v
        .norm
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let plan = match guard.take() {
        Some(plan) => plan,
        None => NormPlan::new(ctx, v)?,
    };
    let plan = guard.insert(plan);
    let call = NormCall { summand };
    ctx.capture(|| {
        if plan.written != call {
            ctx.queue
                .write_buffer(&plan.call, 0, bytemuck::bytes_of(&call));
            plan.written = call;
        }
        if plan.scale_value.as_f64().to_bits() != scale.as_f64().to_bits() {
            ctx.queue
                .write_buffer(&plan.scale, 0, bytemuck::bytes_of(&scale));
            plan.scale_value = scale;
        }
    })?;

    let mut watch = if timed { ctx.stopwatch()? } else { None };
    let mut encoder = ctx.encoder();
    {
        let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("norm"),
            timestamp_writes,
        });
        for (entry, group, (x, y, z)) in &plan.dispatches {
            pass.set_pipeline(ctx.pipeline::<T>(*entry)?);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, *z);
        }
    }
    let element = size_of::<T>();
    let watch_bytes = watch.as_ref().map_or(0, |w| w.bytes());
    let mut readback = Readback::new(ctx, 2 * element as u64 + watch_bytes)?;
    let pair_at = readback.copy(&mut encoder, &plan.result, 0, 2 * element as u64)?;
    let ticks_at = watch
        .as_ref()
        .map(|w| readback.timestamps(&mut encoder, w))
        .transpose()?;
    let submission = ctx.submit(encoder)?;
    let mapped = readback.finish(submission)?;
    let read = |at: usize| -> Result<T> {
        mapped
            .get(at..at + element)
            .map(bytemuck::pod_read_unaligned)
            .ok_or_else(|| device_error("the norm's result was not read back"))
    };
    let pair = (read(pair_at)?, read(pair_at + element)?);
    let device_time = match (&watch, ticks_at) {
        (Some(w), Some(at)) => Some(w.elapsed(&mapped[at..], ctx.timestamp_period())?),
        _ => None,
    };
    drop(mapped);
    ctx.return_stopwatch(watch);
    Ok((pair, device_time))
}

/// The norm `kind` of a resident vector, with the semantics of [`crate::kernels::norm`];
/// its compute time from timestamps when `timed` and the adapter has them, else host time.
pub(crate) fn norm<T: Real>(
    v: &GpuVector<T>,
    kind: NormKind,
    timed: bool,
) -> Result<(T, GpuTimings)> {
    let clock = if timed {
        v.ctx.clock()
    } else {
        ComputeClock::Host
    };
    let mut timings = GpuTimings::new(clock);
    let start = Instant::now();
    let mut device = Duration::ZERO;
    let mut run = |summand, scale| {
        let (pair, time) = reduce(v, summand, scale, timed)?;
        device += time.unwrap_or_default();
        Ok::<_, crate::Error>(pair)
    };
    let value = if v.is_empty() {
        T::zero()
    } else {
        match kind {
            NormKind::L1 => run(SUMMAND_ABS, T::one())?.0,
            NormKind::L2Squared => run(SUMMAND_SQUARE, T::one())?.0,
            NormKind::LInf => run(SUMMAND_ABS, T::one())?.1,
            NormKind::L2 => {
                let (sum, amax) = run(SUMMAND_SQUARE, T::one())?;
                if sum.is_nan() {
                    T::nan()
                } else {
                    // The shared L2 logic decides whether the scaled pass runs (a second
                    // submission and wait, only for vectors whose squares overflow or
                    // underflow); its closures cannot fail, so a device error is carried
                    // out beside it.
                    let mut scaled = Ok(T::zero());
                    let l2 = l2_from_parts(
                        amax,
                        || sum,
                        |amax| {
                            scaled = run(SUMMAND_SCALED_SQUARE, amax).map(|(s, _)| s);
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
