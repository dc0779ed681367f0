//! Which adapter to open and how to talk to it: [`GpuOptions`], what was opened
//! ([`AdapterSummary`]), and the device request itself.

use crate::backend::DeviceKind;
use crate::backends::gpu::host_memory::HostMemory;
use crate::backends::gpu::options::{
    DEFAULT_SPIN, GpuOptions, KernelSettings, TransferPath, WaitMode,
};
use crate::error::{Error, Result};

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
    /// The kernels' settings on this device: the caller's, and the saved ones for what the
    /// caller left unset (each kernel's typed view gives its defaults for the rest).
    pub kernel_settings: KernelSettings,
    /// The [tunable](GpuOptions::tunable) fields whose values came from the settings saved
    /// for this adapter and driver ([`GpuOptions::tuning`]), not from the caller's options
    /// or the defaults.
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

#[cfg(target_arch = "wasm32")]
const INSTALL_HINT: &str = "this browser offers no WebGPU adapter: use one that has WebGPU \
     (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows), or enable it \
     (chrome://flags/#enable-unsafe-webgpu on Linux)";

#[cfg(not(target_arch = "wasm32"))]
const INSTALL_HINT: &str = "install a GPU driver with Vulkan, Metal or DX12 support; on a machine without a GPU, \
     Mesa's software Vulkan driver works (Debian/Ubuntu: apt install mesa-vulkan-drivers libvulkan1); \
     WGPU_BACKEND=vulkan|metal|dx12|gl and WGPU_ADAPTER_NAME choose among several";

/// Opens the adapter `options` describe, with the features and limits hpnum uses.
pub(crate) async fn open(options: &GpuOptions) -> Result<Opened> {
    quiet_headless_vulkan();
    open_async(options).await
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

/// Opens a device in three phases: the adapter (and the settings saved for it), the
/// device with the features hpnum uses, and the summary of what was opened.
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
    let transfer_path = transfer_path(&adapter, options, device_kind)?;
    let (device, queue, features) = request_device(&adapter, options, transfer_path).await?;
    let mut summary = summarize(&adapter, options, device_kind, transfer_path, features);
    summary.api = api;
    summary.driver = driver;
    summary.tuned = tuned.clone();
    let mut limits = adapter.limits();
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

/// The transfer path the options ask for, or this kind of device's default: mapped data
/// buffers on a software driver that has them, staging elsewhere.
///
/// # Errors
/// [`Error::Unsupported`] for mapped buffers on an adapter without them.
fn transfer_path(
    adapter: &wgpu::Adapter,
    options: &GpuOptions,
    device_kind: DeviceKind,
) -> Result<TransferPath> {
    let mappable = adapter
        .features()
        .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS);
    match options.transfer_path {
        Some(TransferPath::MappedBuffers) if !mappable => Err(Error::Unsupported {
            backend: "gpu".into(),
            what: format!(
                "mapped data buffers on `{}` (the adapter lacks MAPPABLE_PRIMARY_BUFFERS)",
                adapter.get_info().name
            ),
        }),
        Some(path) => Ok(path),
        None if device_kind == DeviceKind::SoftwareGpu && mappable => {
            Ok(TransferPath::MappedBuffers)
        }
        None => Ok(TransferPath::Staging),
    }
}

/// The device, with the features hpnum uses that the adapter has (f64, timestamps,
/// subgroups unless the options decline them, mapped data buffers for that path) and the
/// adapter's own limits, not WebGPU's defaults: large grids need its real storage-binding
/// and buffer sizes.
///
/// # Errors
/// [`Error::NoAdapter`] if the adapter refuses.
async fn request_device(
    adapter: &wgpu::Adapter,
    options: &GpuOptions,
    transfer_path: TransferPath,
) -> Result<(wgpu::Device, wgpu::Queue, wgpu::Features)> {
    let mut wanted = wgpu::Features::SHADER_F64;
    // A browser rounds WebGPU's timestamps (Chrome: to 100 µs, unless its developer
    // features are on), which reads a short pass as taking no time: there, compute is
    // timed on the host around completed work, as on an adapter without timestamps.
    if !cfg!(target_arch = "wasm32") {
        wanted |= wgpu::Features::TIMESTAMP_QUERY;
    }
    if options.subgroups != Some(false) {
        wanted |= wgpu::Features::SUBGROUP;
    }
    if transfer_path == TransferPath::MappedBuffers {
        wanted |= wgpu::Features::MAPPABLE_PRIMARY_BUFFERS;
    }
    let features = adapter.features() & wanted;
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("hpnum"),
            required_features: features,
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::NoAdapter {
            details: format!(
                "adapter `{}` refused a device: {e}",
                adapter.get_info().name
            ),
        })?;
    Ok((device, queue, features))
}

/// What was opened, with the options' values or this device's defaults (the API, driver
/// and tuned fields are the caller's to fill).
fn summarize(
    adapter: &wgpu::Adapter,
    options: &GpuOptions,
    device: DeviceKind,
    transfer_path: TransferPath,
    features: wgpu::Features,
) -> AdapterSummary {
    let software = device == DeviceKind::SoftwareGpu;
    let shares_host_memory = software || device == DeviceKind::IntegratedGpu;
    let default_chunk = if software { 4 << 20 } else { 16 << 20 };
    let limits = adapter.limits();
    let mapped_memory = crate::backends::gpu::host_memory::of(adapter);
    AdapterSummary {
        read_back_memory: mapped_memory.map(|m| m.read_back),
        mapped_data_memory: mapped_memory.map(|m| m.mapped_both_ways),
        name: adapter.get_info().name,
        api: String::new(),
        device,
        driver: String::new(),
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
        kernel_settings: options.kernel_settings.clone(),
        tuned: Vec::new(),
        workgroup_storage_bytes: options
            .workgroup_storage_bytes
            .unwrap_or(u32::MAX)
            .min(limits.max_compute_workgroup_storage_size)
            .max(GUARANTEED_WORKGROUP_STORAGE_BYTES),
    }
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
