//! The WGSL sources in `shaders/`, embedded at compile time, each completed with the shared
//! contract ([`super::contract`]) and specialised per precision.

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
    /// `shaders/probe.wgsl`: the device's limits (`stream_copy`, `stream_read`, `arithmetic`).
    Probe,
}

impl Shader {
    /// Every shader.
    pub const ALL: [Shader; 4] = [
        Shader::Julia,
        Shader::Diffusion,
        Shader::Norm,
        Shader::Probe,
    ];

    fn body(self) -> &'static str {
        match self {
            Shader::Julia => include_str!("../../../shaders/julia.wgsl"),
            Shader::Diffusion => include_str!("../../../shaders/diffusion.wgsl"),
            Shader::Norm => include_str!("../../../shaders/norm.wgsl"),
            Shader::Probe => include_str!("../../../shaders/probe.wgsl"),
        }
    }

    /// The entry points the shader defines.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Shader::Julia | Shader::Diffusion => &["main"],
            Shader::Norm => &["leaves", "combine"],
            Shader::Probe => &["stream_copy", "stream_read", "arithmetic"],
        }
    }

    /// Whether the shader classifies values by their bits (`shaders/bits/`).
    fn uses_bits(self) -> bool {
        matches!(self, Shader::Norm)
    }

    /// The complete WGSL for `precision`: the shaders are written against an alias `real`,
    /// which this defines, against the shared constants and uniform structs, which this
    /// declares, and (norms) against the bit-level view of `real` in `shaders/bits/`.
    /// f64 needs the device feature `SHADER_F64`.
    pub fn source(self, precision: Precision) -> String {
        let bits = match (self.uses_bits(), precision) {
            (false, _) => "",
            (true, Precision::F32) => include_str!("../../../shaders/bits/f32.wgsl"),
            (true, Precision::F64) => include_str!("../../../shaders/bits/f64.wgsl"),
        };
        format!(
            "alias real = {};\n{}{bits}{}",
            precision.name(),
            super::contract::prelude(precision),
            self.body()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Shader;

    #[test]
    fn shaders_take_their_workgroup_size_from_the_contract() {
        for shader in Shader::ALL {
            let body = shader.body();
            let sizes: Vec<&str> = body
                .match_indices("@workgroup_size(")
                .map(|(at, _)| &body[at..at + body[at..].find(')').unwrap_or(0) + 1])
                .collect();
            assert_eq!(sizes.len(), shader.entry_points().len(), "{shader:?}");
            for size in sizes {
                assert_eq!(size, "@workgroup_size(WORKGROUP_SIZE)", "{shader:?}");
            }
        }
    }
}
