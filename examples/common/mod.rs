//! The command-line contract every example shares: `--backend NAME`, `--precision f32|f64`
//! and `--json` (the last line of stdout is then one JSON object with at least `kernel`,
//! `backend`, `precision`, `seconds` and the result summary).

#![allow(dead_code)] // each example uses a different part

pub mod image;
pub mod stats;

use std::sync::Arc;

use hpnum::{AnyBackend, Precision};

/// The flags every example takes.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Backend to run on: scalar, simd, rayon, gpu or auto (default: scalar;
    /// gpu_diffusion: gpu; crossover: all of them).
    #[arg(long)]
    backend: Option<String>,

    /// Element precision: f32 or f64 (default: f64; gpu_diffusion: f32, which every GPU has).
    #[arg(long, value_parser = parse_precision)]
    precision: Option<Precision>,

    /// Make the last line of stdout one JSON object with the results.
    #[arg(long)]
    pub json: bool,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: hpnum::Error| e.to_string())
}

impl CommonArgs {
    /// The requested precision, or the example's default.
    pub fn precision_or(&self, default: Precision) -> Precision {
        self.precision.unwrap_or(default)
    }

    /// The requested precision, or f64 (the book's).
    pub fn precision(&self) -> Precision {
        self.precision_or(Precision::F64)
    }

    /// The requested backend's name, or the example's default.
    pub fn backend_name_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.backend.as_deref().unwrap_or(default)
    }

    /// The requested backend (default: scalar), or exit with the library's error (which
    /// lists the names).
    pub fn backend(&self) -> Arc<dyn AnyBackend> {
        hpnum::backends::by_name(self.backend_name_or("scalar")).unwrap_or_else(|e| fail(e))
    }

    /// Prints `fields` as the JSON line when `--json` was given.
    pub fn emit_json(
        &self,
        kernel: &str,
        backend: &str,
        precision: Precision,
        seconds: f64,
        fields: serde_json::Value,
    ) {
        if !self.json {
            return;
        }
        let mut object = serde_json::json!({
            "kernel": kernel,
            "backend": backend,
            "precision": precision.name(),
            "seconds": seconds,
        });
        if let (Some(out), serde_json::Value::Object(extra)) = (object.as_object_mut(), fields) {
            out.extend(extra);
        }
        println!("{object}");
    }
}

/// A size argument: a whole number of at least 1, refused up front otherwise (an empty grid
/// or vector has nothing to compute or draw).
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}")),
    }
}

/// Keeps Mesa's Vulkan device-selection layer quiet on a headless machine: the library's
/// own switch ([`hpnum::backends::gpu::quiet_headless_vulkan`]), called first in `main`,
/// while the program still runs one thread, so that it applies even where threads start
/// before the first GPU call.
pub fn quiet_headless_vulkan() {
    #[cfg(feature = "gpu")]
    hpnum::backends::gpu::quiet_headless_vulkan();
}

/// Prints an error the way a command-line tool should and exits with status 1.
pub fn fail(error: impl std::fmt::Display) -> ! {
    eprintln!("error: {error}");
    std::process::exit(1)
}
