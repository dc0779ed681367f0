//! The compute pipelines of one device and precision: every entry point of every shader the
//! device is given ([`super::shaders::Shader::all`]), built once when the device opens.
//! The table is generated from the shaders' own lists of entry points; nothing here names
//! a kernel.

use crate::backends::gpu::errors::{Failure, capture, device_error};
use crate::backends::gpu::shaders::{Entry, Reduction, Shader, ShaderTarget};
use crate::error::{Error, Result};
use crate::real::Precision;

/// The pipelines of one precision, one per entry point.
pub(crate) struct Pipelines {
    pipelines: Vec<(Entry, wgpu::ComputePipeline)>,
    reduction: Reduction,
}

impl Pipelines {
    /// Compiles every entry point of `shaders` for `precision`, each shader module once,
    /// with entry points allowed `workgroup_storage_bytes` of workgroup memory. With
    /// `subgroups`, workgroup reductions use subgroup operations unless the driver cannot
    /// build them in this precision (subgroup arithmetic on f64 is optional), in which case
    /// every shader uses the tree; [`Pipelines::reduction`] says which.
    pub(crate) fn build(
        device: &wgpu::Device,
        shaders: &[Shader],
        precision: Precision,
        subgroups: bool,
        workgroup_storage_bytes: u32,
    ) -> Result<Pipelines> {
        let target = |reduction| ShaderTarget {
            precision,
            reduction,
            workgroup_storage_bytes,
        };
        if subgroups
            && shaders.iter().any(|s| s.has_reduction())
            && let Ok(pipelines) = Self::build_for(device, shaders, &target(Reduction::Subgroups))
        {
            return Ok(pipelines);
        }
        Self::build_for(device, shaders, &target(Reduction::Tree))
    }

    fn build_for(
        device: &wgpu::Device,
        shaders: &[Shader],
        target: &ShaderTarget,
    ) -> Result<Pipelines> {
        let reduction = target.reduction;
        let mut pipelines = Vec::new();
        for &shader in shaders {
            let source = shader.source_for(target);
            let module = compile(|| {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader.name()),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })?;
            for &function in shader.entry_points() {
                let pipeline = compile(|| {
                    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(function),
                        layout: None,
                        module: &module,
                        entry_point: Some(function),
                        // No zeroing of workgroup memory: every shader writes each
                        // workgroup array before it reads it (they say so where they
                        // declare one), so WebGPU's zeroing would be a pass over up to
                        // 48 KiB per workgroup for nothing, and on Mesa's GL driver its
                        // translation took minutes to compile for the streamed diffusion.
                        compilation_options: wgpu::PipelineCompilationOptions {
                            zero_initialize_workgroup_memory: false,
                            ..Default::default()
                        },
                        cache: None,
                    })
                })?;
                pipelines.push((Entry::new(shader, function), pipeline));
            }
        }
        Ok(Pipelines {
            pipelines,
            reduction,
        })
    }

    /// How workgroup reductions run in these pipelines.
    pub(crate) fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The pipeline of `entry`.
    ///
    /// # Errors
    /// [`Error::Device`] if the device was not given `entry`'s shader, or the shader has no
    /// such function: a bug, reported rather than panicking.
    pub(crate) fn get(&self, entry: Entry) -> Result<&wgpu::ComputePipeline> {
        self.pipelines
            .iter()
            .find(|(e, _)| *e == entry)
            .map(|(_, pipeline)| pipeline)
            .ok_or_else(|| {
                device_error(format!(
                    "no pipeline for `{}::{}`",
                    entry.shader.name(),
                    entry.function
                ))
            })
    }
}

fn compile<R>(op: impl FnOnce() -> R) -> Result<R> {
    capture(op).map_err(|failure| match failure {
        Failure::OutOfMemory(reason) | Failure::Other(reason) => {
            device_error(format!("building hpnum's compute pipelines: {reason}"))
        }
    })
}

/// An `Error::Unsupported` for a precision the device lacks.
pub(crate) fn unsupported_f64(adapter: &str) -> Error {
    Error::Unsupported {
        backend: "gpu".into(),
        what: format!("f64 on `{adapter}` (the adapter lacks SHADER_F64)"),
    }
}
