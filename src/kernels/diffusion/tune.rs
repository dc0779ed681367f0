//! Diffusion's GPU settings chosen by measurement: steps per dispatch (K) and how K ≥ 2
//! steps block in workgroup memory, timed on resident grids over K, both schemes and each
//! workgroup-memory budget.

use crate::backends::gpu::Gpu;
use crate::backends::gpu::options::GpuOptions;
use crate::backends::gpu::shaders::ShaderTarget;
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::diffusion::settings::TemporalBlocking;
use crate::kernels::diffusion::{DiffusionParams, book_initial_grid};
use crate::kernels::tune::{Choice, MARGIN, measuring, median};

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

/// Seconds per step of resident square f32 grids of each side at each K steps per
/// dispatch, 24 steps a call, for each workgroup-memory budget blocking may fill (the
/// guaranteed 16 KiB and the device's grant) and, for K ≥ 2, each scheme.
///
/// # Errors
/// [`crate::Error::NoAdapter`] without a GPU; [`crate::Error::Interrupted`] after
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

/// At the largest grid where both one step and K ≥ 2 steps per dispatch ran, the fastest
/// K ≥ 2 with its scheme (and its workgroup budget, where one lower than the device's
/// `workgroup_grant` won) if it is [`MARGIN`] times as fast as one step, else one step;
/// nothing without such a grid.
pub(crate) fn choose(rows: &[BlockingRow], workgroup_grant: u32) -> Option<Choice> {
    let fastest = |side: usize, blocked: bool| {
        rows.iter()
            .filter(|r| r.side == side && (r.k > 1) == blocked)
            .filter_map(|r| Some((r, *r.seconds_per_step.as_ref().ok()?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let mut sides: Vec<usize> = rows.iter().map(|r| r.side).collect();
    sides.sort_unstable();
    let timed = sides
        .iter()
        .rev()
        .find_map(|&side| Some((side, fastest(side, false)?, fastest(side, true)?)));
    let (side, (_, one), (best, blocked)) = timed?;
    let speedup = one / blocked;
    let mut chosen = Vec::new();
    if speedup >= MARGIN {
        chosen.push(("diffusion_steps_per_dispatch", best.k.to_string()));
        let scheme = best.scheme.unwrap_or_default();
        chosen.push(("diffusion_blocking", scheme.name().to_owned()));
        if best.workgroup_storage_bytes < workgroup_grant {
            let budget = best.workgroup_storage_bytes.to_string();
            chosen.push(("workgroup_storage_bytes", budget));
        }
    } else {
        chosen.push(("diffusion_steps_per_dispatch", "1".to_owned()));
    }
    let why = format!(
        "at {side}², the best K ≥ 2 (K = {} on {}) stepped {speedup:.2}× as fast as K = 1 \
         (chosen from {MARGIN}×)",
        best.k,
        best.scheme.unwrap_or_default().name()
    );
    Some(Choice {
        chosen,
        why: ("diffusion", why),
    })
}
