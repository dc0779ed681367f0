//! `hpnum::crossover::tune` on the real device at tiny sizes: every measurement runs and
//! checks its data, none depends on the settings already saved for the device, and the
//! rule chooses from what they measured. One test in its own binary, because it points
//! `HPNUM_GPU_TUNING` (read by every `GpuOptions::from_env`) at a file of its own.

#![cfg(feature = "gpu")]

mod common;

use hpnum::backends::gpu::{Gpu, GpuOptions, ShaderTarget, TransferPath};
use hpnum::calibration::Calibration;
use hpnum::crossover::tune::{Measurements, choose, staging_sweep, transfer_paths};
use hpnum::kernels::diffusion::tune::temporal_blocking;
use hpnum::kernels::norm::tune::norm_reductions;

#[test]
fn measurements_ignore_saved_settings_and_the_rule_chooses_from_them() {
    if common::gpu().is_none() {
        return;
    }
    let untuned = GpuOptions {
        tuning: None,
        ..GpuOptions::from_env()
    };
    let device = Gpu::new(&untuned).unwrap();
    let identity = device.adapter().identity();
    let grant = device.adapter().workgroup_storage_bytes;
    let default_depth = device.adapter().staging_depth;

    // Settings saved for this device that would change what is measured.
    let path = std::env::temp_dir().join(format!("hpnum-tune-test-{}.tsv", std::process::id()));
    let mut saved = Calibration::new();
    saved.set_adapter(identity.clone());
    saved.set_gpu_setting("staging_depth", (default_depth + 3).to_string());
    saved.set_gpu_setting(
        "workgroup_storage_bytes",
        ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES.to_string(),
    );
    saved.save_to(&path).unwrap();
    // SAFETY: this binary's one test sets the variable before any device (and any thread of
    // a driver) exists; the harness's other thread only waits for this one.
    unsafe { std::env::set_var("HPNUM_GPU_TUNING", &path) };
    let tuned = Gpu::new(&GpuOptions::from_env()).unwrap();
    assert_eq!(
        tuned.adapter().staging_depth,
        default_depth + 3,
        "the file is read"
    );

    let mut m = Measurements::of_default_gpu().unwrap();
    assert_eq!(m.adapter, identity);
    assert_eq!(
        m.workgroup_grant, grant,
        "the device's grant, not the saved budget"
    );
    m.paths = transfer_paths(64, 1).unwrap();
    assert!(m.paths.iter().any(|p| p.path == TransferPath::Staging));
    for p in &m.paths {
        assert_eq!(p.depth, default_depth, "{:?}: measured as saved", p.path);
        assert!(
            p.upload_bytes_per_s > 0.0 && p.download_bytes_per_s > 0.0,
            "{p:?}"
        );
        assert_eq!(p.bytes, 64 * 64 * 4);
        // One warm-up and one timed transfer each way (64² transfers are far below the
        // timing budget).
        assert_eq!((p.uploads, p.downloads), (2, 2));
        assert!(p.phases.upload.total > std::time::Duration::ZERO, "{p:?}");
    }
    m.staging = staging_sweep(64, &[1 << 20], &[2, 4], 1).unwrap();
    assert_eq!(m.staging.len(), 2);
    for row in &m.staging {
        let rates = row.rates.as_ref().unwrap();
        assert_eq!(
            (rates.chunk_bytes, rates.depth),
            (row.chunk_bytes, row.depth)
        );
    }
    m.reductions = Some(norm_reductions(10_000, 1).unwrap());
    m.blocking = temporal_blocking(&[64], &[1, 2], 1).unwrap();
    // Each budget: K = 1, then K = 2 on tiles and streamed.
    let budgets = if grant > ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES {
        2
    } else {
        1
    };
    assert_eq!(m.blocking.len(), 3 * budgets, "{:?}", m.blocking);
    assert!(
        m.blocking.iter().all(|r| r.seconds_per_step.is_ok()),
        "{:?}",
        m.blocking
    );
    assert_eq!(m.blocking.last().unwrap().workgroup_storage_bytes, grant);
    std::fs::remove_file(&path).unwrap();

    let settings = choose(&m);
    assert_eq!(settings.adapter, identity);
    let chosen: Vec<&str> = settings.chosen.iter().map(|(f, _)| *f).collect();
    for field in [
        "transfer_path",
        "staging_chunk_bytes",
        "staging_depth",
        "diffusion_steps_per_dispatch",
    ] {
        assert!(chosen.contains(&field), "{field}: {chosen:?}");
    }
    // Subgroups are chosen (either way) exactly where the device has them.
    assert_eq!(
        chosen.contains(&"subgroups"),
        m.reductions.unwrap().subgroups_seconds.is_some()
    );
}
