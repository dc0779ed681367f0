//! The contract between the host and the shaders, stated once: constants both sides use and
//! uniform structs, declared in Rust and emitted as WGSL declarations that
//! [`super::shaders::Shader::source`] prepends to a shader. A shader names them; it never
//! restates a number or a layout. Each kernel declares its own structs and constants beside
//! its shader (with [`wgsl_struct!`] and [`wgsl_constants!`]); what every shader shares is
//! here.
//!
//! Real-valued parameters (D·dt, the Julia constant, a norm's scale) travel in small
//! storage arrays of the shader's `real` type instead, because a uniform struct cannot be
//! generic over the precision.

use std::fmt::Write as _;

use crate::real::Precision;

/// A `#[repr(C)]` struct of `u32` fields whose WGSL declaration is generated from the Rust
/// one, so that the two cannot disagree (a unit test checks naga's layout against Rust's).
pub(crate) trait WgslStruct: bytemuck::Pod {
    /// The struct's name in both languages.
    const NAME: &'static str;
    /// Field names and their byte offsets in the Rust layout, in order.
    const FIELDS: &'static [(&'static str, usize)];
    /// What a shader's declarations list says of it.
    const LAYOUT: WgslLayout = WgslLayout {
        name: Self::NAME,
        fields: Self::FIELDS,
        size: size_of::<Self>(),
    };
}

/// A uniform struct's name, fields (name, byte offset) and size, as Rust lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WgslLayout {
    pub name: &'static str,
    pub fields: &'static [(&'static str, usize)],
    pub size: usize,
}

impl WgslLayout {
    /// The WGSL `struct` declaration.
    pub(crate) fn wgsl(&self) -> String {
        let mut out = format!("struct {} {{\n", self.name);
        for (name, _) in self.fields {
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

        impl $crate::backends::gpu::contract::WgslStruct for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field)),)+];
        }
    };
}
pub(crate) use wgsl_struct;

/// Declares `u32` constants for both the host and the shaders, and `CONSTANTS`, their list
/// as `(name, value)` in declaration order, for the shader's declarations.
macro_rules! wgsl_constants {
    ($($(#[$meta:meta])* pub(crate) const $name:ident = $value:expr;)+) => {
        $($(#[$meta])* pub(crate) const $name: u32 = $value;)+

        /// Every constant this module shares with its shader, as `(name, value)`.
        pub(crate) const CONSTANTS: &[(&str, u32)] = &[$((stringify!($name), $name),)+];
    };
}
pub(crate) use wgsl_constants;

/// Invocations per workgroup in every entry point (`@workgroup_size(WORKGROUP_SIZE)`).
pub(crate) const WORKGROUP_SIZE: u32 = 256;

/// Bytes of the widest load a shader makes (`vec4<u32>`): resident data is padded with
/// zeros to a whole number of them.
pub(crate) const LOAD_BYTES: usize = 16;

/// Values of `precision` in one load: the shaders' `REALS_PER_VEC4`.
pub(crate) const fn reals_per_load(precision: Precision) -> usize {
    LOAD_BYTES / precision.bytes()
}

/// The declarations every shader gets, for `precision`: `alias real`, `WORKGROUP_SIZE` and
/// `REALS_PER_VEC4`.
pub(crate) fn shared_prelude(precision: Precision) -> String {
    format!(
        "alias real = {};\nconst WORKGROUP_SIZE: u32 = {WORKGROUP_SIZE}u;\n\
         const REALS_PER_VEC4: u32 = {}u;\n",
        precision.name(),
        reals_per_load(precision)
    )
}

/// WGSL `const` declarations of `constants`.
pub(crate) fn constant_declarations(constants: &[(&str, u32)]) -> String {
    let mut out = String::new();
    for (name, value) in constants {
        let _ = writeln!(out, "const {name}: u32 = {value}u;");
    }
    out
}
