//! The Auto backend: it follows its cost model, says what it chose, computes what the
//! chosen backend computes, and its calibration survives a round trip through its file.

mod common;

use std::sync::Arc;

use hpnum::backends::auto::CostSource;
use hpnum::calibration::{Calibration, Cost};
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::kernels::{Kernel, Workload};
use hpnum::{
    AnyBackend, Auto, Backend, DiffusionParams, JuliaParams, NormKind, Precision, Rayon, Scalar,
    Simd,
};
use ndarray::Array2;

/// Scalar: no overhead, slow. Rayon: a large overhead, fast. The crossover is at
/// work = 1e-3 s / (1/1e9 − 1/1e11) ≈ 1.01e6 units.
fn two_backend_auto() -> Auto {
    let backends: Vec<Arc<dyn AnyBackend>> = vec![Arc::new(Scalar), Arc::new(Rayon::new())];
    let mut cal = Calibration::new();
    let cpu = f64::INFINITY;
    for kernel in Kernel::ALL {
        for precision in [Precision::F32, Precision::F64] {
            cal.set(
                kernel,
                precision,
                "scalar",
                Cost {
                    overhead: 0.0,
                    rate: 1e9,
                    transfer_rate: cpu,
                },
            );
            cal.set(
                kernel,
                precision,
                "rayon",
                Cost {
                    overhead: 1e-3,
                    rate: 1e11,
                    transfer_rate: cpu,
                },
            );
        }
    }
    Auto::with_calibration(backends, cal)
}

#[test]
fn small_calls_go_to_low_overhead_large_ones_to_high_rate() {
    let auto = two_backend_auto();
    assert_eq!(auto.source(), &CostSource::Given);
    let small = lcg_vector::<f64>(1000, LCG_SEED).unwrap();
    let large = lcg_vector::<f64>(2_000_000, LCG_SEED).unwrap();
    for (v, expected) in [(&small, "scalar"), (&large, "rayon")] {
        let got = auto.norm(v.view(), NormKind::L2).unwrap();
        assert_eq!(auto.last_choice().unwrap().backend, expected);
        let want = Scalar.norm(v.view(), NormKind::L2).unwrap();
        assert!(common::rel_err(got, want) <= 1e-14);
    }
    // Diffusion counts cells × steps: the same grid crosses over with more steps.
    let params = DiffusionParams::<f32>::book();
    let mut grid = hpnum::kernels::diffusion::book_initial_grid::<f32>(100, 100).unwrap();
    let mut scratch = Array2::zeros((100, 100));
    auto.diffuse(grid.view_mut(), scratch.view_mut(), &params, 10)
        .unwrap();
    assert_eq!(auto.last_choice().unwrap().backend, "scalar");
    auto.diffuse(grid.view_mut(), scratch.view_mut(), &params, 1000)
        .unwrap();
    assert_eq!(auto.last_choice().unwrap().backend, "rayon");
    let choice = auto.last_choice().unwrap();
    assert_eq!(choice.workload.work, 100.0 * 100.0 * 1000.0);
    assert!((choice.predicted_seconds - (1e-3 + 1e7 / 1e11)).abs() < 1e-12);
}

#[test]
fn choose_answers_without_running() {
    let auto = two_backend_auto();
    let load = |work| Workload {
        kernel: Kernel::Julia,
        work,
        transfer_bytes: 0.0,
        memory_bytes: 0.0,
        flops: 0.0,
    };
    assert_eq!(
        auto.choose(load(1e5), Precision::F32).unwrap().1.backend,
        "scalar"
    );
    assert_eq!(
        auto.choose(load(1e7), Precision::F32).unwrap().1.backend,
        "rayon"
    );
    assert!(
        auto.last_choice().is_none(),
        "choose must not count as a call"
    );
    let params = JuliaParams::<f64>::book(200, 100).unwrap(); // 4e6 potential iterations
    let counts = auto.julia(&params).unwrap();
    assert_eq!(auto.last_choice().unwrap().backend, "rayon");
    assert_eq!(counts, Scalar.julia(&params).unwrap());
}

#[test]
fn transfers_count_against_device_backends_only() {
    // Both CPU backends are given a ruinous transfer rate: it must be ignored, since a CPU
    // backend moves nothing across a bus, so the faster one still wins.
    let backends: Vec<Arc<dyn AnyBackend>> = vec![Arc::new(Scalar), Arc::new(Simd::new())];
    let mut cal = Calibration::new();
    cal.set(
        Kernel::Norm,
        Precision::F64,
        "scalar",
        Cost {
            overhead: 0.0,
            rate: 1e9,
            transfer_rate: 1.0,
        },
    );
    cal.set(
        Kernel::Norm,
        Precision::F64,
        "simd",
        Cost {
            overhead: 0.0,
            rate: 1e10,
            transfer_rate: 1.0,
        },
    );
    let auto = Auto::with_calibration(backends, cal);
    let load = Workload {
        kernel: Kernel::Norm,
        work: 1e6,
        transfer_bytes: 8e6,
        memory_bytes: 0.0,
        flops: 0.0,
    };
    assert_eq!(auto.choose(load, Precision::F64).unwrap().1.backend, "simd");
    assert!(
        auto.choose(load, Precision::F32).is_err(),
        "no f32 costs: a typed error"
    );
}

#[test]
fn calibration_round_trips_through_its_file_exactly() {
    let mut cal = Calibration::defaults(&hpnum::backends::all());
    cal.set(
        Kernel::Diffusion,
        Precision::F32,
        "gpu",
        Cost {
            overhead: 1.25e-4,
            rate: 3.3e10 / 7.0,
            transfer_rate: 1.1e10,
        },
    );
    cal.set_adapter("NVIDIA H100 80GB HBM3 | Vulkan | NVIDIA 580.159.04");
    cal.set_gpu_setting("staging_chunk_bytes", "8388608");
    cal.set_gpu_setting("diffusion_blocking", "stream");
    cal.set_gpu_setting("staging_chunk_bytes", "33554432"); // replaces, keeps its place
    assert_eq!(
        cal.gpu_settings(),
        [
            ("staging_chunk_bytes".to_owned(), "33554432".to_owned()),
            ("diffusion_blocking".to_owned(), "stream".to_owned()),
        ]
    );
    // Cargo's scratch directory for tests: WebAssembly has no temporary directory (nor a
    // process id to name a file by).
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hpnum-calibration-auto.tsv");
    cal.save_to(&path).unwrap();
    let back = Calibration::load_from(&path).unwrap();
    std::fs::write(&path, "julia\tf32\tscalar\tnot-a-number\t1\t1\n").unwrap();
    let broken = Calibration::load_from(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back, cal);
    assert!(matches!(
        broken,
        Err(hpnum::Error::InvalidParameter {
            name: "calibration",
            ..
        })
    ));
    assert!(Calibration::default_path().is_none_or(|p| p.ends_with("hpnum/calibration.tsv")));
}

#[test]
fn gpu_costs_are_kept_only_for_the_adapter_and_driver_they_were_measured_on() {
    let h100 = "NVIDIA H100 80GB HBM3 | Vulkan | NVIDIA 580.159.04";
    let measured = |adapter: Option<&str>| {
        let mut cal = Calibration::new();
        let cost = Cost {
            overhead: 1e-4,
            rate: 1e11,
            transfer_rate: 2e10,
        };
        cal.set(Kernel::Norm, Precision::F32, "gpu", cost);
        cal.set(Kernel::Norm, Precision::F32, "simd", cost);
        if let Some(adapter) = adapter {
            cal.set_adapter(adapter);
            cal.set_gpu_setting("staging_depth", "4");
        }
        cal
    };
    let gpu_cost = |cal: &Calibration| cal.cost(Kernel::Norm, Precision::F32, "gpu");
    for (current, kept) in [
        (Some(h100), true),
        // The same GPU under another driver, another GPU, no GPU at all.
        (
            Some("NVIDIA H100 80GB HBM3 | Vulkan | NVIDIA 590.10"),
            false,
        ),
        (
            Some("llvmpipe (LLVM 15.0.6, 256 bits) | Vulkan | llvmpipe Mesa 22.3.6"),
            false,
        ),
        (None, false),
    ] {
        let mut cal = measured(Some(h100));
        cal.keep_gpu_costs_of(current);
        assert_eq!(gpu_cost(&cal).is_some(), kept, "{current:?}");
        assert_eq!(
            !cal.gpu_settings().is_empty(),
            kept,
            "{current:?}: settings"
        );
        assert!(
            cal.cost(Kernel::Norm, Precision::F32, "simd").is_some(),
            "CPU costs stay"
        );
    }
    // A file without an adapter line (an older calibration) keeps no GPU costs.
    let mut anonymous = measured(None);
    assert!(gpu_cost(&anonymous).is_some());
    anonymous.keep_gpu_costs_of(Some(h100));
    assert!(gpu_cost(&anonymous).is_none());
    // Merging a measurement of another adapter drops the settings of the old one.
    let mut old = measured(Some("NVIDIA H100 80GB HBM3 | Vulkan | NVIDIA 590.10"));
    old.merge(&Calibration::new());
    assert_eq!(
        old.gpu_settings().len(),
        1,
        "no adapter in the merged: kept"
    );
    let mut other = Calibration::new();
    other.set_adapter(h100);
    old.merge(&other);
    assert!(old.gpu_settings().is_empty(), "{:?}", old.gpu_settings());
}

#[test]
fn fit_recovers_overhead_and_rate() {
    let truth = Cost {
        overhead: 2e-5,
        rate: 3e9,
        transfer_rate: f64::INFINITY,
    };
    let samples: Vec<(f64, f64)> = [1e3, 1e5, 1e7]
        .iter()
        .map(|&w| (w, truth.overhead + w / truth.rate))
        .collect();
    let fit = Cost::fit(&samples, f64::INFINITY).unwrap();
    assert!(
        (fit.rate / truth.rate - 1.0).abs() < 1e-9 && (fit.overhead - truth.overhead).abs() < 1e-12
    );
    assert!(Cost::fit(&[], 1.0).is_none());
    // A fixed cost that appears only above some size is charged everywhere.
    let stepped = [(1e3, 1e-7), (1e5, 2e-5), (1e7, 1e-3), (1e8, 1e-2)];
    let fit = Cost::fit(&stepped, f64::INFINITY).unwrap();
    assert!((fit.rate / (9e7 / 9e-3) - 1.0).abs() < 1e-9);
    assert!(
        (fit.overhead - (2e-5 - 1e5 / fit.rate)).abs() < 1e-12,
        "{fit:?}"
    );
}

#[test]
fn defaults_never_pick_a_software_gpu_or_the_scalar_reference_for_large_work() {
    let auto = Auto::with_calibration(
        hpnum::backends::all(),
        Calibration::defaults(&hpnum::backends::all()),
    );
    for kernel in Kernel::ALL {
        let load = Workload {
            kernel,
            work: 1e9,
            transfer_bytes: 1e8,
            memory_bytes: 0.0,
            flops: 0.0,
        };
        let name = auto.choose(load, Precision::F32).unwrap().1.backend;
        assert_ne!(name, "scalar");
        let software = hpnum::backends::all().iter().any(|b| {
            b.name() == "gpu" && b.capabilities().device == hpnum::DeviceKind::SoftwareGpu
        });
        if software {
            assert_ne!(name, "gpu", "{kernel:?}");
        }
    }
}

#[test]
fn measured_points_are_interpolated_in_log_log_space() {
    let mut cal = Calibration::new();
    let cost = Cost {
        overhead: 1.0,
        rate: 1.0,
        transfer_rate: f64::INFINITY,
    };
    cal.set(Kernel::Julia, Precision::F64, "simd", cost);
    let at = |cal: &Calibration, work| {
        let load = Workload {
            kernel: Kernel::Julia,
            work,
            transfer_bytes: 0.0,
            memory_bytes: 0.0,
            flops: 0.0,
        };
        cal.seconds(Precision::F64, "simd", &load).unwrap()
    };
    assert_eq!(at(&cal, 10.0), 11.0, "without points, the parametric cost");
    cal.set_points(
        Kernel::Julia,
        Precision::F64,
        "simd",
        &[(1e2, 1e-6), (1e4, 1e-5), (1e6, 1e-3)],
    );
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-9;
    assert!(close(at(&cal, 1e4), 1e-5), "a measured point is exact");
    assert!(close(at(&cal, 1e3), 10f64.powf(-5.5)), "halfway in log-log");
    assert!(
        close(at(&cal, 1e8), 1e-1),
        "above: along the last segment (slope 1)"
    );
    assert!(
        close(at(&cal, 1.0), 1e-6 / 10f64.powf(2.0 * 0.5)),
        "below: along the first segment (slope ½)"
    );
    // The same points through `Auto`: the table decides, not the linear model.
    let auto = Auto::with_calibration(vec![Arc::new(Simd::new())], cal);
    let load = Workload {
        kernel: Kernel::Julia,
        work: 1e4,
        transfer_bytes: 0.0,
        memory_bytes: 0.0,
        flops: 0.0,
    };
    assert!(close(
        auto.choose(load, Precision::F64)
            .unwrap()
            .1
            .predicted_seconds,
        1e-5
    ));
}

/// A backend that computes only in f32 and may flush its subnormals, as a GPU without
/// `SHADER_F64` on a driver that flushes: the scalar backend, with such capabilities.
struct F32Only;

impl hpnum::Describe for F32Only {
    fn name(&self) -> &str {
        "f32-only"
    }

    fn capabilities(&self) -> hpnum::Capabilities {
        let mut caps = Scalar.capabilities();
        caps.precisions = vec![Precision::F32];
        caps.keeps_subnormals = vec![];
        caps
    }
}

impl<T: hpnum::Real> Backend<T> for F32Only {
    fn julia(&self, params: &JuliaParams<T>) -> hpnum::Result<ndarray::Array2<u32>> {
        T::on(&Scalar).julia(params)
    }

    fn diffuse(
        &self,
        grid: ndarray::ArrayViewMut2<'_, T>,
        scratch: ndarray::ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> hpnum::Result<()> {
        T::on(&Scalar).diffuse(grid, scratch, params, steps)
    }

    fn norm(&self, v: ndarray::ArrayView1<'_, T>, kind: NormKind) -> hpnum::Result<T> {
        T::on(&Scalar).norm(v, kind)
    }
}

#[test]
fn a_backend_without_a_precision_has_no_say_in_its_subnormals() {
    use hpnum::Describe;
    let backends: Vec<Arc<dyn AnyBackend>> = vec![Arc::new(Scalar), Arc::new(F32Only)];
    let auto = Auto::with_calibration(backends, Calibration::new());
    let caps = auto.capabilities();
    // f32: the f32-only backend may be chosen, and it may flush.
    assert!(!caps.keeps_subnormals_in(Precision::F32));
    // f64: only the scalar backend computes it, and it keeps them.
    assert!(caps.keeps_subnormals_in(Precision::F64));
    assert!(caps.supports(Precision::F64));
}
