//! A GPU's settings chosen by measurement: the transfer path, the staging chunk and depth,
//! the norms' workgroup reduction, and diffusion's steps per dispatch with its blocking
//! scheme — the [`TUNABLE`](crate::backends::gpu::TUNABLE) fields whose best value depends
//! on the device. [`tune`] measures them, [`choose`] applies the one rule, and
//! [`Settings::save`] keeps the choice in the calibration file, where every `Gpu` opened on
//! that adapter and driver afterwards takes it for the fields its options leave unset
//! ([`GpuOptions::tuning`]). The `report` example makes the same measurements at its own
//! sizes and calls the same rule; Python has it as `hpnum.tune()`.
//!
//! Each measurement opens a device of its own where the setting is fixed when a device
//! opens (transfer path, staging, workgroup budget, reduction), so that its pools start
//! empty, and without the settings already saved for the device; grids are stepped from the book's initial state and vectors from
//! [`lcg_vector`], and every transfer is checked to come back unchanged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ndarray::Array2;

use crate::backends::gpu::Gpu;
use crate::backends::gpu::adapter::{GpuOptions, TransferPath};
use crate::backends::gpu::shaders::{Reduction, ShaderTarget};
use crate::backends::gpu::timing::TransferPhases;
use crate::calibration::Calibration;
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::diffusion::settings::TemporalBlocking;
use crate::kernels::diffusion::{DiffusionParams, book_initial_grid};
use crate::kernels::norm::{NormKind, lcg_vector};
use crate::real::Precision;

/// How much faster than the default a setting must run to be chosen over it (K ≥ 2 over
/// one step per dispatch, the tree over subgroup operations): less is within a run's noise.
pub const MARGIN: f64 = 1.05;

/// Both directions of one f32 grid through one device's transfer path.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRates {
    /// The path the device used.
    pub path: TransferPath,
    /// Its staging chunk, in bytes.
    pub chunk_bytes: u64,
    /// Its staging chunks in flight.
    pub depth: usize,
    /// Bytes each way.
    pub bytes: u64,
    /// Host to device, bytes per second (the median transfer).
    pub upload_bytes_per_s: f64,
    /// Device to host, bytes per second.
    pub download_bytes_per_s: f64,
    /// Where the time of every transfer went, the warm-up's included
    /// ([`Gpu::transfer_phases`]).
    pub phases: TransferPhases,
    /// How many uploads [`TransferRates::phases`] adds up.
    pub uploads: u32,
    /// How many downloads it adds up.
    pub downloads: u32,
}

impl TransferRates {
    /// The slower direction's rate: what a round trip is limited by.
    pub fn slower_bytes_per_s(&self) -> f64 {
        self.upload_bytes_per_s.min(self.download_bytes_per_s)
    }
}

/// One staging setting of [`staging_sweep`]: its rates, or why it could not run.
#[derive(Debug, Clone, PartialEq)]
pub struct StagingRow {
    /// Bytes per staging chunk.
    pub chunk_bytes: u64,
    /// Chunks in flight.
    pub depth: usize,
    /// The rates, or the error the device gave.
    pub rates: std::result::Result<TransferRates, Error>,
}

/// One case of [`temporal_blocking`]: seconds per step of a resident square f32 grid, or
/// why the case could not run (a grid in several bands, a K beyond the scheme's bound).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingRow {
    /// The grid's side.
    pub side: usize,
    /// The workgroup memory the blocked entry points could fill.
    pub workgroup_storage_bytes: u32,
    /// Steps per dispatch.
    pub k: usize,
    /// How K ≥ 2 steps blocked (`None` for K = 1, which has no scheme).
    pub scheme: Option<TemporalBlocking>,
    /// Device seconds per step (host seconds where the device has no timestamps).
    pub seconds_per_step: std::result::Result<f64, Error>,
}

/// A resident L2 of f32 values with each workgroup reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormReductions {
    /// How many values.
    pub values: usize,
    /// With subgroup operations; `None` where the device has none.
    pub subgroups_seconds: Option<f64>,
    /// Through the tree in workgroup memory.
    pub tree_seconds: f64,
}

/// What [`choose`] decides from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    /// The adapter and driver measured ([`crate::backends::gpu::AdapterSummary::identity`]).
    pub adapter: String,
    /// The workgroup memory the device grants an entry point.
    pub workgroup_grant: u32,
    /// One grid each way on each transfer path the adapter has.
    pub paths: Vec<TransferRates>,
    /// The staging path over chunk sizes and depths.
    pub staging: Vec<StagingRow>,
    /// The norms' two reductions, where both were timed.
    pub reductions: Option<NormReductions>,
    /// Diffusion over K, schemes and workgroup budgets.
    pub blocking: Vec<BlockingRow>,
}

/// The settings [`choose`] picked for one adapter, with the figures behind each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The adapter and driver they were measured on.
    pub adapter: String,
    /// `(TUNABLE field, value as GpuOptions::set_if_unset reads it)`, in `TUNABLE`'s order.
    pub chosen: Vec<(&'static str, String)>,
    /// `(what, the figures that chose it)`.
    pub why: Vec<(&'static str, String)>,
}

impl Settings {
    /// Records the settings in `cal` for their adapter (forgetting the GPU costs and
    /// settings `cal` held for another).
    pub fn apply_to(&self, cal: &mut Calibration) {
        if cal.adapter() != Some(self.adapter.as_str()) {
            cal.keep_gpu_costs_of(Some(&self.adapter));
            cal.set_adapter(self.adapter.clone());
        }
        for (field, value) in &self.chosen {
            cal.set_gpu_setting(field, value.clone());
        }
    }

    /// Adds the settings to the calibration file at [`Calibration::default_path`] (its
    /// other contents kept) and returns the path.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if there is no cache directory, or the file exists but
    /// does not parse, or cannot be written.
    pub fn save(&self) -> Result<PathBuf> {
        let path = Calibration::writable_default_path()?;
        self.save_to(&path)?;
        Ok(path)
    }

    /// The same into the calibration file at `path`.
    ///
    /// # Errors
    /// As [`Settings::save`].
    pub fn save_to(&self, path: &Path) -> Result<()> {
        let mut cal = if path.exists() {
            Calibration::load_from(path)?
        } else {
            Calibration::new()
        };
        self.apply_to(&mut cal);
        cal.save_to(path)
    }
}

/// Chooses from `m`: the transfer path whose best measured setting has the faster slower
/// direction; the staging chunk and depth likewise, among the sweep's and the staging
/// path's defaults; subgroup reductions unless the tree is [`MARGIN`] times as fast;
/// and, at the largest grid where both one step and K ≥ 2 steps per dispatch ran, the
/// fastest K ≥ 2 with its scheme (and its workgroup budget, where a lowered one won) if it
/// is [`MARGIN`] times as fast as one step, else one step. A measurement that is missing
/// chooses nothing.
pub fn choose(m: &Measurements) -> Settings {
    let mut chosen = Vec::new();
    let mut why = Vec::new();
    let gbs = |rate: f64| rate / 1e9;
    let slower = |r: &&TransferRates| r.slower_bytes_per_s();
    // Every measured way across: each path at its defaults, and staging at every chunk
    // size and depth of the sweep (staging at its best chunk may beat a mapped path that
    // staging at its default chunk does not).
    let candidates: Vec<&TransferRates> = m
        .paths
        .iter()
        .chain(m.staging.iter().filter_map(|row| row.rates.as_ref().ok()))
        .collect();
    let best_of = |path: TransferPath| {
        candidates
            .iter()
            .copied()
            .filter(|r| r.path == path)
            .max_by(|a, b| slower(a).total_cmp(&slower(b)))
    };
    let ways: Vec<&TransferRates> = [TransferPath::Staging, TransferPath::MappedBuffers]
        .into_iter()
        .filter_map(best_of)
        .collect();
    if let Some(best) = ways
        .iter()
        .copied()
        .max_by(|a, b| slower(a).total_cmp(&slower(b)))
    {
        chosen.push(("transfer_path", best.path.name().to_owned()));
        let rates: Vec<String> = ways
            .iter()
            .map(|r| format!("{} {:.2} GB/s", r.path.name(), gbs(slower(r))))
            .collect();
        why.push((
            "transfer_path",
            format!(
                "the slower direction of {} MiB, each path at its best: {}",
                best.bytes >> 20,
                rates.join(", ")
            ),
        ));
    }
    if let Some(best) = best_of(TransferPath::Staging).filter(|_| !m.staging.is_empty()) {
        chosen.push(("staging_chunk_bytes", best.chunk_bytes.to_string()));
        chosen.push(("staging_depth", best.depth.to_string()));
        why.push((
            "staging",
            format!(
                "the best of {} chunk sizes and depths by the slower direction: {:.2} GB/s",
                m.staging.len() + 1,
                gbs(slower(&best))
            ),
        ));
    }
    if let Some(NormReductions {
        values,
        subgroups_seconds: Some(subgroups),
        tree_seconds: tree,
    }) = m.reductions
    {
        chosen.push(("subgroups", (subgroups / tree < MARGIN).to_string()));
        why.push((
            "subgroups",
            format!(
                "a resident L2 of {values:.0e} f32: subgroups {:.3} ms, the workgroup-memory \
                 tree {:.3} ms",
                subgroups * 1e3,
                tree * 1e3
            ),
        ));
    }
    let fastest = |side: usize, blocked: bool| {
        m.blocking
            .iter()
            .filter(|r| r.side == side && (r.k > 1) == blocked)
            .filter_map(|r| Some((r, *r.seconds_per_step.as_ref().ok()?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let mut sides: Vec<usize> = m.blocking.iter().map(|r| r.side).collect();
    sides.sort_unstable();
    let timed = sides
        .iter()
        .rev()
        .find_map(|&side| Some((side, fastest(side, false)?, fastest(side, true)?)));
    if let Some((side, (_, one), (best, blocked))) = timed {
        let speedup = one / blocked;
        if speedup >= MARGIN {
            chosen.push(("diffusion_steps_per_dispatch", best.k.to_string()));
            let scheme = best.scheme.unwrap_or_default();
            chosen.push(("diffusion_blocking", scheme.name().to_owned()));
            if best.workgroup_storage_bytes < m.workgroup_grant {
                chosen.push((
                    "workgroup_storage_bytes",
                    best.workgroup_storage_bytes.to_string(),
                ));
            }
        } else {
            chosen.push(("diffusion_steps_per_dispatch", "1".to_owned()));
        }
        why.push((
            "diffusion",
            format!(
                "at {side}², the best K ≥ 2 (K = {} on {}) stepped {speedup:.2}× as fast as \
                 K = 1 (chosen from {MARGIN}×)",
                best.k,
                best.scheme.unwrap_or_default().name()
            ),
        ));
    }
    // In TUNABLE's order, as a Gpu reports what it took.
    let order = |field: &str| {
        crate::backends::gpu::adapter::TUNABLE
            .iter()
            .position(|(f, _)| *f == field)
    };
    chosen.sort_by_key(|(field, _)| order(field));
    Settings {
        adapter: m.adapter.clone(),
        chosen,
        why,
    }
}

/// The options every measurement's device starts from: the environment's, without the
/// settings saved for the device, so that no measurement depends on an earlier one's
/// choice (a saved lower workgroup budget would hide the device's grant).
fn measuring() -> GpuOptions {
    GpuOptions {
        tuning: None,
        ..GpuOptions::from_env()
    }
}

impl Measurements {
    /// No measurements yet, of the default adapter: its identity and the workgroup memory
    /// it grants (from a device opened without saved settings).
    ///
    /// # Errors
    /// [`Error::NoAdapter`] without a GPU; what the device gives.
    pub fn of_default_gpu() -> Result<Measurements> {
        let gpu = Gpu::new(&measuring())?;
        Ok(Measurements {
            adapter: gpu.adapter().identity(),
            workgroup_grant: gpu.adapter().workgroup_storage_bytes,
            ..Measurements::default()
        })
    }
}

/// Timed runs of one case stop once they have taken this long, after the first: a case
/// that slow (a software driver's large grids) varies little between runs, and a full
/// tune stays minutes there. On a real GPU every case runs its repeats.
const TIMING_BUDGET: Duration = Duration::from_secs(1);

/// The median of up to `repeats` timings of `run` (fewer past [`TIMING_BUDGET`]) after one
/// untimed warm-up, and how many runs that was, the warm-up's included.
fn median(
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

/// Upload and download of a `side`² f32 grid through `gpu`'s path: the median of `repeats`
/// after one warm-up, with every transfer's phases; the grid must come back unchanged.
///
/// # Errors
/// What the device gives; [`Error::Device`] if a transfer changed the data;
/// [`Error::Interrupted`] after [`crate::interrupt_running_calls`].
pub fn transfer_rates(gpu: &Gpu, side: usize, repeats: usize) -> Result<TransferRates> {
    let watch = Watch::start();
    let host = book_initial_grid::<f32>(side, side)?;
    let bytes = (host.len() * 4) as u64;
    // Touched: no page faults in the timing.
    let mut back = Array2::<f32>::ones(host.dim());
    let mut grid = gpu.upload_grid(host.view())?;
    // The first transfers build the staging pool.
    grid.download_into(back.view_mut())?;
    gpu.reset_transfer_phases();
    let timed = |f: &mut dyn FnMut() -> Result<()>| {
        let start = Instant::now();
        f()?;
        Ok(start.elapsed())
    };
    let (up, uploads) = median(watch, repeats, || {
        timed(&mut || grid.upload_from(host.view()))
    })?;
    let (down, downloads) = median(watch, repeats, || {
        timed(&mut || grid.download_into(back.view_mut()))
    })?;
    if back != host {
        return Err(Error::Device {
            details: "a transfer came back different".into(),
        });
    }
    let rate = |time: Duration| bytes as f64 / time.as_secs_f64().max(1e-12);
    let a = gpu.adapter();
    Ok(TransferRates {
        path: a.transfer_path,
        chunk_bytes: a.staging_chunk_bytes,
        depth: a.staging_depth,
        bytes,
        upload_bytes_per_s: rate(up),
        download_bytes_per_s: rate(down),
        phases: gpu.transfer_phases(),
        uploads,
        downloads,
    })
}

/// [`transfer_rates`] on each transfer path the adapter has, each on a device of its own.
///
/// # Errors
/// As [`transfer_rates`]; a path the adapter lacks is left out, not an error.
pub fn transfer_paths(side: usize, repeats: usize) -> Result<Vec<TransferRates>> {
    let mut paths = Vec::new();
    for path in [TransferPath::Staging, TransferPath::MappedBuffers] {
        let gpu = match Gpu::new(&GpuOptions {
            transfer_path: Some(path),
            ..measuring()
        }) {
            Ok(gpu) => gpu,
            Err(Error::Unsupported { .. }) => continue,
            Err(e) => return Err(e),
        };
        paths.push(transfer_rates(&gpu, side, repeats)?);
    }
    Ok(paths)
}

/// The staging path over `chunks` × `depths` (each a device of its own, so that its pool
/// starts empty), a `side`² f32 grid each way.
///
/// # Errors
/// [`Error::Interrupted`] after [`crate::interrupt_running_calls`]; a setting the device
/// refuses is a row with its error.
pub fn staging_sweep(
    side: usize,
    chunks: &[u64],
    depths: &[usize],
    repeats: usize,
) -> Result<Vec<StagingRow>> {
    let watch = Watch::start();
    let mut rows = Vec::new();
    for &chunk_bytes in chunks {
        for &depth in depths {
            watch.check()?;
            let options = GpuOptions {
                transfer_path: Some(TransferPath::Staging),
                staging_chunk_bytes: Some(chunk_bytes),
                staging_depth: Some(depth),
                ..measuring()
            };
            let rates = Gpu::new(&options).and_then(|gpu| transfer_rates(&gpu, side, repeats));
            if matches!(rates, Err(Error::Interrupted)) {
                return Err(Error::Interrupted);
            }
            rows.push(StagingRow {
                chunk_bytes,
                depth,
                rates,
            });
        }
    }
    Ok(rows)
}

/// Seconds per step of resident square f32 grids of each side at each K steps per
/// dispatch, 24 steps a call, for each workgroup-memory budget blocking may fill (the
/// guaranteed 16 KiB and the device's grant) and, for K ≥ 2, each scheme.
///
/// # Errors
/// [`Error::NoAdapter`] without a GPU; [`Error::Interrupted`] after
/// [`crate::interrupt_running_calls`]; a case the device cannot run (or a grid it cannot
/// hold) is a row with its error.
pub fn temporal_blocking(
    sides: &[usize],
    ks: &[usize],
    repeats: usize,
) -> Result<Vec<BlockingRow>> {
    let watch = Watch::start();
    let grant = Gpu::new(&measuring())?.adapter().workgroup_storage_bytes;
    let mut budgets = vec![ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES];
    if grant > budgets[0] {
        budgets.push(grant);
    }
    let params = DiffusionParams::<f32>::book();
    let steps = 24;
    let mut rows = Vec::new();
    for &budget in &budgets {
        let gpu = Gpu::new(&GpuOptions {
            workgroup_storage_bytes: Some(budget),
            ..measuring()
        });
        for &side in sides {
            // A device or grid that cannot be had is every case's error, not the sweep's.
            let mut grid = gpu
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|gpu| gpu.upload_grid(book_initial_grid::<f32>(side, side)?.view()));
            for &k in ks {
                // One step per dispatch has no scheme: timed once.
                let schemes: &[Option<TemporalBlocking>] = if k == 1 {
                    &[None]
                } else {
                    &[
                        Some(TemporalBlocking::Tiles),
                        Some(TemporalBlocking::Stream),
                    ]
                };
                for &scheme in schemes {
                    watch.check()?;
                    let seconds_per_step = match &mut grid {
                        Ok(grid) => grid
                            .set_steps_per_dispatch(1)
                            .and_then(|()| grid.set_temporal_blocking(scheme.unwrap_or_default()))
                            .and_then(|()| grid.set_steps_per_dispatch(k))
                            .and_then(|()| {
                                let (time, _) =
                                    median(watch, repeats, || grid.step(&params, steps))?;
                                Ok(time.as_secs_f64() / steps as f64)
                            }),
                        Err(e) => Err(e.clone()),
                    };
                    if matches!(seconds_per_step, Err(Error::Interrupted)) {
                        return Err(Error::Interrupted);
                    }
                    rows.push(BlockingRow {
                        side,
                        workgroup_storage_bytes: budget,
                        k,
                        scheme,
                        seconds_per_step,
                    });
                }
            }
        }
    }
    Ok(rows)
}

/// Device seconds of a resident L2 of `n` f32 values with each workgroup reduction the
/// device has, each on a device of its own (the reduction is fixed when a device opens).
///
/// # Errors
/// What the device gives; [`Error::Interrupted`] after
/// [`crate::interrupt_running_calls`].
pub fn norm_reductions(n: usize, repeats: usize) -> Result<NormReductions> {
    let watch = Watch::start();
    let host = lcg_vector::<f32>(n, 1)?;
    let time = |subgroups: bool| -> Result<(Reduction, f64)> {
        let gpu = Gpu::new(&GpuOptions {
            subgroups: Some(subgroups),
            ..measuring()
        })?;
        let v = gpu.upload_vector(host.view())?;
        let (compute, _) = median(watch, repeats, || {
            Ok(gpu.norm_resident(&v, NormKind::L2)?.1.compute)
        })?;
        Ok((gpu.norm_reduction(Precision::F32)?, compute.as_secs_f64()))
    };
    let (reduction, seconds) = time(true)?;
    let (_, tree_seconds) = time(false)?;
    Ok(NormReductions {
        values: n,
        subgroups_seconds: (reduction == Reduction::Subgroups).then_some(seconds),
        tree_seconds,
    })
}

/// How long [`tune`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TuneOptions {
    /// Smaller grids and vectors, fewer settings and repeats: seconds (15 s on a 2-core
    /// VM's software driver). The full run measures at the sizes the GPU's answer is
    /// decided at (256 MiB transfers, 4096² and 8192² grids, 10⁸ values): seconds on a
    /// real GPU, minutes on a software driver.
    pub quick: bool,
}

/// [`tune`]'s measurements and what it chose from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// What was measured.
    pub measurements: Measurements,
    /// What [`choose`] picked.
    pub settings: Settings,
}

/// Measures the default GPU's settings (the adapter [`GpuOptions::from_env`] opens) and
/// chooses them
/// ([`choose`]); save them with [`Settings::save`]. `progress` is told each stage before it
/// runs; an error it returns stops the run with that error.
///
/// # Errors
/// [`Error::NoAdapter`] without a GPU; what the device gives; [`Error::Interrupted`] after
/// [`crate::interrupt_running_calls`]; what `progress` returns.
pub fn tune(options: &TuneOptions, progress: &mut dyn FnMut(&str) -> Result<()>) -> Result<Tuning> {
    let quick = options.quick;
    let repeats = if quick { 2 } else { 5 };
    let transfer_side = if quick { 4096 } else { 8192 };
    let mut m = Measurements::of_default_gpu()?;
    progress("transfer paths")?;
    m.paths = transfer_paths(transfer_side, repeats)?;
    progress("staging chunks and depths")?;
    let (chunks, depths): (&[u64], &[usize]) = if quick {
        (&[4 << 20, 16 << 20], &[2, 3])
    } else {
        (&[4 << 20, 16 << 20, 64 << 20], &[2, 3, 4])
    };
    m.staging = staging_sweep(transfer_side, chunks, depths, repeats)?;
    progress("norm reductions")?;
    m.reductions = Some(norm_reductions(
        if quick { 10_000_000 } else { 100_000_000 },
        repeats,
    )?);
    progress("temporal blocking")?;
    let (sides, ks): (&[usize], &[usize]) = if quick {
        (&[1024], &[1, 2, 4])
    } else {
        (&[4096, 8192], &[1, 2, 4, 8, 16])
    };
    m.blocking = temporal_blocking(sides, ks, repeats)?;
    let settings = choose(&m);
    Ok(Tuning {
        measurements: m,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::gpu::timing::TransferPhases;

    fn rates(
        path: TransferPath,
        chunk_bytes: u64,
        depth: usize,
        up: f64,
        down: f64,
    ) -> TransferRates {
        TransferRates {
            path,
            chunk_bytes,
            depth,
            bytes: 256 << 20,
            upload_bytes_per_s: up * 1e9,
            download_bytes_per_s: down * 1e9,
            phases: TransferPhases::default(),
            uploads: 3,
            downloads: 3,
        }
    }

    fn row(
        side: usize,
        k: usize,
        scheme: Option<TemporalBlocking>,
        budget: u32,
        s: f64,
    ) -> BlockingRow {
        BlockingRow {
            side,
            workgroup_storage_bytes: budget,
            k,
            scheme,
            seconds_per_step: Ok(s),
        }
    }

    /// Two paths, a staging sweep with a refused setting, both reductions, and blocking at
    /// two sides, the larger with a refused K.
    fn measured(blocked_seconds: f64, blocked_budget: u32, tree_seconds: f64) -> Measurements {
        let stream = Some(TemporalBlocking::Stream);
        Measurements {
            adapter: "GPU | Vulkan | 1".into(),
            workgroup_grant: 49152,
            paths: vec![
                rates(TransferPath::Staging, 16 << 20, 3, 20.0, 18.0),
                rates(TransferPath::MappedBuffers, 16 << 20, 3, 30.0, 2.0),
            ],
            staging: vec![
                StagingRow {
                    chunk_bytes: 4 << 20,
                    depth: 2,
                    rates: Ok(rates(TransferPath::Staging, 4 << 20, 2, 9.0, 30.0)),
                },
                StagingRow {
                    chunk_bytes: 16 << 20,
                    depth: 3,
                    rates: Ok(rates(TransferPath::Staging, 16 << 20, 3, 20.0, 18.0)),
                },
                StagingRow {
                    chunk_bytes: 64 << 20,
                    depth: 4,
                    rates: Err(Error::invalid("staging", "refused")),
                },
            ],
            reductions: Some(NormReductions {
                values: 100_000_000,
                subgroups_seconds: Some(1.0),
                tree_seconds,
            }),
            blocking: vec![
                row(4096, 1, None, 49152, 1.0),
                row(4096, 4, Some(TemporalBlocking::Tiles), 49152, 0.1),
                row(8192, 1, None, 49152, 4.0),
                row(8192, 2, Some(TemporalBlocking::Tiles), 49152, 3.9),
                row(8192, 8, stream, blocked_budget, blocked_seconds),
                BlockingRow {
                    seconds_per_step: Err(Error::invalid("steps_per_dispatch", "too many")),
                    ..row(8192, 16, stream, 49152, 0.0)
                },
            ],
        }
    }

    fn chosen(m: &Measurements) -> Vec<(&'static str, String)> {
        choose(m).chosen
    }

    fn pairs(expected: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        expected.iter().map(|&(k, v)| (k, v.to_owned())).collect()
    }

    #[test]
    fn the_fastest_measured_setting_is_chosen_at_the_largest_grid() {
        // The faster path by its slower direction; the tree where it wins by the margin;
        // blocking at 8192², not 4096²'s 10×; in TUNABLE's order.
        assert_eq!(
            chosen(&measured(2.0, 49152, 0.9)),
            pairs(&[
                ("transfer_path", "staging"),
                ("staging_chunk_bytes", "16777216"),
                ("staging_depth", "3"),
                ("diffusion_steps_per_dispatch", "8"),
                ("diffusion_blocking", "stream"),
                ("subgroups", "false"),
            ])
        );
        // A lowered workgroup budget that won is kept with its K.
        let lowered = chosen(&measured(2.0, 16384, 0.9));
        assert!(
            lowered.contains(&("workgroup_storage_bytes", "16384".into())),
            "{lowered:?}"
        );
    }

    #[test]
    fn staging_at_its_best_chunk_can_beat_a_mapped_path() {
        let mut m = measured(2.0, 49152, 0.9);
        m.paths[0] = rates(TransferPath::Staging, 16 << 20, 3, 10.0, 10.0);
        m.paths[1] = rates(TransferPath::MappedBuffers, 16 << 20, 3, 17.5, 17.5);
        // The sweep's 16 MiB × 3 ran at 18 GB/s the slower way: staging wins at it, though
        // at its defaults it ran at 10.
        let chosen = chosen(&m);
        assert!(
            chosen.contains(&("transfer_path", "staging".into())),
            "{chosen:?}"
        );
        m.paths[1] = rates(TransferPath::MappedBuffers, 16 << 20, 3, 19.0, 18.5);
        let chosen = super::choose(&m).chosen;
        assert!(
            chosen.contains(&("transfer_path", "mapped".into())),
            "{chosen:?}"
        );
        assert!(
            chosen.contains(&("staging_depth", "3".into())),
            "{chosen:?}"
        );
    }

    #[test]
    fn within_the_margin_the_defaults_stay() {
        let one = chosen(&measured(3.9, 49152, 0.97));
        assert!(
            one.contains(&("diffusion_steps_per_dispatch", "1".into())),
            "{one:?}"
        );
        assert!(one.contains(&("subgroups", "true".into())), "{one:?}");
        assert!(
            !one.iter().any(|(k, _)| *k == "diffusion_blocking"),
            "{one:?}"
        );
    }

    #[test]
    fn what_was_not_measured_chooses_nothing() {
        assert!(chosen(&Measurements::default()).is_empty());
        let without_subgroups = Measurements {
            reductions: Some(NormReductions {
                values: 1000,
                subgroups_seconds: None,
                tree_seconds: 1.0,
            }),
            ..Measurements::default()
        };
        assert!(chosen(&without_subgroups).is_empty());
    }

    #[test]
    fn saved_settings_replace_another_adapters() {
        let path = std::env::temp_dir().join(format!("hpnum-tune-{}.tsv", std::process::id()));
        let mut other = Calibration::new();
        other.set_adapter("another GPU | Vulkan | 1");
        other.set_gpu_setting("staging_depth", "4");
        other.save_to(&path).unwrap();
        let settings = choose(&measured(2.0, 49152, 0.9));
        settings.save_to(&path).unwrap();
        let back = Calibration::load_from(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.adapter(), Some("GPU | Vulkan | 1"));
        let saved: Vec<(&str, &str)> = back
            .gpu_settings()
            .iter()
            .map(|(f, v)| (f.as_str(), v.as_str()))
            .collect();
        let want: Vec<(&str, &str)> = settings
            .chosen
            .iter()
            .map(|(f, v)| (*f, v.as_str()))
            .collect();
        assert_eq!(saved, want);
    }
}
