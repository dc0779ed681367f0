//! Diffusion on the GPU: steps of `diffusion.wgsl` between a resident grid's two buffers.
//! The first step of a grid builds its bind groups (one per band and parity) and parameter
//! buffers, kept in the grid's state; every later call only rewrites D·dt when it changed,
//! records its passes, and waits once, reading its timestamps back in the same submission.

use std::time::{Duration, Instant};

use ndarray::ArrayViewMut2;

use super::settings::TemporalBlocking;
use super::{DiffusionParams, check_scratch};
use crate::backends::gpu::Gpu;
use crate::backends::gpu::context::Context;
use crate::backends::gpu::contract::{WORKGROUP_SIZE, WgslStruct, wgsl_struct};
use crate::backends::gpu::errors::device_error;
use crate::backends::gpu::grid::GpuGrid;
use crate::backends::gpu::pool::CacheKey;
use crate::backends::gpu::resident::Resident;
use crate::backends::gpu::shaders::{Entry, Shader, ShaderDef, ShaderTarget};
use crate::backends::gpu::staging::Readback;
use crate::backends::gpu::submit::Workgroups;
use crate::backends::gpu::timing::{GpuTimings, MAX_TIMED_PASSES};
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::memory;
use crate::real::{Precision, Real};

/// Cell-steps per submission: bounds the work of one submission so that a long run never
/// trips an operating system's GPU watchdog (a couple of seconds on some desktops), even
/// on a software driver.
const CELL_STEPS_PER_SUBMISSION: usize = 1 << 26;

wgsl_struct! {
    /// One diffusion dispatch: a band of rows, and which rows of its neighbouring bands
    /// lie just above and below it (the bands are the same buffer when there is one).
    pub(crate) struct DiffusionDims {
        /// Cells per row.
        cols,
        /// Rows in this band.
        rows,
        /// The row of the `above` binding just above the band's first row.
        above_row,
        /// The row of the `below` binding just below the band's last row.
        below_row,
    }
}

wgsl_struct! {
    /// One temporally blocked diffusion dispatch (`tiled`): `steps` steps of a one-band
    /// grid, each workgroup stepping a tile of `TILE_SIDE`² cells whose inner
    /// `interior`² it writes back (`interior = TILE_SIDE - 2·steps`).
    pub(crate) struct DiffusionTile {
        /// Cells per row.
        cols,
        /// Rows of the grid.
        rows,
        /// Steps per dispatch (K), also the halo's width.
        steps,
        /// Cells per side of the part of a tile that is written back.
        interior,
    }
}

wgsl_struct! {
    /// One streamed diffusion dispatch (`streamed`): `steps` steps of a one-band grid, each
    /// workgroup walking `strip_rows` rows of a strip of `WORKGROUP_SIZE` columns.
    pub(crate) struct DiffusionStream {
        /// Cells per row.
        cols,
        /// Rows of the grid.
        rows,
        /// Steps per dispatch (K): time levels, and the halo's width.
        steps,
        /// Rows each workgroup writes.
        strip_rows,
    }
}

/// Rows each streamed workgroup writes (fewer in a smaller grid): its 2K halo rows are
/// loaded once per this many, and a 8192² grid still has 32 strips of rows for the
/// device's cores to share.
const STREAM_STRIP_ROWS: usize = 256;

/// How many time levels of three rows of `WORKGROUP_SIZE` cells fit in the workgroup memory
/// an entry point may use: the most steps one streamed dispatch can take (5 in f32 and 2 in
/// f64 in WebGPU's guaranteed 16 KiB; 16 and 8 in the 48 KiB NVIDIA's Vulkan driver grants).
pub(crate) fn stream_levels(precision: Precision, workgroup_storage_bytes: u32) -> u32 {
    let cells = workgroup_storage_bytes / precision.bytes() as u32;
    (cells / (3 * WORKGROUP_SIZE)).min((WORKGROUP_SIZE - 1) / 2)
}

/// Cells per side of the temporally blocked diffusion's tile: the largest square of `real`
/// within the workgroup memory an entry point may use (64² f32, 45² f64 in WebGPU's
/// guaranteed 16 KiB; 110² and 78² in the 48 KiB NVIDIA's Vulkan driver grants), so that a
/// device granting more recomputes less halo per cell written.
pub(crate) fn tile_side(precision: Precision, workgroup_storage_bytes: u32) -> u32 {
    let cells = workgroup_storage_bytes / precision.bytes() as u32;
    cells.isqrt()
}

/// The most steps one tiled dispatch can take in `precision` on every device: a tile of the
/// guaranteed workgroup memory must keep at least one interior cell per side.
pub(crate) fn max_tile_steps(precision: Precision) -> u32 {
    (tile_side(precision, ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES) - 1) / 2
}

fn blocking_constants(target: &ShaderTarget) -> Vec<(&'static str, u32)> {
    let side = tile_side(target.precision, target.workgroup_storage_bytes);
    let levels = stream_levels(target.precision, target.workgroup_storage_bytes);
    vec![
        ("TILE_SIDE", side),
        ("TILE_CELLS", side * side),
        (
            "TILE_CELLS_PER_INVOCATION",
            (side * side).div_ceil(WORKGROUP_SIZE),
        ),
        ("STREAM_LEVELS", levels),
        // At least one level, so that the array is declared on every device.
        ("STREAM_CELLS", levels.max(1) * 3 * WORKGROUP_SIZE),
    ]
}

/// `diffusion.wgsl`: one step, one invocation per cell (`main`) or per four cells of a row
/// (`quads`), or several steps in workgroup memory, on tiles (`tiled`) or streamed down
/// strips of columns (`streamed`).
pub(crate) const SHADER: Shader = Shader::new(&ShaderDef {
    name: "diffusion",
    body: include_str!("diffusion.wgsl"),
    entry_points: &[MAIN, QUADS, TILED, STREAMED],
    uses_bits: true,
    rounds_products: true,
    structs: &[
        DiffusionDims::LAYOUT,
        DiffusionTile::LAYOUT,
        DiffusionStream::LAYOUT,
    ],
    constants: &[],
    target_constants: blocking_constants,
    reduction: None,
});

const MAIN: &str = "main";
const QUADS: &str = "quads";
const TILED: &str = "tiled";
const STREAMED: &str = "streamed";

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

/// What stepping a grid needs on the device, built once per grid.
struct DiffusionPlan<T> {
    /// The one-step entry point: `quads` where rows are whole quads, else `main`.
    entry: Entry,
    coefficient: wgpu::Buffer,
    /// The D·dt the buffer holds.
    value: T,
    /// Per parity p (reading buffer p of each band, writing buffer 1 - p): each band's
    /// dispatch.
    dispatches: [Vec<(wgpu::BindGroup, Workgroups)>; 2],
    /// The bands' dims, kept alive with the bind groups that use them.
    _dims: Vec<wgpu::Buffer>,
    /// The temporally blocked dispatch for the K and scheme last used, built when either
    /// changes.
    blocked: Option<BlockedPlan>,
}

/// K steps per dispatch on a one-band grid: the `tiled` or `streamed` entry point's bind
/// groups per parity, and its workgroups (one per tile, or per strip).
struct BlockedPlan {
    steps: usize,
    scheme: TemporalBlocking,
    entry: Entry,
    dispatches: [wgpu::BindGroup; 2],
    workgroups: Workgroups,
    _uniform: wgpu::Buffer,
}

impl BlockedPlan {
    fn new<T: Real>(
        grid: &Resident<T>,
        (rows, cols): (usize, usize),
        coefficient: &wgpu::Buffer,
        steps: usize,
        scheme: TemporalBlocking,
    ) -> Result<Self> {
        let ctx = grid.ctx();
        let (entry, uniform, binding, (x, y)) = match scheme {
            TemporalBlocking::Tiles => {
                let side = tile_side(T::PRECISION, ctx.summary.workgroup_storage_bytes);
                let interior = side as usize - 2 * steps;
                let tile = ctx.uniform(
                    "diffusion tile",
                    &DiffusionTile {
                        cols: cols as u32,
                        rows: rows as u32,
                        steps: steps as u32,
                        interior: interior as u32,
                    },
                )?;
                let tiles = (cols.div_ceil(interior), rows.div_ceil(interior));
                (Entry::new(SHADER, TILED), tile, 6, tiles)
            }
            TemporalBlocking::Stream => {
                let interior = WORKGROUP_SIZE as usize - 2 * steps;
                let strip_rows = STREAM_STRIP_ROWS.min(rows);
                let stream = ctx.uniform(
                    "diffusion stream",
                    &DiffusionStream {
                        cols: cols as u32,
                        rows: rows as u32,
                        steps: steps as u32,
                        strip_rows: strip_rows as u32,
                    },
                )?;
                let strips = (cols.div_ceil(interior), rows.div_ceil(strip_rows));
                (Entry::new(SHADER, STREAMED), stream, 11, strips)
            }
        };
        let pipeline = ctx.pipeline::<T>(entry)?;
        let bind = |parity: usize| {
            ctx.bind(
                pipeline,
                &[
                    (0, grid.buffer(0, parity)?),
                    (3, grid.buffer(0, 1 - parity)?),
                    (4, coefficient),
                    (binding, &uniform),
                ],
            )
        };
        let dispatches = [bind(0)?, bind(1)?];
        let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
        if x > max || y > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("{y} × {x} workgroups of {} in one dispatch", scheme.name()),
            });
        }
        Ok(BlockedPlan {
            steps,
            scheme,
            entry,
            dispatches,
            workgroups: (x as u32, y as u32, 1),
            _uniform: uniform,
        })
    }
}

/// Grids from this many cells choose their one-step entry point by timing both once per
/// device, precision and power-of-two size (FFTW's "measure"): on the H200 the f64 quads
/// ran at 76 % of the copy probe where the one-cell entry had reached 92 % on an H100.
/// Smaller grids take `quads` where rows are whole quads, too small a step to time well.
const MEASURE_ENTRY_FROM_CELLS: usize = 1 << 22;

impl<T: Real> DiffusionPlan<T> {
    /// The plan of a grid of `rows × cols`, on the faster one-step entry point: `main`
    /// where rows are not whole quads, else whichever of `quads` and `main` measured faster
    /// for grids of this size class on this device (`quads` for small grids).
    fn build(grid: &Resident<T>, (rows, cols): (usize, usize), value: T) -> Result<Self> {
        if !cols.is_multiple_of(4) {
            return Self::new(grid, cols, value, MAIN);
        }
        let quads = Self::new(grid, cols, value, QUADS)?;
        let cells = rows * cols;
        if cells < MEASURE_ENTRY_FROM_CELLS {
            return Ok(quads);
        }
        let ctx = grid.ctx();
        let key = CacheKey {
            what: "diffusion one-step entry",
            precision: T::PRECISION,
            shape: [cells.next_power_of_two().trailing_zeros() as usize, 0],
        };
        let faster = match ctx.cache.take::<&'static str>(&key) {
            Some(QUADS) => quads,
            Some(_) => Self::new(grid, cols, value, MAIN)?,
            None => {
                let one_cell = Self::new(grid, cols, value, MAIN)?;
                if one_cell.time_one_step(grid)? < quads.time_one_step(grid)? {
                    one_cell
                } else {
                    quads
                }
            }
        };
        ctx.cache.put(key, 0, faster.entry.function);
        Ok(faster)
    }

    /// One step's time on the grid's data, writing the buffer the next step overwrites
    /// anyway (the grid's state is unchanged): the second of two dispatches, on the device's
    /// clock where it has timestamps, else from submission to completion.
    fn time_one_step(&self, grid: &Resident<T>) -> Result<Duration> {
        let ctx = grid.ctx();
        let pipeline = ctx.pipeline::<T>(self.entry)?;
        let parity = grid.current();
        let mut watch = ctx.stopwatch()?;
        let mut times = Vec::new();
        let mut encoder = ctx.encoder();
        for _ in 0..2 {
            let start = Instant::now();
            {
                let timestamp_writes = watch.as_mut().and_then(|w| w.next_pass());
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("diffusion entry trial"),
                    timestamp_writes,
                });
                pass.set_pipeline(pipeline);
                for (group, (x, y, z)) in &self.dispatches[parity] {
                    pass.set_bind_group(0, group, &[]);
                    pass.dispatch_workgroups(*x, *y, *z);
                }
            }
            if watch.is_none() {
                let finished = std::mem::replace(&mut encoder, ctx.encoder());
                ctx.wait(ctx.submit(finished)?)?;
                times.push(start.elapsed());
            }
        }
        if let Some(w) = &watch {
            let mut rb = Readback::new(ctx, w.bytes())?;
            let at = rb.timestamps(&mut encoder, w)?;
            let mapped = rb.finish(ctx.submit(encoder)?)?;
            times = w.each(&mapped[at..], ctx.timestamp_period())?;
        }
        ctx.return_stopwatch(watch);
        times
            .last()
            .copied()
            .ok_or_else(|| device_error("a diffusion trial step was not timed"))
    }

    fn new(grid: &Resident<T>, cols: usize, value: T, function: &'static str) -> Result<Self> {
        let ctx = grid.ctx();
        // Four cells per invocation (`quads`): 16-byte loads and stores.
        let (entry, base, invocations_per_row) = if function == QUADS {
            (Entry::new(SHADER, QUADS), 7, cols / 4)
        } else {
            (Entry::new(SHADER, MAIN), 0, cols)
        };
        let pipeline = ctx.pipeline::<T>(entry)?;
        // D·dt and 1.0 (the shader's `rounded` needs a one it cannot fold).
        let coefficient = ctx.storage_with("diffusion coefficient", &[value, T::one()])?;
        let bands = grid.segments();
        let count = bands.len();
        let band_rows = |b: usize| bands[b].len() / cols.max(1);
        let mut dims = Vec::with_capacity(count);
        for b in 0..count {
            let above = (b + count - 1) % count;
            dims.push(ctx.uniform(
                "diffusion dims",
                &DiffusionDims {
                    cols: cols as u32,
                    rows: band_rows(b) as u32,
                    above_row: band_rows(above) as u32 - 1,
                    below_row: 0,
                },
            )?);
        }
        let mut dispatches: [Vec<_>; 2] = [Vec::new(), Vec::new()];
        for (parity, dispatches) in dispatches.iter_mut().enumerate() {
            for (b, band_dims) in dims.iter().enumerate() {
                let (above, below) = ((b + count - 1) % count, (b + 1) % count);
                let group = ctx.bind(
                    pipeline,
                    &[
                        (base, grid.buffer(b, parity)?),
                        (base + 1, grid.buffer(above, parity)?),
                        (base + 2, grid.buffer(below, parity)?),
                        (base + 3, grid.buffer(b, 1 - parity)?),
                        (4, &coefficient),
                        (5, band_dims),
                    ],
                )?;
                dispatches.push((group, ctx.workgroups_2d(invocations_per_row, band_rows(b))?));
            }
        }
        Ok(DiffusionPlan {
            entry,
            coefficient,
            value,
            dispatches,
            _dims: dims,
            blocked: None,
        })
    }
}

impl<T: Real> GpuGrid<T> {
    /// Advances the grid `steps` steps on the device and returns their compute time:
    /// device time from timestamp queries where the adapter has them
    /// ([`Gpu::compute_clock`]), else host time until they completed.
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<Duration> {
        step(self, params, steps, true)
    }

    /// Advances the grid `steps` steps on the device, untimed: the cheapest call, for loops
    /// that only need the result (on some drivers a timestamp query costs more than a
    /// small step).
    ///
    /// # Errors
    /// [`Error::Device`] if the device fails.
    pub fn advance(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<()> {
        step(self, params, steps, false).map(|_| ())
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
        self.resident().with_state(initial_state::<T>, |_, state| {
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
        self.resident().with_state(initial_state::<T>, |_, state| {
            state.blocking = scheme;
            Ok(())
        })
    }

    /// How this grid's dispatches of K ≥ 2 steps block ([`GpuGrid::set_temporal_blocking`]).
    pub fn temporal_blocking(&self) -> TemporalBlocking {
        self.resident()
            .with_state(initial_state::<T>, |_, state| Ok(state.blocking))
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
            .with_state(initial_state::<T>, |_, state| {
                Ok(state.plan.as_ref().map(|p| p.entry.function))
            })
            .ok()
            .flatten()
    }

    /// Steps one dispatch takes ([`GpuGrid::set_steps_per_dispatch`]).
    pub fn steps_per_dispatch(&self) -> usize {
        self.resident()
            .with_state(initial_state::<T>, |_, state| Ok(state.steps_per_dispatch))
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
    let blocking = summary.diffusion_blocking;
    let max = match blocking {
        _ if grid.segments().len() > 1 => 1,
        TemporalBlocking::Tiles => max_tile_steps(T::PRECISION),
        TemporalBlocking::Stream => stream_levels(T::PRECISION, summary.workgroup_storage_bytes),
    };
    let k = summary.diffusion_steps_per_dispatch.clamp(1, max.max(1));
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
        let mut timings = GpuTimings::new(self.compute_clock());
        if grid.is_empty() {
            return Ok(timings);
        }
        let start = Instant::now();
        let mut resident = self.upload_grid(grid.view())?;
        timings.upload = start.elapsed();
        match transfers {
            Transfers::Resident => timings.compute = resident.step(params, steps)?,
            Transfers::ReadBackEveryStep => {
                let (rows, cols) = grid.dim();
                let mut host = memory::zeroed_array2(rows, cols, "per-step read-back")?;
                for _ in 0..steps {
                    timings.compute += resident.step(params, 1)?;
                    let start = Instant::now();
                    resident.download_into(host.view_mut())?;
                    timings.download += start.elapsed();
                }
            }
        }
        let start = Instant::now();
        resident.download_into(grid)?;
        timings.download += start.elapsed();
        resident.recycle();
        Ok(timings)
    }
}

/// The GPU backend's diffusion, one-shot: upload, steps, download.
///
/// # Errors
/// As [`crate::Backend::diffuse`].
pub(crate) fn diffuse<T: Real>(
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
    let mut resident = gpu.upload_grid(grid.view())?;
    resident.advance(params, steps)?;
    resident.download_into(grid)?;
    resident.recycle();
    Ok(())
}

/// Advances `grid` by `steps` steps and returns their compute time: device time when
/// `timed` and the adapter has timestamps, else host time (see [`GpuGrid::step`]).
/// Untimed calls skip the timestamp queries, which cost more than a tiny step on some
/// drivers (Mesa's software driver flushes its pipeline at each one).
fn step<T: Real>(
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
    let (elapsed, rotations) = grid
        .resident()
        .with_state(initial_state::<T>, |data, state| {
            run_steps(data, state, (rows, cols), bands, params, steps, timed)
        })?;
    grid.resident_mut().rotate(rotations);
    Ok(elapsed)
}

/// The steps themselves, on the grid's data and state; returns their time and how many
/// times the data moved from one buffer to the other.
fn run_steps<T: Real>(
    data: &Resident<T>,
    state: &mut DiffusionState<T>,
    (rows, cols): (usize, usize),
    bands: usize,
    params: &DiffusionParams<T>,
    steps: usize,
    timed: bool,
) -> Result<(Duration, usize)> {
    let ctx: &Context = data.ctx();
    let value = params.coefficient();
    // Taken out while stepping and put back after: a failed call leaves it to be rebuilt.
    let mut plan = match state.plan.take() {
        Some(plan) => plan,
        None => DiffusionPlan::build(data, (rows, cols), value)?,
    };
    // Rewritten only when it changed (by bits: exactly what the buffer holds).
    if plan.value.as_f64().to_bits() != value.as_f64().to_bits() {
        ctx.capture(|| {
            ctx.queue
                .write_buffer(&plan.coefficient, 0, bytemuck::bytes_of(&value))
        })?;
        plan.value = value;
    }

    // Temporal blocking where asked for and possible (one band); K = 1 otherwise.
    let k = if bands == 1 {
        state.steps_per_dispatch
    } else {
        1
    };
    let scheme = state.blocking;
    if k > 1
        && plan
            .blocked
            .as_ref()
            .is_none_or(|b| b.steps != k || b.scheme != scheme)
    {
        plan.blocked = Some(BlockedPlan::new(
            data,
            (rows, cols),
            &plan.coefficient,
            k,
            scheme,
        )?);
    }
    let pipeline = ctx.pipeline::<T>(plan.entry)?;
    let blocked = plan.blocked.as_ref().filter(|_| k > 1);
    let blocked_pipeline = match blocked {
        Some(b) => Some(ctx.pipeline::<T>(b.entry)?),
        None => None,
    };

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
            // Every dispatch reads one buffer of each band and writes the other, whether
            // it takes one step or K.
            let mut left = n;
            while left > 0 {
                match (blocked, blocked_pipeline) {
                    (Some(t), Some(p)) if left >= t.steps => {
                        pass.set_pipeline(p);
                        pass.set_bind_group(0, &t.dispatches[parity], &[]);
                        let (x, y, z) = t.workgroups;
                        pass.dispatch_workgroups(x, y, z);
                        left -= t.steps;
                    }
                    _ => {
                        pass.set_pipeline(pipeline);
                        for (group, (x, y, z)) in &plan.dispatches[parity] {
                            pass.set_bind_group(0, group, &[]);
                            pass.dispatch_workgroups(*x, *y, *z);
                        }
                        left -= 1;
                    }
                }
                parity = 1 - parity;
                rotations += 1;
            }
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
            ctx.wait(previous)?;
        }
    }
    let elapsed = match (readback, last, &watch) {
        (Some((rb, at)), Some(last), Some(w)) => {
            let mapped = rb.finish(last)?;
            w.elapsed(&mapped[at..], ctx.timestamp_period())
        }
        (_, Some(last), _) => {
            ctx.wait(last)?;
            Ok(start.elapsed())
        }
        _ => Ok(start.elapsed()),
    };
    ctx.return_stopwatch(watch);
    let elapsed = elapsed?;
    state.plan = Some(plan);
    stop.check()?;
    Ok((elapsed, rotations))
}
