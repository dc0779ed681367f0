//! Julia on the GPU: one invocation per pixel, in bands of rows small enough for one
//! storage binding each. A shape's buffers and bind groups are kept by the context for the
//! next call of that shape; a call writes its axes and constant, runs one submission that
//! also brings a small grid back, and waits once.

use std::time::Instant;

use ndarray::Array2;

use super::context::{Context, Workgroups};
use super::contract::JuliaDims;
use super::pipelines::Entry;
use super::staging::{self, Readback, Segment, Sink};
use super::timing::{ComputeClock, GpuTimings};
use crate::kernels::julia::JuliaParams;
use crate::{Error, Real, Result, memory};

/// Shapes whose buffers take more than this are not kept between calls.
const KEEP_AT_MOST_BYTES: u64 = 64 << 20;

/// One band of output rows: its counts, its dispatch, and the dims it was last given.
struct Band {
    first_row: usize,
    rows: usize,
    dims: wgpu::Buffer,
    counts: wgpu::Buffer,
    bind: wgpu::BindGroup,
    groups: Workgroups,
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
    bands: Vec<Band>,
    bytes: u64,
}

impl JuliaBuffers {
    fn new<T: Real>(ctx: &Context, rows: usize, cols: usize) -> Result<JuliaBuffers> {
        let pipeline = ctx.pipeline::<T>(Entry::Julia)?;
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
        let band_rows = (max_pixels / cols).clamp(1, rows);
        let mut bands = Vec::new();
        for first_row in (0..rows).step_by(band_rows) {
            let n = band_rows.min(rows - first_row);
            // Large grids come back through the transfer path, which may map it.
            let counts = ctx.data_buffer("julia counts", (n * cols * 4) as u64, false)?;
            let dims = ctx.uniform("julia dims", &JuliaDims::default())?;
            let bind = ctx.bind(
                pipeline,
                &[(0, &xs), (1, &ys), (2, &constant), (3, &dims), (4, &counts)],
            )?;
            bands.push(Band {
                first_row,
                rows: n,
                dims,
                counts,
                bind,
                groups: ctx.workgroups((n * cols) as u64)?,
                written: None,
            });
        }
        Ok(JuliaBuffers {
            xs,
            ys,
            constant,
            written: Vec::new(),
            bands,
            bytes: (count_bytes + axis_bytes).min(u128::from(u64::MAX)) as u64,
        })
    }
}

/// Escape counts of `params`, with the time split: compute from timestamps when `timed`
/// and the adapter has them, else host time.
pub(crate) fn julia<T: Real>(
    ctx: &Context,
    params: &JuliaParams<T>,
    timed: bool,
) -> Result<(Array2<u32>, GpuTimings)> {
    let pipeline = ctx.pipeline::<T>(Entry::Julia)?;
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
    let key = (T::PRECISION, rows, cols);
    let mut buffers = match ctx.julia.take(&key) {
        Some(buffers) => buffers,
        None => JuliaBuffers::new::<T>(ctx, rows, cols)?,
    };

    let start = Instant::now();
    let (c_re, c_im) = params.c();
    let constant = [c_re, c_im, T::one()];
    let (xs, ys, c): (&[u8], &[u8], &[u8]) = (
        bytemuck::cast_slice(params.xs()),
        bytemuck::cast_slice(params.ys()),
        bytemuck::cast_slice(&constant),
    );
    let unchanged = buffers.written.len() == xs.len() + ys.len() + c.len()
        && buffers.written.starts_with(xs)
        && buffers.written[xs.len()..].starts_with(ys)
        && buffers.written.ends_with(c);
    ctx.capture(|| {
        if !unchanged {
            ctx.queue.write_buffer(&buffers.xs, 0, xs);
            ctx.queue.write_buffer(&buffers.ys, 0, ys);
            ctx.queue.write_buffer(&buffers.constant, 0, c);
            buffers.written.clear();
            buffers.written.extend_from_slice(xs);
            buffers.written.extend_from_slice(ys);
            buffers.written.extend_from_slice(c);
        }
        for band in &mut buffers.bands {
            let dims = JuliaDims {
                max_iter: params.max_iter(),
                cols: cols as u32,
                rows: band.rows as u32,
                first_row: band.first_row as u32,
            };
            if band.written != Some(dims) {
                ctx.queue
                    .write_buffer(&band.dims, 0, bytemuck::bytes_of(&dims));
                band.written = Some(dims);
            }
        }
    })?;
    timings.upload = start.elapsed();

    let start = Instant::now();
    let mut watch = if timed { ctx.stopwatch()? } else { None };
    let mut encoder = ctx.encoder();
    for band in &buffers.bands {
        let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("julia"),
            timestamp_writes,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &band.bind, &[]);
        let (x, y, z) = band.groups;
        pass.dispatch_workgroups(x, y, z);
    }
    // A grid that fits one staging chunk comes back with the compute, in one wait.
    let count_bytes = (rows * cols * 4) as u64;
    let small = count_bytes <= ctx.summary.staging_chunk_bytes;
    let watch_bytes = watch.as_ref().map_or(0, |w| w.bytes());
    let mut readback = Readback::new(ctx, watch_bytes + if small { count_bytes } else { 0 })?;
    let ticks_at = watch
        .as_ref()
        .map(|w| readback.timestamps(&mut encoder, w))
        .transpose()?;
    let mut band_at = Vec::new();
    if small {
        for band in &buffers.bands {
            band_at.push(readback.copy(
                &mut encoder,
                &band.counts,
                0,
                (band.rows * cols * 4) as u64,
            )?);
        }
    }
    let submission = ctx.submit(encoder)?;
    let mapped = readback.finish(submission)?;
    timings.compute = match (&watch, ticks_at) {
        (Some(w), Some(at)) if w.passes() as usize == buffers.bands.len() => {
            w.elapsed(&mapped[at..], ctx.timestamp_period())?
        }
        _ => {
            timings.compute_clock = ComputeClock::Host;
            start.elapsed()
        }
    };
    ctx.return_stopwatch(watch);

    let start = Instant::now();
    if small {
        let cells = counts
            .as_slice_mut()
            .ok_or_else(|| super::errors::device_error("julia counts are not contiguous"))?;
        for (band, &at) in buffers.bands.iter().zip(&band_at) {
            let range = band.first_row * cols..(band.first_row + band.rows) * cols;
            let bytes = range.len() * 4;
            bytemuck::cast_slice_mut(&mut cells[range]).copy_from_slice(&mapped[at..at + bytes]);
        }
        drop(mapped);
    } else {
        drop(mapped);
        let segments: Vec<Segment<'_>> = buffers
            .bands
            .iter()
            .map(|band| Segment {
                buffer: &band.counts,
                first: band.first_row * cols,
                len: band.rows * cols,
            })
            .collect();
        staging::download(ctx, &segments, &mut Sink::grid(counts.view_mut()))?;
    }
    timings.download = start.elapsed();
    if buffers.bytes <= KEEP_AT_MOST_BYTES {
        ctx.julia.put(key, buffers);
    }
    Ok((counts, timings))
}
