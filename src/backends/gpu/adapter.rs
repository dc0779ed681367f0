//! Which adapter to open and how to talk to it: [`GpuOptions`], what was opened
//! ([`AdapterSummary`]), and the device request itself.

use std::path::PathBuf;
use std::time::Duration;

use crate::backend::DeviceKind;
use crate::backends::gpu::host_memory::HostMemory;
use crate::calibration::Calibration;
use crate::error::{Error, Result};
use crate::kernels::diffusion::settings::TemporalBlocking;

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
#[derive(Debug, Clone, Default)]
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
    /// Diffusion steps per dispatch (temporal blocking, K): `None` or 1 runs one step per
    /// dispatch; K ≥ 2 steps the grid K times in workgroup memory per dispatch, as
    /// [`GpuOptions::diffusion_blocking`] says (bit-identical results; grids within one
    /// storage binding; values above the scheme's bound on this device and precision are
    /// clamped to it). Each grid can change it ([`super::GpuGrid::set_steps_per_dispatch`]).
    pub diffusion_steps_per_dispatch: Option<u32>,
    /// How new grids' dispatches of K ≥ 2 diffusion steps block (`None`:
    /// [`TemporalBlocking::Tiles`]); each grid can change it
    /// ([`super::GpuGrid::set_temporal_blocking`]).
    pub diffusion_blocking: Option<TemporalBlocking>,
    /// Lowers the workgroup memory an entry point may use below the device's, in bytes
    /// (at least WebGPU's guaranteed 16 KiB): the temporally blocked diffusion's tiles fill
    /// it, so that a device granting more steps larger tiles with less halo; a lower budget
    /// trades halo for occupancy, which the `report` example measures.
    pub workgroup_storage_bytes: Option<u32>,
    /// Whether norms may reduce with subgroup operations where the device has them
    /// (`None` or `Some(true)`); `Some(false)` keeps the workgroup-memory tree, to compare
    /// the two ([`super::Gpu::norm_reduction`] says which runs).
    pub subgroups: Option<bool>,
    /// A calibration file whose settings measured on this adapter and driver
    /// ([`Calibration::gpu_settings`], written by `report --save`) fill the fields above that
    /// are left `None` ([`AdapterSummary::tuned`] names them). `None` (the `Default`): no
    /// saved settings; [`GpuOptions::from_env`]: [`Calibration::default_path`], where
    /// `Auto`'s calibration lives.
    pub tuning: Option<PathBuf>,
}

/// The fields a measurement can choose for a device ([`Calibration::gpu_settings`]), each
/// with the environment variable [`GpuOptions::from_env`] reads it from: one list, so that
/// the file and the environment name the same things.
pub const TUNABLE: &[(&str, &str)] = &[
    ("transfer_path", "HPNUM_GPU_TRANSFERS"),
    ("staging_chunk_bytes", "HPNUM_GPU_STAGING_CHUNK"),
    ("staging_depth", "HPNUM_GPU_STAGING_DEPTH"),
    ("diffusion_steps_per_dispatch", "HPNUM_GPU_DIFFUSION_K"),
    ("diffusion_blocking", "HPNUM_GPU_DIFFUSION_BLOCKING"),
    ("workgroup_storage_bytes", "HPNUM_GPU_WORKGROUP_STORAGE"),
    ("subgroups", "HPNUM_GPU_SUBGROUPS"),
];

impl GpuOptions {
    /// From `WGPU_BACKEND` (`vulkan`, `metal`, `dx12`, `gl`, comma-separated),
    /// `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF` (`low`, `high`, `none`) and hpnum's own
    /// variables for the [`TUNABLE`] fields: `HPNUM_GPU_TRANSFERS` (`staging` or `mapped`),
    /// `HPNUM_GPU_STAGING_CHUNK` (bytes per staging chunk), `HPNUM_GPU_STAGING_DEPTH` (chunks
    /// in flight), `HPNUM_GPU_DIFFUSION_K` (steps per diffusion dispatch),
    /// `HPNUM_GPU_DIFFUSION_BLOCKING` (`tiles` or `stream`), `HPNUM_GPU_WORKGROUP_STORAGE`
    /// (bytes of workgroup memory per entry point) and `HPNUM_GPU_SUBGROUPS` (`true` or
    /// `false`: whether norms may reduce with subgroup operations). Like wgpu's,
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
        for (field, variable) in TUNABLE {
            if let Ok(value) = std::env::var(variable) {
                // As wgpu does: a value that does not parse leaves the default.
                let _ = options.set_if_unset(field, &value);
            }
        }
        options
    }

    /// Sets the [`TUNABLE`] field `field` from its text form (`staging`, `mapped`;
    /// `tiles`, `stream`; `true`, `false`; a positive integer) if it is unset; returns
    /// whether it set it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a field not in [`TUNABLE`] or a value that does
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
            "diffusion_steps_per_dispatch" => fill(
                &mut self.diffusion_steps_per_dispatch,
                positive(field, value),
            ),
            "diffusion_blocking" => fill(&mut self.diffusion_blocking, value.parse()),
            "workgroup_storage_bytes" => {
                fill(&mut self.workgroup_storage_bytes, positive(field, value))
            }
            "subgroups" => fill(&mut self.subgroups, boolean(field, value)),
            other => Err(Error::invalid(
                "gpu setting",
                format!("`{other}` is not one of the tunable fields"),
            )),
        }
    }

    /// These options with the unset fields filled from the settings `tuning` holds for
    /// the adapter `identity`, and the names of the fields it filled, in [`TUNABLE`]'s
    /// order. Settings this version does not know are skipped (a newer hpnum may have
    /// written them).
    fn with_saved_settings(&self, identity: &str) -> Result<(GpuOptions, Vec<&'static str>)> {
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
        // In `TUNABLE`'s order, whatever the file's.
        for &(known, _) in TUNABLE {
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

/// Workgroup memory every WebGPU device grants an entry point: 16 KiB.
pub(crate) const GUARANTEED_WORKGROUP_STORAGE_BYTES: u32 = 16 << 10;

/// The adapter a [`super::Gpu`] runs on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AdapterSummary {
    /// The adapter's name (`NVIDIA H100 80GB HBM3`, `llvmpipe (LLVM 15.0.6, 256 bits)`, …).
    pub name: String,
    /// The graphics API (`Vulkan`, `Metal`, `Dx12`, `Gl`).
    pub api: String,
    /// Discrete, integrated, software, …
    pub device: DeviceKind,
    /// Driver name and version information.
    pub driver: String,
    /// Whether f64 shaders run (the `SHADER_F64` feature).
    pub f64: bool,
    /// Whether compute time comes from GPU timestamp queries.
    pub timestamps: bool,
    /// Whether the device has subgroup operations (the `SUBGROUP` feature), which the
    /// norms' workgroup reduction uses.
    pub subgroups: bool,
    /// The largest storage buffer one binding can see, in bytes (larger data is split).
    pub max_binding_bytes: u64,
    /// How transfers move data on this adapter.
    pub transfer_path: TransferPath,
    /// Bytes per staging chunk.
    pub staging_chunk_bytes: u64,
    /// Staging chunks in flight per transfer.
    pub staging_depth: usize,
    /// How the host waits for the device.
    pub wait: WaitMode,
    /// Bytes of workgroup memory each entry point may use: the device's grant, or less
    /// where [`GpuOptions::workgroup_storage_bytes`] says so.
    pub workgroup_storage_bytes: u32,
    /// Diffusion steps per dispatch that new grids start with (see
    /// [`GpuOptions::diffusion_steps_per_dispatch`]).
    pub diffusion_steps_per_dispatch: u32,
    /// How new grids' dispatches of K ≥ 2 diffusion steps block (see
    /// [`GpuOptions::diffusion_blocking`]).
    pub diffusion_blocking: TemporalBlocking,
    /// The [`TUNABLE`] fields whose values came from the settings saved for this adapter
    /// and driver ([`GpuOptions::tuning`]), not from the caller's options or the defaults.
    pub tuned: Vec<&'static str>,
    /// The memory a read-back staging buffer lives in, as wgpu's Vulkan backend chooses
    /// it: [`HostMemory::Cached`] reads at the host's memory speed, `Uncached` at a few
    /// GB/s. `None` where the API does not say (Metal, DX12, GL).
    pub read_back_memory: Option<HostMemory>,
    /// The same for a data buffer mapped for reading and writing, as the
    /// [`TransferPath::MappedBuffers`] path maps them (on a discrete GPU, the uncached BAR
    /// window where the device has one).
    pub mapped_data_memory: Option<HostMemory>,
}

impl AdapterSummary {
    /// What identifies this adapter and driver for saved measurements (the `Auto`
    /// backend's calibration): name, API and driver version. A new driver is a new
    /// identity, because it can change every figure.
    pub fn identity(&self) -> String {
        identity(&self.name, &self.api, &self.driver)
    }

    /// Whether the device's memory is the host's own (software drivers, integrated GPUs):
    /// device allocations then count against the host's available memory.
    pub fn shares_host_memory(&self) -> bool {
        matches!(
            self.device,
            DeviceKind::SoftwareGpu | DeviceKind::IntegratedGpu
        )
    }
}

/// [`AdapterSummary::identity`] from its parts, before the summary exists.
fn identity(name: &str, api: &str, driver: &str) -> String {
    format!("{name} | {api} | {driver}")
}

/// An opened device and what it can do.
pub(crate) struct Opened {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
}

const INSTALL_HINT: &str = "install a GPU driver with Vulkan, Metal or DX12 support; on a machine without a GPU, \
     Mesa's software Vulkan driver works (Debian/Ubuntu: apt install mesa-vulkan-drivers libvulkan1); \
     WGPU_BACKEND=vulkan|metal|dx12|gl and WGPU_ADAPTER_NAME choose among several";

/// Opens the adapter `options` describe, with the features and limits hpnum uses.
pub(crate) fn open(options: &GpuOptions) -> Result<Opened> {
    quiet_headless_vulkan();
    pollster::block_on(open_async(options))
}

/// On a headless Linux machine, keeps Mesa's Vulkan device-selection layer (Mesa 22, as in
/// Debian 12) from printing `error: XDG_RUNTIME_DIR is invalid or not set in the
/// environment.` twice when the GPU adapters are enumerated: it looks for a Wayland
/// compositor because wgpu enables `VK_KHR_wayland_surface`, and there is none. It sets
/// the layer's own switch, `NODEVICE_SELECT=1`, and returns `true`, only where that is
/// right and sound: on Linux, when neither `XDG_RUNTIME_DIR` (no desktop session, so
/// nothing to select by) nor `NODEVICE_SELECT` (the user's own choice) is set, and while
/// this process runs a single thread. Otherwise it changes nothing and returns `false`.
///
/// Opening a device calls it; a program that starts threads before its first GPU call
/// (or the Python package, which sets the switch at import) calls it, or sets the variable
/// itself, first.
pub fn quiet_headless_vulkan() -> bool {
    let wanted = cfg!(target_os = "linux")
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none();
    if !wanted || !single_threaded() {
        return false;
    }
    // SAFETY: `set_var` is unsound only while another thread reads or writes the
    // environment. `single_threaded` found this process running one thread, this one,
    // and nothing between that check and this call starts a thread, so no other thread
    // exists to race with it (tests/gpu.rs checks that a second thread makes this a
    // no-op).
    unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    true
}

/// Whether this process runs exactly one thread (Linux: one entry in `/proc/self/task`).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

async fn open_async(options: &GpuOptions) -> Result<Opened> {
    let adapter = match options.backends {
        Some(backends) => find_adapter(options, backends).await?,
        None => match find_adapter(options, wgpu::Backends::PRIMARY).await {
            Ok(adapter) => adapter,
            // GL only as the last resort, and its error only if it fails too.
            Err(primary) => find_adapter(options, wgpu::Backends::GL)
                .await
                .map_err(|_| primary)?,
        },
    };

    let info = adapter.get_info();
    let api = format!("{:?}", info.backend);
    let driver = format!("{} {}", info.driver, info.driver_info)
        .trim()
        .to_owned();
    // The settings measured on this adapter and driver fill what the caller left unset.
    let (options, tuned) = &options.with_saved_settings(&identity(&info.name, &api, &driver))?;
    let device_kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu,
        wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu,
        wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu,
        wgpu::DeviceType::Cpu | wgpu::DeviceType::Other => DeviceKind::SoftwareGpu,
    };
    let software = device_kind == DeviceKind::SoftwareGpu;
    let shares_host_memory = software || device_kind == DeviceKind::IntegratedGpu;
    let mappable = adapter
        .features()
        .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS);
    let transfer_path = match options.transfer_path {
        Some(TransferPath::MappedBuffers) if !mappable => {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!(
                    "mapped data buffers on `{}` (the adapter lacks MAPPABLE_PRIMARY_BUFFERS)",
                    info.name
                ),
            });
        }
        Some(path) => path,
        None if software && mappable => TransferPath::MappedBuffers,
        None => TransferPath::Staging,
    };
    let mut wanted = wgpu::Features::SHADER_F64 | wgpu::Features::TIMESTAMP_QUERY;
    // SUBGROUP: the norms' workgroup reduction in registers where the device has it.
    if options.subgroups != Some(false) {
        wanted |= wgpu::Features::SUBGROUP;
    }
    if transfer_path == TransferPath::MappedBuffers {
        wanted |= wgpu::Features::MAPPABLE_PRIMARY_BUFFERS;
    }
    let features = adapter.features() & wanted;
    // The adapter's own limits, not WebGPU's defaults: large grids need its real
    // storage-binding and buffer sizes.
    let limits = adapter.limits();
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("hpnum"),
            required_features: features,
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::NoAdapter {
            details: format!("adapter `{}` refused a device: {e}", info.name),
        })?;

    let default_chunk = if software { 4 << 20 } else { 16 << 20 };
    let mapped_memory = super::host_memory::of(&adapter);
    let summary = AdapterSummary {
        read_back_memory: mapped_memory.map(|m| m.read_back),
        mapped_data_memory: mapped_memory.map(|m| m.mapped_both_ways),
        name: info.name.clone(),
        api,
        device: device_kind,
        driver,
        f64: features.contains(wgpu::Features::SHADER_F64),
        timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        subgroups: features.contains(wgpu::Features::SUBGROUP),
        max_binding_bytes: limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(options.max_binding_bytes.unwrap_or(u64::MAX))
            // Whole f64 pairs, and at least one of them.
            .max(16)
            / 16
            * 16,
        transfer_path,
        staging_chunk_bytes: (options.staging_chunk_bytes.unwrap_or(default_chunk).max(16) / 16
            * 16)
            .min(limits.max_buffer_size / 16 * 16),
        staging_depth: options
            .staging_depth
            .unwrap_or(if shares_host_memory { 2 } else { 3 })
            .max(1),
        wait: options
            .wait
            .unwrap_or(WaitMode::SpinThenBlock(DEFAULT_SPIN)),
        diffusion_steps_per_dispatch: options.diffusion_steps_per_dispatch.unwrap_or(1).max(1),
        diffusion_blocking: options.diffusion_blocking.unwrap_or_default(),
        tuned: tuned.clone(),
        workgroup_storage_bytes: options
            .workgroup_storage_bytes
            .unwrap_or(u32::MAX)
            .min(limits.max_compute_workgroup_storage_size)
            .max(GUARANTEED_WORKGROUP_STORAGE_BYTES),
    };
    let mut limits = limits;
    if let Some(cap) = options.max_workgroups_per_dimension {
        limits.max_compute_workgroups_per_dimension =
            limits.max_compute_workgroups_per_dimension.min(cap.max(1));
    }
    Ok(Opened {
        device,
        queue,
        summary,
        limits,
    })
}

async fn find_adapter(options: &GpuOptions, backends: wgpu::Backends) -> Result<wgpu::Adapter> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends;
    let instance = wgpu::Instance::new(descriptor);
    match (&options.adapter_name, options.adapter_index) {
        (None, None) => instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: options.power_preference.unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter {
                details: format!("{e} (backends {backends:?}); {INSTALL_HINT}"),
            }),
        (name, index) => {
            let adapters = instance.enumerate_adapters(backends).await;
            let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            let wanted = name.as_deref().unwrap_or("").to_lowercase();
            adapters
                .into_iter()
                .filter(|a| a.get_info().name.to_lowercase().contains(&wanted))
                .nth(index.unwrap_or(0))
                .ok_or_else(|| Error::NoAdapter {
                    details: format!(
                        "none is named like `{wanted}` at index {}; found: [{}]",
                        index.unwrap_or(0),
                        names.join(", ")
                    ),
                })
        }
    }
}
