//! The device's own limits and the link to it, measured: the yardsticks every GPU figure
//! is judged against, shared by the bench, the crossover example and `Auto`.
//!
//! - Copy and read bandwidth by compute shaders (`wgsl/probe.wgsl`: vector loads and
//!   stores, grid-stride loops) over 1 GiB (or the device's largest total that fits),
//!   far beyond any cache, timed with GPU timestamps where the adapter has them; the best
//!   of several passes, after one that touches every page.
//! - Peak arithmetic: independent multiply-then-add chains, as Julia's inner loop does.
//! - The host link: upload and download rates through hpnum's own transfer path, and the
//!   round trip of an empty submission (the floor under every call).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use web_time::Instant;

use ndarray::ArrayView1;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::{WORKGROUP_SIZE, WgslStruct, wgsl_constants, wgsl_struct};
use crate::backends::gpu::shaders::{Entry, Shader, ShaderDef, no_target_constants};
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::submit::Workgroups;
use crate::backends::gpu::timing::ComputeClock;
use crate::backends::gpu::vector::GpuVector;
use crate::error::{Error, Result};
use crate::memory;
use crate::real::{Precision, Real};

wgsl_constants! {
    /// Independent chains per invocation in the arithmetic probe, one operation each per
    /// iteration: half multiplies, half adds, in vec4 registers (a multiple of 8).
    pub(crate) const PROBE_CHAINS = 32;
    /// `vec4<u32>` elements each invocation of the bandwidth probes moves per pass.
    pub(crate) const PROBE_VEC4_PER_INVOCATION = 8;
}

wgsl_struct! {
    /// One probe dispatch.
    pub(crate) struct ProbeJob {
        /// `vec4<u32>` elements in the buffers (bandwidth probes).
        vec4s,
        /// Multiply-then-add iterations per chain (arithmetic probe).
        iterations,
    }
}

/// `wgsl/probe.wgsl`: the device's limits (`stream_copy`, `stream_read`, `arithmetic`) and
/// whether it keeps subnormals (`subnormals`).
pub(crate) const SHADER: Shader = Shader::new(&ShaderDef {
    name: "probe",
    defined_in: file!(),
    dispatch: &[
        (
            COPY,
            "Copies `job.vec4s` 16-byte elements of `src` to `dst` in a grid-stride loop: \
             any number of workgroups as (x, y, 1).",
        ),
        (
            READ,
            "Reads `job.vec4s` 16-byte elements of `src` in a grid-stride loop, folding them \
             into `sink` so that nothing is optimised away: any number of workgroups.",
        ),
        (
            ARITHMETIC,
            "`job.iterations` multiply-only and add-only iterations per invocation on \
             PROBE_CHAINS independent chains, the result to `sink`: any number of \
             workgroups.",
        ),
        (
            SUBNORMALS,
            "One workgroup (1, 1, 1): from the subnormal operands in `sink[0..4]`, writes \
             their products and a sum to `sink[4..7]`, which say whether the device keeps \
             subnormals.",
        ),
    ],
    body: include_str!("wgsl/probe.wgsl"),
    entry_points: &[COPY, READ, ARITHMETIC, SUBNORMALS],
    uses_bits: false,
    rounds_products: false,
    structs: &[ProbeJob::LAYOUT],
    constants: CONSTANTS,
    target_constants: no_target_constants,
    reduction: None,
});

const COPY: &str = "stream_copy";
const READ: &str = "stream_read";
const ARITHMETIC: &str = "arithmetic";
const SUBNORMALS: &str = "subnormals";

/// What the probes measured on one device, each on first request.
#[derive(Default)]
pub(crate) struct Probes {
    pub device_limits: OnceLock<DeviceLimits>,
    pub bus: OnceLock<BusRates>,
    tiny_kernel: OnceLock<TinyKernel>,
}

/// Bytes per buffer the bandwidth probes aim for: far beyond any GPU's cache (an H100 has
/// 50 MB of L2). In a browser, 256 MiB: a tab's GPU memory is capped (SwiftShader in
/// Chromium refused two 1 GiB buffers), and WebGPU reports a refusal only after the fact.
const PROBE_BYTES: u64 = if cfg!(target_arch = "wasm32") {
    256 << 20
} else {
    1 << 30
};
/// The least the bandwidth probes settle for when memory is short.
const MIN_PROBE_BYTES: u64 = 64 << 20;
/// Timed passes per probe (after one untimed pass).
const REPEATS: usize = 3;
/// Workgroups of the arithmetic probe: four times what fills the largest GPUs (an H100 or
/// H200 runs 132 × 2048 invocations at once), so that the last wave's tail is short. With
/// 1024 and eight chains in an array, the H200 read 1.26 TFLOP/s where Julia ran at 4.5.
const ARITHMETIC_WORKGROUPS: u64 = 4096;
/// The arithmetic probe grows its iterations until a pass takes this long.
const ARITHMETIC_TARGET: Duration = Duration::from_millis(10);

/// What the device can do at most, measured by `Gpu::device_limits`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DeviceLimits {
    /// Copy bandwidth: bytes read plus bytes written per second (diffusion's limit).
    pub copy_bytes_per_s: f64,
    /// Read bandwidth: bytes read per second (the norms' limit).
    pub read_bytes_per_s: f64,
    /// Peak f32 multiply-then-add throughput, floating-point operations per second
    /// (Julia's limit).
    pub f32_flops: f64,
    /// The same in f64, where the device has it.
    pub f64_flops: Option<f64>,
    /// Bytes each bandwidth probe streamed per pass.
    pub probe_bytes: u64,
    /// How the probes were timed.
    pub clock: ComputeClock,
}

/// The link between host and device, measured by `Gpu::bus_rates`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BusRates {
    /// Host → device, bytes per second, into a resident vector.
    pub upload_bytes_per_s: f64,
    /// Device → host, bytes per second, into a host array.
    pub download_bytes_per_s: f64,
    /// An empty submission and the wait for it: the least any call costs.
    pub round_trip: Duration,
    /// Bytes each transfer moved.
    pub bytes: u64,
}

/// Measures [`DeviceLimits`].
pub(crate) async fn device_limits(ctx: &Context) -> Result<DeviceLimits> {
    let (copy_bytes, copy_time) = bandwidth(ctx, Entry::new(SHADER, COPY)).await?;
    let (read_bytes, read_time) = bandwidth(ctx, Entry::new(SHADER, READ)).await?;
    let f32_flops = arithmetic::<f32>(ctx).await?;
    let f64_flops = match ctx.pipelines(Precision::F64) {
        Ok(_) => Some(arithmetic::<f64>(ctx).await?),
        Err(Error::Unsupported { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(DeviceLimits {
        copy_bytes_per_s: 2.0 * copy_bytes as f64 / copy_time.as_secs_f64().max(1e-12),
        read_bytes_per_s: read_bytes as f64 / read_time.as_secs_f64().max(1e-12),
        f32_flops,
        f64_flops,
        probe_bytes: copy_bytes,
        clock: ctx.clock(),
    })
}

/// Measures [`BusRates`] with a vector of `bytes` (rounded to whole f32).
pub(crate) async fn bus_rates(ctx: &Arc<Context>, bytes: u64) -> Result<BusRates> {
    let len = (bytes / 4).max(1) as usize;
    let mut host = memory::zeroed_vec::<f32>(len, "bus probe")?;
    let mut resident = GpuVector::upload(ctx, ArrayView1::from(&host[..])).await?;
    let mut best_up = Duration::MAX;
    let mut best_down = Duration::MAX;
    for _ in 0..REPEATS {
        let start = Instant::now();
        resident
            .upload_from_async(ArrayView1::from(&host[..]))
            .await?;
        best_up = best_up.min(start.elapsed());
        let start = Instant::now();
        resident
            .download_into_async(ndarray::ArrayViewMut1::from(&mut host[..]))
            .await?;
        best_down = best_down.min(start.elapsed());
    }
    let mut trips = Vec::with_capacity(21);
    for _ in 0..21 {
        trips.push(ctx.round_trip().await?);
    }
    trips.sort();
    let moved = (len * 4) as f64;
    Ok(BusRates {
        upload_bytes_per_s: moved / best_up.as_secs_f64().max(1e-12),
        download_bytes_per_s: moved / best_down.as_secs_f64().max(1e-12),
        round_trip: trips[trips.len() / 2],
        bytes: (len * 4) as u64,
    })
}

/// One workgroup of the arithmetic probe with no iterations, built once per device: the
/// least a kernel call costs on this driver.
pub(crate) struct TinyKernel {
    group: wgpu::BindGroup,
    _buffers: [wgpu::Buffer; 2],
}

impl TinyKernel {
    fn new(ctx: &Context) -> Result<TinyKernel> {
        let pipeline = ctx.pipeline::<f32>(Entry::new(SHADER, ARITHMETIC))?;
        let job = ctx.uniform("probe job", &ProbeJob::default())?;
        let sink = ctx.storage("probe sink", u64::from(WORKGROUP_SIZE) * 4)?;
        let group = ctx.bind(pipeline, &[(0, &job), (3, &sink)])?;
        Ok(TinyKernel {
            group,
            _buffers: [job, sink],
        })
    }
}

/// One trivial dispatch (one workgroup) and the wait for it.
pub(crate) async fn dispatch_round_trip(ctx: &Context, probes: &Probes) -> Result<Duration> {
    let tiny = match probes.tiny_kernel.get() {
        Some(tiny) => tiny,
        None => {
            let tiny = TinyKernel::new(ctx)?;
            probes.tiny_kernel.get_or_init(|| tiny)
        }
    };
    let pipeline = ctx.pipeline::<f32>(Entry::new(SHADER, ARITHMETIC))?;
    let start = Instant::now();
    let mut encoder = ctx.encoder();
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("tiny"),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &tiny.group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    let submission = ctx.submit(encoder)?;
    ctx.wait(submission).await?;
    Ok(start.elapsed())
}

/// The best time of one pass of `entry` over source (and destination) buffers of about
/// [`PROBE_BYTES`], and the bytes per buffer.
async fn bandwidth(ctx: &Context, entry: Entry) -> Result<(u64, Duration)> {
    let pipeline = ctx.pipeline::<f32>(entry)?;
    let copies = entry == Entry::new(SHADER, COPY);
    let piece = (ctx.summary.max_binding_bytes.min(PROBE_BYTES) / 16 * 16).max(16);
    // Shrink to what the device (or, sharing it, the host) can spare, down to a floor.
    let mut total = PROBE_BYTES.max(piece);
    let buffers_per_byte = if copies { 2 } else { 1 };
    while total > MIN_PROBE_BYTES
        && ctx
            .check_device_bytes(
                "bandwidth probe",
                u128::from(buffers_per_byte * total),
                false,
            )
            .is_err()
    {
        total /= 2;
    }
    let pieces = total.div_ceil(piece).max(1);
    let mut buffers = Vec::new();
    let mut dispatches: Vec<(wgpu::BindGroup, Workgroups)> = Vec::new();
    for _ in 0..pieces {
        let vec4s = piece / 16;
        let job = ctx.uniform(
            "probe job",
            &ProbeJob {
                vec4s: vec4s as u32,
                iterations: 0,
            },
        )?;
        let src = ctx.storage("probe source", piece)?;
        // The read probe never writes (see the shader), so its destination is tiny.
        let dst = ctx.storage("probe destination", if copies { piece } else { 16 })?;
        let group = ctx.bind(pipeline, &[(0, &job), (1, &src), (2, &dst)])?;
        let invocations = vec4s.div_ceil(u64::from(PROBE_VEC4_PER_INVOCATION));
        dispatches.push((group, ctx.workgroups(invocations)?));
        buffers.extend([job, src, dst]);
    }
    let best = best_pass(ctx, pipeline, &dispatches).await?;
    Ok((pieces * piece, best))
}

/// Peak multiply-then-add throughput in `T`, operations per second.
async fn arithmetic<T: Real>(ctx: &Context) -> Result<f64> {
    let pipeline = ctx.pipeline::<T>(Entry::new(SHADER, ARITHMETIC))?;
    let invocations = ARITHMETIC_WORKGROUPS * u64::from(WORKGROUP_SIZE);
    let sink = ctx.storage("probe sink", invocations * size_of::<T>() as u64)?;
    let mut iterations: u32 = 64;
    loop {
        let job = ctx.uniform(
            "probe job",
            &ProbeJob {
                vec4s: 0,
                iterations,
            },
        )?;
        let group = ctx.bind(pipeline, &[(0, &job), (3, &sink)])?;
        let dispatch = [(group, ctx.workgroups(invocations)?)];
        let time = best_pass(ctx, pipeline, &dispatch).await?;
        let flops = f64::from(PROBE_CHAINS) * f64::from(iterations) * invocations as f64;
        if time >= ARITHMETIC_TARGET || iterations >= 1 << 20 {
            return Ok(flops / time.as_secs_f64().max(1e-12));
        }
        // Aim past the target in one step, at most ×64 at a time.
        let factor =
            (ARITHMETIC_TARGET.as_secs_f64() * 1.5 / time.as_secs_f64().max(1e-9)).clamp(2.0, 64.0);
        iterations = (f64::from(iterations) * factor).min(f64::from(1u32 << 20)) as u32;
    }
}

/// Runs `dispatches` once untimed, then [`REPEATS`] times, and returns the best pass:
/// device time from timestamps where the adapter has them, else host time per submission.
async fn best_pass(
    ctx: &Context,
    pipeline: &wgpu::ComputePipeline,
    dispatches: &[(wgpu::BindGroup, Workgroups)],
) -> Result<Duration> {
    let record = |encoder: &mut wgpu::CommandEncoder,
                  timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>| {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("probe"),
            timestamp_writes,
        });
        pass.set_pipeline(pipeline);
        for (group, (x, y, z)) in dispatches {
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, *z);
        }
    };
    // The untimed pass touches every page (and lets a lazy driver allocate).
    let mut encoder = ctx.encoder();
    record(&mut encoder, None);
    let warm = ctx.submit(encoder)?;
    ctx.wait(warm).await?;

    let Some(mut watch) = ctx.stopwatch()? else {
        let mut best = Duration::MAX;
        for _ in 0..REPEATS {
            let start = Instant::now();
            let mut encoder = ctx.encoder();
            record(&mut encoder, None);
            let submission = ctx.submit(encoder)?;
            ctx.wait(submission).await?;
            best = best.min(start.elapsed());
        }
        return Ok(best);
    };
    let mut encoder = ctx.encoder();
    for _ in 0..REPEATS {
        record(&mut encoder, watch.next_pass());
    }
    let mut readback = Readback::new(ctx, watch.bytes())?;
    let at = readback.timestamps(&mut encoder, &watch)?;
    let submission = ctx.submit(encoder)?;
    let mapped = readback.finish(submission).await?;
    let times = watch.each(&mapped[at..], ctx.timestamp_period())?;
    drop(mapped);
    ctx.return_stopwatch(Some(watch));
    Ok(times.into_iter().min().unwrap_or(Duration::MAX))
}

/// The precisions in which this device's arithmetic keeps subnormal numbers: one
/// workgroup of `subnormals` per precision, its three results compared bit for bit with
/// IEEE 754's. (wgpu cannot ask Vulkan for `VK_KHR_shader_float_controls`'
/// `DenormPreserve`, so what the driver does by default is what hpnum gets.)
pub(crate) async fn subnormals_kept(ctx: &Context) -> Result<Vec<Precision>> {
    let mut kept = Vec::new();
    if keeps_subnormals::<f32>(ctx).await? {
        kept.push(Precision::F32);
    }
    if ctx.summary.f64 && keeps_subnormals::<f64>(ctx).await? {
        kept.push(Precision::F64);
    }
    Ok(kept)
}

async fn keeps_subnormals<T: Real>(ctx: &Context) -> Result<bool> {
    let pipeline = ctx.pipeline::<T>(Entry::new(SHADER, SUBNORMALS))?;
    let normal = T::min_positive_value();
    let quarter = T::from_f64(0.25);
    let subnormal = normal * quarter; // IEEE on the host
    let one = T::one();
    let inputs = [
        normal,
        quarter,
        subnormal,
        one,
        T::zero(),
        T::zero(),
        T::zero(),
        T::zero(),
    ];
    let sink = ctx.storage_with("subnormal probe", &inputs)?;
    let group = ctx.bind(pipeline, &[(3, &sink)])?;
    let mut encoder = ctx.encoder();
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("subnormal probe"),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    let element = size_of::<T>();
    let mut readback = Readback::new(ctx, 3 * element as u64)?;
    let at = readback.copy(&mut encoder, &sink, 4 * element as u64, 3 * element as u64)?;
    let mapped = readback.finish(ctx.submit(encoder)?).await?;
    let got: Vec<T> = mapped[at..at + 3 * element]
        .chunks_exact(element)
        .map(bytemuck::pod_read_unaligned)
        .collect();
    let want = [subnormal, subnormal, subnormal + subnormal];
    Ok(got
        .iter()
        .zip(want)
        .all(|(g, w)| g.as_f64().to_bits() == w.as_f64().to_bits()))
}
