//! Norms on the GPU: the tree reduction of `norm.wgsl` (each workgroup's part in workgroup
//! memory, `reduce_tree.wgsl`, or with subgroup operations, `reduce_subgroups.wgsl`), every
//! level in one submission, finished on the host (NaN and ∞ from the bits of the largest
//! magnitude, the subnormal part of L1 joined to the rest). A vector's first norm builds
//! its partial buffers and bind groups, kept in the vector's state; every later call
//! rewrites only what it sums (and the scale) when that changed, and brings its result and
//! timestamps back with its one wait.

use std::time::Duration;

use web_time::Instant;

use ndarray::ArrayView1;

use crate::backends::gpu::Gpu;
use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::{
    WORKGROUP_SIZE, WgslStruct, reals_per_load, wgsl_constants, wgsl_struct,
};
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::shaders::{
    Entry, Reduction, ReductionSources, Shader, ShaderDef, no_target_constants,
};
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::submit::Workgroups;
use crate::backends::gpu::timing::{ComputeClock, GpuTimings};
use crate::backends::gpu::vector::GpuVector;
use crate::error::{Error, Result};
use crate::kernels::norm::{NormKind, try_l2_from_parts};
use crate::real::{Precision, Real};

wgsl_constants! {
    /// 16-byte loads (4 f32 or 2 f64 values) each invocation reads before the workgroup's
    /// tree, into two independent partials taking every other load (two chains of adds in
    /// flight: 6-9 % faster at 10^8 on lavapipe than one partial over 8 loads). Each partial
    /// is a sequential run of at most 8 loads, as before, so accuracy stays pairwise-class
    /// at any length. Must be even.
    pub(crate) const NORM_LOADS_PER_INVOCATION = 16;
    /// Partials each invocation of a `combine` level merges before the tree.
    pub(crate) const NORM_PARTIALS_PER_INVOCATION = 8;
    /// `NormCall::summand`: |x|.
    pub(crate) const SUMMAND_ABS = 0;
    /// `NormCall::summand`: x².
    pub(crate) const SUMMAND_SQUARE = 1;
    /// `NormCall::summand`: (x / scale)².
    pub(crate) const SUMMAND_SCALED_SQUARE = 2;
}

// `leaves` deals the loads to its two partials in pairs.
const _: () = assert!(NORM_LOADS_PER_INVOCATION.is_multiple_of(2));

/// 16-byte loads one `leaves` workgroup reduces.
const NORM_LOADS_PER_WORKGROUP: usize = (WORKGROUP_SIZE * NORM_LOADS_PER_INVOCATION) as usize;

/// Partials one `combine` workgroup reduces.
const NORM_PARTIALS_PER_WORKGROUP: usize = (WORKGROUP_SIZE * NORM_PARTIALS_PER_INVOCATION) as usize;

wgsl_struct! {
    /// One norm dispatch: how many loads (or partials) it reduces, from the start of its
    /// input binding, into partials from the start of its output binding.
    pub(crate) struct NormJob {
        /// Input loads (or partials) this dispatch reduces.
        len,
    }
}

wgsl_struct! {
    /// What a norm call sums, the same for all its dispatches.
    pub(crate) struct NormCall {
        /// One of `SUMMAND_ABS`, `SUMMAND_SQUARE`, `SUMMAND_SCALED_SQUARE`.
        summand,
        /// For `SUMMAND_SCALED_SQUARE`: the values are scaled by 2^-shift (an `i32`, as its
        /// two's-complement bits; the shader `bitcast`s it back).
        shift,
    }
}

/// `norm.wgsl`: tree reductions (`leaves`, `combine`), each workgroup's part in workgroup
/// memory or with subgroup operations ([`Reduction`]).
pub(crate) const SHADER: Shader = Shader::new(&ShaderDef {
    name: "norm",
    defined_in: file!(),
    dispatch: &[
        (
            LEAVES,
            "`input` is the vector's bits as 16-byte loads (`job.len` of them; the last \
             zero-padded, which adds nothing to any norm). Each invocation reduces \
             NORM_LOADS_PER_INVOCATION consecutive loads and each workgroup writes one \
             `NormPartial` to `partials`: ⌈len / NORM_LOADS_PER_INVOCATION⌉ invocations, \
             workgroups as (x, y, 1) (group = wg.y · groups.x + wg.x). `call` says which \
             norm.",
        ),
        (
            COMBINE,
            "Folds the `job.len` partials of `previous` into `partials`, \
             NORM_PARTIALS_PER_INVOCATION per invocation, one partial per workgroup; \
             dispatched level after level until one partial is left, which the host reads \
             and finishes (the square root, the scaling).",
        ),
    ],
    body: include_str!("norm.wgsl"),
    entry_points: &[LEAVES, COMBINE],
    uses_bits: true,
    rounds_products: false,
    structs: &[NormJob::LAYOUT, NormCall::LAYOUT],
    constants: CONSTANTS,
    target_constants: no_target_constants,
    reduction: Some(ReductionSources {
        tree: include_str!("reduce_tree.wgsl"),
        subgroups: include_str!("reduce_subgroups.wgsl"),
    }),
});

const LEAVES: &str = "leaves";
const COMBINE: &str = "combine";

impl Gpu {
    /// How the norms' workgroups reduce in `precision` on this device: with subgroup
    /// operations where the device has them and its driver builds them, else the tree.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for f64 without `SHADER_F64`.
    pub fn norm_reduction(&self, precision: Precision) -> Result<Reduction> {
        Ok(self.ctx().pipelines(precision)?.reduction())
    }

    /// The norm `kind` of a resident vector, with its compute time.
    ///
    /// # Errors
    /// [`crate::Error::Device`] if the device fails.
    pub fn norm_resident<T: Real>(
        &self,
        v: &GpuVector<T>,
        kind: NormKind,
    ) -> Result<(T, GpuTimings)> {
        block_on(self.norm_resident_async(v, kind))
    }

    /// [`Gpu::norm_resident`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::norm_resident`].
    pub async fn norm_resident_async<T: Real>(
        &self,
        v: &GpuVector<T>,
        kind: NormKind,
    ) -> Result<(T, GpuTimings)> {
        norm_of(v, kind, true).await
    }

    /// The norm `kind` of `v`: upload, reduce, read back, each timed.
    ///
    /// # Errors
    /// As [`crate::Backend::norm`].
    pub fn norm_timed<T: Real>(
        &self,
        v: ArrayView1<'_, T>,
        kind: NormKind,
    ) -> Result<(T, GpuTimings)> {
        block_on(async {
            let start = Instant::now();
            let resident = self.upload_vector_async(v).await?;
            let upload = start.elapsed();
            let (value, mut timings) = norm_of(&resident, kind, true).await?;
            timings.upload = upload;
            resident.recycle();
            Ok((value, timings))
        })
    }

    /// The norm `kind` of `v` (any layout), one-shot: upload, reduce, read back, awaited
    /// ([`crate::Backend::norm`] on the GPU blocks on it).
    ///
    /// # Errors
    /// As [`crate::Backend::norm`].
    pub async fn norm_async<T: Real>(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        let resident = self.upload_vector_async(v).await?;
        let value = resident.norm_async(kind).await?;
        resident.recycle();
        Ok(value)
    }
}

impl<T: Real> GpuVector<T> {
    /// The norm `kind` of the vector, untimed: the cheapest call (see
    /// [`Gpu::norm_resident`] for the timed one).
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn norm(&self, kind: NormKind) -> Result<T> {
        block_on(self.norm_async(kind))
    }

    /// [`GpuVector::norm`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuVector::norm`].
    pub async fn norm_async(&self, kind: NormKind) -> Result<T> {
        norm_of(self, kind, false).await.map(|(value, _)| value)
    }
}

/// A vector's reduction: its dispatches, their buffers, and the per-call parameters.
struct NormPlan {
    call: wgpu::Buffer,
    /// The `NormCall` the buffer holds.
    written: NormCall,
    dispatches: Vec<(Entry, wgpu::BindGroup, Workgroups)>,
    /// Each segment's last level: one `NormPartial`.
    results: Vec<wgpu::Buffer>,
    /// Job uniforms and intermediate levels, kept alive with the bind groups.
    _buffers: Vec<wgpu::Buffer>,
}

/// Bytes of the shader's `NormPartial` in `T`: sum, tiny and the magnitude bits, each as
/// wide as `T` (12 bytes for f32, 24 for f64, as WGSL lays it out).
fn partial_bytes<T: Real>() -> usize {
    3 * size_of::<T>()
}

impl NormPlan {
    fn new<T: Real>(v: &Resident<T>) -> Result<Self> {
        let ctx = v.ctx();
        let leaves = ctx.pipeline::<T>(Entry::new(SHADER, LEAVES))?;
        let combine = ctx.pipeline::<T>(Entry::new(SHADER, COMBINE))?;
        let call = ctx.uniform("norm call", &NormCall::default())?;
        let mut buffers = Vec::new();
        let mut dispatches = Vec::new();
        let loads_of = |len: usize| len.div_ceil(reals_per_load(T::PRECISION));

        // Each segment is reduced to one partial by its own tree (so that no level outgrows
        // one binding however many segments there are); the host merges the segments'.
        let mut results = Vec::with_capacity(v.segments().len());
        for (s, segment) in v.segments().iter().enumerate() {
            let loads = loads_of(segment.len());
            let mut count = loads.div_ceil(NORM_LOADS_PER_WORKGROUP);
            let mut level = partials::<T>(ctx, count)?;
            let job = ctx.uniform("norm job", &NormJob { len: loads as u32 })?;
            let group = ctx.bind(
                leaves,
                &[(0, &job), (2, v.buffer(s, 0)?), (3, &level), (5, &call)],
            )?;
            let invocations = loads.div_ceil(NORM_LOADS_PER_INVOCATION as usize);
            dispatches.push((
                Entry::new(SHADER, LEAVES),
                group,
                ctx.workgroups(invocations as u64)?,
            ));
            buffers.push(job);
            // Then combine levels until one partial is left.
            while count > 1 {
                let next_count = count.div_ceil(NORM_PARTIALS_PER_WORKGROUP);
                let next = partials::<T>(ctx, next_count)?;
                let job = ctx.uniform("norm job", &NormJob { len: count as u32 })?;
                let group = ctx.bind(combine, &[(0, &job), (3, &next), (4, &level)])?;
                let invocations = count.div_ceil(NORM_PARTIALS_PER_INVOCATION as usize);
                dispatches.push((
                    Entry::new(SHADER, COMBINE),
                    group,
                    ctx.workgroups(invocations as u64)?,
                ));
                buffers.push(job);
                buffers.push(std::mem::replace(&mut level, next));
                count = next_count;
            }
            results.push(level);
        }
        Ok(NormPlan {
            call,
            written: NormCall::default(),
            dispatches,
            results,
            _buffers: buffers,
        })
    }
}

/// A buffer of `count` partials, within one binding.
fn partials<T: Real>(ctx: &Context, count: usize) -> Result<wgpu::Buffer> {
    let bytes = (count * partial_bytes::<T>()) as u64;
    if bytes > ctx.summary.max_binding_bytes {
        return Err(Error::Unsupported {
            backend: "gpu".into(),
            what: format!("{count} partial sums in one binding"),
        });
    }
    ctx.storage("norm partials", bytes)
}

/// What the shader's reduction of the whole vector gives.
#[derive(Debug, Clone, Copy)]
struct Reduced<T> {
    /// Σ summand over the normal values (every finite value for the scaled square).
    sum: T,
    /// Σ of the subnormal magnitudes in units of the smallest subnormal (L1 only).
    tiny: T,
    /// The largest magnitude, from its bits: NaN if any value is NaN, else +∞ if any is
    /// infinite.
    amax: T,
}

impl<T: Real> Reduced<T> {
    /// The norm's NaN or +∞ when the vector holds one, exactly as the CPU backends give it.
    fn special(&self) -> Option<T> {
        (!self.amax.is_finite()).then_some(self.amax)
    }

    /// Σ |x|: the normal and the subnormal parts, joined on the host (IEEE arithmetic, so
    /// the product keeps its subnormal bits).
    fn l1(&self) -> T {
        self.special()
            .unwrap_or_else(|| self.sum + self.tiny * smallest_subnormal::<T>())
    }
}

/// 2⁻¹⁴⁹ in f32, 2⁻¹⁰⁷⁴ in f64: the unit of `Reduced::tiny`.
fn smallest_subnormal<T: Real>() -> T {
    T::min_positive_value() * T::epsilon()
}

/// The `s` with `2ˢ ≤ x < 2ˢ⁺¹`, for a finite `x > 0` (subnormal included).
fn binary_exponent(x: f64) -> i32 {
    let bits = x.to_bits();
    match (bits >> 52) as i32 {
        0 => 63 - bits.leading_zeros() as i32 - 1074,
        biased => biased - 1023,
    }
}

/// 2ˢ as an f64, exactly, for `-1074 ≤ s ≤ 1023`.
fn power_of_two(s: i32) -> f64 {
    if s >= -1022 {
        f64::from_bits(((s + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (s + 1074))
    }
}

/// Runs the reduction with `call` and returns what it gives, and the device time of the
/// reduction where the adapter has timestamps. Calls on one vector take turns (its state
/// is locked), so that two threads' parameters do not interleave.
async fn reduce<T: Real>(
    v: &GpuVector<T>,
    call: NormCall,
    timed: bool,
) -> Result<(Reduced<T>, Option<Duration>)> {
    let data = v.resident();
    let mut slot = data.state(NormPlan::new).await?;
    reduce_with(data.ctx(), slot.get()?, call, timed).await
}

async fn reduce_with<T: Real>(
    ctx: &Context,
    plan: &mut NormPlan,
    call: NormCall,
    timed: bool,
) -> Result<(Reduced<T>, Option<Duration>)> {
    if plan.written != call {
        ctx.capture(|| {
            ctx.queue
                .write_buffer(&plan.call, 0, bytemuck::bytes_of(&call))
        })?;
        plan.written = call;
    }

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
    let bytes = partial_bytes::<T>() as u64;
    let watch_bytes = watch.as_ref().map_or(0, |w| w.bytes());
    let mut readback = Readback::new(ctx, bytes * plan.results.len() as u64 + watch_bytes)?;
    let partials_at = plan
        .results
        .iter()
        .map(|result| readback.copy(&mut encoder, result, 0, bytes))
        .collect::<Result<Vec<usize>>>()?;
    let ticks_at = watch
        .as_ref()
        .map(|w| readback.timestamps(&mut encoder, w))
        .transpose()?;
    let submission = ctx.submit(encoder)?;
    let mapped = readback.finish(submission).await?;
    // Each field is as wide as `T`; the magnitude's bits read as a `T` are |x| itself.
    let read = |at: usize, field: usize| -> Result<T> {
        let at = at + field * element;
        mapped
            .get(at..at + element)
            .map(bytemuck::pod_read_unaligned)
            .ok_or_else(|| device_error("the norm's result was not read back"))
    };
    let mut reduced = Reduced {
        sum: T::zero(),
        tiny: T::zero(),
        amax: T::zero(),
    };
    for at in partials_at {
        let amax: T = read(at, 2)?;
        reduced.sum = reduced.sum + read(at, 0)?;
        reduced.tiny = reduced.tiny + read(at, 1)?;
        // Magnitudes compare as their bits, NaN above ∞ (as in the shader).
        if amax.as_f64().to_bits() > reduced.amax.as_f64().to_bits() {
            reduced.amax = amax;
        }
    }
    let device_time = match (&watch, ticks_at) {
        (Some(w), Some(at)) => Some(w.elapsed(&mapped[at..], ctx.timestamp_period())?),
        _ => None,
    };
    drop(mapped);
    ctx.return_stopwatch(watch);
    Ok((reduced, device_time))
}

/// The norm `kind` of a resident vector, with the semantics of [`super`]; its compute time
/// from timestamps when `timed` and the adapter has them, else host time.
async fn norm_of<T: Real>(
    v: &GpuVector<T>,
    kind: NormKind,
    timed: bool,
) -> Result<(T, GpuTimings)> {
    let clock = if timed {
        v.resident().ctx().clock()
    } else {
        ComputeClock::Host
    };
    let mut timings = GpuTimings::new(clock);
    let start = Instant::now();
    let mut device = Duration::ZERO;
    let value = if v.is_empty() {
        T::zero()
    } else {
        match kind {
            NormKind::L1 => run(v, SUMMAND_ABS, 0, timed, &mut device).await?.l1(),
            NormKind::L2Squared => {
                let r = run(v, SUMMAND_SQUARE, 0, timed, &mut device).await?;
                r.special().unwrap_or(r.sum)
            }
            NormKind::LInf => run(v, SUMMAND_ABS, 0, timed, &mut device).await?.amax,
            NormKind::L2 => {
                let r = run(v, SUMMAND_SQUARE, 0, timed, &mut device).await?;
                // The shared L2 logic decides whether the scaled pass runs (a second
                // submission and wait, only for vectors whose squares overflow or
                // underflow): its `Err` here is "scale by this L∞". The scale is the power
                // of two at or below L∞, so scaling is exact and done on the bits
                // (subnormal inputs survive any device).
                match try_l2_from_parts(r.amax, || Ok(r.sum), Err) {
                    Ok(l2) => l2,
                    Err(amax) => {
                        let shift = binary_exponent(amax.as_f64());
                        let s = run(v, SUMMAND_SCALED_SQUARE, shift, timed, &mut device).await?;
                        T::from_f64(power_of_two(shift)) * s.sum.sqrt()
                    }
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

/// One reduction of `v` with `summand` (and the scale `2^-shift`), its device time added
/// to `device`.
async fn run<T: Real>(
    v: &GpuVector<T>,
    summand: u32,
    shift: i32,
    timed: bool,
    device: &mut Duration,
) -> Result<Reduced<T>> {
    let call = NormCall {
        summand,
        // Two's complement: the shader reads it back with `bitcast<i32>`.
        shift: shift as u32,
    };
    let (reduced, time) = reduce(v, call, timed).await?;
    *device += time.unwrap_or_default();
    Ok(reduced)
}
