//! Julia on the GPU: one invocation per pixel (`julia.wgsl`), in segments of whole rows
//! small enough for one storage binding each. A shape's buffers and bind groups are kept in
//! the device's cache for the next call of that shape; a call writes its axes and
//! constant, runs one submission that also brings a small grid back, and waits once.

use web_time::Instant;

use ndarray::Array2;

use crate::backends::gpu::Gpu;
use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::{WgslStruct, wgsl_struct};
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::shaders::{Entry, Shader, ShaderDef, no_target_constants};
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::host::Sink;
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::staging::{self, Span};
use crate::backends::gpu::timing::{ComputeClock, GpuTimings, Stopwatch};
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::julia::JuliaParams;
use crate::memory;
use crate::real::Real;

wgsl_struct! {
    /// One Julia dispatch: a run of rows of one segment of the output.
    pub(crate) struct JuliaDims {
        /// The iteration cap.
        max_iter,
        /// Pixels per row.
        cols,
        /// Rows in this dispatch.
        rows,
        /// The dispatch's first row in the `ys` axis.
        first_row,
        /// The dispatch's first row within its segment's counts.
        segment_row,
    }
}

/// Pixel-iterations one submission takes at the most (a few milliseconds on a large GPU, a
/// second on a software one): a huge call never trips an operating system's GPU watchdog,
/// and a stop asked for ([`crate::interrupt`]) is honoured between submissions.
const WORK_PER_SUBMISSION: u64 = 1 << 30;

/// One dispatch: rows `segment_row .. segment_row + rows` of segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dispatch {
    segment: usize,
    segment_row: usize,
    rows: usize,
}

/// The dispatches of a call: each segment whole where its work fits one submission, else
/// in runs of rows that do.
fn dispatches(segments: &[CountSegment], cols: usize, max_iter: u32) -> Vec<Dispatch> {
    let per_row = (cols as u64).saturating_mul(u64::from(max_iter.max(1)));
    let rows_per = (WORK_PER_SUBMISSION / per_row.max(1)).max(1) as usize;
    let mut out = Vec::new();
    for (segment, s) in segments.iter().enumerate() {
        for segment_row in (0..s.rows).step_by(rows_per) {
            out.push(Dispatch {
                segment,
                segment_row,
                rows: rows_per.min(s.rows - segment_row),
            });
        }
    }
    out
}

/// `julia.wgsl`: escape counts, one invocation per pixel.
pub(crate) const SHADER: Shader = Shader::new(&ShaderDef {
    name: "julia",
    defined_in: file!(),
    dispatch: &[(
        MAIN,
        "One invocation per pixel of `dims.rows` rows starting at `ys[dims.first_row]`, \
         writing `counts` from `dims.segment_row · dims.cols`: ⌈rows · cols / \
         WORKGROUP_SIZE⌉ workgroups as (x, y, 1), x at most the device's limit per \
         dimension (pixel = (wg.y · groups.x + wg.x) · WORKGROUP_SIZE + local). `constant` \
         holds c.re, c.im and 1.0. A grid whose counts exceed one storage binding is split \
         into segments of whole rows, each its own `counts` buffer and dispatches.",
    )],
    body: include_str!("julia.wgsl"),
    entry_points: &[MAIN],
    uses_bits: true,
    rounds_products: true,
    structs: &[JuliaDims::LAYOUT],
    constants: &[],
    target_constants: no_target_constants,
    reduction: None,
});

const MAIN: &str = "main";
const ENTRY: Entry = Entry::new(SHADER, MAIN);

/// One segment of output rows: its counts, its bind group, and the dims it was last given.
struct CountSegment {
    first_row: usize,
    rows: usize,
    dims: wgpu::Buffer,
    counts: wgpu::Buffer,
    bind: wgpu::BindGroup,
    written: Option<JuliaDims>,
}

/// Everything a Julia call of one shape and precision needs on the device.
pub(crate) struct JuliaBuffers {
    xs: wgpu::Buffer,
    ys: wgpu::Buffer,
    constant: wgpu::Buffer,
    /// The bytes of the axes and constant the buffers hold: a call that repeats them
    /// (another iteration cap, the same grid again) writes nothing.
    written: Vec<u8>,
    segments: Vec<CountSegment>,
    bytes: u64,
}

impl JuliaBuffers {
    fn new<T: Real>(ctx: &Context, rows: usize, cols: usize) -> Result<JuliaBuffers> {
        let pipeline = ctx.pipeline::<T>(ENTRY)?;
        let binding = ctx.summary.max_binding_bytes;
        let max_pixels = (binding / 4) as usize;
        if cols > max_pixels || (rows.max(cols) * size_of::<T>()) as u64 > binding {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!(
                    "a Julia grid of {rows} × {cols} pixels (an axis or one row of counts \
                     exceeds one storage binding of {binding} bytes)"
                ),
            });
        }
        let count_bytes =
            memory::bytes_of::<u32>(memory::elements::<u32>(rows, cols, "julia counts")?);
        let axis_bytes = memory::bytes_of::<T>(rows + cols + 2);
        ctx.check_device_bytes("julia counts on the GPU", count_bytes + axis_bytes, false)?;

        let xs = ctx.storage("julia xs", (cols * size_of::<T>()) as u64)?;
        let ys = ctx.storage("julia ys", (rows * size_of::<T>()) as u64)?;
        // c_re, c_im and 1.0 (the shader's `rounded` needs a one it cannot fold).
        let constant = ctx.storage("julia c", 3 * size_of::<T>() as u64)?;
        let segment_rows = (max_pixels / cols).clamp(1, rows);
        let mut segments = Vec::new();
        for first_row in (0..rows).step_by(segment_rows) {
            let n = segment_rows.min(rows - first_row);
            // Large grids come back through the transfer path, which may map it.
            let counts = ctx.data_buffer("julia counts", (n * cols * 4) as u64, false)?;
            let dims = ctx.uniform("julia dims", &JuliaDims::default())?;
            let bind = ctx.bind(
                pipeline,
                &[(0, &xs), (1, &ys), (2, &constant), (3, &dims), (4, &counts)],
            )?;
            segments.push(CountSegment {
                first_row,
                rows: n,
                dims,
                counts,
                bind,
                written: None,
            });
        }
        Ok(JuliaBuffers {
            xs,
            ys,
            constant,
            written: Vec::new(),
            segments,
            bytes: (count_bytes + axis_bytes).min(u128::from(u64::MAX)) as u64,
        })
    }
}

impl JuliaBuffers {
    /// Writes the axes and the constant of `params`, unless the buffers hold them already.
    fn write_axes<T: Real>(&mut self, ctx: &Context, params: &JuliaParams<T>) -> Result<()> {
        let (c_re, c_im) = params.c();
        let constant = [c_re, c_im, T::one()];
        let (xs, ys, c): (&[u8], &[u8], &[u8]) = (
            bytemuck::cast_slice(params.xs()),
            bytemuck::cast_slice(params.ys()),
            bytemuck::cast_slice(&constant),
        );
        let unchanged = self.written.len() == xs.len() + ys.len() + c.len()
            && self.written.starts_with(xs)
            && self.written[xs.len()..].starts_with(ys)
            && self.written.ends_with(c);
        if unchanged {
            return Ok(());
        }
        ctx.capture(|| {
            ctx.queue.write_buffer(&self.xs, 0, xs);
            ctx.queue.write_buffer(&self.ys, 0, ys);
            ctx.queue.write_buffer(&self.constant, 0, c);
        })?;
        self.written.clear();
        self.written.extend_from_slice(xs);
        self.written.extend_from_slice(ys);
        self.written.extend_from_slice(c);
        Ok(())
    }
}

impl Gpu {
    /// Julia escape counts, with the time split.
    ///
    /// # Errors
    /// As [`crate::Backend::julia`].
    pub fn julia_timed<T: Real>(
        &self,
        params: &JuliaParams<T>,
    ) -> Result<(Array2<u32>, GpuTimings)> {
        block_on(self.julia_timed_async(params))
    }

    /// [`Gpu::julia_timed`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`crate::Backend::julia`].
    pub async fn julia_timed_async<T: Real>(
        &self,
        params: &JuliaParams<T>,
    ) -> Result<(Array2<u32>, GpuTimings)> {
        julia(self.ctx(), params, true).await
    }

    /// Julia escape counts, untimed (no timestamp queries, which on some drivers cost more
    /// than a small call), awaited ([`crate::Backend::julia`] on the GPU blocks on it).
    ///
    /// # Errors
    /// As [`crate::Backend::julia`].
    pub async fn julia_async<T: Real>(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        Ok(julia(self.ctx(), params, false).await?.0)
    }
}

/// Escape counts of `params`, with the time split: compute from timestamps when `timed`
/// and the adapter has them, else host time. Phases: the shape's buffers (cached), the axes
/// written, the dispatches recorded and run with a small grid's read-back in the same
/// submission, the counts copied out.
async fn julia<T: Real>(
    ctx: &Context,
    params: &JuliaParams<T>,
    timed: bool,
) -> Result<(Array2<u32>, GpuTimings)> {
    let stop = Watch::start();
    let mut timings = GpuTimings::new(if timed {
        ctx.clock()
    } else {
        ComputeClock::Host
    });
    let (rows, cols) = params.shape();
    let mut counts = memory::zeroed_array2::<u32>(rows, cols, "julia counts")?;
    if rows == 0 || cols == 0 {
        return Ok((counts, timings));
    }
    let key = CacheKey {
        what: "julia",
        precision: T::PRECISION,
        shape: [rows, cols],
    };
    let mut buffers = match ctx.cache.take::<JuliaBuffers>(&key) {
        Some(buffers) => buffers,
        None => JuliaBuffers::new::<T>(ctx, rows, cols)?,
    };

    let start = Instant::now();
    buffers.write_axes(ctx, params)?;
    timings.upload = start.elapsed();

    let start = Instant::now();
    let mut watch = if timed { ctx.stopwatch()? } else { None };
    let mut encoder = ctx.encoder();
    let passes = record(ctx, &mut buffers, params, &mut watch, &mut encoder, stop).await?;
    // A grid that fits one staging chunk comes back with the compute, in one wait.
    let count_bytes = (rows * cols * 4) as u64;
    let small = count_bytes <= ctx.summary.staging_chunk_bytes;
    let watch_bytes = watch.as_ref().map_or(0, |w| w.bytes());
    let mut readback = Readback::new(ctx, watch_bytes + if small { count_bytes } else { 0 })?;
    let ticks_at = watch
        .as_ref()
        .map(|w| readback.timestamps(&mut encoder, w))
        .transpose()?;
    let mut segment_at = Vec::new();
    if small {
        for segment in &buffers.segments {
            let bytes = (segment.rows * cols * 4) as u64;
            segment_at.push(readback.copy(&mut encoder, &segment.counts, 0, bytes)?);
        }
    }
    let mapped = readback.finish(ctx.submit(encoder)?).await?;
    timings.compute = match (&watch, ticks_at) {
        (Some(w), Some(at)) if w.passes() as usize == passes => {
            w.elapsed(&mapped[at..], ctx.timestamp_period())?
        }
        _ => {
            timings.compute_clock = ComputeClock::Host;
            start.elapsed()
        }
    };
    ctx.return_stopwatch(watch);

    let start = Instant::now();
    let read_back = small.then_some((&mapped[..], &segment_at[..]));
    copy_out(ctx, &buffers, read_back, &mut counts).await?;
    drop(mapped);
    timings.download = start.elapsed();
    let bytes = buffers.bytes;
    ctx.cache.put(key, bytes, buffers);
    // A kernel in flight cannot be stopped: a stop asked for meanwhile is honoured here.
    stop.check()?;
    Ok((counts, timings))
}

/// Records the call's dispatches into `encoder` and returns how many there are. One
/// submission where every segment is one dispatch; else one per dispatch, each waited for,
/// so that a segment's dims can be rewritten between them and a stop is honoured after the
/// one in flight.
async fn record<T: Real>(
    ctx: &Context,
    buffers: &mut JuliaBuffers,
    params: &JuliaParams<T>,
    watch: &mut Option<Stopwatch>,
    encoder: &mut wgpu::CommandEncoder,
    stop: Watch,
) -> Result<usize> {
    let pipeline = ctx.pipeline::<T>(ENTRY)?;
    let cols = params.shape().1;
    let plan = dispatches(&buffers.segments, cols, params.max_iter());
    let one_submission = plan.len() == buffers.segments.len();
    for (k, d) in plan.iter().enumerate() {
        let segment = &mut buffers.segments[d.segment];
        let dims = JuliaDims {
            max_iter: params.max_iter(),
            cols: cols as u32,
            rows: d.rows as u32,
            first_row: (segment.first_row + d.segment_row) as u32,
            segment_row: d.segment_row as u32,
        };
        if segment.written != Some(dims) {
            ctx.capture(|| {
                ctx.queue
                    .write_buffer(&segment.dims, 0, bytemuck::bytes_of(&dims))
            })?;
            segment.written = Some(dims);
        }
        let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("julia"),
                timestamp_writes,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &segment.bind, &[]);
            let (x, y, z) = ctx.workgroups((d.rows * cols) as u64)?;
            pass.dispatch_workgroups(x, y, z);
        }
        if !one_submission && k + 1 < plan.len() {
            let done = std::mem::replace(encoder, ctx.encoder());
            ctx.wait(ctx.submit(done)?).await?;
            if stop.interrupted() {
                break;
            }
        }
    }
    Ok(plan.len())
}

/// Copies the counts into `counts`: from the call's own read-back (`(mapped, where each
/// segment starts in it)`) for a small grid, else through the staging path.
async fn copy_out(
    ctx: &Context,
    buffers: &JuliaBuffers,
    read_back: Option<(&[u8], &[usize])>,
    counts: &mut Array2<u32>,
) -> Result<()> {
    let cols = counts.ncols();
    let Some((mapped, segment_at)) = read_back else {
        let spans: Vec<Span<'_>> = buffers
            .segments
            .iter()
            .map(|segment| Span {
                buffer: &segment.counts,
                first: segment.first_row * cols,
                len: segment.rows * cols,
            })
            .collect();
        return staging::download(ctx, &spans, &mut Sink::grid(counts.view_mut())).await;
    };
    let cells = counts
        .as_slice_mut()
        .ok_or_else(|| device_error("julia counts are not contiguous"))?;
    for (segment, &at) in buffers.segments.iter().zip(segment_at) {
        let range = segment.first_row * cols..(segment.first_row + segment.rows) * cols;
        let bytes = range.len() * 4;
        bytemuck::cast_slice_mut(&mut cells[range]).copy_from_slice(&mapped[at..at + bytes]);
    }
    Ok(())
}
