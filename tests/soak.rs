//! The soak: many threads making many calls at once, mixing backends, precisions, kernels
//! and sizes, one-shot and resident GPU calls, for `HPNUM_SOAK_SECONDS` (3 by default; CI
//! runs two minutes). Every result must equal the scalar backend's (bit for bit for Julia
//! and diffusion, within rounding for the norms); no call may hang; host memory and the
//! device's pooled bytes must stay bounded. It prints what it did.
//!
//! Not on WebAssembly: it has no threads to run calls at once.
#![cfg(not(target_family = "wasm"))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hpnum::kernels::norm::lcg_vector;
use hpnum::{AnyBackend, DiffusionParams, JuliaParams, NormKind, Real, Scalar};
use ndarray::{Array1, Array2};

/// The seconds the soak runs, from `HPNUM_SOAK_SECONDS`.
fn duration() -> Duration {
    let seconds = std::env::var("HPNUM_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(seconds)
}

/// A small generator (xorshift64*): reproducible per thread, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// The resident set size of this process, from `/proc/self/status` (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// One call's inputs and the scalar backend's answer, computed once.
struct Case<T: Real> {
    julia: JuliaParams<T>,
    julia_want: Array2<u32>,
    grid: Array2<T>,
    grid_want: Array2<T>,
    vector: Array1<T>,
    norm_want: [T; 4],
}

const STEPS: usize = 7;

impl<T: Real> Case<T> {
    fn new(size: usize) -> Self {
        let julia = JuliaParams::<T>::book(size, 60).unwrap();
        let julia_want = T::on(&Scalar).julia(&julia).unwrap();
        let grid = Array2::from_shape_fn((size, size + 3), |(r, c)| {
            T::from_f64(((r * 7 + c * 13) % 17) as f64 / 17.0 + 0.25)
        });
        let mut grid_want = grid.clone();
        let mut scratch = grid.clone();
        T::on(&Scalar)
            .diffuse(
                grid_want.view_mut(),
                scratch.view_mut(),
                &DiffusionParams::book(),
                STEPS,
            )
            .unwrap();
        let vector = lcg_vector::<T>(size * 97 + 5, size as u64).unwrap();
        let norm_want = NormKind::ALL.map(|k| T::on(&Scalar).norm(vector.view(), k).unwrap());
        Case {
            julia,
            julia_want,
            grid,
            grid_want,
            vector,
            norm_want,
        }
    }

    /// One random call on `backend` (or, with `resident`, on the GPU's resident data),
    /// checked against the scalar answer.
    fn call(&self, backend: &dyn AnyBackend, rng: &mut Rng, resident: bool) {
        let name = common::label(backend);
        match rng.below(3) {
            0 => {
                let got = T::on(backend).julia(&self.julia).unwrap();
                assert_eq!(got, self.julia_want, "{name}: julia");
            }
            1 => {
                let mut grid = self.grid.clone();
                if resident {
                    gpu_steps(&mut grid);
                } else {
                    let mut scratch = grid.clone();
                    T::on(backend)
                        .diffuse(
                            grid.view_mut(),
                            scratch.view_mut(),
                            &DiffusionParams::book(),
                            STEPS,
                        )
                        .unwrap();
                }
                common::assert_grid_close(backend, &grid, &self.grid_want, 1e-5, &name);
            }
            _ => {
                let k = rng.below(4);
                let kind = NormKind::ALL[k];
                let got = if resident {
                    gpu_norm(&self.vector, kind)
                } else {
                    T::on(backend).norm(self.vector.view(), kind).unwrap()
                };
                let err = common::rel_err(got.as_f64(), self.norm_want[k].as_f64());
                assert!(err <= 1e-5, "{name}: {kind} off by {err:e}");
            }
        }
    }
}

#[cfg(feature = "gpu")]
fn gpu_steps<T: Real>(grid: &mut Array2<T>) {
    let gpu = hpnum::Gpu::shared().unwrap();
    let mut resident = gpu.upload_grid(grid.view()).unwrap();
    resident.advance(&DiffusionParams::book(), STEPS).unwrap();
    resident.download_into(grid.view_mut()).unwrap();
}

#[cfg(feature = "gpu")]
fn gpu_norm<T: Real>(v: &Array1<T>, kind: NormKind) -> T {
    let gpu = hpnum::Gpu::shared().unwrap();
    gpu.upload_vector(v.view()).unwrap().norm(kind).unwrap()
}

#[cfg(not(feature = "gpu"))]
fn gpu_steps<T: Real>(_: &mut Array2<T>) {
    unreachable!("resident calls need the GPU")
}

#[cfg(not(feature = "gpu"))]
fn gpu_norm<T: Real>(_: &Array1<T>, _: NormKind) -> T {
    unreachable!("resident calls need the GPU")
}

#[test]
fn many_threads_many_calls_every_backend_bounded_memory() {
    let mut backends: Vec<Arc<dyn AnyBackend>> = vec![
        Arc::new(hpnum::Simd::new()),
        Arc::new(hpnum::Rayon::new()),
        Arc::new(hpnum::Rayon::with_threads(3).unwrap()),
        Arc::new(hpnum::Auto::new().unwrap()),
    ];
    let gpu = common::gpu();
    backends.extend(gpu.clone());
    let sizes = [8, 31, 64];
    let cases32: Vec<Case<f32>> = sizes.iter().map(|&n| Case::new(n)).collect();
    let cases64: Vec<Case<f64>> = sizes.iter().map(|&n| Case::new(n)).collect();
    let f64_on = |b: &dyn AnyBackend| common::supports::<f64>(b);

    let threads = 8;
    let calls = AtomicUsize::new(0);
    let soak = |warm: bool| {
        let deadline = Instant::now() + if warm { Duration::ZERO } else { duration() };
        std::thread::scope(|s| {
            for t in 0..threads {
                let (backends, cases32, cases64, calls) = (&backends, &cases32, &cases64, &calls);
                s.spawn(move || {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                    // At least one round of every backend, then until the deadline.
                    let mut first = true;
                    while first || Instant::now() < deadline {
                        first = false;
                        for backend in backends {
                            let b = backend.as_ref();
                            let resident = b.name() == "gpu" && rng.below(2) == 0;
                            if rng.below(2) == 0 && f64_on(b) {
                                cases64[rng.below(cases64.len())].call(b, &mut rng, resident);
                            } else {
                                cases32[rng.below(cases32.len())].call(b, &mut rng, resident);
                            }
                            calls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
    };

    // A first round fills the caches and pools; the soak after it must not grow them.
    soak(true);
    let rss_before = rss_bytes();
    let cached_before = cached_bytes();
    let started = Instant::now();
    let watchdog = duration() + Duration::from_secs(120);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            soak(false);
            done.send(()).ok();
        });
        assert!(
            finished.recv_timeout(watchdog).is_ok(),
            "the soak did not finish within {watchdog:?}: a deadlock?"
        );
    });
    let rss_after = rss_bytes();
    let cached_after = cached_bytes();
    println!(
        "soak: {} calls on {} backends from {threads} threads in {:.1} s; RSS {:?} → {:?} MiB; \
         device memory kept for reuse {} → {} KiB",
        calls.load(Ordering::Relaxed),
        backends.len(),
        started.elapsed().as_secs_f64(),
        rss_before.map(|b| b >> 20),
        rss_after.map(|b| b >> 20),
        cached_before >> 10,
        cached_after >> 10,
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        // Bounded: allocators keep some memory, a leak per call would keep growing.
        assert!(
            after <= before + (256 << 20),
            "RSS grew from {} to {} MiB",
            before >> 20,
            after >> 20
        );
    }
    // The cache and pools are bounded by construction (2 GiB and a few chunks); the soak's
    // shapes keep them far below that.
    assert!(
        cached_after <= (2 << 30) + (256 << 20),
        "{cached_after} bytes kept"
    );
    drop(gpu);
}

#[cfg(feature = "gpu")]
fn cached_bytes() -> u64 {
    hpnum::Gpu::shared().map_or(0, |g| g.cached_bytes())
}

#[cfg(not(feature = "gpu"))]
fn cached_bytes() -> u64 {
    0
}
