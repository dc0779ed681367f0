//! A GPU's settings chosen by measurement: the transfer path, the staging chunk and depth,
//! the norms' workgroup reduction, and diffusion's steps per dispatch with its blocking
//! scheme — the [tunable](crate::backends::gpu::GpuOptions::tunable) fields whose best
//! value depends on the device. The device's own settings are measured here; each kernel's in its folder
//! ([`crate::kernels::diffusion::tune`], [`crate::kernels::norm::tune`]), with its rule.
//! [`tune`] measures them all, [`choose`] applies every rule, and
//! [`Settings::save`] keeps the choice in the calibration file, where every `Gpu` opened on
//! that adapter and driver afterwards takes it for the fields its options leave unset
//! ([`GpuOptions::tuning`](crate::backends::gpu::GpuOptions::tuning)). The `report` example makes the same measurements at its own
//! sizes and calls the same rule; Python has it as `hpnum.tune()`.
//!
//! Each measurement opens a device of its own where the setting is fixed when a device
//! opens (transfer path, staging, workgroup budget, reduction), so that its pools start
//! empty, and without the settings already saved for the device; grids are stepped from the book's initial state and vectors from
//! [`lcg_vector`](crate::kernels::norm::lcg_vector), and every transfer is checked to come back unchanged.

mod transfers;

use std::path::{Path, PathBuf};

pub use self::transfers::{
    StagingRow, TransferRates, staging_sweep, transfer_paths, transfer_rates,
};
use crate::backends::gpu::Gpu;
use crate::backends::gpu::options::GpuOptions;
use crate::calibration::Calibration;
use crate::error::Result;
use crate::kernels::diffusion::tune::{self as diffusion, BlockingRow};
use crate::kernels::norm::tune::{self as norm, NormReductions};
use crate::kernels::tune::measuring;

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
    /// `(tunable field, value as GpuOptions::set_if_unset reads it)`, in
    /// `GpuOptions::tunable`'s order.
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
    /// [`crate::Error::InvalidParameter`] if there is no cache directory, or the file exists but
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
/// path's defaults; subgroup reductions unless the tree is [`MARGIN`](crate::kernels::tune::MARGIN) times as fast;
/// and, at the largest grid where both one step and K ≥ 2 steps per dispatch ran, the
/// fastest K ≥ 2 with its scheme (and its workgroup budget, where a lowered one won) if it
/// is [`MARGIN`](crate::kernels::tune::MARGIN) times as fast as one step, else one step. A measurement that is missing
/// chooses nothing.
pub fn choose(m: &Measurements) -> Settings {
    let mut chosen = Vec::new();
    let mut why = Vec::new();
    for choice in transfers::choose(&m.paths, &m.staging) {
        chosen.extend(choice.chosen);
        why.push(choice.why);
    }
    let kernels = [
        norm::choose(m.reductions.as_ref()),
        diffusion::choose(&m.blocking, m.workgroup_grant),
    ];
    for choice in kernels.into_iter().flatten() {
        chosen.extend(choice.chosen);
        why.push(choice.why);
    }
    // In the tunable fields' order, as a Gpu reports what it took.
    let tunable = GpuOptions::default().tunable();
    let order = |field: &str| tunable.iter().position(|(f, _)| *f == field);
    chosen.sort_by_key(|(field, _)| order(field));
    Settings {
        adapter: m.adapter.clone(),
        chosen,
        why,
    }
}

impl Measurements {
    /// No measurements yet, of the default adapter: its identity and the workgroup memory
    /// it grants (from a device opened without saved settings).
    ///
    /// # Errors
    /// [`crate::Error::NoAdapter`] without a GPU; what the device gives.
    pub fn of_default_gpu() -> Result<Measurements> {
        let gpu = Gpu::new(&measuring())?;
        Ok(Measurements {
            adapter: gpu.adapter().identity(),
            workgroup_grant: gpu.adapter().workgroup_storage_bytes,
            ..Measurements::default()
        })
    }
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

/// Measures the default GPU's settings (the adapter [`GpuOptions::from_env`](crate::backends::gpu::GpuOptions::from_env) opens) and
/// chooses them
/// ([`choose`]); save them with [`Settings::save`]. `progress` is told each stage before it
/// runs; an error it returns stops the run with that error.
///
/// # Errors
/// [`crate::Error::NoAdapter`] without a GPU; what the device gives; [`crate::Error::Interrupted`] after
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
    m.reductions = Some(norm::norm_reductions(
        if quick { 10_000_000 } else { 100_000_000 },
        repeats,
    )?);
    progress("temporal blocking")?;
    let (sides, ks): (&[usize], &[usize]) = if quick {
        (&[1024], &[1, 2, 4])
    } else {
        (&[4096, 8192], &[1, 2, 4, 8, 16])
    };
    m.blocking = diffusion::temporal_blocking(sides, ks, repeats)?;
    let settings = choose(&m);
    Ok(Tuning {
        measurements: m,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::gpu::options::TransferPath;
    use crate::backends::gpu::timing::TransferPhases;
    use crate::error::Error;
    use crate::kernels::diffusion::settings::TemporalBlocking;

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
        // blocking at 8192², not 4096²'s 10×; in the tunable fields' order.
        assert_eq!(
            chosen(&measured(2.0, 49152, 0.9)),
            pairs(&[
                ("transfer_path", "staging"),
                ("staging_chunk_bytes", "16777216"),
                ("staging_depth", "3"),
                ("subgroups", "false"),
                ("diffusion_steps_per_dispatch", "8"),
                ("diffusion_blocking", "stream"),
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
