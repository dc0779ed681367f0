//! The conformance suite: every case written once, as a function of a backend and a
//! precision (`julia.rs`, `diffusion.rs`, `norm.rs` beside this file), and instantiated
//! here for every backend — each SIMD level, rayon on the global pool and on a pool of an
//! odd size, `auto`, the GPU on each transfer path — and both precisions, as cubecl's test
//! macros instantiate a kernel family's tests for every runtime. A test is named
//! `<backend>::<precision>::<kernel>_<case>`, so a failure names what failed.
//!
//! A precision the backend lacks (f64 on a GPU without `SHADER_F64`) is not skipped: every
//! case checks there that each call is `Error::Unsupported`. A backend this machine lacks
//! (an instruction set it cannot run, no GPU adapter) is skipped with a note, except that
//! `HPNUM_REQUIRE_GPU=1` (as CI sets) turns a missing adapter into a failure.

#[path = "../common/mod.rs"]
mod common;
mod diffusion;
mod julia;
mod norm;

use std::sync::{Arc, OnceLock};

use hpnum::backends::simd::Isa;
use hpnum::{AnyBackend, Real};

/// Every case, for one backend (`$backend`, a function returning it or `None`) in one
/// precision (`$t`). One line per case: the suite's list.
macro_rules! cases {
    ($backend:path, $t:ty) => {
        cases!(@each $backend, $t,
            julia_reference_vectors => julia::reference_vectors,
            julia_book_case => julia::book_case,
            julia_rectangular_regions => julia::rectangular_regions,
            julia_hand_computed_points => julia::hand_computed_points,
            julia_zero_iterations_and_empty_axes => julia::zero_iterations_and_empty_axes,
            julia_escape_then_return => julia::escape_then_return,
            julia_random_axes => julia::random_axes,
            diffusion_book_case => diffusion::book_case,
            diffusion_every_shape_roll_accepts => diffusion::every_shape_roll_accepts,
            diffusion_any_layout => diffusion::any_layout,
            diffusion_zero_steps_and_empty_grids => diffusion::zero_steps_and_empty_grids,
            diffusion_nan_and_infinity => diffusion::nan_and_infinity,
            diffusion_subnormals => diffusion::subnormals,
            diffusion_scratch_of_another_shape => diffusion::scratch_of_another_shape,
            diffusion_mass_is_conserved => diffusion::mass_is_conserved,
            diffusion_random_grids => diffusion::random_grids,
            norm_lcg_accuracy => norm::lcg_accuracy,
            norm_book_arange => norm::book_arange,
            norm_any_stride => norm::any_stride,
            norm_exact_small_sums => norm::exact_small_sums,
            norm_ends_at_unmapped_memory => norm::ends_at_unmapped_memory,
            norm_nan_and_infinity => norm::nan_and_infinity,
            norm_l2_neither_overflows_nor_underflows => norm::l2_range,
            norm_special_values_at_every_block_edge => norm::special_values_everywhere,
            norm_subnormals_exactly => norm::subnormals_everywhere,
            norm_linf_by_every_bit => norm::linf_by_every_bit,
            norm_random_relations => norm::random_relations,
        );
    };
    (@each $backend:path, $t:ty, $($name:ident => $($case:ident)::+,)+) => {
        $(
            #[test]
            fn $name() {
                if let Some(backend) = $backend() {
                    crate::run::<$t>(backend, crate::$($case)::+::<$t>);
                }
            }
        )+
    };
}

/// One module per backend, holding the suite in both precisions.
macro_rules! instantiate {
    ($($name:ident => $make:expr;)+) => {
        $(
            mod $name {
                use super::*;

                /// The backend, built once for all its tests (or `None`, said once).
                fn backend() -> Option<&'static dyn AnyBackend> {
                    static BACKEND: OnceLock<Option<Arc<dyn AnyBackend>>> = OnceLock::new();
                    BACKEND.get_or_init(|| $make).as_deref()
                }

                mod f32 {
                    cases!(super::backend, f32);
                }

                mod f64 {
                    cases!(super::backend, f64);
                }
            }
        )+
    };
}

instantiate! {
    scalar => Some(Arc::new(hpnum::Scalar));
    simd => Some(Arc::new(hpnum::Simd::new()));
    simd_avx512 => simd_at(Isa::Avx512);
    simd_avx2 => simd_at(Isa::Avx2);
    simd_sse42 => simd_at(Isa::Sse42);
    simd_neon => simd_at(Isa::Neon);
    simd_one_lane => simd_at(Isa::Scalar);
    rayon => Some(Arc::new(hpnum::Rayon::new()));
    rayon_3_threads => pool_of(3);
    auto => Some(Arc::new(hpnum::Auto::new().expect("Auto opens")));
    gpu_staging => gpu_on(Path::Staging);
    gpu_mapped => gpu_on(Path::Mapped);
}

/// The rayon backend on a pool of `threads`, or `None` (with a note) on WebAssembly, which
/// has no threads to start (`Rayon::with_threads` says so with its error).
fn pool_of(threads: usize) -> Option<Arc<dyn AnyBackend>> {
    match hpnum::Rayon::with_threads(threads) {
        Ok(rayon) => Some(Arc::new(rayon)),
        Err(e) if cfg!(target_family = "wasm") => {
            eprintln!("note: rayon on {threads} threads skipped on WebAssembly: {e}");
            None
        }
        Err(e) => panic!("a pool of {threads}: {e}"),
    }
}

/// The SIMD backend at `isa`, or `None` (with a note) where this CPU cannot run it.
fn simd_at(isa: Isa) -> Option<Arc<dyn AnyBackend>> {
    match hpnum::Simd::with_isa(isa) {
        Ok(simd) => Some(Arc::new(simd)),
        Err(e) => {
            eprintln!("note: {isa} cases skipped: {e}");
            None
        }
    }
}

/// The transfer paths the GPU is instantiated on.
#[allow(dead_code)] // without the `gpu` feature
enum Path {
    Staging,
    Mapped,
}

/// The GPU on `path`, or `None` (with a note) where there is no adapter or it cannot take
/// that path (mapping data buffers needs `MAPPABLE_PRIMARY_BUFFERS`, which GL lacks).
#[cfg(feature = "gpu")]
fn gpu_on(path: Path) -> Option<Arc<dyn AnyBackend>> {
    use hpnum::backends::gpu::{Gpu, GpuOptions, TransferPath};
    common::gpu()?;
    let transfer_path = match path {
        Path::Staging => TransferPath::Staging,
        Path::Mapped => TransferPath::MappedBuffers,
    };
    match Gpu::new(&GpuOptions {
        transfer_path: Some(transfer_path),
        ..GpuOptions::from_env()
    }) {
        Ok(gpu) => Some(Arc::new(gpu)),
        Err(hpnum::Error::Unsupported { what, .. }) => {
            eprintln!("note: GPU cases on {transfer_path:?} skipped: {what}");
            None
        }
        Err(e) => panic!("the GPU opened once but not on {transfer_path:?}: {e}"),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_on(_: Path) -> Option<Arc<dyn AnyBackend>> {
    common::gpu()
}

/// Runs `case` on `backend` in `T`, where it computes in `T`; where it does not, checks
/// that it says so with `Error::Unsupported` on every kernel.
fn run<T: Real>(backend: &dyn AnyBackend, case: fn(&dyn AnyBackend)) {
    if common::supports::<T>(backend) {
        case(backend);
    } else {
        common::assert_unsupported::<T>(backend);
    }
}
