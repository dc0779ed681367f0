//! The WGSL sources in `shaders/`, embedded at compile time, each completed with the shared
//! contract ([`super::contract`]) and specialised per precision.

use crate::Precision;

/// How a norm workgroup combines its invocations' partials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// A tree of halvings in workgroup memory (`shaders/norm/tree.wgsl`): every API.
    #[default]
    Tree,
    /// Subgroup operations, then one barrier (`shaders/norm/subgroups.wgsl`): devices with
    /// wgpu's `SUBGROUP` feature (Vulkan, Metal, DX12; not GL).
    Subgroups,
}

impl Reduction {
    fn source(self) -> &'static str {
        match self {
            Reduction::Tree => include_str!("../../../shaders/norm/tree.wgsl"),
            Reduction::Subgroups => include_str!("../../../shaders/norm/subgroups.wgsl"),
        }
    }
}

/// One of hpnum's compute shaders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    /// `shaders/julia.wgsl`: escape counts, one invocation per pixel.
    Julia,
    /// `shaders/diffusion.wgsl`: one diffusion step, one invocation per cell (`main`) or per
    /// four cells of a row (`quads`), or several steps on tiles in workgroup memory
    /// (`tiled`).
    Diffusion,
    /// `shaders/norm.wgsl`: tree reductions (`leaves`, `combine`), each workgroup's part in
    /// workgroup memory or with subgroup operations ([`Reduction`]).
    Norm,
    /// `shaders/probe.wgsl`: the device's limits (`stream_copy`, `stream_read`, `arithmetic`)
    /// and whether it keeps subnormals (`subnormals`).
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
            Shader::Julia => &["main"],
            Shader::Diffusion => &["main", "quads", "tiled"],
            Shader::Norm => &["leaves", "combine"],
            Shader::Probe => &["stream_copy", "stream_read", "arithmetic", "subnormals"],
        }
    }

    /// Whether the shader uses the bit-level view of `real` (`shaders/bits/`): the norms
    /// classify values by it, Julia and diffusion keep products from being fused.
    fn uses_bits(self) -> bool {
        !matches!(self, Shader::Probe)
    }

    /// The complete WGSL for `precision`: the shaders are written against an alias `real`,
    /// which this defines, against the shared constants and uniform structs, which this
    /// declares, and against the bit-level view of `real` in `shaders/bits/`.
    /// f64 needs the device feature `SHADER_F64`. Norms reduce with [`Reduction::Tree`].
    pub fn source(self, precision: Precision) -> String {
        self.source_with(precision, Reduction::Tree)
    }

    /// As [`Shader::source`], with the norms' workgroup reduction chosen (the other shaders
    /// have none and ignore it). [`Reduction::Subgroups`] needs the device feature
    /// `SUBGROUP`.
    pub fn source_with(self, precision: Precision, reduction: Reduction) -> String {
        let bits = match (self.uses_bits(), precision) {
            (false, _) => "",
            (true, Precision::F32) => include_str!("../../../shaders/bits/f32.wgsl"),
            (true, Precision::F64) => include_str!("../../../shaders/bits/f64.wgsl"),
        };
        let reduction = match self {
            Shader::Norm => reduction.source(),
            _ => "",
        };
        format!(
            "alias real = {};\n{}{bits}{}{reduction}",
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

    /// Whether `e` is a float literal whose product is exact in any precision (±2ᵏ).
    fn is_power_of_two_literal(e: &naga::Expression) -> bool {
        let value = match e {
            naga::Expression::Literal(naga::Literal::F32(v)) => f64::from(*v),
            naga::Expression::Literal(naga::Literal::F64(v))
            | naga::Expression::Literal(naga::Literal::AbstractFloat(v)) => *v,
            _ => return false,
        };
        value != 0.0 && value.abs().log2().fract() == 0.0
    }

    /// A compiler may fuse `a * b + c` into one rounding (WGSL allows it, naga cannot
    /// forbid it), which changes Julia's boundary pixels and diffusion's last bits. The
    /// kernels pass every product that an add or subtract consumes through `rounded` (an
    /// opaque operation), except products by ±2ᵏ, which are exact: this walks naga's IR of
    /// both precisions and finds any other product feeding an add.
    #[test]
    fn no_product_reaches_an_add_unrounded() -> Result<(), String> {
        use crate::Precision;
        for shader in [Shader::Julia, Shader::Diffusion] {
            for precision in [Precision::F32, Precision::F64] {
                let source = shader.source(precision);
                let module =
                    naga::front::wgsl::parse_str(&source).map_err(|e| e.emit_to_string(&source))?;
                let info = naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::all(),
                )
                .validate(&module)
                .map_err(|e| format!("{shader:?} {precision}: {e:?}"))?;
                let functions = module
                    .entry_points
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.name.as_str(), &e.function, info.get_entry_point(i)))
                    .chain(
                        module
                            .functions
                            .iter()
                            .map(|(h, f)| (f.name.as_deref().unwrap_or("?"), f, &info[h])),
                    );
                for (name, function, function_info) in functions {
                    let exprs = &function.expressions;
                    let is_float = |h: naga::Handle<naga::Expression>| {
                        function_info[h].ty.inner_with(&module.types).scalar_kind()
                            == Some(naga::ScalarKind::Float)
                    };
                    let unrounded_product = |h: naga::Handle<naga::Expression>| match &exprs[h] {
                        naga::Expression::Binary {
                            op: naga::BinaryOperator::Multiply,
                            left,
                            right,
                        } => {
                            is_float(h)
                                && !is_power_of_two_literal(&exprs[*left])
                                && !is_power_of_two_literal(&exprs[*right])
                        }
                        _ => false,
                    };
                    for (_, e) in exprs.iter() {
                        if let naga::Expression::Binary {
                            op: naga::BinaryOperator::Add | naga::BinaryOperator::Subtract,
                            left,
                            right,
                        } = e
                        {
                            assert!(
                                !unrounded_product(*left) && !unrounded_product(*right),
                                "{shader:?} {precision} `{name}`: a product feeds an add \
                                 without `rounded`"
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
