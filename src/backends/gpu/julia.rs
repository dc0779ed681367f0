//! Julia on the GPU: one invocation per pixel, in bands of rows small enough for one
//! storage binding each.

use std::time::Instant;

use ndarray::{Array2, s};

use super::context::Context;
use super::timing::{ComputeClock, GpuTimings};
use crate::kernels::julia::JuliaParams;
use crate::{Error, Real, Result};

pub(crate) fn julia<T: Real>(
    ctx: &Context,
    params: &JuliaParams<T>,
) -> Result<(Array2<u32>, GpuTimings)> {
    let pipelines = ctx.pipelines::<T>()?;
    let mut timings = GpuTimings::new(ComputeClock::Host);
    let mut watch = ctx.stopwatch()?;
    let (rows, cols) = params.shape();
    let mut counts = Array2::zeros((rows, cols));
    if rows == 0 || cols == 0 {
        return Ok((counts, timings));
    }
    let max_pixels = (ctx.summary.max_binding_bytes / 4) as usize;
    if cols > max_pixels {
        return Err(Error::Unsupported {
            backend: "gpu".into(),
            what: format!("Julia rows of {cols} pixels (at most {max_pixels} per storage binding)"),
        });
    }
    let band_rows = (max_pixels / cols).clamp(1, rows);
    let (c_re, c_im) = params.c();

    let start = Instant::now();
    let xs = ctx.buffer_with("julia xs", params.xs())?;
    let constant = ctx.buffer_with("julia c", &[c_re, c_im])?;
    ctx.wait()?;
    timings.upload += start.elapsed();

    for first in (0..rows).step_by(band_rows) {
        let n = band_rows.min(rows - first);
        let pixels = n * cols;
        let start = Instant::now();
        let ys = ctx.buffer_with("julia ys", &params.ys()[first..first + n])?;
        let out = ctx.buffer("julia counts", (pixels * 4) as u64)?;
        let dims = ctx.uniform("julia dims", [params.max_iter(), cols as u32, n as u32, 0])?;
        ctx.wait()?;
        timings.upload += start.elapsed();

        let start = Instant::now();
        let bind = ctx.bind(
            &pipelines.julia,
            &[(0, &xs), (1, &ys), (2, &constant), (3, &dims), (4, &out)],
        )?;
        let (x, y) = ctx.workgroups(pixels as u64)?;
        ctx.compute(watch.as_mut(), |pass| {
            pass.set_pipeline(&pipelines.julia);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(x, y, 1);
        })?;
        ctx.wait()?;
        timings.compute += start.elapsed();

        let start = Instant::now();
        let band = ctx.read::<u32>(&out, 0, pixels)?;
        let band = Array2::from_shape_vec((n, cols), band).map_err(|e| Error::Device {
            details: e.to_string(),
        })?;
        counts.slice_mut(s![first..first + n, ..]).assign(&band);
        timings.download += start.elapsed();
    }
    // Device time where every band's pass was timed; host time otherwise.
    if let Some(watch) = watch.filter(|w| w.passes() as usize == rows.div_ceil(band_rows)) {
        timings.compute = ctx.elapsed(&watch)?;
        timings.compute_clock = ComputeClock::Timestamps;
    }
    Ok((counts, timings))
}
