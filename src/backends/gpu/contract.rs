//! The contract between the host and the shaders, stated once: the constants both sides use
//! (workgroup size, elements per invocation, codes) and the uniform structs, declared here
//! in Rust and emitted as WGSL declarations that [`super::shaders::Shader::source`] prepends
//! to every shader. A shader names them; it never restates a number or a layout.
//!
//! Real-valued parameters (D·dt, the Julia constant, a norm's scale) travel in small
//! storage arrays of the shader's `real` type instead, because a uniform struct cannot be
//! generic over the precision.

use std::fmt::Write as _;

use crate::Precision;

/// A `#[repr(C)]` struct of `u32` fields whose WGSL declaration is generated from the Rust
/// one, so that the two cannot disagree (a unit test checks naga's layout against Rust's).
pub(crate) trait WgslStruct: bytemuck::Pod {
    /// The struct's name in both languages.
    const NAME: &'static str;
    /// Field names and their byte offsets in the Rust layout, in order.
    const FIELDS: &'static [(&'static str, usize)];

    /// The WGSL `struct` declaration.
    fn wgsl() -> String {
        let mut out = format!("struct {} {{\n", Self::NAME);
        for (name, _) in Self::FIELDS {
            let _ = writeln!(out, "    {name}: u32,");
        }
        out.push_str("}\n");
        out
    }
}

/// Declares a uniform struct of `u32` fields for both the host and the shaders.
macro_rules! wgsl_struct {
    ($(#[$meta:meta])* pub(crate) struct $name:ident {
        $($(#[$field_meta:meta])* $field:ident,)+
    }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct $name {
            $($(#[$field_meta])* pub $field: u32,)+
        }

        impl WgslStruct for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field)),)+];
        }
    };
}

/// Declares `u32` constants for both the host and the shaders.
macro_rules! wgsl_constants {
    ($($(#[$meta:meta])* pub(crate) const $name:ident = $value:expr;)+) => {
        $($(#[$meta])* pub(crate) const $name: u32 = $value;)+

        /// Every shared constant as `(name, value)`, in declaration order.
        pub(crate) const CONSTANTS: &[(&str, u32)] = &[$((stringify!($name), $name),)+];
    };
}

wgsl_constants! {
    /// Invocations per workgroup in every entry point (`@workgroup_size(WORKGROUP_SIZE)`).
    pub(crate) const WORKGROUP_SIZE = 256;
    /// 16-byte loads (4 f32 or 2 f64 values) each norm invocation sums in sequence before
    /// the workgroup's tree: bounded, so that accuracy stays pairwise-class at any length.
    pub(crate) const NORM_LOADS_PER_INVOCATION = 8;
    /// Partials each invocation of a norm's `combine` level merges before the tree.
    pub(crate) const NORM_PARTIALS_PER_INVOCATION = 8;
    /// `NormCall::summand`: |x|.
    pub(crate) const SUMMAND_ABS = 0;
    /// `NormCall::summand`: x².
    pub(crate) const SUMMAND_SQUARE = 1;
    /// `NormCall::summand`: (x / scale)².
    pub(crate) const SUMMAND_SCALED_SQUARE = 2;
    /// Independent multiply-then-add chains per invocation in the arithmetic probe.
    pub(crate) const PROBE_CHAINS = 8;
    /// `vec4<u32>` elements each invocation of the bandwidth probes moves per pass.
    pub(crate) const PROBE_VEC4_PER_INVOCATION = 8;
}

/// 16-byte loads one norm `leaves` workgroup reduces.
pub(crate) const NORM_LOADS_PER_WORKGROUP: usize =
    (WORKGROUP_SIZE * NORM_LOADS_PER_INVOCATION) as usize;

/// Partials one norm `combine` workgroup reduces.
pub(crate) const NORM_PARTIALS_PER_WORKGROUP: usize =
    (WORKGROUP_SIZE * NORM_PARTIALS_PER_INVOCATION) as usize;

/// Bytes of one shader load of the vector (`vec4<u32>`); a vector piece is padded with
/// zeros to a whole number of them.
pub(crate) const LOAD_BYTES: usize = 16;

/// Cells per side of the temporally blocked diffusion's tile in workgroup memory: the
/// largest square within WebGPU's guaranteed 16 KiB of workgroup storage (64² f32, 45² f64).
pub(crate) const fn tile_side(precision: Precision) -> u32 {
    match precision {
        Precision::F32 => 64,
        Precision::F64 => 45,
    }
}

/// The most steps one tiled dispatch can take in `precision`: a tile must keep at least
/// one interior cell per side.
pub(crate) const fn max_tile_steps(precision: Precision) -> u32 {
    (tile_side(precision) - 1) / 2
}

/// Values of `precision` in one load: the shaders' `REALS_PER_VEC4`.
pub(crate) const fn reals_per_load(precision: Precision) -> usize {
    LOAD_BYTES / precision.bytes()
}

wgsl_struct! {
    /// One Julia dispatch: a band of rows of the output.
    pub(crate) struct JuliaDims {
        /// The iteration cap.
        max_iter,
        /// Pixels per row.
        cols,
        /// Rows in this band.
        rows,
        /// The band's first row in the `ys` axis.
        first_row,
    }
}

wgsl_struct! {
    /// One diffusion dispatch: a band of rows, and which rows of its neighbouring bands
    /// lie just above and below it (the bands are the same buffer when there is one).
    pub(crate) struct DiffusionDims {
        /// Cells per row.
        cols,
        /// Rows in this band.
        rows,
        /// The row of the `above` binding just above the band's first row.
        above_row,
        /// The row of the `below` binding just below the band's last row.
        below_row,
    }
}

wgsl_struct! {
    /// One temporally blocked diffusion dispatch (`tiled`): `steps` steps of a one-band
    /// grid, each workgroup stepping a tile of `TILE_SIDE`² cells whose inner
    /// `interior`² it writes back (`interior = TILE_SIDE - 2·steps`).
    pub(crate) struct DiffusionTile {
        /// Cells per row.
        cols,
        /// Rows of the grid.
        rows,
        /// Steps per dispatch (K), also the halo's width.
        steps,
        /// Cells per side of the part of a tile that is written back.
        interior,
    }
}

wgsl_struct! {
    /// One norm dispatch: how many loads (or partials) it reduces, from the start of its
    /// input binding, into partials from the start of its output binding.
    pub(crate) struct NormJob {
        /// Input loads (or partials) this dispatch reduces.
        len,
    }
}

wgsl_struct! {
    /// What a norm call sums, the same for all its dispatches.
    pub(crate) struct NormCall {
        /// One of `SUMMAND_ABS`, `SUMMAND_SQUARE`, `SUMMAND_SCALED_SQUARE`.
        summand,
        /// For `SUMMAND_SCALED_SQUARE`: the values are scaled by 2^-shift (an `i32`, as its
        /// two's-complement bits; the shader `bitcast`s it back).
        shift,
    }
}

wgsl_struct! {
    /// One probe dispatch.
    pub(crate) struct ProbeJob {
        /// `vec4<u32>` elements in the buffers (bandwidth probes).
        vec4s,
        /// Multiply-then-add iterations per chain (arithmetic probe).
        iterations,
    }
}

/// The WGSL declarations of every constant and struct above, for shaders in `precision`.
pub(crate) fn prelude(precision: Precision) -> String {
    let mut out = String::new();
    for (name, value) in CONSTANTS {
        let _ = writeln!(out, "const {name}: u32 = {value}u;");
    }
    let _ = writeln!(
        out,
        "const REALS_PER_VEC4: u32 = {}u;",
        reals_per_load(precision)
    );
    let side = tile_side(precision);
    let _ = writeln!(out, "const TILE_SIDE: u32 = {side}u;");
    let _ = writeln!(out, "const TILE_CELLS: u32 = {}u;", side * side);
    let _ = writeln!(
        out,
        "const TILE_CELLS_PER_INVOCATION: u32 = {}u;",
        (side * side).div_ceil(WORKGROUP_SIZE)
    );
    for declaration in [
        JuliaDims::wgsl(),
        DiffusionDims::wgsl(),
        DiffusionTile::wgsl(),
        NormJob::wgsl(),
        NormCall::wgsl(),
        ProbeJob::wgsl(),
    ] {
        out.push_str(&declaration);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::gpu::Shader;

    /// naga's parse of `shader` in `precision`, its errors as text.
    fn parse(shader: Shader, precision: Precision) -> Result<naga::Module, String> {
        let source = shader.source(precision);
        naga::front::wgsl::parse_str(&source).map_err(|e| e.emit_to_string(&source))
    }

    /// naga's layout of `S` in `shader` (offsets as WGSL's uniform rules give them).
    fn naga_fields<S: WgslStruct>(shader: Shader) -> Result<Vec<(String, usize)>, String> {
        let module = parse(shader, Precision::F32)?;
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, ty)| ty.name.as_deref() == Some(S::NAME))
            .ok_or_else(|| format!("{} is not declared in {shader:?}", S::NAME))?;
        match &ty.inner {
            naga::TypeInner::Struct { members, span } => {
                assert_eq!(*span as usize, size_of::<S>(), "{} size", S::NAME);
                Ok(members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
                    .collect())
            }
            other => Err(format!("{} is not a struct: {other:?}", S::NAME)),
        }
    }

    fn rust_fields<S: WgslStruct>() -> Vec<(String, usize)> {
        S::FIELDS
            .iter()
            .map(|&(name, offset)| (name.to_owned(), offset))
            .collect()
    }

    #[test]
    fn host_and_shader_layouts_agree() -> Result<(), String> {
        for shader in Shader::ALL {
            assert_eq!(
                naga_fields::<JuliaDims>(shader)?,
                rust_fields::<JuliaDims>()
            );
            assert_eq!(
                naga_fields::<DiffusionDims>(shader)?,
                rust_fields::<DiffusionDims>()
            );
            assert_eq!(
                naga_fields::<DiffusionTile>(shader)?,
                rust_fields::<DiffusionTile>()
            );
            assert_eq!(naga_fields::<NormJob>(shader)?, rust_fields::<NormJob>());
            assert_eq!(naga_fields::<NormCall>(shader)?, rust_fields::<NormCall>());
            assert_eq!(naga_fields::<ProbeJob>(shader)?, rust_fields::<ProbeJob>());
        }
        Ok(())
    }

    #[test]
    fn constants_reach_the_shaders_with_the_hosts_values() -> Result<(), String> {
        let module = parse(Shader::Norm, Precision::F64)?;
        for (name, value) in CONSTANTS {
            let (_, constant) = module
                .constants
                .iter()
                .find(|(_, c)| c.name.as_deref() == Some(name))
                .ok_or_else(|| format!("{name} is not declared"))?;
            let expression = &module.global_expressions[constant.init];
            assert_eq!(
                *expression,
                naga::Expression::Literal(naga::Literal::U32(*value)),
                "{name}"
            );
        }
        // The entry points' workgroup size is the constant, not a number of their own.
        for shader in Shader::ALL {
            for entry in &parse(shader, Precision::F32)?.entry_points {
                assert_eq!(
                    entry.workgroup_size,
                    [WORKGROUP_SIZE, 1, 1],
                    "{shader:?}::{}",
                    entry.name
                );
            }
        }
        Ok(())
    }
}
