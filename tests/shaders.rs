//! Every shader parses and validates with naga (wgpu's shader translator) in both
//! precisions, so a broken shader fails `cargo test`, not a user's run.

#![cfg(feature = "gpu")]

use hpnum::Precision;
use hpnum::backends::gpu::Shader;
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn validate(
    shader: Shader,
    precision: Precision,
    capabilities: Capabilities,
) -> Result<(), String> {
    let source = shader.source(precision);
    let module = naga::front::wgsl::parse_str(&source).map_err(|e| e.emit_to_string(&source))?;
    Validator::new(ValidationFlags::all(), capabilities)
        .validate(&module)
        .map(|_| ())
        .map_err(|e| e.emit_to_string(&source))
}

#[test]
fn every_shader_validates_in_both_precisions() {
    for shader in Shader::all() {
        for precision in [Precision::F32, Precision::F64] {
            let caps = Capabilities::default() | Capabilities::FLOAT64;
            if let Err(e) = validate(shader, precision, caps) {
                panic!("{shader:?} in {precision}:\n{e}");
            }
        }
    }
}

#[test]
fn the_validator_rejects_f64_without_the_capability() {
    // Proves the check above has teeth: the f64 variants really use f64.
    for shader in Shader::all() {
        assert!(
            validate(shader, Precision::F64, Capabilities::default()).is_err(),
            "{shader:?}"
        );
        assert!(
            validate(shader, Precision::F32, Capabilities::default()).is_ok(),
            "{shader:?}"
        );
    }
}
