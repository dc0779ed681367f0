//! Diffusion on the GPU: steps of `diffusion.wgsl` between a resident grid's two buffers.
//! The first step of a grid builds its bind groups (one per band and parity) and parameter
//! buffers, kept in the grid's state; every later call only rewrites D·dt when it changed,
//! records its passes, and waits once, reading its timestamps back in the same submission.

mod plan;
pub(crate) mod shader;

use std::time::Duration;

use web_time::Instant;

use ndarray::ArrayViewMut2;

use self::plan::DiffusionPlan;
use self::shader::{max_tile_steps, stream_levels};
use super::settings::{DiffusionSettings, TemporalBlocking};
use super::{DiffusionParams, check_scratch};
use crate::backends::gpu::Gpu;
use crate::backends::gpu::context::Context;
use crate::backends::gpu::grid::GpuGrid;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::signal::block_on;
use crate::backends::gpu::staging::readback::Readback;
use crate::backends::gpu::timing::{GpuTimings, MAX_TIMED_PASSES};
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::memory;
use crate::real::Real;

/// Cell-steps per submission: bounds the work of one submission so that a long run never
/// trips an operating system's GPU watchdog (a couple of seconds on some desktops), even
/// on a software driver.
const CELL_STEPS_PER_SUBMISSION: usize = 1 << 26;

/// How [`Gpu::diffuse_timed`] moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfers {
    /// Upload once, run every step on the device, download once.
    #[default]
    Resident,
    /// Download the grid after every step, as a loop that calls `.cpu()` each step does:
    /// the book's PyTorch mistake, reproduced so that its cost can be measured.
    ReadBackEveryStep,
}

/// What a grid keeps for stepping: the steps per dispatch it was set to, and what stepping
/// builds on first use.
struct DiffusionState<T> {
    steps_per_dispatch: usize,
    blocking: TemporalBlocking,
    plan: Option<DiffusionPlan<T>>,
}

impl<T: Real> GpuGrid<T> {
    /// Advances the grid `steps` steps on the device and returns their compute time:
    /// device time from timestamp queries where the adapter has them
    /// ([`Gpu::compute_clock`]), else host time until they completed.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<Duration> {
        block_on(self.step_async(params, steps))
    }

    /// [`GpuGrid::step`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::step`].
    pub async fn step_async(
        &mut self,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<Duration> {
        step(self, params, steps, true).await
    }

    /// Advances the grid `steps` steps on the device, untimed: the cheapest call, for loops
    /// that only need the result (on some drivers a timestamp query costs more than a
    /// small step).
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn advance(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<()> {
        block_on(self.advance_async(params, steps))
    }

    /// [`GpuGrid::advance`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`GpuGrid::advance`].
    pub async fn advance_async(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<()> {
        step(self, params, steps, false).await.map(|_| ())
    }

    /// Sets how many steps one dispatch takes (temporal blocking, K): 1 runs one step per
    /// dispatch through device memory; K ≥ 2 keeps the cells in workgroup memory for K steps
    /// before writing back, on tiles or streamed strips ([`GpuGrid::set_temporal_blocking`]),
    /// trading redundant halo work for K times less memory traffic. Results are
    /// bit-identical for every K and scheme. Which is fastest depends on the device;
    /// `gpu_diffusion --steps-per-dispatch K --blocking tiles|stream` and the `report`
    /// example measure it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 or more than
    /// [`GpuGrid::max_steps_per_dispatch_with`] for the grid's scheme;
    /// [`Error::Unsupported`] for K ≥ 2 on a grid stored in several bands (larger than one
    /// storage binding), where only K = 1 runs.
    pub fn set_steps_per_dispatch(&mut self, k: usize) -> Result<()> {
        let scheme = self.temporal_blocking();
        self.check_blocking(k, scheme)?;
        self.resident().with_state(initial_state::<T>, |state| {
            state.steps_per_dispatch = k;
            Ok(())
        })
    }

    /// Sets how a dispatch of K ≥ 2 steps keeps its cells in workgroup memory: square
    /// tiles (the default) or strips streamed through a ring of rows. Both give the bits
    /// of K single steps.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the grid's K is more than the scheme allows on this
    /// device ([`GpuGrid::max_steps_per_dispatch_with`]).
    pub fn set_temporal_blocking(&mut self, scheme: TemporalBlocking) -> Result<()> {
        let k = self.steps_per_dispatch();
        self.check_blocking(k, scheme)?;
        self.resident().with_state(initial_state::<T>, |state| {
            state.blocking = scheme;
            Ok(())
        })
    }

    /// How this grid's dispatches of K ≥ 2 steps block ([`GpuGrid::set_temporal_blocking`]).
    pub fn temporal_blocking(&self) -> TemporalBlocking {
        self.resident()
            .with_state(initial_state::<T>, |state| Ok(state.blocking))
            .unwrap_or_default()
    }

    /// The most steps one dispatch of `scheme` can take on this grid's device in `T`:
    /// tiles, [`GpuGrid::max_steps_per_dispatch`] on every device; a stream keeps three
    /// rows of 256 cells per level in the device's workgroup memory (5 in f32 and 2 in f64
    /// in the guaranteed 16 KiB, 10 and 5 in 32 KiB, 16 and 8 in 48 KiB).
    pub fn max_steps_per_dispatch_with(&self, scheme: TemporalBlocking) -> usize {
        match scheme {
            TemporalBlocking::Tiles => max_tile_steps(T::PRECISION) as usize,
            TemporalBlocking::Stream => {
                let budget = self.resident().ctx().summary.workgroup_storage_bytes;
                stream_levels(T::PRECISION, budget) as usize
            }
        }
    }

    fn check_blocking(&self, k: usize, scheme: TemporalBlocking) -> Result<()> {
        let max = self.max_steps_per_dispatch_with(scheme);
        if k == 0 || k > max {
            return Err(Error::invalid(
                "steps_per_dispatch",
                format!(
                    "{k} is not between 1 and {max} for {} with {} on this device",
                    T::PRECISION,
                    scheme.name()
                ),
            ));
        }
        if k > 1 && self.bands() > 1 {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!(
                    "{k} steps per dispatch on a grid in {} bands (larger than one binding)",
                    self.bands()
                ),
            });
        }
        Ok(())
    }

    /// The one-step entry point this grid's steps use, once it has stepped: `quads` (four
    /// cells per invocation) or `main` (one). Rows that are not whole quads take `main`;
    /// grids of 2²² cells or more take whichever measured faster on this device for their
    /// size (timed once per precision and power-of-two size, then remembered until
    /// [`Gpu::release_cached`]); smaller grids take `quads`.
    pub fn entry_point(&self) -> Option<&'static str> {
        self.resident()
            .with_state(initial_state::<T>, |state| {
                Ok(state.plan.as_ref().map(|p| p.entry_function()))
            })
            .ok()
            .flatten()
    }

    /// Steps one dispatch takes ([`GpuGrid::set_steps_per_dispatch`]).
    pub fn steps_per_dispatch(&self) -> usize {
        self.resident()
            .with_state(initial_state::<T>, |state| Ok(state.steps_per_dispatch))
            .unwrap_or(1)
    }

    /// The most steps one tiled dispatch can take in `T` on every device: a tile in the
    /// workgroup memory every device grants (64² cells in f32, 45² in f64) must keep an
    /// interior: 31 in f32, 22 in f64. (A device granting more steps larger tiles, with a
    /// wider interior for the same K; [`GpuGrid::max_steps_per_dispatch_with`] gives this
    /// device's bound for either scheme.)
    pub fn max_steps_per_dispatch() -> usize {
        max_tile_steps(T::PRECISION) as usize
    }
}

/// A grid's state before its first step: the device's default steps per dispatch and
/// blocking scheme, K clamped to what the scheme allows in `T` on this device (and to 1 on
/// a grid in several bands, where only one step per dispatch runs).
fn initial_state<T: Real>(grid: &Resident<T>) -> Result<DiffusionState<T>> {
    let summary = &grid.ctx().summary;
    let settings = DiffusionSettings::of(&summary.kernel_settings);
    let blocking = settings.blocking.unwrap_or_default();
    let max = match blocking {
        _ if grid.segments().len() > 1 => 1,
        TemporalBlocking::Tiles => max_tile_steps(T::PRECISION),
        TemporalBlocking::Stream => stream_levels(T::PRECISION, summary.workgroup_storage_bytes),
    };
    let k = settings
        .steps_per_dispatch
        .unwrap_or(1)
        .clamp(1, max.max(1));
    Ok(DiffusionState {
        steps_per_dispatch: k as usize,
        blocking,
        plan: None,
    })
}

impl Gpu {
    /// `steps` diffusion steps on `grid` in place: upload, steps, download, each timed.
    /// With [`Transfers::ReadBackEveryStep`] the grid is also copied back after every step,
    /// into one host array allocated once.
    ///
    /// # Errors
    /// As [`crate::Backend::diffuse`].
    pub fn diffuse_timed<T: Real>(
        &self,
        grid: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
        transfers: Transfers,
    ) -> Result<GpuTimings> {
        block_on(self.diffuse_timed_async(grid, params, steps, transfers))
    }

    /// [`Gpu::diffuse_timed`], awaited instead of blocking (what a browser needs).
    ///
    /// # Errors
    /// As [`Gpu::diffuse_timed`].
    pub async fn diffuse_timed_async<T: Real>(
        &self,
        grid: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
        transfers: Transfers,
    ) -> Result<GpuTimings> {
        let mut timings = GpuTimings::new(self.compute_clock());
        if grid.is_empty() {
            return Ok(timings);
        }
        let start = Instant::now();
        let mut resident = self.upload_grid_async(grid.view()).await?;
        timings.upload = start.elapsed();
        match transfers {
            Transfers::Resident => timings.compute = resident.step_async(params, steps).await?,
            Transfers::ReadBackEveryStep => {
                let (rows, cols) = grid.dim();
                let mut host = memory::zeroed_array2(rows, cols, "per-step read-back")?;
                for _ in 0..steps {
                    timings.compute += resident.step_async(params, 1).await?;
                    let start = Instant::now();
                    resident.download_into_async(host.view_mut()).await?;
                    timings.download += start.elapsed();
                }
            }
        }
        let start = Instant::now();
        resident.download_into_async(grid).await?;
        timings.download += start.elapsed();
        resident.recycle();
        Ok(timings)
    }
}

/// The GPU backend's diffusion, one-shot: upload, steps, download.
///
/// # Errors
/// As [`crate::Backend::diffuse`].
pub(crate) async fn diffuse<T: Real>(
    gpu: &Gpu,
    grid: ArrayViewMut2<'_, T>,
    scratch: ArrayViewMut2<'_, T>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> Result<()> {
    // The device keeps its own second buffer; the scratch is only checked, so that a call
    // that is wrong for one backend is wrong for all.
    check_scratch(&grid, &scratch)?;
    if grid.is_empty() {
        return Ok(());
    }
    let mut resident = gpu.upload_grid_async(grid.view()).await?;
    resident.advance_async(params, steps).await?;
    resident.download_into_async(grid).await?;
    resident.recycle();
    Ok(())
}

/// Advances `grid` by `steps` steps and returns their compute time: device time when
/// `timed` and the adapter has timestamps, else host time (see [`GpuGrid::step`]).
/// Untimed calls skip the timestamp queries, which cost more than a tiny step on some
/// drivers (Mesa's software driver flushes its pipeline at each one).
async fn step<T: Real>(
    grid: &mut GpuGrid<T>,
    params: &DiffusionParams<T>,
    steps: usize,
    timed: bool,
) -> Result<Duration> {
    let (rows, cols) = grid.dim();
    if steps == 0 || rows == 0 || cols == 0 {
        return Ok(Duration::ZERO);
    }
    let bands = grid.bands();
    let (elapsed, rotations) = {
        let data = grid.resident();
        let mut slot = data.state(initial_state::<T>).await?;
        run_steps(data, slot.get()?, (rows, cols), bands, params, steps, timed).await?
    };
    grid.resident_mut().rotate(rotations);
    Ok(elapsed)
}

/// The steps themselves, on the grid's data and state; returns their time and how many
/// times the data moved from one buffer to the other.
async fn run_steps<T: Real>(
    data: &Resident<T>,
    state: &mut DiffusionState<T>,
    (rows, cols): (usize, usize),
    bands: usize,
    params: &DiffusionParams<T>,
    steps: usize,
    timed: bool,
) -> Result<(Duration, usize)> {
    // Taken out while stepping and put back after: a failed call leaves it to be rebuilt.
    let mut plan = match state.plan.take() {
        Some(plan) => plan,
        None => DiffusionPlan::build(data, (rows, cols), params.coefficient()).await?,
    };
    plan.set_coefficient(data, params.coefficient())?;
    // Temporal blocking where asked for and possible (one band); K = 1 otherwise.
    let k = if bands == 1 {
        state.steps_per_dispatch
    } else {
        1
    };
    plan.block(data, (rows, cols), k, state.blocking)?;
    let stepped = submit_steps(data, &plan, (rows, cols), steps, k, timed).await;
    state.plan = Some(plan);
    stepped
}

/// Records and submits `steps` steps of `plan`, `k` per dispatch where blocked, in
/// submissions bounded by work (and, when `timed`, by the stopwatch's passes), at most two
/// in flight; returns their time and how many dispatches moved the data.
async fn submit_steps<T: Real>(
    data: &Resident<T>,
    plan: &DiffusionPlan<T>,
    (rows, cols): (usize, usize),
    steps: usize,
    k: usize,
    timed: bool,
) -> Result<(Duration, usize)> {
    let ctx: &Context = data.ctx();
    let start = Instant::now();
    let mut watch = if timed { ctx.stopwatch()? } else { None };
    // A timed call takes one timestamped pass per submission, so a stopwatch's passes
    // bound how many submissions it may have; an untimed one is bounded by work alone.
    let passes_bound = match watch {
        Some(_) => steps.div_ceil(MAX_TIMED_PASSES as usize),
        None => 1,
    };
    let per_submission = (CELL_STEPS_PER_SUBMISSION / (rows * cols))
        .max(passes_bound)
        .max(1)
        .next_multiple_of(k);
    // Submissions stop once a stop is asked for; what was submitted finishes first.
    let stop = Watch::start();
    let mut readback = None;
    let mut done = 0;
    let mut last = None;
    // Which buffer holds the data as the dispatches are recorded.
    let mut parity = data.current();
    let mut rotations = 0;
    while done < steps && !stop.interrupted() {
        let n = per_submission.min(steps - done);
        let mut encoder = ctx.encoder();
        {
            let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("diffusion"),
                timestamp_writes,
            });
            let dispatches = plan.record(data, &mut pass, parity, n, k > 1)?;
            parity = (parity + dispatches) % 2;
            rotations += dispatches;
        }
        done += n;
        // The last submission carries the timestamps back, so the call waits once.
        if done == steps
            && let Some(w) = &watch
        {
            let mut rb = Readback::new(ctx, w.bytes())?;
            let at = rb.timestamps(&mut encoder, w)?;
            readback = Some((rb, at));
        }
        // At most two submissions in flight: the device never idles between them, and a
        // stop leaves at most one to finish.
        if let Some(previous) = last.replace(ctx.submit(encoder)?) {
            ctx.wait(previous).await?;
        }
    }
    let elapsed = match (readback, last, &watch) {
        (Some((rb, at)), Some(last), Some(w)) => {
            let mapped = rb.finish(last).await?;
            w.elapsed(&mapped[at..], ctx.timestamp_period())
        }
        (_, Some(last), _) => {
            ctx.wait(last).await?;
            Ok(start.elapsed())
        }
        _ => Ok(start.elapsed()),
    };
    ctx.return_stopwatch(watch);
    let elapsed = elapsed?;
    stop.check()?;
    Ok((elapsed, rotations))
}
