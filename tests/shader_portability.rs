//! Every shader variant (the norms with either workgroup reduction), in both precisions
//! and every entry point, translated by naga (the compiler wgpu itself uses) to each API's
//! language: SPIR-V for Vulkan (read back and validated again), MSL for Metal, HLSL for
//! DX12 and GLSL for GL. What a language cannot express (f64 in MSL and GLSL ES) must fail
//! for that target, where the GPU backend reports f64 as `Error::Unsupported` (wgpu offers
//! no `SHADER_F64` there; see `f64_without_the_feature_is_unsupported` in tests/gpu.rs).

#![cfg(feature = "gpu")]

use hpnum::Precision;
use hpnum::backends::gpu::{Reduction, Shader};
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// A shader as the backend may build it.
type Variant = (Shader, Precision, Reduction);

/// The module of a variant, and its validation for a target that supports `capabilities`
/// (an error where the target cannot express it).
fn module_for(
    (shader, precision, reduction): Variant,
    capabilities: Capabilities,
) -> (naga::Module, Result<naga::valid::ModuleInfo, String>) {
    let source = shader.source_with(precision, reduction);
    let module = naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{shader:?} {precision}: {}", e.emit_to_string(&source)));
    let info = Validator::new(ValidationFlags::all(), capabilities)
        .validate(&module)
        .map_err(|e| format!("{e:?}"));
    (module, info)
}

/// Every variant with each of its entry points.
fn all_entry_points() -> Vec<(Variant, &'static str)> {
    let mut all = Vec::new();
    for shader in Shader::all() {
        let reductions: &[Reduction] = if shader.has_reduction() {
            &[Reduction::Tree, Reduction::Subgroups]
        } else {
            &[Reduction::Tree]
        };
        for &reduction in reductions {
            for precision in [Precision::F32, Precision::F64] {
                for &entry in shader.entry_points() {
                    all.push(((shader, precision, reduction), entry));
                }
            }
        }
    }
    all
}

#[test]
fn every_entry_point_translates_to_spirv_and_validates_again() {
    let mut count = 0;
    for (variant, entry) in all_entry_points() {
        let what = format!("{variant:?} {entry}");
        let (module, info) = module_for(variant, naga::back::spv::supported_capabilities());
        let info = info.unwrap_or_else(|e| panic!("{what}: {e}"));
        let words = naga::back::spv::write_vec(
            &module,
            &info,
            &naga::back::spv::Options::default(),
            Some(&naga::back::spv::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: entry.into(),
            }),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let back = naga::front::spv::parse_u8_slice(&bytes, &naga::front::spv::Options::default())
            .unwrap_or_else(|e| panic!("{what}: SPIR-V read back: {e}"));
        Validator::new(ValidationFlags::all(), Capabilities::all())
            .validate(&back)
            .unwrap_or_else(|e| panic!("{what}: SPIR-V revalidated: {e:?}"));
        assert!(back.entry_points.iter().any(|e| e.name == entry), "{what}");
        count += 1;
    }
    // Every shader's entry points, those with a reduction twice, in two precisions.
    let expected: usize = Shader::all()
        .iter()
        .map(|s| s.entry_points().len() * if s.has_reduction() { 2 } else { 1 })
        .sum();
    assert!(expected >= 1 + 3 + 2 * 2 + 4, "every shader is listed");
    assert_eq!(count, 2 * expected, "entry points translated");
}

#[test]
fn f32_translates_to_msl_hlsl_and_glsl_and_f64_where_the_language_has_it() {
    for (variant, entry) in all_entry_points() {
        let (_, precision, reduction) = variant;
        let what = format!("{variant:?} {entry}");

        // Metal: MSL has no double.
        let (module, info) = module_for(variant, naga::back::msl::supported_capabilities());
        match (precision, info) {
            (Precision::F64, Err(_)) => {}
            (Precision::F64, Ok(_)) => panic!("{what}: MSL cannot express f64, yet it validated"),
            (Precision::F32, Err(e)) => panic!("{what} for Metal: {e}"),
            (Precision::F32, Ok(info)) => {
                let options = naga::back::msl::Options {
                    lang_version: (2, 1),
                    fake_missing_bindings: true,
                    ..Default::default()
                };
                let pipeline = naga::back::msl::PipelineOptions {
                    entry_point: Some((naga::ShaderStage::Compute, entry.into())),
                    ..Default::default()
                };
                let (msl, _) = naga::back::msl::write_string(&module, &info, &options, &pipeline)
                    .unwrap_or_else(|e| panic!("{what} to MSL: {e}"));
                assert!(msl.contains("kernel void"), "{what}: no kernel in the MSL");
            }
        }

        // DX12: HLSL (shader model 6) has double and wave operations.
        let (module, info) = module_for(variant, naga::back::hlsl::supported_capabilities());
        let info = info.unwrap_or_else(|e| panic!("{what} for DX12: {e}"));
        let options = naga::back::hlsl::Options {
            shader_model: naga::back::hlsl::ShaderModel::V6_0,
            fake_missing_bindings: true,
            ..Default::default()
        };
        let pipeline = naga::back::hlsl::PipelineOptions {
            entry_point: Some((naga::ShaderStage::Compute, entry.into())),
        };
        let mut hlsl = String::new();
        naga::back::hlsl::Writer::new(&mut hlsl, &options, &pipeline)
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{what} to HLSL: {e}"));
        assert!(hlsl.contains("[numthreads(256, 1, 1)]"), "{what}: {hlsl}");

        // GL: GLSL ES 3.10 (what wgpu's GL backend runs compute shaders on) has no double;
        // subgroup operations need GL_KHR_shader_subgroup (wgpu's GL backend offers no
        // SUBGROUP feature, so hpnum builds the tree there).
        let (module, info) = module_for(variant, naga::back::glsl::supported_capabilities());
        let expressible = precision == Precision::F32;
        match (expressible, info) {
            (false, Err(_)) => {}
            (false, Ok(info)) => {
                // Validated: the GLSL ES writer itself must refuse it.
                assert!(
                    write_glsl(&module, &info, entry).is_err(),
                    "{what}: GLSL ES cannot express it"
                );
            }
            (true, Err(e)) => panic!("{what} for GL: {e}"),
            (true, Ok(info)) => {
                let glsl = write_glsl(&module, &info, entry)
                    .unwrap_or_else(|e| panic!("{what} to GLSL: {e}"));
                assert!(glsl.starts_with("#version 310 es"), "{what}");
                assert!(glsl.contains("local_size_x = 256"), "{what}");
                assert_eq!(
                    glsl.contains("GL_KHR_shader_subgroup"),
                    reduction == Reduction::Subgroups,
                    "{what}"
                );
            }
        }
    }
}

/// `entry` of `module` as GLSL ES 3.10, the version wgpu's GL backend runs compute on.
fn write_glsl(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<String, naga::back::glsl::Error> {
    let mut glsl = String::new();
    let options = naga::back::glsl::Options::default();
    let pipeline = naga::back::glsl::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: entry.into(),
        multiview: None,
    };
    naga::back::glsl::Writer::new(
        &mut glsl,
        module,
        info,
        &options,
        &pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )?
    .write()?;
    Ok(glsl)
}
