//! The diffusion kernel's settings on a GPU that a measurement may choose per device: how a
//! dispatch of several steps keeps its cells in workgroup memory ([`TemporalBlocking`]).

use crate::error::{Error, Result};

/// How a dispatch of K ≥ 2 diffusion steps keeps its cells in workgroup memory
/// (`GpuGrid::set_temporal_blocking`). Both give the bits of K single steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TemporalBlocking {
    /// Square tiles with a K-cell halo on every side, each loaded whole and stepped K times
    /// (the default): simple, but every tile reloads and recomputes its halo.
    #[default]
    Tiles,
    /// Strips of columns streamed down the grid through a ring of three rows per time level
    /// (the scheme of EBISU, ICS '23, and AN5D, CGO '20): each row is loaded once per strip,
    /// the halo of 2K rows once per 256. K is bounded by the workgroup memory the device
    /// grants (`GpuGrid::max_steps_per_dispatch_with`).
    Stream,
}

impl TemporalBlocking {
    /// `tiles` or `stream`.
    pub fn name(self) -> &'static str {
        match self {
            TemporalBlocking::Tiles => "tiles",
            TemporalBlocking::Stream => "stream",
        }
    }
}

impl std::str::FromStr for TemporalBlocking {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tiles" => Ok(TemporalBlocking::Tiles),
            "stream" => Ok(TemporalBlocking::Stream),
            other => Err(Error::invalid(
                "temporal blocking",
                format!("`{other}` is not one of tiles, stream"),
            )),
        }
    }
}

/// Diffusion's settings on a GPU, typed: how many steps one dispatch takes (K, temporal
/// blocking) and how K ≥ 2 steps block. `None` leaves a setting to the saved one or the
/// default (one step per dispatch, [`TemporalBlocking::Tiles`]). Through the device's
/// kernel settings (`GpuOptions::kernel_settings`, `AdapterSummary::kernel_settings`),
/// where the plumbing keeps them as text.
///
/// ```
/// # #[cfg(feature = "gpu")] {
/// use hpnum::backends::gpu::GpuOptions;
/// use hpnum::{DiffusionSettings, TemporalBlocking};
///
/// let mut options = GpuOptions::default();
/// let wanted = DiffusionSettings {
///     steps_per_dispatch: Some(4),
///     blocking: Some(TemporalBlocking::Stream),
/// };
/// wanted.set(&mut options.kernel_settings)?;
/// assert_eq!(DiffusionSettings::of(&options.kernel_settings), wanted);
/// assert_eq!(options.kernel_settings.get("diffusion_steps_per_dispatch"), Some("4"));
/// # }
/// # Ok::<(), hpnum::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiffusionSettings {
    /// Steps per dispatch (K): 1 runs one step per dispatch; K ≥ 2 steps the grid K times
    /// in workgroup memory per dispatch, as `blocking` says (bit-identical results; grids
    /// within one storage binding; values above the scheme's bound on a device and
    /// precision are clamped to it). Each grid can change it (`GpuGrid::set_steps_per_dispatch`).
    pub steps_per_dispatch: Option<u32>,
    /// How dispatches of K ≥ 2 steps block (`GpuGrid::set_temporal_blocking` per grid).
    pub blocking: Option<TemporalBlocking>,
}

#[cfg(feature = "gpu")]
mod on_gpu {
    use crate::backends::gpu::options::{KernelSetting, KernelSettings};
    use crate::error::{Error, Result};
    use crate::kernels::diffusion::settings::{DiffusionSettings, TemporalBlocking};

    const STEPS: KernelSetting = KernelSetting {
        name: "diffusion_steps_per_dispatch",
        variable: "HPNUM_GPU_DIFFUSION_K",
        check: |text| steps(text).map(drop),
    };
    const BLOCKING: KernelSetting = KernelSetting {
        name: "diffusion_blocking",
        variable: "HPNUM_GPU_DIFFUSION_BLOCKING",
        check: |text| text.parse::<TemporalBlocking>().map(drop),
    };

    /// Diffusion's settings, as the GPU plumbing keeps them.
    pub(crate) const SETTINGS: &[KernelSetting] = &[STEPS, BLOCKING];

    fn steps(text: &str) -> Result<u32> {
        text.trim()
            .parse()
            .ok()
            .filter(|&k: &u32| k >= 1)
            .ok_or_else(|| {
                Error::invalid(
                    "gpu setting",
                    format!("{}: `{text}` is not a positive integer", STEPS.name),
                )
            })
    }

    impl DiffusionSettings {
        /// The settings `settings` holds (those that are not set, or were set to text that
        /// no longer parses, are `None`).
        pub fn of(settings: &KernelSettings) -> Self {
            DiffusionSettings {
                steps_per_dispatch: settings.get(STEPS.name).and_then(|t| steps(t).ok()),
                blocking: settings.get(BLOCKING.name).and_then(|t| t.parse().ok()),
            }
        }

        /// Sets in `settings` the ones that are `Some` here.
        ///
        /// # Errors
        /// [`Error::InvalidParameter`] for 0 steps per dispatch.
        pub fn set(&self, settings: &mut KernelSettings) -> Result<()> {
            if let Some(k) = self.steps_per_dispatch {
                settings.set(STEPS, &k.to_string())?;
            }
            if let Some(blocking) = self.blocking {
                settings.set(BLOCKING, blocking.name())?;
            }
            Ok(())
        }
    }
}

#[cfg(feature = "gpu")]
pub(crate) use self::on_gpu::SETTINGS;
