//! Shared by the integration tests: the GPU under test, the reference data in `tests/data/`
//! (copied from the book's recomputed references), and the comparisons every backend is
//! held to.

#![allow(dead_code)] // each test crate uses a different part

use std::path::PathBuf;
use std::sync::Arc;

use hpnum::{AnyBackend, DeviceKind, Real};
use ndarray::Array2;

/// The GPU backend, if an adapter opens. With `HPNUM_REQUIRE_GPU=1` (as CI sets) a missing
/// adapter fails the test; otherwise the GPU cases are skipped with a message saying why.
#[cfg(feature = "gpu")]
pub fn gpu() -> Option<Arc<dyn AnyBackend>> {
    match hpnum::Gpu::shared() {
        Ok(gpu) => Some(Arc::new(gpu)),
        Err(e) if std::env::var("HPNUM_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("HPNUM_REQUIRE_GPU=1 but the GPU backend is unavailable: {e}")
        }
        Err(e) => {
            eprintln!(
                "note: GPU cases skipped ({e}); set HPNUM_REQUIRE_GPU=1 to make this an error"
            );
            None
        }
    }
}

/// This build has no GPU backend (`--no-default-features`).
#[cfg(not(feature = "gpu"))]
pub fn gpu() -> Option<Arc<dyn AnyBackend>> {
    eprintln!("note: GPU cases skipped: built without the `gpu` feature");
    None
}

/// The rayon backend on a pool of `threads`; on WebAssembly, which starts no threads, on
/// the global pool (the calling thread alone), so that the same cases still run there.
pub fn rayon_on(threads: usize) -> hpnum::Rayon {
    if cfg!(target_family = "wasm") {
        hpnum::Rayon::new()
    } else {
        hpnum::Rayon::with_threads(threads).expect("a pool of threads")
    }
}

/// Whether `backend` promises the reference's bits in `T` for Julia and diffusion: every
/// backend does where its arithmetic keeps subnormals (the GPU's shaders round every product
/// before adding it, as the CPU does, whatever the driver may fuse); a GPU that flushes
/// subnormals agrees only within rounding where cells fall below the smallest normal.
pub fn exact<T: Real>(backend: &dyn AnyBackend) -> bool {
    let caps = backend.capabilities();
    caps.device == DeviceKind::Cpu || caps.keeps_subnormals_in(T::PRECISION)
}

/// Whether `backend` computes in `T` (a GPU may lack f64).
pub fn supports<T: Real>(backend: &dyn AnyBackend) -> bool {
    backend.capabilities().supports(T::PRECISION)
}

/// Asserts that every kernel of `backend` refuses `T` with `Error::Unsupported`: what a
/// backend that lacks a precision must say, instead of computing something.
pub fn assert_unsupported<T: Real>(backend: &dyn AnyBackend) {
    let b = T::on(backend);
    let unsupported = |what: &str, result: hpnum::Result<()>| {
        assert!(
            matches!(result, Err(hpnum::Error::Unsupported { .. })),
            "{} {what} in {}: {result:?}",
            label(backend),
            T::PRECISION
        );
    };
    let params = hpnum::JuliaParams::<T>::book(8, 10).unwrap();
    unsupported("julia", b.julia(&params).map(drop));
    let mut grid = Array2::<T>::zeros((4, 4));
    let mut scratch = grid.clone();
    let d = hpnum::DiffusionParams::book();
    unsupported(
        "diffuse",
        b.diffuse(grid.view_mut(), scratch.view_mut(), &d, 1),
    );
    let v = ndarray::Array1::<T>::zeros(5);
    unsupported("norm", b.norm(v.view(), hpnum::NormKind::L2).map(drop));
}

/// Asserts `got` equals `want`: bit for bit on an exact backend, else within `rel` of the
/// grid's largest magnitude, cell by cell.
pub fn assert_grid_close<T: Real>(
    backend: &dyn AnyBackend,
    got: &Array2<T>,
    want: &Array2<T>,
    rel: f64,
    what: &str,
) {
    assert_eq!(got.dim(), want.dim(), "{what}");
    if exact::<T>(backend) {
        let differ = got
            .iter()
            .zip(want.iter())
            .filter(|(a, b)| a.as_f64().to_bits() != b.as_f64().to_bits())
            .count();
        assert_eq!(
            differ,
            0,
            "{what}: {differ} cells differ on {}",
            label(backend)
        );
        return;
    }
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.as_f64().abs()));
    for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
        let (g, w) = (g.as_f64(), w.as_f64());
        let close = (g - w).abs() <= rel * scale || (g.is_nan() && w.is_nan()) || g == w;
        assert!(
            close,
            "{what} on {}: cell {idx:?} is {g:e}, expected {w:e}",
            label(backend)
        );
    }
}

/// Asserts Julia counts agree pixel for pixel: every backend computes the reference's
/// operations with the reference's roundings (the GPU's shaders keep a driver from fusing
/// them), so even the chaotic boundary pixels must match.
pub fn assert_counts_close(
    backend: &dyn AnyBackend,
    got: &Array2<u32>,
    want: &Array2<u32>,
    what: &str,
) {
    assert_eq!(got.dim(), want.dim(), "{what}");
    let differ = got.iter().zip(want.iter()).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ,
        0,
        "{what}: {differ} pixels differ on {}",
        label(backend)
    );
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

/// A property-test runner with `cases` cases and a fixed seed: the same cases on every run,
/// so that CI is reproducible (`PROPTEST_CASES` raises the count by hand).
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::with_cases(cases)
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

/// Relative error of `got` against `want`.
pub fn rel_err(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

/// Calls `check` with a vector of `n` elements (`values(i)`) whose last byte is followed by
/// at least 64 KiB of unmapped memory (on Unix: a mapping whose tail is made inaccessible;
/// elsewhere an ordinary allocation, which shows the values but not the fault).
pub fn before_unmapped_memory<T: Real>(
    n: usize,
    values: impl Fn(usize) -> T,
    check: impl FnOnce(ndarray::ArrayView1<'_, T>),
) {
    #[cfg(unix)]
    {
        const GUARD: usize = 64 << 10;
        let page = 4096usize.max(
            // SAFETY: sysconf has no preconditions.
            usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096),
        );
        let data = (n * size_of::<T>()).div_ceil(page) * page;
        let guard = GUARD.div_ceil(page) * page;
        // SAFETY: a fresh anonymous private mapping, no address hint; checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                data + guard,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        // SAFETY: `data..data + guard` lies inside the mapping just made.
        let protected =
            unsafe { libc::mprotect(base.cast::<u8>().add(data).cast(), guard, libc::PROT_NONE) };
        assert_eq!(protected, 0, "mprotect");
        // SAFETY: the `n` elements end exactly at `base + data`, inside the readable,
        // writable part of the mapping; `data - n·size` is a multiple of T's size (page
        // sizes are), so the start is aligned for T; nothing else refers to that memory.
        let v = unsafe {
            std::slice::from_raw_parts_mut(
                base.cast::<u8>().add(data - n * size_of::<T>()).cast::<T>(),
                n,
            )
        };
        for (i, x) in v.iter_mut().enumerate() {
            *x = values(i);
        }
        check(ndarray::ArrayView1::from(&*v));
        // SAFETY: the whole mapping made above, no longer borrowed.
        unsafe { libc::munmap(base, data + guard) };
    }
    #[cfg(not(unix))]
    {
        let v = ndarray::Array1::from_iter((0..n).map(values));
        check(v.view());
    }
}

/// Mesa's Vulkan device-selection layer prints `error: XDG_RUNTIME_DIR is invalid or not set
/// in the environment.` on a headless machine each time the adapters are enumerated. The
/// library quiets it ([`hpnum::backends::gpu::quiet_headless_vulkan`]) only while the
/// process runs a single thread, and the test harness starts its threads before the first
/// test: so each test binary asks before `main`, while it is still the only thread.
#[cfg(feature = "gpu")]
#[ctor::ctor(unsafe)]
fn quiet_headless_vulkan_before_the_harness() {
    hpnum::backends::gpu::quiet_headless_vulkan();
}
