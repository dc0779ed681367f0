//! Where a buffer's mapping stands, across the threads that poll one device.

use std::ops::Range;
use std::time::Duration;

use web_time::Instant;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::signal::{Signal, WAITS_YIELD};
use crate::error::Result;

/// How long a completed transfer's mapping may take to be reported (see [`MapState::check`]).
const MAPPING_SETTLES_WITHIN: Duration = Duration::from_secs(10);

/// Where a buffer's `map_async` stands: pending (unset) until its callback runs.
#[derive(Clone, Default)]
pub(super) struct MapState(Signal);

impl MapState {
    const MAPPED: u8 = 1;
    const FAILED: u8 = 2;

    /// Starts mapping `range` of `buffer`.
    pub(super) fn map(buffer: &wgpu::Buffer, mode: wgpu::MapMode, range: Range<u64>) -> MapState {
        let state = MapState::default();
        let signal = state.0.clone();
        buffer.map_async(mode, range, move |result| {
            signal.set(if result.is_ok() {
                MapState::MAPPED
            } else {
                MapState::FAILED
            });
        });
        state
    }

    /// `Ok` once mapped. Call after the wait that completes the mapping: with several
    /// threads polling one device, another thread's poll may have collected this mapping's
    /// callback and be about to run it, so a pending state is given a moment to settle.
    /// In a browser it yields until the event loop runs the callback.
    pub(super) async fn check(&self, ctx: &Context) -> Result<()> {
        let deadline = Instant::now() + MAPPING_SETTLES_WITHIN;
        loop {
            let value = if WAITS_YIELD {
                Some(self.0.wait().await)
            } else {
                self.0.get()
            };
            match value {
                Some(MapState::MAPPED) => return Ok(()),
                Some(_) => return Err(device_error("mapping a buffer failed")),
                None if Instant::now() >= deadline => {
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
