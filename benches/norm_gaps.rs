//! Is a norm on all cores ever slower than on one, whatever the pause between calls?
//!
//! The rayon backend shares a norm with its pool's threads only where it pays: from 512 KiB
//! while they are awake (a loop of calls; after a call they wait up to the spin time,
//! `HPNUM_SPIN_US`, for the next), from 16 MiB when they sleep (waking one costs about
//! 10 µs on a VM). This times ‖v‖² of f64 vectors called with busy pauses of 0 to 1000 µs
//! between calls, on one SIMD core and on rayon with its threads parking at once (spin 0)
//! and waiting the default time. Each cell is the median of 2000 calls; the ratio columns
//! are rayon's time ÷ one core's (below 1: rayon is faster).
//!
//!     cargo bench --bench norm_gaps [-- --quick] [-- LENGTH ...]

use std::time::{Duration, Instant};

use hpnum::backends::rayon::DEFAULT_SPIN;
use hpnum::{Backend, NormKind, Rayon, Simd};
use ndarray::Array1;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: one quick run.
    let quick =
        std::env::args().all(|a| a != "--bench") || std::env::args().any(|a| a == "--quick");
    let chosen: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let (mut lengths, gaps, calls): (&[usize], &[u64], usize) = if quick {
        (&[100_000], &[0, 1000], 200)
    } else {
        (
            &[30_000, 100_000, 300_000, 1_000_000, 10_000_000],
            &[0, 50, 1000],
            2000,
        )
    };
    if !chosen.is_empty() {
        lengths = &chosen;
    }
    println!(
        "| f64 length | pause | one core | rayon, spin 0 | rayon, spin {} µs | ÷ one core |",
        DEFAULT_SPIN.as_micros()
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &n in lengths {
        let v = Array1::from_iter((0..n).map(|i| ((i * 7919) % 1000) as f64 / 999.0 - 0.5));
        let one_core = Simd::new();
        let parking = Rayon::new().with_spin(Duration::ZERO);
        let waiting = Rayon::new();
        let contenders: [&dyn Backend<f64>; 3] = [&one_core, &parking, &waiting];
        for &gap in gaps {
            let calls = calls.min(200_000_000 / n).max(10);
            let [t1, t2, t3] = race(contenders, &v, gap, calls);
            println!(
                "| {n} | {gap} µs | {t1:.2} µs | {t2:.2} µs | {t3:.2} µs | {:.2} / {:.2} |",
                t2 / t1,
                t3 / t1
            );
        }
    }
}

/// Each contender's median call time in µs, each call after `gap` µs of the caller
/// spinning: `calls` calls each, in 10 rounds of rotating order, because this VM's speed
/// drifts within seconds; the median over rounds of each round's median.
fn race(contenders: [&dyn Backend<f64>; 3], v: &Array1<f64>, gap: u64, calls: usize) -> [f64; 3] {
    const ROUNDS: usize = 10;
    let mut medians = [const { Vec::new() }; 3];
    for round in 0..ROUNDS {
        for k in (0..3).map(|k| (k + round) % 3) {
            medians[k].push(median_call(contenders[k], v, gap, calls / ROUNDS));
        }
    }
    medians.map(|mut m| {
        m.sort_by(f64::total_cmp);
        m[m.len() / 2]
    })
}

/// The median time of `calls` calls, in µs, each after `gap` µs of the caller spinning,
/// after as many untimed calls as a tenth of them (at least one).
fn median_call(backend: &dyn Backend<f64>, v: &Array1<f64>, gap: u64, calls: usize) -> f64 {
    let warm = (calls / 10).max(1);
    let mut times: Vec<f64> = (0..calls.max(1) + warm)
        .map(|_| {
            let pause = Instant::now();
            while pause.elapsed() < Duration::from_micros(gap) {
                std::hint::spin_loop();
            }
            let start = Instant::now();
            let norm = backend.norm(v.view(), NormKind::L2Squared);
            let elapsed = start.elapsed().as_secs_f64() * 1e6;
            assert!(norm.is_ok_and(|x| x > 0.0));
            elapsed
        })
        .skip(warm)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
