//! The device's own settings measured and chosen: which transfer path, and the staging
//! path's chunk size and depth, by each way's slower direction.

use std::time::Duration;

use web_time::Instant;

use ndarray::Array2;

use crate::backends::gpu::Gpu;
use crate::backends::gpu::options::{GpuOptions, TransferPath};
use crate::backends::gpu::timing::TransferPhases;
use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::diffusion::book_initial_grid;
use crate::kernels::tune::{Choice, measuring, median};

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

/// Upload and download of a `side`² f32 grid through `gpu`'s path: the median of `repeats`
/// after one warm-up, with every transfer's phases; the grid must come back unchanged.
///
/// # Errors
/// What the device gives; [`crate::Error::Device`] if a transfer changed the data;
/// [`crate::Error::Interrupted`] after [`crate::interrupt_running_calls`].
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
/// [`crate::Error::Interrupted`] after [`crate::interrupt_running_calls`]; a setting the device
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

/// The transfer path whose best measured setting has the faster slower direction, and the
/// staging chunk and depth likewise, among the sweep's and the staging path's defaults.
pub(super) fn choose(paths: &[TransferRates], staging: &[StagingRow]) -> Vec<Choice> {
    let mut choices = Vec::new();
    let gbs = |rate: f64| rate / 1e9;
    let slower = |r: &&TransferRates| r.slower_bytes_per_s();
    // Every measured way across: each path at its defaults, and staging at every chunk
    // size and depth of the sweep (staging at its best chunk may beat a mapped path that
    // staging at its default chunk does not).
    let candidates: Vec<&TransferRates> = paths
        .iter()
        .chain(staging.iter().filter_map(|row| row.rates.as_ref().ok()))
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
        let rates: Vec<String> = ways
            .iter()
            .map(|r| format!("{} {:.2} GB/s", r.path.name(), gbs(slower(r))))
            .collect();
        choices.push(Choice {
            chosen: vec![("transfer_path", best.path.name().to_owned())],
            why: (
                "transfer_path",
                format!(
                    "the slower direction of {} MiB, each path at its best: {}",
                    best.bytes >> 20,
                    rates.join(", ")
                ),
            ),
        });
    }
    if let Some(best) = best_of(TransferPath::Staging).filter(|_| !staging.is_empty()) {
        choices.push(Choice {
            chosen: vec![
                ("staging_chunk_bytes", best.chunk_bytes.to_string()),
                ("staging_depth", best.depth.to_string()),
            ],
            why: (
                "staging",
                format!(
                    "the best of {} chunk sizes and depths by the slower direction: {:.2} GB/s",
                    staging.len() + 1,
                    gbs(slower(&best))
                ),
            ),
        });
    }
    choices
}
