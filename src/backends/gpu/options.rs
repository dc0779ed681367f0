//! What a caller asks of a GPU ([`GpuOptions`]): which adapter, how data crosses, how the
//! host waits, and the settings a measurement may choose for a device, the device's own
//! ([`TUNABLE`]) and the kernels' ([`KernelSettings`], declared in their folders), read
//! alike from the environment and from the settings saved for the adapter.

use std::path::PathBuf;
use std::time::Duration;

use crate::calibration::Calibration;
use crate::error::{Error, Result};

/// How data crosses between host memory and the device's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferPath {
    /// Through a pool of mapped staging buffers owned by the device: the host copies into
    /// (out of) one chunk while the device copies the previous one. The only way into a
    /// discrete GPU's own memory.
    Staging,
    /// The data buffers themselves are mapped into the host's address space
    /// (`MAPPABLE_PRIMARY_BUFFERS`): one copy instead of two where the device's memory is
    /// the host's. The default only on software drivers, where it measured fastest: for a
    /// buffer both mapped for reading and writing, wgpu's Vulkan backend prefers
    /// device-local, host-visible memory, which on a discrete (and often an integrated) GPU
    /// is write-combined, and the host reads it slowly. Staging keeps reads in cached
    /// memory (wgpu gives read-back buffers `HOST_CACHED` memory).
    MappedBuffers,
}

impl TransferPath {
    /// `staging` or `mapped`: the text [`GpuOptions::set_if_unset`] and
    /// `HPNUM_GPU_TRANSFERS` read.
    pub fn name(self) -> &'static str {
        match self {
            TransferPath::Staging => "staging",
            TransferPath::MappedBuffers => "mapped",
        }
    }
}

impl std::str::FromStr for TransferPath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "staging" => Ok(TransferPath::Staging),
            "mapped" => Ok(TransferPath::MappedBuffers),
            other => Err(Error::invalid(
                "transfer path",
                format!("`{other}` is not one of staging, mapped"),
            )),
        }
    }
}

/// How long a wait polls before it blocks, by default: long enough to catch small calls
/// (tens to hundreds of microseconds), short enough that a long kernel costs a core only
/// briefly.
pub const DEFAULT_SPIN: Duration = Duration::from_millis(1);

/// How the host waits for the device to finish a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Block in the driver until the work is done: no core is burnt.
    Block,
    /// Poll without blocking for up to the given time, then block: trades a core's time
    /// for a faster wake-up on short calls.
    SpinThenBlock(Duration),
}

/// Which adapter to open, and how to use it. [`GpuOptions::from_env`] follows wgpu's own
/// conventions; build others as `GpuOptions { field: …, ..GpuOptions::from_env() }`.
/// `GpuOptions::default()` sets nothing and knows every kernel's settings
/// ([`GpuOptions::kernel_settings`]).
#[derive(Debug, Clone)]
pub struct GpuOptions {
    /// Graphics APIs to consider. `None`: Vulkan, Metal or DX12, and GL only when none of
    /// those has an adapter (probing GL first would cost time and, on a headless Linux
    /// machine, error lines from its window-system libraries).
    pub backends: Option<wgpu::Backends>,
    /// Take the first adapter whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Take the adapter at this index among those the chosen backends enumerate (after
    /// `adapter_name`'s filter, if both are given): how a process opens several GPUs.
    pub adapter_index: Option<usize>,
    /// Prefer a low-power or a high-performance adapter.
    pub power_preference: Option<wgpu::PowerPreference>,
    /// Lowers the largest storage binding used below the device's, in bytes. Data larger
    /// than a binding is split into bands or pieces either way; a lower cap exercises that
    /// splitting on small data (the tests do).
    pub max_binding_bytes: Option<u64>,
    /// Lowers the workgroups per dispatch dimension below the device's (65 535 or more),
    /// likewise to exercise the two-dimensional dispatch on small data.
    pub max_workgroups_per_dimension: Option<u32>,
    /// How transfers move data (`None`: [`TransferPath::MappedBuffers`] on a software
    /// adapter, where it measured fastest, [`TransferPath::Staging`] elsewhere).
    pub transfer_path: Option<TransferPath>,
    /// Bytes per staging chunk (`None`: 4 MiB on a software adapter, where chunks that stay
    /// in the CPU's cache measured fastest, 16 MiB elsewhere). Rounded to a multiple of 16.
    pub staging_chunk_bytes: Option<u64>,
    /// Staging chunks in flight per transfer (`None`: 2 where the device shares the host's
    /// memory, where one chunk copies while the other drains, both in the CPU's cache; 3
    /// elsewhere, a third for the DMA engine). At least 1.
    pub staging_depth: Option<usize>,
    /// How the host waits for submissions (`None`: [`WaitMode::SpinThenBlock`] for up to
    /// [`DEFAULT_SPIN`], which measured faster than blocking on small calls; see
    /// `docs/performance.md`).
    pub wait: Option<WaitMode>,
    /// Lowers the workgroup memory an entry point may use below the device's, in bytes
    /// (at least WebGPU's guaranteed 16 KiB): the temporally blocked diffusion's tiles fill
    /// it, so that a device granting more steps larger tiles with less halo; a lower budget
    /// trades halo for occupancy, which the `report` example measures.
    pub workgroup_storage_bytes: Option<u32>,
    /// Whether shaders may use subgroup operations where the device has them (`None` or
    /// `Some(true)`); `Some(false)` keeps their workgroup-memory variants, to compare the two
    /// (`Gpu::norm_reduction` says which runs).
    pub subgroups: Option<bool>,
    /// The settings the kernels own on the GPU, by name (each kernel lists its own in its
    /// folder, `src/kernels/<kernel>/settings.rs`, with a typed view; diffusion's steps per
    /// dispatch and blocking scheme, for one). Like the fields above, each is `None` until
    /// set, and the saved settings fill what is unset.
    pub kernel_settings: KernelSettings,
    /// A calibration file whose settings measured on this adapter and driver
    /// ([`Calibration::gpu_settings`], written by `report --save`) fill the fields above that
    /// are left `None` ([`AdapterSummary::tuned`](super::adapter::AdapterSummary::tuned)
    /// names them). `None` (the `Default`): no
    /// saved settings; [`GpuOptions::from_env`]: [`Calibration::default_path`], where
    /// `Auto`'s calibration lives.
    pub tuning: Option<PathBuf>,
}

/// The device's own fields a measurement can choose ([`Calibration::gpu_settings`]), each
/// with the environment variable [`GpuOptions::from_env`] reads it from: one list, so that
/// the file and the environment name the same things. The kernels' settings follow them
/// ([`GpuOptions::tunable`]).
pub const TUNABLE: &[(&str, &str)] = &[
    ("transfer_path", "HPNUM_GPU_TRANSFERS"),
    ("staging_chunk_bytes", "HPNUM_GPU_STAGING_CHUNK"),
    ("staging_depth", "HPNUM_GPU_STAGING_DEPTH"),
    ("workgroup_storage_bytes", "HPNUM_GPU_WORKGROUP_STORAGE"),
    ("subgroups", "HPNUM_GPU_SUBGROUPS"),
];

/// One setting a kernel owns on the GPU, as the kernel declares it: its name (in the
/// calibration file, `GpuOptions::set_if_unset` and the report), the environment variable
/// [`GpuOptions::from_env`] reads it from, and the check its text must pass (the kernel's
/// own parser).
#[derive(Debug, Clone, Copy)]
pub struct KernelSetting {
    /// `diffusion_steps_per_dispatch`, …
    pub name: &'static str,
    /// `HPNUM_GPU_DIFFUSION_K`, …
    pub variable: &'static str,
    /// Whether a value's text is one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] saying why not.
    pub check: fn(&str) -> Result<()>,
}

/// The kernels' settings on one device, as text by name: which settings exist (the kernels
/// declare them) and the ones set. The plumbing keeps, fills and reports them and names no
/// kernel; each kernel reads its own through its typed view.
#[derive(Debug, Clone, Default)]
pub struct KernelSettings {
    known: Vec<KernelSetting>,
    set: Vec<(&'static str, String)>,
}

impl PartialEq for KernelSettings {
    /// The same settings set to the same values (the checks are functions, not compared).
    fn eq(&self, other: &Self) -> bool {
        self.set == other.set
            && self.known.len() == other.known.len()
            && self
                .known
                .iter()
                .zip(&other.known)
                .all(|(a, b)| a.name == b.name)
    }
}

impl KernelSettings {
    /// Knowing `settings`, none of them set.
    pub fn new(settings: impl IntoIterator<Item = KernelSetting>) -> Self {
        KernelSettings {
            known: settings.into_iter().collect(),
            set: Vec::new(),
        }
    }

    /// The settings that exist, in the kernels' order.
    pub fn known(&self) -> &[KernelSetting] {
        &self.known
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.set
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The settings set, in the kernels' order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.known
            .iter()
            .filter_map(|s| Some((s.name, self.get(s.name)?)))
    }

    /// Sets `setting` to `value`, replacing what was set (learning the setting if it was
    /// not known).
    ///
    /// # Errors
    /// What the setting's check says of `value`.
    pub fn set(&mut self, setting: KernelSetting, value: &str) -> Result<()> {
        (setting.check)(value.trim())?;
        if !self.known.iter().any(|s| s.name == setting.name) {
            self.known.push(setting);
        }
        self.set.retain(|(n, _)| *n != setting.name);
        self.set.push((setting.name, value.trim().to_owned()));
        Ok(())
    }

    /// Sets the setting called `name` if it is known and unset: `None` if no setting has
    /// that name, else whether it set it.
    ///
    /// # Errors
    /// What the setting's check says of `value`.
    pub fn set_if_unset(&mut self, name: &str, value: &str) -> Result<Option<bool>> {
        let Some(setting) = self.known.iter().find(|s| s.name == name).copied() else {
            return Ok(None);
        };
        (setting.check)(value.trim())?;
        if self.get(name).is_some() {
            return Ok(Some(false));
        }
        self.set(setting, value)?;
        Ok(Some(true))
    }
}

impl GpuOptions {
    /// Nothing set; `kernel_settings` says which kernel settings exist (what
    /// `GpuOptions::default()` passes it: every kernel's).
    pub(crate) fn unset(kernel_settings: KernelSettings) -> Self {
        GpuOptions {
            backends: None,
            adapter_name: None,
            adapter_index: None,
            power_preference: None,
            max_binding_bytes: None,
            max_workgroups_per_dimension: None,
            transfer_path: None,
            staging_chunk_bytes: None,
            staging_depth: None,
            wait: None,
            workgroup_storage_bytes: None,
            subgroups: None,
            kernel_settings,
            tuning: None,
        }
    }

    /// From `WGPU_BACKEND` (`vulkan`, `metal`, `dx12`, `gl`, comma-separated),
    /// `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF` (`low`, `high`, `none`) and hpnum's own
    /// variables for the [`TUNABLE`] fields: `HPNUM_GPU_TRANSFERS` (`staging` or `mapped`),
    /// `HPNUM_GPU_STAGING_CHUNK` (bytes per staging chunk), `HPNUM_GPU_STAGING_DEPTH` (chunks
    /// in flight), `HPNUM_GPU_WORKGROUP_STORAGE` (bytes of workgroup memory per entry point)
    /// and `HPNUM_GPU_SUBGROUPS` (`true` or `false`: whether shaders may use subgroup
    /// operations), and each kernel setting's own (`HPNUM_GPU_DIFFUSION_K`,
    /// `HPNUM_GPU_DIFFUSION_BLOCKING`: [`GpuOptions::tunable`]). Like wgpu's,
    /// unrecognised values leave the default. Fields still unset take the settings saved
    /// for this device in [`Calibration::default_path`], or in the file `HPNUM_GPU_TUNING`
    /// names; `HPNUM_GPU_TUNING=off` ignores saved settings.
    pub fn from_env() -> Self {
        let mut options = GpuOptions {
            backends: wgpu::Backends::from_env(),
            adapter_name: std::env::var("WGPU_ADAPTER_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            power_preference: wgpu::PowerPreference::from_env(),
            tuning: match std::env::var_os("HPNUM_GPU_TUNING") {
                Some(v) if v == "off" => None,
                Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
                _ => Calibration::default_path(),
            },
            ..GpuOptions::default()
        };
        for (field, variable) in options.tunable() {
            if let Ok(value) = std::env::var(variable) {
                // As wgpu does: a value that does not parse leaves the default.
                let _ = options.set_if_unset(field, &value);
            }
        }
        options
    }

    /// Every field a measurement can choose, with its environment variable: the device's
    /// own ([`TUNABLE`]), then the kernels' settings ([`GpuOptions::kernel_settings`]).
    pub fn tunable(&self) -> Vec<(&'static str, &'static str)> {
        let kernels = self.kernel_settings.known().iter();
        TUNABLE
            .iter()
            .copied()
            .chain(kernels.map(|s| (s.name, s.variable)))
            .collect()
    }

    /// Sets the [tunable](GpuOptions::tunable) field `field` from its text form (`staging`,
    /// `mapped`; `tiles`, `stream`; `true`, `false`; a positive integer) if it is unset;
    /// returns whether it set it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a field that is not tunable or a value that does
    /// not parse.
    pub fn set_if_unset(&mut self, field: &str, value: &str) -> Result<bool> {
        fn positive<N: std::str::FromStr + PartialOrd + From<u8>>(
            field: &str,
            value: &str,
        ) -> Result<N> {
            value
                .trim()
                .parse()
                .ok()
                .filter(|n: &N| *n >= N::from(1))
                .ok_or_else(|| {
                    Error::invalid(
                        "gpu setting",
                        format!("{field}: `{value}` is not a positive integer"),
                    )
                })
        }
        fn fill<V>(slot: &mut Option<V>, value: Result<V>) -> Result<bool> {
            let value = value?;
            if slot.is_some() {
                return Ok(false);
            }
            *slot = Some(value);
            Ok(true)
        }
        let boolean = |field: &str, value: &str| match value {
            "true" | "1" | "on" => Ok(true),
            "false" | "0" | "off" => Ok(false),
            _ => Err(Error::invalid(
                "gpu setting",
                format!("{field}: `{value}` is not true or false"),
            )),
        };
        let value = value.trim();
        match field {
            "transfer_path" => fill(&mut self.transfer_path, value.parse()),
            "staging_chunk_bytes" => fill(&mut self.staging_chunk_bytes, positive(field, value)),
            "staging_depth" => fill(&mut self.staging_depth, positive(field, value)),
            "workgroup_storage_bytes" => {
                fill(&mut self.workgroup_storage_bytes, positive(field, value))
            }
            "subgroups" => fill(&mut self.subgroups, boolean(field, value)),
            other => match self.kernel_settings.set_if_unset(other, value)? {
                Some(set) => Ok(set),
                None => Err(Error::invalid(
                    "gpu setting",
                    format!("`{other}` is not one of the tunable fields"),
                )),
            },
        }
    }

    /// These options with the unset fields filled from the settings `tuning` holds for
    /// the adapter `identity`, and the names of the fields it filled, in
    /// [`GpuOptions::tunable`]'s order. Settings this version does not know are skipped (a newer hpnum may have
    /// written them).
    pub(crate) fn with_saved_settings(
        &self,
        identity: &str,
    ) -> Result<(GpuOptions, Vec<&'static str>)> {
        let mut options = self.clone();
        let mut tuned = Vec::new();
        let Some(path) = self.tuning.as_deref().filter(|p| p.exists()) else {
            return Ok((options, tuned));
        };
        let hint = |e: Error| match e {
            Error::InvalidParameter { name, reason } => Error::InvalidParameter {
                name,
                reason: format!("{reason} (HPNUM_GPU_TUNING=off ignores saved GPU settings)"),
            },
            other => other,
        };
        let saved = Calibration::load_from(path).map_err(hint)?;
        if saved.adapter() != Some(identity) {
            return Ok((options, tuned));
        }
        // In the tunable fields' order, whatever the file's.
        for (known, _) in self.tunable() {
            let Some((_, value)) = saved.gpu_settings().iter().find(|(f, _)| f == known) else {
                continue;
            };
            let set = options.set_if_unset(known, value).map_err(|e| {
                hint(Error::invalid(
                    "calibration",
                    format!("{}: {e}", path.display()),
                ))
            })?;
            if set {
                tuned.push(known);
            }
        }
        Ok((options, tuned))
    }
}
