//! What every kernel's GPU tuning shares: the margin a setting must win by, how a case is
//! timed, and the options a measuring device opens with. Each kernel's own settings are
//! measured and chosen in its folder (`src/kernels/<kernel>/tune.rs`); the device's own
//! (transfer path, staging) and the whole run in [`crate::crossover::tune`].

use std::time::Duration;

use web_time::Instant;

use crate::backends::gpu::options::GpuOptions;
use crate::error::Result;
use crate::interrupt::Watch;

/// How much faster than the default a setting must run to be chosen over it (K ≥ 2 over
/// one step per dispatch, the tree over subgroup operations): less is within a run's noise.
pub const MARGIN: f64 = 1.05;

/// What one rule chose: `(TUNABLE field, value as GpuOptions::set_if_unset reads it)`
/// pairs, and `(what, the figures that chose it)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub chosen: Vec<(&'static str, String)>,
    pub why: (&'static str, String),
}

/// The options every measurement's device starts from: the environment's, without the
/// settings saved for the device, so that no measurement depends on an earlier one's
/// choice (a saved lower workgroup budget would hide the device's grant).
pub(crate) fn measuring() -> GpuOptions {
    GpuOptions {
        tuning: None,
        ..GpuOptions::from_env()
    }
}

/// Timed runs of one case stop once they have taken this long, after the first: a case
/// that slow (a software driver's large grids) varies little between runs, and a full
/// tune stays minutes there. On a real GPU every case runs its repeats.
const TIMING_BUDGET: Duration = Duration::from_secs(1);

/// The median of up to `repeats` timings of `run` (fewer past [`TIMING_BUDGET`]) after one
/// untimed warm-up, and how many runs that was, the warm-up's included.
pub(crate) fn median(
    watch: Watch,
    repeats: usize,
    mut run: impl FnMut() -> Result<Duration>,
) -> Result<(Duration, u32)> {
    run()?;
    let started = Instant::now();
    let mut times = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        watch.check()?;
        times.push(run()?);
        if started.elapsed() >= TIMING_BUDGET {
            break;
        }
    }
    times.sort();
    Ok((times[times.len() / 2], times.len() as u32 + 1))
}
