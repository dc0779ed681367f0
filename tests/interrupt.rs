//! Stopping long calls: `hpnum::interrupt_running_calls` makes every running call return
//! `Error::Interrupted` at its next row, leaf, step or GPU submission, and leaves the
//! backend, the GPU device included, ready for the next call. One test, in a process of
//! its own: a request to stop reaches every call running in the process.
//!
//! Not on WebAssembly: it has no threads to run calls at once.
#![cfg(not(target_family = "wasm"))]

mod common;

use std::time::{Duration, Instant};

use hpnum::{AnyBackend, DiffusionParams, Error, JuliaParams, Real};
use ndarray::Array2;

/// Runs `call` on a thread, asks for a stop every 10 ms until it returns, and returns what
/// it returned and how long that took after the first request.
fn stop<R: Send>(call: impl FnOnce() -> hpnum::Result<R> + Send) -> (hpnum::Result<R>, Duration) {
    std::thread::scope(|s| {
        let running = s.spawn(call);
        std::thread::sleep(Duration::from_millis(20));
        let asked = Instant::now();
        while !running.is_finished() {
            hpnum::interrupt_running_calls();
            std::thread::sleep(Duration::from_millis(10));
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "the call did not stop"
            );
        }
        (running.join().unwrap(), asked.elapsed())
    })
}

/// Minutes of Julia on any backend: the book's region, 10⁵ iterations.
fn long_julia<T: Real>() -> JuliaParams<T> {
    JuliaParams::<T>::book(1500, 100_000).unwrap()
}

/// After a stop, the backend computes the next call as if nothing had happened.
fn still_works(b: &dyn AnyBackend) {
    let params = JuliaParams::<f32>::book(64, 50).unwrap();
    let got = f32::on(b).julia(&params).unwrap();
    let want = hpnum::kernels::julia::reference(&params).unwrap();
    assert_eq!(got, want, "{} after a stop", common::label(b));
    let mut grid = hpnum::kernels::diffusion::book_initial_grid::<f32>(32, 32).unwrap();
    let mut scratch = grid.clone();
    let mut want = grid.clone();
    f32::on(b)
        .diffuse(
            grid.view_mut(),
            scratch.view_mut(),
            &DiffusionParams::book(),
            10,
        )
        .unwrap();
    f32::on(&hpnum::Scalar)
        .diffuse(
            want.view_mut(),
            scratch.view_mut(),
            &DiffusionParams::book(),
            10,
        )
        .unwrap();
    common::assert_grid_close(b, &grid, &want, 1e-6, "diffusion after a stop");
}

#[test]
fn long_calls_stop_when_asked_and_the_backend_goes_on() {
    let mut backends: Vec<std::sync::Arc<dyn AnyBackend>> = vec![
        std::sync::Arc::new(hpnum::Scalar),
        std::sync::Arc::new(hpnum::Simd::new()),
        std::sync::Arc::new(hpnum::Rayon::new()),
    ];
    backends.extend(common::gpu());
    for backend in &backends {
        let b = backend.as_ref();
        let params = long_julia::<f32>();
        let (result, took) = stop(|| f32::on(b).julia(&params).map(drop));
        assert_eq!(
            result,
            Err(Error::Interrupted),
            "{} julia",
            common::label(b)
        );
        println!(
            "{}: julia stopped {took:?} after the request",
            common::label(b)
        );

        // Diffusion: thousands of steps on a grid beyond the caches.
        let mut grid = Array2::<f32>::zeros((1024, 1024));
        let mut scratch = grid.clone();
        let (result, took) = stop(|| {
            f32::on(b).diffuse(
                grid.view_mut(),
                scratch.view_mut(),
                &DiffusionParams::book(),
                1_000_000,
            )
        });
        assert_eq!(
            result,
            Err(Error::Interrupted),
            "{} diffusion",
            common::label(b)
        );
        println!(
            "{}: diffusion stopped {took:?} after the request",
            common::label(b)
        );
        still_works(b);
    }
}
