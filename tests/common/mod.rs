//! Shared by the integration tests: the backends under test and the reference data in
//! `tests/data/` (copied from the book's recomputed references).

#![allow(dead_code)] // each test crate uses a different part

use std::path::PathBuf;
use std::sync::Arc;

use hpnum::backends::simd::Isa;
use hpnum::{AnyBackend, Rayon, Simd};
use ndarray::Array2;

/// Every backend of this build, each SIMD level this CPU runs, and rayon on a pool of an odd
/// size: each test runs all of them through the same cases.
pub fn backends() -> Vec<Arc<dyn AnyBackend>> {
    let mut all = hpnum::backends::all();
    assert!(all.len() >= 3, "scalar, simd and rayon must all be built");
    for isa in Isa::detected() {
        let simd = Simd::with_isa(isa).unwrap();
        all.push(Arc::new(simd));
        all.push(Arc::new(Rayon::with_simd(simd)));
    }
    all.push(Arc::new(Rayon::with_threads(3).unwrap()));
    all
}

/// A backend's name with its SIMD level and threads, for assertion messages.
pub fn label(backend: &dyn AnyBackend) -> String {
    let caps = backend.capabilities();
    format!(
        "{} ({}, {} threads)",
        backend.name(),
        caps.isa,
        caps.threads
    )
}

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A Julia reference grid: one `#` header line, then one row of counts per line.
pub fn julia_reference(name: &str) -> Array2<u32> {
    let text = std::fs::read_to_string(data_path(name)).unwrap();
    let rows: Vec<Vec<u32>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// A diffusion reference grid, values as shortest round-trip decimals of the exact `f64`
/// (for the f32 file, of the f32 value widened), so parsing gives the exact bits.
pub fn diffusion_reference(name: &str) -> Array2<f64> {
    let text = std::fs::read_to_string(data_path(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let grid: Vec<Vec<f64>> = serde_json::from_value(json["grid"].clone()).unwrap();
    let cols = grid[0].len();
    Array2::from_shape_vec((grid.len(), cols), grid.concat()).unwrap()
}

/// Relative error of `got` against `want`.
pub fn rel_err(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}
