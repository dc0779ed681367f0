//! Every compute entry point hpnum runs, and its pipelines, built once per device and
//! precision. A new kernel adds its shader to [`Shader`] and its entry points to [`Entry`]:
//! this table is the only place device set-up learns about it.

use super::errors::{Failure, capture, device_error};
use super::shaders::{Reduction, Shader};
use crate::{Error, Precision, Result};

/// One compute entry point: a shader and a function in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Julia,
    Diffusion,
    DiffusionQuads,
    DiffusionTiled,
    NormLeaves,
    NormCombine,
    ProbeCopy,
    ProbeRead,
    ProbeArithmetic,
    ProbeSubnormals,
}

impl Entry {
    const ALL: [Entry; 10] = [
        Entry::Julia,
        Entry::Diffusion,
        Entry::DiffusionQuads,
        Entry::DiffusionTiled,
        Entry::NormLeaves,
        Entry::NormCombine,
        Entry::ProbeCopy,
        Entry::ProbeRead,
        Entry::ProbeArithmetic,
        Entry::ProbeSubnormals,
    ];

    /// The shader and the entry point's name in it.
    fn location(self) -> (Shader, &'static str) {
        match self {
            Entry::Julia => (Shader::Julia, "main"),
            Entry::Diffusion => (Shader::Diffusion, "main"),
            Entry::DiffusionQuads => (Shader::Diffusion, "quads"),
            Entry::DiffusionTiled => (Shader::Diffusion, "tiled"),
            Entry::NormLeaves => (Shader::Norm, "leaves"),
            Entry::NormCombine => (Shader::Norm, "combine"),
            Entry::ProbeCopy => (Shader::Probe, "stream_copy"),
            Entry::ProbeRead => (Shader::Probe, "stream_read"),
            Entry::ProbeArithmetic => (Shader::Probe, "arithmetic"),
            Entry::ProbeSubnormals => (Shader::Probe, "subnormals"),
        }
    }
}

/// The pipelines of one precision, one per [`Entry`].
pub(crate) struct Pipelines {
    pipelines: Vec<wgpu::ComputePipeline>,
    reduction: Reduction,
}

impl Pipelines {
    /// Compiles every entry point for `precision`; each shader module once. With
    /// `subgroups` the norms reduce with subgroup operations, unless the driver cannot
    /// build them in this precision (subgroup arithmetic on f64 is optional), in which case
    /// they use the tree; [`Pipelines::reduction`] says which.
    pub(crate) fn build(
        device: &wgpu::Device,
        precision: Precision,
        subgroups: bool,
    ) -> Result<Pipelines> {
        if subgroups
            && let Ok(pipelines) = Self::build_with(device, precision, Reduction::Subgroups)
        {
            return Ok(pipelines);
        }
        Self::build_with(device, precision, Reduction::Tree)
    }

    fn build_with(
        device: &wgpu::Device,
        precision: Precision,
        reduction: Reduction,
    ) -> Result<Pipelines> {
        let mut modules: Vec<(Shader, wgpu::ShaderModule)> = Vec::new();
        let mut pipelines = Vec::with_capacity(Entry::ALL.len());
        for entry in Entry::ALL {
            let (shader, function) = entry.location();
            let module = match modules.iter().find(|(s, _)| *s == shader) {
                Some((_, module)) => module.clone(),
                None => {
                    let source = shader.source_with(precision, reduction);
                    let module = compile(|| {
                        device.create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(function),
                            source: wgpu::ShaderSource::Wgsl(source.into()),
                        })
                    })?;
                    modules.push((shader, module.clone()));
                    module
                }
            };
            pipelines.push(compile(|| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(function),
                    layout: None,
                    module: &module,
                    entry_point: Some(function),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })?);
        }
        Ok(Pipelines {
            pipelines,
            reduction,
        })
    }

    /// How the norms' workgroups reduce in these pipelines.
    pub(crate) fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The pipeline of `entry`.
    pub(crate) fn get(&self, entry: Entry) -> &wgpu::ComputePipeline {
        // `build` pushed one pipeline per entry, in `Entry::ALL`'s order.
        &self.pipelines[Entry::ALL.iter().position(|&e| e == entry).unwrap_or(0)]
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
