//! Where a buffer's mapping stands, across the threads that poll one device.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::backends::gpu::context::Context;
use crate::backends::gpu::errors::device_error;
use crate::error::Result;

/// How long a completed transfer's mapping may take to be reported (see [`MapState::check`]).
const MAPPING_SETTLES_WITHIN: Duration = Duration::from_secs(10);

/// Where a buffer's `map_async` stands: pending (0, the default) until its callback runs.
#[derive(Clone, Default)]
pub(super) struct MapState(Arc<AtomicU8>);

impl MapState {
    const MAPPED: u8 = 1;
    const FAILED: u8 = 2;

    /// Starts mapping `range` of `buffer`.
    pub(super) fn map(buffer: &wgpu::Buffer, mode: wgpu::MapMode, range: Range<u64>) -> MapState {
        let state = MapState::default();
        let flag = Arc::clone(&state.0);
        buffer.map_async(mode, range, move |result| {
            let value = if result.is_ok() {
                MapState::MAPPED
            } else {
                MapState::FAILED
            };
            flag.store(value, Ordering::Release);
        });
        state
    }

    /// `Ok` once mapped. Call after the wait that completes the mapping: with several
    /// threads polling one device, another thread's poll may have collected this mapping's
    /// callback and be about to run it, so a pending state is given a moment to settle.
    pub(super) fn check(&self, ctx: &Context) -> Result<()> {
        let deadline = Instant::now() + MAPPING_SETTLES_WITHIN;
        loop {
            match self.0.load(Ordering::Acquire) {
                MapState::MAPPED => return Ok(()),
                MapState::FAILED => return Err(device_error("mapping a buffer failed")),
                _ if Instant::now() >= deadline => {
                    return Err(device_error("a buffer mapping did not complete"));
                }
                _ => {
                    ctx.poll_once()?;
                    std::thread::yield_now();
                }
            }
        }
    }
}
