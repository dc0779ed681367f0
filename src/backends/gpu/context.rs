//! One GPU device, its queue and its pipelines, and the few operations every kernel needs
//! (buffers, dispatch sizes, waiting, reading back), each turning wgpu's failures into
//! [`Error`]s rather than wgpu's default panics.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::shaders::Shader;
use super::timing::ComputeClock;
use crate::backend::DeviceKind;
use crate::{Error, Precision, Real, Result};

/// Which adapter to open. [`GpuOptions::from_env`] follows wgpu's own conventions.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Graphics APIs to consider (`None`: all that this build has: Vulkan, Metal, DX12, GL).
    pub backends: Option<wgpu::Backends>,
    /// Take the first adapter whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Prefer a low-power or a high-performance adapter.
    pub power_preference: Option<wgpu::PowerPreference>,
    /// Lowers the largest storage binding used below the device's, in bytes. Data larger
    /// than a binding is split into bands or pieces either way; a lower cap exercises that
    /// splitting on small data (the tests do).
    pub max_binding_bytes: Option<u64>,
    /// Lowers the workgroups per dispatch dimension below the device's (65 535 or more),
    /// likewise to exercise the two-dimensional dispatch on small data.
    pub max_workgroups_per_dimension: Option<u32>,
}

impl GpuOptions {
    /// From `WGPU_BACKEND` (`vulkan`, `metal`, `dx12`, `gl`, comma-separated),
    /// `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF` (`low`, `high`, `none`).
    pub fn from_env() -> Self {
        GpuOptions {
            backends: wgpu::Backends::from_env(),
            adapter_name: std::env::var("WGPU_ADAPTER_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            power_preference: wgpu::PowerPreference::from_env(),
            max_binding_bytes: None,
            max_workgroups_per_dimension: None,
        }
    }
}

/// The adapter a [`super::Gpu`] runs on.
#[derive(Debug, Clone, PartialEq)]
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
    /// The largest storage buffer one binding can see, in bytes (larger data is split).
    pub max_binding_bytes: u64,
}

/// The compute pipelines of one precision, built once per device.
pub(crate) struct Pipelines {
    pub julia: wgpu::ComputePipeline,
    pub diffusion: wgpu::ComputePipeline,
    pub norm_leaves: wgpu::ComputePipeline,
    pub norm_combine: wgpu::ComputePipeline,
}

pub(crate) struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    f32_pipelines: Pipelines,
    f64_pipelines: Option<Pipelines>,
    lost: Arc<Mutex<Option<String>>>,
}

/// Invocations per workgroup in every shader.
pub(crate) const WORKGROUP: u64 = 256;

fn device_error(details: impl std::fmt::Display) -> Error {
    Error::Device {
        details: details.to_string(),
    }
}

const INSTALL_HINT: &str = "install a GPU driver with Vulkan, Metal or DX12 support; on a machine without a GPU, \
     Mesa's software Vulkan driver works (Debian/Ubuntu: apt install mesa-vulkan-drivers libvulkan1); \
     WGPU_BACKEND=vulkan|metal|dx12|gl and WGPU_ADAPTER_NAME choose among several";

impl Context {
    pub(crate) fn new(options: &GpuOptions) -> Result<Context> {
        pollster::block_on(Context::open(options))
    }

    async fn open(options: &GpuOptions) -> Result<Context> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if let Some(backends) = options.backends {
            descriptor.backends = backends;
        }
        let backends = descriptor.backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = match &options.adapter_name {
            Some(wanted) => {
                let adapters = instance.enumerate_adapters(backends).await;
                let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
                adapters
                    .into_iter()
                    .find(|a| {
                        a.get_info()
                            .name
                            .to_lowercase()
                            .contains(&wanted.to_lowercase())
                    })
                    .ok_or_else(|| Error::NoAdapter {
                        details: format!(
                            "none is named like `{wanted}`; found: [{}]",
                            names.join(", ")
                        ),
                    })?
            }
            None => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: options.power_preference.unwrap_or_default(),
                    ..Default::default()
                })
                .await
                .map_err(|e| Error::NoAdapter {
                    details: format!("{e} (backends {backends:?}); {INSTALL_HINT}"),
                })?,
        };

        let info = adapter.get_info();
        let wanted = wgpu::Features::SHADER_F64 | wgpu::Features::TIMESTAMP_QUERY;
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

        let lost = Arc::new(Mutex::new(None));
        let on_lost = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *on_lost.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("{reason:?}: {message}"));
        });
        // Errors are caught by error scopes around every operation; anything that escapes
        // them must not panic the caller's thread, as wgpu's default handler would.
        device.on_uncaptured_error(Arc::new(|_error| {}));

        let summary = AdapterSummary {
            name: info.name.clone(),
            api: format!("{:?}", info.backend),
            device: match info.device_type {
                wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu,
                wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu,
                wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu,
                wgpu::DeviceType::Cpu | wgpu::DeviceType::Other => DeviceKind::SoftwareGpu,
            },
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_owned(),
            f64: features.contains(wgpu::Features::SHADER_F64),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            max_binding_bytes: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size)
                .min(options.max_binding_bytes.unwrap_or(u64::MAX))
                // Whole f64 pairs, and at least one of them.
                .max(16)
                / 16
                * 16,
        };
        let mut limits = limits;
        if let Some(cap) = options.max_workgroups_per_dimension {
            limits.max_compute_workgroups_per_dimension =
                limits.max_compute_workgroups_per_dimension.min(cap.max(1));
        }
        let build = |precision| Pipelines::new(&device, precision);
        let f32_pipelines = scoped(&device, || build(Precision::F32))?;
        let f64_pipelines = if summary.f64 {
            Some(scoped(&device, || build(Precision::F64))?)
        } else {
            None
        };
        Ok(Context {
            device,
            queue,
            summary,
            limits,
            f32_pipelines,
            f64_pipelines,
            lost,
        })
    }

    /// The pipelines for `T`, or `Unsupported` where the device has no f64.
    pub(crate) fn pipelines<T: Real>(&self) -> Result<&Pipelines> {
        self.alive()?;
        match T::PRECISION {
            Precision::F32 => Ok(&self.f32_pipelines),
            Precision::F64 => self
                .f64_pipelines
                .as_ref()
                .ok_or_else(|| Error::Unsupported {
                    backend: "gpu".into(),
                    what: format!(
                        "f64 on `{}` (the adapter lacks SHADER_F64)",
                        self.summary.name
                    ),
                }),
        }
    }

    /// `Err` once the device has been lost.
    pub(crate) fn alive(&self) -> Result<()> {
        match &*self.lost.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(reason) => Err(device_error(format!("device lost ({reason})"))),
            None => Ok(()),
        }
    }

    /// Runs `op` inside validation and out-of-memory error scopes.
    pub(crate) fn scoped<R>(&self, op: impl FnOnce() -> R) -> Result<R> {
        self.alive()?;
        scoped(&self.device, op)
    }

    /// How compute time is measured on this device.
    pub(crate) fn clock(&self) -> ComputeClock {
        if self.summary.timestamps {
            ComputeClock::Timestamps
        } else {
            ComputeClock::Host
        }
    }

    /// Blocks until all submitted work has completed.
    pub(crate) fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(device_error)?;
        self.alive()
    }

    /// A storage buffer holding `data` (which must not be empty).
    pub(crate) fn buffer_with<T: Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        self.scoped(|| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(data),
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                })
        })
    }

    /// An uninitialised storage buffer of `bytes` bytes.
    pub(crate) fn buffer(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.scoped(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(4),
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// A uniform buffer of four u32.
    pub(crate) fn uniform(&self, label: &str, values: [u32; 4]) -> Result<wgpu::Buffer> {
        self.scoped(|| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(&values),
                    usage: wgpu::BufferUsages::UNIFORM,
                })
        })
    }

    /// A bind group for `pipeline`'s group 0 with each buffer at its binding number (an
    /// entry point's automatic layout holds only the bindings it uses).
    pub(crate) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.scoped(|| {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        })
    }

    /// Workgroups (x, y) covering `items` invocations with the shaders' linear indexing,
    /// within the per-dimension limit.
    pub(crate) fn workgroups(&self, items: u64) -> Result<(u32, u32)> {
        let groups = items.div_ceil(WORKGROUP).max(1);
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension.max(1));
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        if y > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("{items} invocations in one dispatch"),
            });
        }
        Ok((x as u32, y as u32))
    }

    /// Workgroups (x, y, z) covering a `cols × rows` grid with one 256-wide workgroup per
    /// run of a row, rows spread over y and z (the diffusion shader's indexing).
    pub(crate) fn workgroups_2d(&self, cols: usize, rows: usize) -> Result<(u32, u32, u32)> {
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension.max(1));
        let x = (cols as u64).div_ceil(WORKGROUP).max(1);
        let y = (rows as u64).clamp(1, max);
        let z = (rows as u64).div_ceil(y).max(1);
        if x > max || z > max {
            return Err(Error::Unsupported {
                backend: "gpu".into(),
                what: format!("a {rows} × {cols} dispatch"),
            });
        }
        Ok((x as u32, y as u32, z as u32))
    }

    /// Copies `len` elements starting at element `offset` of `buffer` to the host, in
    /// pieces no larger than the device's largest buffer.
    pub(crate) fn read<T: Pod>(
        &self,
        buffer: &wgpu::Buffer,
        offset: usize,
        len: usize,
    ) -> Result<Vec<T>> {
        let size = size_of::<T>() as u64;
        let piece = (self.summary.max_binding_bytes / size).max(1) as usize;
        let mut out = Vec::with_capacity(len);
        let mut start = offset;
        while start < offset + len {
            let n = piece.min(offset + len - start);
            out.extend(self.read_piece::<T>(buffer, start as u64 * size, n as u64 * size)?);
            start += n;
        }
        Ok(out)
    }

    fn read_piece<T: Pod>(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<T>> {
        let staging = self.scoped(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("hpnum readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        self.scoped(|| {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, bytes);
            self.queue.submit([encoder.finish()]);
        })?;
        let (sender, receiver) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver outlives the wait below; a failed send only means it was dropped.
            let _ = sender.send(result);
        });
        self.wait()?;
        receiver
            .recv()
            .map_err(|_| device_error("the read-back was never completed"))?
            .map_err(device_error)?;
        let data = {
            let view = staging.get_mapped_range(..).map_err(device_error)?;
            bytemuck::pod_collect_to_vec(&view)
        };
        staging.unmap();
        Ok(data)
    }

    /// A stopwatch for up to [`MAX_TIMED_PASSES`] passes, if the adapter has timestamp
    /// queries.
    pub(crate) fn stopwatch(&self) -> Result<Option<Stopwatch>> {
        if !self.summary.timestamps {
            return Ok(None);
        }
        let queries = 2 * MAX_TIMED_PASSES;
        self.scoped(|| Stopwatch {
            set: self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("hpnum timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: queries,
            }),
            resolve: self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("hpnum timestamps"),
                size: u64::from(queries) * 8,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            used: 0,
        })
        .map(Some)
    }

    /// Submits one compute pass, with `record` adding its dispatches; with a stopwatch (that
    /// has room), the pass's start and end are timestamped on the device.
    pub(crate) fn compute(
        &self,
        stopwatch: Option<&mut Stopwatch>,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<()> {
        self.scoped(|| {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            {
                let timestamp_writes = stopwatch
                    .filter(|watch| watch.used + 2 <= 2 * MAX_TIMED_PASSES)
                    .map(|watch| {
                        watch.used += 2;
                        wgpu::ComputePassTimestampWrites {
                            query_set: &watch.set,
                            beginning_of_pass_write_index: Some(watch.used - 2),
                            end_of_pass_write_index: Some(watch.used - 1),
                        }
                    });
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes,
                });
                record(&mut pass);
            }
            self.queue.submit([encoder.finish()]);
        })
    }

    /// The device time of the passes a stopwatch timed (after waiting for them).
    pub(crate) fn elapsed(&self, watch: &Stopwatch) -> Result<Duration> {
        if watch.used == 0 {
            return Ok(Duration::ZERO);
        }
        self.scoped(|| {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            encoder.resolve_query_set(&watch.set, 0..watch.used, &watch.resolve, 0);
            self.queue.submit([encoder.finish()]);
        })?;
        let ticks = self.read::<u64>(&watch.resolve, 0, watch.used as usize)?;
        let period_ns = f64::from(self.queue.get_timestamp_period());
        let total: u64 = ticks
            .chunks_exact(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .sum();
        Ok(Duration::from_secs_f64(total as f64 * period_ns * 1e-9))
    }
}

/// Passes one stopwatch can time (WebGPU allows 4096 queries in a set).
pub(crate) const MAX_TIMED_PASSES: u32 = 2048;

/// Timestamp queries around compute passes.
pub(crate) struct Stopwatch {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    used: u32,
}

impl Stopwatch {
    /// How many passes it has timed.
    pub(crate) fn passes(&self) -> u32 {
        self.used / 2
    }
}

fn scoped<R>(device: &wgpu::Device, op: impl FnOnce() -> R) -> Result<R> {
    let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let result = op();
    let invalid = pollster::block_on(validation.pop());
    let oom = pollster::block_on(out_of_memory.pop());
    match invalid.or(oom) {
        Some(error) => Err(device_error(error)),
        None => Ok(result),
    }
}

impl Pipelines {
    fn new(device: &wgpu::Device, precision: Precision) -> Pipelines {
        let pipeline = |shader: Shader, entry: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(entry),
                source: wgpu::ShaderSource::Wgsl(shader.source(precision).into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Pipelines {
            julia: pipeline(Shader::Julia, "main"),
            diffusion: pipeline(Shader::Diffusion, "main"),
            norm_leaves: pipeline(Shader::Norm, "leaves"),
            norm_combine: pipeline(Shader::Norm, "combine"),
        }
    }
}
