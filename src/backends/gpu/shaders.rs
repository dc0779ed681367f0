//! What a compute shader is to the device plumbing: its WGSL body (embedded from the
//! kernel's folder), the declarations it needs (the shared contract, its own constants
//! and uniform structs), whether it uses the bit-level view of `real`, and its entry points.
//! A kernel describes its shader once, with a [`ShaderDef`]; the pipelines, the
//! portability tests and the layout checks all read that description.

use crate::backends::gpu::adapter::GUARANTEED_WORKGROUP_STORAGE_BYTES;
use crate::backends::gpu::contract::{self, WgslLayout};
use crate::real::Precision;

/// How a workgroup combines its invocations' partial results, in shaders that have such a
/// reduction (the norms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// A tree of halvings in workgroup memory: every API.
    #[default]
    Tree,
    /// Subgroup operations, then one barrier: devices with wgpu's `SUBGROUP` feature
    /// (Vulkan, Metal, DX12; not GL).
    Subgroups,
}

/// The two sources of a shader's workgroup reduction, one of which is appended to its body.
#[derive(Debug)]
pub(crate) struct ReductionSources {
    pub tree: &'static str,
    pub subgroups: &'static str,
}

/// A kernel's (or the probes') shader, as its folder declares it.
#[derive(Debug)]
pub(crate) struct ShaderDef {
    /// Its name (the kernel's): `julia`, `diffusion`, `norm`, `probe`.
    pub name: &'static str,
    /// The Rust file that declares it (`file!()`), beside the WGSL it includes.
    pub defined_in: &'static str,
    /// Per entry point, how the host dispatches it: what one invocation does, how many
    /// workgroups, which uniforms say what (for a program that runs the shader on its own).
    pub dispatch: &'static [(&'static str, &'static str)],
    /// The WGSL body, written against `real` and the declarations below.
    pub body: &'static str,
    /// The entry points the body defines (a test checks them against naga's parse).
    pub entry_points: &'static [&'static str],
    /// Whether the body uses the bit-level view of `real` (`wgsl/bits_f32.wgsl`,
    /// `bits_f64.wgsl`): classification by bits, and `rounded`, which keeps a product from
    /// being fused into an add.
    pub uses_bits: bool,
    /// Whether the body promises the CPU's bits: every product an add consumes goes
    /// through `rounded` first (a test walks the IR to check), so that no driver's fusing
    /// of multiply and add changes a result.
    pub rounds_products: bool,
    /// Its uniform structs, declared from the Rust ones.
    pub structs: &'static [WgslLayout],
    /// Its `u32` constants, the same for both precisions.
    pub constants: &'static [(&'static str, u32)],
    /// Its constants that depend on the precision or on what the device grants.
    pub target_constants: fn(&ShaderTarget) -> Vec<(&'static str, u32)>,
    /// Its workgroup reduction, if it has one.
    pub reduction: Option<ReductionSources>,
}

/// What a shader's source is built for: the precision of `real`, the workgroup reduction,
/// and the workgroup memory an entry point may use (a kernel sizes its tiles by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShaderTarget {
    /// The precision of `real`.
    pub precision: Precision,
    /// How workgroup reductions run (shaders without one ignore it).
    pub reduction: Reduction,
    /// Bytes of workgroup memory one entry point may use.
    pub workgroup_storage_bytes: u32,
}

impl ShaderTarget {
    /// Workgroup memory every WebGPU device grants: 16 KiB.
    pub const GUARANTEED_WORKGROUP_STORAGE_BYTES: u32 = GUARANTEED_WORKGROUP_STORAGE_BYTES;

    /// `precision`, the tree reduction and the guaranteed workgroup memory: a source every
    /// device (with `SHADER_F64` for f64) builds.
    pub fn portable(precision: Precision) -> ShaderTarget {
        ShaderTarget {
            precision,
            reduction: Reduction::Tree,
            workgroup_storage_bytes: Self::GUARANTEED_WORKGROUP_STORAGE_BYTES,
        }
    }
}

/// No constants that depend on the target.
pub(crate) fn no_target_constants(_: &ShaderTarget) -> Vec<(&'static str, u32)> {
    Vec::new()
}

/// One of hpnum's compute shaders (see [`Shader::all`], in `mod.rs`, which gathers them): a
/// kernel's, or the probes' that measure the device.
///
/// ```
/// use hpnum::Precision;
/// use hpnum::backends::gpu::Shader;
///
/// let norm = Shader::named("norm").expect("the norms have a shader");
/// assert_eq!(norm.entry_points(), ["leaves", "combine"]);
/// assert!(norm.source(Precision::F64).starts_with("alias real = f64;"));
/// ```
#[derive(Clone, Copy)]
pub struct Shader {
    def: &'static ShaderDef,
}

impl Shader {
    pub(crate) const fn new(def: &'static ShaderDef) -> Shader {
        Shader { def }
    }

    /// `julia`, `diffusion`, `norm` or `probe`.
    pub fn name(self) -> &'static str {
        self.def.name
    }

    /// The entry points the shader defines.
    pub fn entry_points(self) -> &'static [&'static str] {
        self.def.entry_points
    }

    /// The Rust file that declares it, beside the WGSL it includes
    /// (`src/kernels/julia/gpu.rs`, …): where to edit it.
    pub fn defined_in(self) -> &'static str {
        self.def.defined_in
    }

    /// Per entry point, how the host dispatches it (what one invocation does, how many
    /// workgroups, which uniforms say what).
    pub fn dispatch(self) -> &'static [(&'static str, &'static str)] {
        self.def.dispatch
    }

    /// Whether the shader has a workgroup reduction that [`Reduction`] chooses.
    pub fn has_reduction(self) -> bool {
        self.def.reduction.is_some()
    }

    /// Whether the shader promises the CPU's bits: every product an add consumes is
    /// rounded first, so that no driver's fusing of multiply and add changes a result.
    pub fn rounds_products(self) -> bool {
        self.def.rounds_products
    }

    /// The uniform structs the shader declares.
    #[cfg(test)]
    pub(crate) fn structs(self) -> &'static [WgslLayout] {
        self.def.structs
    }

    /// Every `u32` constant the shader gets in `precision`, shared ones included.
    #[cfg(test)]
    pub(crate) fn constants(self, precision: Precision) -> Vec<(&'static str, u32)> {
        let mut all = vec![
            ("WORKGROUP_SIZE", contract::WORKGROUP_SIZE),
            ("REALS_PER_VEC4", contract::reals_per_load(precision) as u32),
        ];
        all.extend_from_slice(self.def.constants);
        all.extend((self.def.target_constants)(&ShaderTarget::portable(
            precision,
        )));
        all
    }

    /// The body as written, without the declarations prepended to it.
    pub fn body(self) -> &'static str {
        self.def.body
    }

    /// The complete WGSL for `precision`: the shaders are written against an alias `real`,
    /// which this defines, against the shared and their own constants and uniform structs,
    /// which this declares, and (where they use it) against the bit-level view of `real`.
    /// f64 needs the device feature `SHADER_F64`. A workgroup reduction is the tree, and
    /// tiles fit the workgroup memory every device grants ([`ShaderTarget::portable`]).
    pub fn source(self, precision: Precision) -> String {
        self.source_for(&ShaderTarget::portable(precision))
    }

    /// As [`Shader::source`], with the workgroup reduction chosen (shaders without one
    /// ignore it). [`Reduction::Subgroups`] needs the device feature `SUBGROUP`.
    pub fn source_with(self, precision: Precision, reduction: Reduction) -> String {
        self.source_for(&ShaderTarget {
            reduction,
            ..ShaderTarget::portable(precision)
        })
    }

    /// The complete WGSL for `target` (see [`Shader::source`]).
    pub fn source_for(self, target: &ShaderTarget) -> String {
        let def = self.def;
        let bits = match (def.uses_bits, target.precision) {
            (false, _) => "",
            (true, Precision::F32) => include_str!("wgsl/bits_f32.wgsl"),
            (true, Precision::F64) => include_str!("wgsl/bits_f64.wgsl"),
        };
        let reduction = match (&def.reduction, target.reduction) {
            (None, _) => "",
            (Some(sources), Reduction::Tree) => sources.tree,
            (Some(sources), Reduction::Subgroups) => sources.subgroups,
        };
        let mut out = contract::shared_prelude(target.precision);
        out.push_str(&contract::constant_declarations(def.constants));
        out.push_str(&contract::constant_declarations(&(def.target_constants)(
            target,
        )));
        for layout in def.structs {
            out.push_str(&layout.wgsl());
        }
        out.push_str(bits);
        out.push_str(def.body);
        out.push_str(reduction);
        out
    }
}

impl PartialEq for Shader {
    fn eq(&self, other: &Shader) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Shader {}

impl std::hash::Hash for Shader {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl std::fmt::Debug for Shader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shader({})", self.name())
    }
}

/// One compute entry point: a shader and a function in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub shader: Shader,
    pub function: &'static str,
}

impl Entry {
    pub(crate) const fn new(shader: Shader, function: &'static str) -> Entry {
        Entry { shader, function }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// naga's parse of `shader` in `precision`, its errors as text.
    fn parse(shader: Shader, precision: Precision) -> Result<naga::Module, String> {
        let source = shader.source(precision);
        naga::front::wgsl::parse_str(&source).map_err(|e| e.emit_to_string(&source))
    }

    #[test]
    fn entry_points_are_the_shaders_own_and_take_the_contracts_workgroup_size() -> Result<(), String>
    {
        for shader in Shader::all() {
            let module = parse(shader, Precision::F32)?;
            let mut found: Vec<&str> = module
                .entry_points
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            let mut listed = shader.entry_points().to_vec();
            found.sort_unstable();
            listed.sort_unstable();
            assert_eq!(found, listed, "{shader:?}");
            for entry in &module.entry_points {
                assert_eq!(
                    entry.workgroup_size,
                    [contract::WORKGROUP_SIZE, 1, 1],
                    "{shader:?}::{}",
                    entry.name
                );
            }
            // Written as the constant, not as a number of its own.
            let body = shader.body();
            for (at, _) in body.match_indices("@workgroup_size(") {
                assert!(
                    body[at..].starts_with("@workgroup_size(WORKGROUP_SIZE)"),
                    "{shader:?}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn host_and_shader_layouts_agree() -> Result<(), String> {
        for shader in Shader::all() {
            let module = parse(shader, Precision::F32)?;
            for layout in shader.structs() {
                let (_, ty) = module
                    .types
                    .iter()
                    .find(|(_, ty)| ty.name.as_deref() == Some(layout.name))
                    .ok_or_else(|| format!("{} is not declared in {shader:?}", layout.name))?;
                let naga::TypeInner::Struct { members, span } = &ty.inner else {
                    return Err(format!("{} is not a struct", layout.name));
                };
                assert_eq!(*span as usize, layout.size, "{} size", layout.name);
                let naga_fields: Vec<(String, usize)> = members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
                    .collect();
                let rust_fields: Vec<(String, usize)> = layout
                    .fields
                    .iter()
                    .map(|&(name, offset)| (name.to_owned(), offset))
                    .collect();
                assert_eq!(naga_fields, rust_fields, "{shader:?} {}", layout.name);
            }
        }
        Ok(())
    }

    #[test]
    fn constants_reach_the_shaders_with_the_hosts_values() -> Result<(), String> {
        for shader in Shader::all() {
            for precision in [Precision::F32, Precision::F64] {
                let module = parse(shader, precision)?;
                for (name, value) in shader.constants(precision) {
                    let (_, constant) = module
                        .constants
                        .iter()
                        .find(|(_, c)| c.name.as_deref() == Some(name))
                        .ok_or_else(|| format!("{name} is not declared in {shader:?}"))?;
                    assert_eq!(
                        module.global_expressions[constant.init],
                        naga::Expression::Literal(naga::Literal::U32(value)),
                        "{shader:?} {precision} {name}"
                    );
                }
            }
        }
        Ok(())
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
    /// kernels that use the bit-level view pass every product that an add or subtract
    /// consumes through `rounded` (an opaque operation), except products by ±2ᵏ, which
    /// are exact: this walks naga's IR of both precisions and finds any other product
    /// feeding an add, in every shader that promises the CPU's bits.
    #[test]
    fn no_product_reaches_an_add_unrounded() -> Result<(), String> {
        let exact: Vec<Shader> = Shader::all()
            .into_iter()
            .filter(|s| s.rounds_products())
            .collect();
        assert!(
            exact.len() >= 2,
            "Julia and diffusion promise the CPU's bits"
        );
        for shader in exact {
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
