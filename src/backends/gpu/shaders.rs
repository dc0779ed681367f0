//! The WGSL sources in `shaders/`, embedded at compile time and specialised per precision.

use crate::Precision;

/// One of hpnum's compute shaders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    /// `shaders/julia.wgsl`: escape counts, one invocation per pixel.
    Julia,
    /// `shaders/diffusion.wgsl`: one diffusion step, one invocation per cell.
    Diffusion,
    /// `shaders/norm.wgsl`: tree reductions (`leaves`, `combine`).
    Norm,
}

impl Shader {
    /// Every shader.
    pub const ALL: [Shader; 3] = [Shader::Julia, Shader::Diffusion, Shader::Norm];

    fn body(self) -> &'static str {
        match self {
            Shader::Julia => include_str!("../../../shaders/julia.wgsl"),
            Shader::Diffusion => include_str!("../../../shaders/diffusion.wgsl"),
            Shader::Norm => include_str!("../../../shaders/norm.wgsl"),
        }
    }

    /// The complete WGSL for `precision`: the shaders are written against an alias `real`,
    /// which this defines. f64 needs the device feature `SHADER_F64`.
    pub fn source(self, precision: Precision) -> String {
        format!("alias real = {};\n{}", precision.name(), self.body())
    }
}
