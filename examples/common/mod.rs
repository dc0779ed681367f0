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
    /// Backend to run on (see `hpnum::backends::NAMES`).
    #[arg(long, default_value = "scalar")]
    pub backend: String,

    /// Element precision.
    #[arg(long, default_value = "f64", value_parser = parse_precision)]
    pub precision: Precision,

    /// Make the last line of stdout one JSON object with the results.
    #[arg(long)]
    pub json: bool,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: hpnum::Error| e.to_string())
}

impl CommonArgs {
    /// The requested backend, or exit with the library's error (which lists the names).
    pub fn backend(&self) -> Arc<dyn AnyBackend> {
        hpnum::backends::by_name(&self.backend).unwrap_or_else(|e| fail(e))
    }

    /// Prints `fields` as the JSON line when `--json` was given.
    pub fn emit_json(&self, kernel: &str, seconds: f64, fields: serde_json::Value) {
        if !self.json {
            return;
        }
        let mut object = serde_json::json!({
            "kernel": kernel,
            "backend": self.backend,
            "precision": self.precision.name(),
            "seconds": seconds,
        });
        if let (Some(out), serde_json::Value::Object(extra)) = (object.as_object_mut(), fields) {
            out.extend(extra);
        }
        println!("{object}");
    }
}

/// Prints an error the way a command-line tool should and exits with status 1.
pub fn fail(error: impl std::fmt::Display) -> ! {
    eprintln!("error: {error}");
    std::process::exit(1)
}
