//! Shared by the integration tests: the backends under test and the reference data in
//! `tests/data/` (copied from the book's recomputed references).

#![allow(dead_code)] // each test crate uses a different part

use std::path::PathBuf;
use std::sync::Arc;

use hpnum::AnyBackend;
use ndarray::Array2;

/// Every backend of this build: each test runs all of them through the same cases.
pub fn backends() -> Vec<Arc<dyn AnyBackend>> {
    let all = hpnum::backends::all();
    assert!(!all.is_empty(), "no backend to test");
    all
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
