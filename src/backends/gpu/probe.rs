//! The device's own memory limit, measured: buffer-to-buffer copies on the GPU, the
//! yardstick for the diffusion and norm kernels' bandwidth.

use std::time::{Duration, Instant};

use super::context::Context;
use crate::Result;

/// Copies `bytes` (within one binding, rounded down to a multiple of 4) between two device
/// buffers `repeats` times in one submission and returns the time of one copy. The host
/// times the whole submission until complete, so its fixed overhead is shared by all
/// repeats. A copy moves 2 × `bytes` (read and write).
pub(crate) fn copy_time(ctx: &Context, bytes: u64, repeats: u32) -> Result<Duration> {
    let bytes = (bytes.min(ctx.summary.max_binding_bytes) / 4 * 4).max(4);
    let src = ctx.buffer("probe source", bytes)?;
    let dst = ctx.buffer("probe destination", bytes)?;
    let repeats = repeats.max(1);
    // Once untimed, so that first-touch allocation is not measured.
    for round in 0..2 {
        let start = Instant::now();
        ctx.scoped(|| {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            for _ in 0..repeats {
                encoder.copy_buffer_to_buffer(&src, 0, &dst, 0, bytes);
            }
            ctx.queue.submit([encoder.finish()]);
        })?;
        ctx.wait()?;
        if round == 1 {
            return Ok(start.elapsed() / repeats);
        }
    }
    Ok(Duration::ZERO)
}
