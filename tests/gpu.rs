//! What only the GPU backend has: data split across bindings and dispatch dimensions,
//! device-resident data, the time split, and the read-back-every-step mode. Skipped (with a
//! message) without an adapter, unless `HPNUM_REQUIRE_GPU=1`, as in CI.

#![cfg(feature = "gpu")]

mod common;

use hpnum::backends::gpu::{
    ComputeClock, Gpu, GpuOptions, HostMemory, ShaderTarget, TUNABLE, TransferPath,
};
use hpnum::calibration::Calibration;
use hpnum::kernels::diffusion::book_initial_grid;
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{Backend, DiffusionParams, JuliaParams, NormKind, Rayon, Scalar};
use hpnum::{DiffusionSettings, TemporalBlocking, Transfers};
use ndarray::Array2;

/// `steps` diffusion steps of `init` by the scalar reference.
fn reference_steps<T: hpnum::Real>(
    init: &Array2<T>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> Array2<T> {
    let mut want = init.clone();
    Scalar
        .diffuse(
            want.view_mut(),
            Array2::zeros(init.dim()).view_mut(),
            params,
            steps,
        )
        .unwrap();
    want
}

/// A second device whose bindings hold 4 KiB and whose dispatches allow 3 workgroups per
/// dimension, so that small inputs take every splitting path.
fn cramped() -> Option<Gpu> {
    common::gpu()?;
    let options = GpuOptions {
        max_binding_bytes: Some(4096),
        max_workgroups_per_dimension: Some(3),
        ..GpuOptions::from_env()
    };
    Some(Gpu::new(&options).unwrap())
}

#[test]
fn split_bindings_and_dispatches_give_the_same_results() {
    let Some(gpu) = cramped() else { return };
    assert_eq!(gpu.adapter().max_binding_bytes, 4096);
    if !gpu.adapter().f64 {
        // Written in f64 (its bands hold whole f64 rows); GL has none.
        eprintln!("note: split bindings checked only where the adapter has f64");
        return;
    }

    // 8 rows of 64 f64 per band: the grid is 8 bands, each step 8 dispatches.
    let init = book_initial_grid::<f64>(64, 64).unwrap();
    let resident = gpu.upload_grid(init.view()).unwrap();
    assert_eq!(resident.bands(), 8);
    let want = reference_steps(&init, &DiffusionParams::book(), 25);
    let mut got = init.clone();
    gpu.diffuse(
        got.view_mut(),
        Array2::zeros((64, 64)).view_mut(),
        &DiffusionParams::book(),
        25,
    )
    .unwrap();
    let backend: &dyn hpnum::AnyBackend = &gpu;
    common::assert_grid_close(backend, &got, &want, 1e-12, "banded grid");

    // 200 × 200 Julia in bands of 5 rows; 10⁵-element norms in pieces of 512 (f64).
    let params = JuliaParams::<f32>::book(200, 100).unwrap();
    common::assert_counts_close(
        backend,
        &gpu.julia(&params).unwrap(),
        &Scalar.julia(&params).unwrap(),
        "banded julia",
    );
    let v = lcg_vector::<f64>(100_003, LCG_SEED).unwrap();
    for kind in NormKind::ALL {
        let got = gpu.norm(v.view(), kind).unwrap();
        let want = Scalar.norm(v.view(), kind).unwrap();
        assert!(
            common::rel_err(got, want) <= 1e-14,
            "{kind}: {got} vs {want}"
        );
    }
}

#[test]
fn sizes_beyond_one_binding_work_on_the_real_device() {
    let Some(gpu) = common::gpu() else { return };
    // 10⁸ f32 elements: 400 MB, more than WebGPU's default 128 MiB binding.
    let v = lcg_vector::<f32>(100_000_000, LCG_SEED).unwrap();
    let got = gpu.norm(v.view(), NormKind::L2).unwrap();
    let want = Rayon::new().norm(v.view(), NormKind::L2).unwrap();
    assert!(
        common::rel_err(f64::from(got), f64::from(want)) <= 1e-6,
        "{got} vs {want}"
    );
    drop(v);
    // An 8192² f32 grid: 256 MiB per buffer, 67 M cells (over 65 535 workgroups of 256).
    let n = 8192;
    let init = book_initial_grid::<f32>(n, n).unwrap();
    let mut want = init.clone();
    Rayon::new()
        .diffuse(
            want.view_mut(),
            Array2::zeros((n, n)).view_mut(),
            &DiffusionParams::book(),
            2,
        )
        .unwrap();
    let mut got = init;
    gpu.diffuse(
        got.view_mut(),
        Array2::zeros((n, n)).view_mut(),
        &DiffusionParams::book(),
        2,
    )
    .unwrap();
    common::assert_grid_close(gpu.as_ref(), &got, &want, 1e-5, "8192²");
}

#[test]
fn resident_steps_equal_one_shot_steps_and_time_is_split() {
    let Some(backend) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let init = book_initial_grid::<f32>(96, 80).unwrap();
    let params = DiffusionParams::book();

    let mut resident = gpu.upload_grid(init.view()).unwrap();
    for _ in 0..4 {
        resident.step(&params, 10).unwrap();
    }
    let mut one_shot = init.clone();
    let timings = gpu
        .diffuse_timed(one_shot.view_mut(), &params, 40, Transfers::Resident)
        .unwrap();
    assert_eq!(
        resident.download().unwrap(),
        one_shot,
        "steps in chunks must equal one run"
    );
    assert!(
        timings.compute > std::time::Duration::ZERO && timings.upload > std::time::Duration::ZERO
    );
    assert_eq!(
        timings.total(),
        timings.upload + timings.compute + timings.download
    );

    let mut read_back = init.clone();
    let slow = gpu
        .diffuse_timed(
            read_back.view_mut(),
            &params,
            40,
            Transfers::ReadBackEveryStep,
        )
        .unwrap();
    assert_eq!(
        read_back, one_shot,
        "reading back must not change the result"
    );
    // The downloads are timed (how long 41 take against 1 is the bench's question, not a
    // test's: `diffusion/gpu-readback` rows).
    assert!(slow.download > std::time::Duration::ZERO, "{slow:?}");
    let want = reference_steps(&init, &params, 40);
    common::assert_grid_close(backend.as_ref(), &one_shot, &want, 1e-5, "resident");
}

#[test]
fn adapter_is_described() {
    let Some(backend) = common::gpu() else { return };
    let caps = backend.capabilities();
    assert_eq!(backend.name(), "gpu");
    assert_ne!(caps.device, hpnum::DeviceKind::Cpu);
    assert!(caps.supports(hpnum::Precision::F32));
    let gpu = Gpu::shared().unwrap();
    // Subgroup reductions where the device has them (lavapipe does; GL does not).
    let reduction = gpu.norm_reduction(hpnum::Precision::F32).unwrap();
    assert_eq!(
        reduction == hpnum::backends::gpu::Reduction::Subgroups,
        gpu.adapter().subgroups
    );
    let isa = match reduction {
        hpnum::backends::gpu::Reduction::Subgroups => "wgsl+subgroups",
        hpnum::backends::gpu::Reduction::Tree => "wgsl",
    };
    assert_eq!(caps.isa, isa);
    assert!(!gpu.adapter().name.is_empty());
    let clock = if gpu.adapter().timestamps {
        ComputeClock::Timestamps
    } else {
        ComputeClock::Host
    };
    assert_eq!(gpu.compute_clock(), clock);
    let mut grid = book_initial_grid::<f32>(32, 32).unwrap();
    let timings = gpu
        .diffuse_timed(
            grid.view_mut(),
            &DiffusionParams::book(),
            3,
            Transfers::Resident,
        )
        .unwrap();
    assert_eq!(timings.compute_clock, clock);
    assert!(gpu.adapter().max_binding_bytes >= 1 << 20);
    // CI runs the GPU suites once per transfer path: the choice must reach the device.
    let wanted = std::env::var("HPNUM_GPU_TRANSFERS").ok();
    if let Some(path) = wanted.and_then(|v| v.parse::<TransferPath>().ok()) {
        assert_eq!(gpu.adapter().transfer_path, path);
    }
}

/// Every tunable field reads the text the environment and a calibration file hold, fills
/// only an unset field, and refuses what does not parse.
#[test]
fn tunable_fields_read_their_text() {
    let values = [
        ("transfer_path", "mapped"),
        ("staging_chunk_bytes", "1048576"),
        ("staging_depth", "4"),
        ("workgroup_storage_bytes", "16384"),
        ("subgroups", "false"),
        ("diffusion_steps_per_dispatch", "3"),
        ("diffusion_blocking", "stream"),
    ];
    // The device's own fields, then the kernels' settings, which the default options know.
    let tunable = GpuOptions::default().tunable();
    assert!(tunable.starts_with(TUNABLE));
    assert!(
        values
            .iter()
            .map(|(f, _)| f)
            .eq(tunable.iter().map(|(f, _)| f)),
        "a value for every tunable field"
    );
    let mut options = GpuOptions::default();
    for (field, value) in values {
        assert_eq!(options.set_if_unset(field, value), Ok(true), "{field}");
        assert_eq!(
            options.set_if_unset(field, value),
            Ok(false),
            "{field} again"
        );
    }
    assert_eq!(options.transfer_path, Some(TransferPath::MappedBuffers));
    assert_eq!(options.staging_chunk_bytes, Some(1 << 20));
    assert_eq!(options.staging_depth, Some(4));
    assert_eq!(
        DiffusionSettings::of(&options.kernel_settings),
        DiffusionSettings {
            steps_per_dispatch: Some(3),
            blocking: Some(TemporalBlocking::Stream),
        }
    );
    assert_eq!(options.workgroup_storage_bytes, Some(16 << 10));
    assert_eq!(options.subgroups, Some(false));
    for (field, bad) in [
        ("transfer_path", "dma"),
        ("staging_depth", "0"),
        ("staging_chunk_bytes", "-1"),
        ("diffusion_blocking", "diamonds"),
        ("diffusion_steps_per_dispatch", "0"),
        ("subgroups", "maybe"),
        ("no_such_field", "1"),
    ] {
        assert!(
            matches!(
                GpuOptions::default().set_if_unset(field, bad),
                Err(hpnum::Error::InvalidParameter { .. })
            ),
            "{field} = {bad}"
        );
    }
}

/// Settings saved for this adapter and driver fill what the options leave unset, new grids
/// start with the saved K and scheme (and keep the bits), and settings of another adapter,
/// or none at all, change nothing.
#[test]
fn saved_settings_fill_only_what_the_options_leave_unset() {
    let Some(shared) = common::gpu().and(Gpu::shared().ok()) else {
        return;
    };
    let identity = shared.adapter().identity();
    let path = std::env::temp_dir().join(format!("hpnum-gpu-settings-{}.tsv", std::process::id()));
    let save = |adapter: &str, settings: &[(&str, &str)]| {
        let mut cal = Calibration::new();
        cal.set_adapter(adapter);
        for (field, value) in settings {
            cal.set_gpu_setting(field, *value);
        }
        cal.save_to(&path).unwrap();
    };
    let untuned = GpuOptions {
        tuning: None,
        ..GpuOptions::from_env()
    };
    let open = |options: &GpuOptions| {
        Gpu::new(&GpuOptions {
            tuning: Some(path.clone()),
            ..options.clone()
        })
    };
    let settings = [
        ("staging_chunk_bytes", "1048576"),
        ("staging_depth", "4"),
        ("diffusion_steps_per_dispatch", "16"),
        ("diffusion_blocking", "stream"),
        ("a_setting_of_a_newer_hpnum", "7"),
    ];
    save(&identity, &settings);
    let gpu = open(&GpuOptions {
        staging_depth: Some(2),
        ..untuned.clone()
    })
    .unwrap();
    let a = gpu.adapter();
    assert_eq!(a.staging_chunk_bytes, 1 << 20);
    assert_eq!(a.staging_depth, 2, "the caller's value wins");
    let diffusion = DiffusionSettings::of(&a.kernel_settings);
    assert_eq!(diffusion.blocking, Some(TemporalBlocking::Stream));
    assert_eq!(
        a.tuned,
        [
            "staging_chunk_bytes",
            "diffusion_steps_per_dispatch",
            "diffusion_blocking"
        ]
    );

    // New grids start streamed, at K = 16 clamped to the stream's bound in each precision,
    // and step to the reference's bits.
    fn starts_tuned<T: hpnum::Real>(gpu: &Gpu) {
        let init = book_initial_grid::<T>(64, 48).unwrap();
        let mut grid = gpu.upload_grid(init.view()).unwrap();
        assert_eq!(grid.temporal_blocking(), TemporalBlocking::Stream);
        let bound = grid.max_steps_per_dispatch_with(TemporalBlocking::Stream);
        assert_eq!(grid.steps_per_dispatch(), bound.min(16), "{}", T::PRECISION);
        assert!(
            bound >= 2,
            "{}: the stream's bound is {bound}",
            T::PRECISION
        );
        let params = DiffusionParams::<T>::book();
        grid.advance(&params, 37).unwrap();
        let want = reference_steps(&init, &params, 37);
        assert!(
            grid.download().unwrap() == want,
            "{}: not the reference's bits",
            T::PRECISION
        );
    }
    starts_tuned::<f32>(&gpu);
    if gpu.adapter().f64 {
        starts_tuned::<f64>(&gpu);
    }
    // A grid in several bands runs one step per dispatch, and says so.
    let banded = open(&GpuOptions {
        max_binding_bytes: Some(4096),
        ..untuned.clone()
    })
    .unwrap();
    let grid = banded
        .upload_grid(book_initial_grid::<f32>(64, 48).unwrap().view())
        .unwrap();
    assert!(grid.bands() > 1);
    assert_eq!(grid.steps_per_dispatch(), 1);

    // Another adapter's (or driver's) settings, or no file, leave the defaults.
    let defaults = Gpu::new(&untuned).unwrap();
    save(&format!("{identity} (another driver)"), &settings);
    for gpu in [open(&untuned).unwrap(), {
        std::fs::remove_file(&path).unwrap();
        open(&untuned).unwrap()
    }] {
        assert!(gpu.adapter().tuned.is_empty(), "{:?}", gpu.adapter().tuned);
        assert_eq!(gpu.adapter(), defaults.adapter());
    }

    // A saved value that does not parse is an error naming the file and the way out.
    save(&identity, &[("staging_depth", "zero")]);
    let broken = open(&untuned).map(|_| ()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let message = broken.to_string();
    assert!(
        matches!(broken, hpnum::Error::InvalidParameter { .. })
            && message.contains(&*path.to_string_lossy())
            && message.contains("HPNUM_GPU_TUNING=off"),
        "{message}"
    );
}

/// The memory type a mapped buffer gets is reported wherever the API says (Vulkan), and
/// only there; a software driver's is the host's own, cached memory.
#[test]
fn mapped_memory_is_reported_where_vulkan_says() {
    if common::gpu().is_none() {
        return;
    }
    let adapter = Gpu::shared().unwrap().adapter().clone();
    let vulkan = adapter.api == "Vulkan";
    assert_eq!(adapter.read_back_memory.is_some(), vulkan, "{adapter:?}");
    assert_eq!(adapter.mapped_data_memory.is_some(), vulkan, "{adapter:?}");
    if vulkan && adapter.device == hpnum::DeviceKind::SoftwareGpu {
        assert_eq!(adapter.read_back_memory, Some(HostMemory::Cached));
        assert_eq!(adapter.mapped_data_memory, Some(HostMemory::Cached));
    }
}

#[test]
fn a_missing_adapter_is_a_typed_error() {
    let options = GpuOptions {
        adapter_name: Some("no adapter is called this".into()),
        ..GpuOptions::default()
    };
    match Gpu::new(&options) {
        Err(hpnum::Error::NoAdapter { details }) => {
            assert!(details.contains("no adapter is called this"))
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}

#[test]
fn many_threads_share_one_device() {
    let Some(gpu) = common::gpu() else { return };
    let v = lcg_vector::<f32>(50_001, 3).unwrap();
    let want = Scalar.norm(v.view(), NormKind::L1).unwrap();
    let grid = book_initial_grid::<f32>(48, 40).unwrap();
    let want_grid = reference_steps(&grid, &DiffusionParams::book(), 7);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let got = gpu.norm(v.view(), NormKind::L1).unwrap();
                    assert!(common::rel_err(f64::from(got), f64::from(want)) <= 1e-6);
                    let mut g = grid.clone();
                    gpu.diffuse(
                        g.view_mut(),
                        Array2::zeros(grid.dim()).view_mut(),
                        &DiffusionParams::book(),
                        7,
                    )
                    .unwrap();
                    common::assert_grid_close(gpu.as_ref(), &g, &want_grid, 1e-5, "threaded");
                }
            });
        }
    });
}

/// Temporal blocking (K steps per dispatch in workgroup memory, on tiles or streamed
/// strips) gives the bits of K single steps for every K up to the scheme's bound, on shapes
/// smaller and larger than a tile or a strip (wider than a strip's 256 columns, taller than
/// its 256 rows), odd and prime, with step counts that leave a remainder, in both
/// precisions; K = 0, K beyond the bound and K ≥ 2 on a grid split into bands are typed
/// errors.
fn temporal_blocking_is_bit_identical<T: hpnum::Real>(gpu: &Gpu, scheme: TemporalBlocking) {
    let params = DiffusionParams::<T>::book();
    let shapes = [
        (1, 1),
        (3, 5),
        (17, 64),
        (64, 17),
        (70, 131),
        (200, 97),
        (300, 517),
    ];
    for (rows, cols) in shapes {
        // A grid with structure at every scale: the book's initial blob and a ramp.
        let init = Array2::from_shape_fn((rows, cols), |(r, c)| {
            T::from_f64(((r * 31 + c * 17) % 23) as f64 / 7.0 + if r == c { 1e3 } else { 0.0 })
        });
        let steps = 23;
        let mut single = gpu.upload_grid(init.view()).unwrap();
        single.set_steps_per_dispatch(1).unwrap();
        single.advance(&params, steps).unwrap();
        let want = single.download().unwrap();
        let max = single.max_steps_per_dispatch_with(scheme);
        assert!(max >= 2, "{scheme:?} allows only K = {max}");
        let mut ks: Vec<usize> = [2, 3, 4, 7, max]
            .into_iter()
            .filter(|&k| k <= max)
            .collect();
        ks.dedup();
        for k in ks {
            let mut blocked = gpu.upload_grid(init.view()).unwrap();
            blocked.set_temporal_blocking(scheme).unwrap();
            blocked.set_steps_per_dispatch(k).unwrap();
            assert_eq!(blocked.steps_per_dispatch(), k);
            assert_eq!(blocked.temporal_blocking(), scheme);
            // In pieces, so that calls start mid-way through a block.
            blocked.advance(&params, 5).unwrap();
            blocked.step(&params, steps - 5).unwrap();
            let got = blocked.download().unwrap();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.as_f64().to_bits(),
                    w.as_f64().to_bits(),
                    "{} {rows}×{cols} K={k} {scheme:?}: cell {i}",
                    T::PRECISION
                );
            }
        }
        let mut grid = gpu.upload_grid(init.view()).unwrap();
        grid.set_temporal_blocking(scheme).unwrap();
        assert!(matches!(
            grid.set_steps_per_dispatch(0),
            Err(hpnum::Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            grid.set_steps_per_dispatch(max + 1),
            Err(hpnum::Error::InvalidParameter { .. })
        ));
    }
    // A K that one scheme allows and the other does not cannot be carried across.
    let mut grid = gpu.upload_grid(Array2::<T>::ones((8, 8)).view()).unwrap();
    let tiles = grid.max_steps_per_dispatch_with(TemporalBlocking::Tiles);
    let stream = grid.max_steps_per_dispatch_with(TemporalBlocking::Stream);
    if tiles > stream {
        grid.set_steps_per_dispatch(stream + 1).unwrap();
        assert!(matches!(
            grid.set_temporal_blocking(TemporalBlocking::Stream),
            Err(hpnum::Error::InvalidParameter { .. })
        ));
        assert_eq!(grid.temporal_blocking(), TemporalBlocking::Tiles);
    }
}

#[test]
fn temporal_blocking_gives_the_bits_of_single_steps() {
    let Some(backend) = common::gpu() else { return };
    // Tiles of all the workgroup memory the device grants, and of WebGPU's guaranteed
    // 16 KiB (the smallest a device runs), where the two differ.
    let shared = Gpu::shared().unwrap();
    let guaranteed = ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES;
    let mut devices = vec![shared.clone()];
    if shared.adapter().workgroup_storage_bytes > guaranteed {
        devices.push(
            Gpu::new(&GpuOptions {
                workgroup_storage_bytes: Some(guaranteed),
                ..GpuOptions::from_env()
            })
            .unwrap(),
        );
    } else {
        eprintln!("note: the device grants only the guaranteed workgroup memory");
    }
    for gpu in &devices {
        for scheme in [TemporalBlocking::Tiles, TemporalBlocking::Stream] {
            temporal_blocking_is_bit_identical::<f32>(gpu, scheme);
            if common::supports::<f64>(backend.as_ref()) {
                temporal_blocking_is_bit_identical::<f64>(gpu, scheme);
            }
        }
    }
    // A grid in several bands runs K = 1 only.
    let Some(cramped) = cramped() else { return };
    let init = Array2::<f32>::ones((64, 64));
    let mut banded = cramped.upload_grid(init.view()).unwrap();
    assert!(matches!(
        banded.set_steps_per_dispatch(4),
        Err(hpnum::Error::Unsupported { .. })
    ));
}

/// A grid large enough to choose its one-step entry point by timing both: the trial steps
/// leave its data alone (the bits equal the reference's), the choice is one of the two and
/// is kept for the next grid of its size, and rows that are not whole quads take `main`.
#[test]
fn large_grids_time_their_entry_point_and_keep_the_bits() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let params = DiffusionParams::<f32>::book();
    let (rows, cols) = (1024, 4096); // 2²² cells: the smallest that measures
    let init = Array2::from_shape_fn((rows, cols), |(r, c)| ((r * 7 + c * 3) % 11) as f32);
    let want = reference_steps(&init, &params, 3);
    let mut grid = gpu.upload_grid(init.view()).unwrap();
    assert_eq!(grid.entry_point(), None, "chosen at the first step");
    grid.advance(&params, 3).unwrap();
    let chosen = grid.entry_point().unwrap();
    assert!(["quads", "main"].contains(&chosen), "{chosen}");
    assert_eq!(grid.download().unwrap(), want);
    let mut again = gpu.upload_grid(init.view()).unwrap();
    again.advance(&params, 1).unwrap();
    assert_eq!(again.entry_point(), Some(chosen), "remembered for the size");
    let mut odd = gpu.upload_grid(Array2::<f32>::ones((3, 5)).view()).unwrap();
    odd.advance(&params, 1).unwrap();
    assert_eq!(odd.entry_point(), Some("main"));
    let mut small = gpu.upload_grid(Array2::<f32>::ones((8, 8)).view()).unwrap();
    small.advance(&params, 1).unwrap();
    assert_eq!(small.entry_point(), Some("quads"));
}

/// Where the adapter lacks `SHADER_F64` (wgpu's GL backend, Metal), every f64 call is
/// `Error::Unsupported` naming the adapter, and f32 still runs; where it has it, f64 runs.
/// CI runs this on both Vulkan (f64) and GL (none).
#[test]
fn f64_without_the_feature_is_unsupported() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    let v = ndarray::Array1::<f64>::ones(10);
    let mut g = Array2::<f64>::ones((4, 4));
    let julia = JuliaParams::<f64>::book(16, 10).unwrap();
    let results = [
        gpu.norm(v.view(), NormKind::L2).map(|_| ()),
        gpu.diffuse(
            g.view_mut(),
            Array2::zeros((4, 4)).view_mut(),
            &DiffusionParams::book(),
            1,
        ),
        gpu.julia(&julia).map(|_| ()),
        gpu.upload_vector(v.view()).map(|_| ()),
    ];
    let has_f64 = hpnum::Describe::capabilities(&gpu).supports(hpnum::Precision::F64);
    for result in results {
        match (has_f64, result) {
            (true, Ok(())) => {}
            (false, Err(hpnum::Error::Unsupported { what, .. })) => {
                assert!(what.contains("f64"), "{what}")
            }
            (_, other) => panic!("f64 available: {has_f64}, got {other:?}"),
        }
    }
    let v32 = ndarray::Array1::<f32>::ones(10);
    assert!(gpu.norm(v32.view(), NormKind::L2).is_ok());
}

/// The norms' two workgroup reductions (subgroup operations where the device has them, the
/// tree in workgroup memory) give the same answers: exact for L∞, the special values and
/// small-integer sums, within rounding otherwise.
#[test]
fn norms_agree_with_and_without_subgroups() {
    let Some(_) = common::gpu() else { return };
    let with = Gpu::shared().unwrap();
    let tree = Gpu::new(&GpuOptions {
        subgroups: Some(false),
        ..GpuOptions::from_env()
    })
    .unwrap();
    assert_eq!(
        tree.norm_reduction(hpnum::Precision::F32).unwrap(),
        hpnum::backends::gpu::Reduction::Tree
    );
    let lcg = lcg_vector::<f32>(100_003, LCG_SEED).unwrap();
    let mut special = ndarray::Array1::<f32>::from_elem(70_001, 0.25);
    special[12_345] = f32::from_bits(0x0000_0003); // a subnormal
    let integers = ndarray::Array1::from_shape_fn(50_000, |i| ((i * 37) % 19) as f32 - 9.0);
    for kind in NormKind::ALL {
        for v in [&lcg, &special, &integers] {
            let (a, b) = (
                with.norm(v.view(), kind).unwrap(),
                tree.norm(v.view(), kind).unwrap(),
            );
            let exact = kind == NormKind::LInf || !std::ptr::eq(v, &lcg);
            if exact {
                assert_eq!(a, b, "{kind}");
            } else {
                assert!(
                    common::rel_err(f64::from(a), f64::from(b)) < 1e-6,
                    "{kind}: {a} {b}"
                );
            }
        }
        let mut nan = special.clone();
        nan[69_999] = f32::NAN;
        assert!(with.norm(nan.view(), kind).unwrap().is_nan(), "{kind}");
        assert!(tree.norm(nan.view(), kind).unwrap().is_nan(), "{kind}");
    }
}

/// Rows move alone, across band boundaries, in both directions: what a halo exchange needs.
#[test]
fn rows_move_without_the_rest_of_the_grid() {
    let Some(gpu) = cramped() else { return };
    // 64 columns of f32: 16 rows per 4 KiB band, so 50 rows span four bands.
    let init = Array2::from_shape_fn((50, 64), |(r, c)| (r * 64 + c) as f32);
    let mut resident = gpu.upload_grid(init.view()).unwrap();
    assert!(resident.bands() > 1);
    for rows in [0..1, 14..18, 15..16, 31..50, 0..50, 7..7] {
        let mut out = vec![0f32; rows.len() * 64];
        resident.download_rows(rows.clone(), &mut out).unwrap();
        let want: Vec<f32> = init
            .slice(ndarray::s![rows.clone(), ..])
            .iter()
            .copied()
            .collect();
        assert_eq!(out, want, "{rows:?}");
    }
    let fresh: Vec<f32> = (0..5 * 64).map(|i| -(i as f32)).collect();
    resident.upload_rows(13, &fresh).unwrap();
    let mut want = init.clone();
    want.slice_mut(ndarray::s![13..18, ..])
        .assign(&ndarray::ArrayView2::from_shape((5, 64), &fresh).unwrap());
    assert_eq!(resident.download().unwrap(), want);
    let mut out = vec![0f32; 64];
    assert!(matches!(
        resident.download_rows(49..51, &mut out),
        Err(hpnum::Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        resident.upload_rows(49, &fresh),
        Err(hpnum::Error::ShapeMismatch { .. })
    ));
}

/// One grid over two devices (two on the same software adapter in CI; `adapter_index`
/// picks among several), halos through the host: one device's bits for every K, and the
/// decomposition's errors.
#[test]
fn two_devices_share_a_grid_bit_for_bit() {
    let Some(_) = common::gpu() else { return };
    let options = GpuOptions {
        adapter_index: Some(0),
        ..GpuOptions::from_env()
    };
    let gpus = [Gpu::new(&options).unwrap(), Gpu::new(&options).unwrap()];
    let params = DiffusionParams::<f32>::book();
    for (rows, cols) in [(37, 23), (8, 64), (2, 5)] {
        let init = Array2::from_shape_fn((rows, cols), |(r, c)| {
            ((r * 7 + c * 13) % 11) as f32 / 11.0 + if (r + c) % 3 == 0 { 1.0 } else { 0.0 }
        });
        let mut one = gpus[0].upload_grid(init.view()).unwrap();
        one.advance(&params, 11).unwrap();
        let want = one.download().unwrap();
        for halo in [1, 2, 3, 5] {
            if halo > rows / 2 {
                continue;
            }
            let mut split = hpnum::MultiGpuGrid::upload(&gpus, init.view(), halo).unwrap();
            assert_eq!(split.devices(), 2);
            split.step(&params, 4).unwrap();
            split.step(&params, 7).unwrap();
            let got = split.download().unwrap();
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{rows}×{cols}, K = {halo}"
            );
        }
    }
    let init = Array2::<f32>::zeros((6, 4));
    for (gpus, halo) in [(&gpus[..], 0), (&gpus[..], 4), (&gpus[..0], 1)] {
        assert!(matches!(
            hpnum::MultiGpuGrid::upload(gpus, init.view(), halo),
            Err(hpnum::Error::InvalidParameter { .. })
        ));
    }
    let one_row = Array2::<f32>::zeros((1, 4));
    assert!(hpnum::MultiGpuGrid::upload(&gpus, one_row.view(), 1).is_err());
}

/// The library sets `NODEVICE_SELECT` only while the process runs one thread: with a
/// second thread alive, changing the environment could race with it, so the switch must
/// do nothing (and say so).
#[test]
fn the_headless_switch_changes_nothing_beside_another_thread() {
    let before = std::env::var_os("NODEVICE_SELECT");
    let (ready, wait) = std::sync::mpsc::channel::<()>();
    let (stop, done) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        ready.send(()).unwrap();
        done.recv().ok();
    });
    wait.recv().unwrap();
    assert!(!hpnum::backends::gpu::quiet_headless_vulkan());
    assert_eq!(std::env::var_os("NODEVICE_SELECT"), before);
    stop.send(()).unwrap();
    other.join().unwrap();
}

/// Every kernel's benchmark case runs on the GPU in the flavours every kernel has (compute
/// on resident data, and the smallest call the per-call floor is compared with), and each
/// run succeeds: the bench and the crossover sweep rely on them.
#[test]
fn every_kernels_case_has_its_gpu_flavours() {
    use hpnum::kernels::{GpuFlavour, Kernel};
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::shared().unwrap();
    for kernel in Kernel::ALL {
        let mut case = kernel.case::<f32>(16).unwrap();
        for flavour in [GpuFlavour::Resident, GpuFlavour::SingleCall] {
            let mut run = case
                .gpu(&gpu, flavour)
                .unwrap()
                .unwrap_or_else(|| panic!("{kernel} has no {} flavour", flavour.name()));
            run.run().unwrap();
        }
        assert!(case.run(&gpu).unwrap() > std::time::Duration::ZERO);
    }
}
