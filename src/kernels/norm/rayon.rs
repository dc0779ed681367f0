//! Norms on all cores: the SIMD backend's pairwise tree cut into pieces of at most
//! [`SHARE_GRAIN_BYTES`], which the calling thread and the pool's threads take in runs of
//! consecutive pieces ([`Rayon::share`]): the caller starts at once and a worker that wakes
//! late finds its pieces taken, so a call costs no more than one core's loop plus a
//! wake-up's system call. The pieces' partials are folded back in the tree's order: the
//! same bits whatever the thread count, and the same as the SIMD backend's.

use std::sync::OnceLock;

use ndarray::ArrayView1;

use crate::backends::rayon::Rayon;
use crate::error::Result;
use crate::kernels::norm::parts::Cut;
use crate::kernels::norm::simd::{Reducer, leaf_len};
use crate::kernels::norm::{NormKind, Partial, Pass, norm_from_passes};
use crate::simd::element::SimdReal;

/// The longest piece a thread takes: inside any core's L2 cache, and about a microsecond
/// of one core's loop, so that the threads end together.
const SHARE_GRAIN_BYTES: usize = 128 << 10;

/// Pieces per thread at least: enough that a thread slowed by the OS is covered by the
/// others.
const PIECES_PER_THREAD: usize = 4;

/// From this size on a norm is shared while the pool's threads are awake (a loop of
/// calls); below, handing out the pieces costs more than the half of the loop a thread
/// could take. `OPENBLAS_NUM_THREADS=1 python3 benches/peers/norm_calls.py` (back-to-back
/// calls, 2026-12-07, 2-vCPU AMD EPYC): shared, f32 at 280 and 400 KB took 1.16 and 1.20
/// of one core's time, f64 at 560 KB 0.93 and at 800 KB 0.65.
const SHARED_FROM_BYTES_AWAKE: usize = 512 << 10;

/// From this size on a norm is shared when the pool's threads sleep: waking one costs the
/// caller about 10 µs on a VM (a system call, and the woken thread may take the caller's
/// core for a while). `cargo bench --bench norm_gaps` (calls 1 ms apart, same day and
/// machine): shared with sleeping threads, f64 10⁵ took 15.1 µs against one core's 5.0,
/// 10⁶ (8 MB) 0.92–1.10 of one core's time over three runs, 4·10⁶ (32 MB) 0.47.
const SHARED_FROM_BYTES_ASLEEP: usize = 16 << 20;

/// The rayon backend's norm.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if a strided view's contiguous copy cannot be allocated;
/// [`crate::Error::Interrupted`] when a stop was asked for meanwhile.
pub(crate) fn norm<T: SimdReal>(rayon: &Rayon, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
    let x = crate::kernels::norm::contiguous(&v)?;
    let bytes = size_of_val(&x[..]);
    let reducer = Reducer::new(rayon.level(), false, bytes);
    if bytes < SHARED_FROM_BYTES_AWAKE || rayon.threads() < 2 {
        return reducer.norm(&x, kind);
    }
    let shared_from = if rayon.helpers_awake() {
        SHARED_FROM_BYTES_AWAKE
    } else {
        SHARED_FROM_BYTES_ASLEEP
    };
    if bytes < shared_from {
        return rayon.alone(|| reducer.norm(&x, kind));
    }
    shared_norm(rayon, reducer, &x, kind)
}

/// The norm `kind` of `x` in pieces shared with the pool's threads, whatever its length.
fn shared_norm<T: SimdReal>(rayon: &Rayon, reducer: Reducer, x: &[T], kind: NormKind) -> Result<T> {
    let leaf = leaf_len::<T>(reducer.level);
    let cut = Cut {
        leaf,
        grain: (size_of_val(x) / (rayon.threads() * PIECES_PER_THREAD)).min(SHARE_GRAIN_BYTES)
            / size_of::<T>(),
    };
    let pieces = cut.pieces(x.len());
    let pass_over_pieces = |pass: Pass<T>| {
        let partials: Vec<OnceLock<Partial<T>>> = pieces.iter().map(|_| OnceLock::new()).collect();
        rayon.share(pieces.len(), &|i| {
            let piece = &x[pieces[i].clone()];
            let _ = partials[i].set(reducer.tree(piece, pass, leaf));
        });
        let partials: Vec<Partial<T>> = partials
            .into_iter()
            .map(|p| p.into_inner().unwrap_or_else(Partial::empty))
            .collect();
        Ok::<_, std::convert::Infallible>(cut.fold(x.len(), &partials))
    };
    let norm = match norm_from_passes(kind, pass_over_pieces) {
        Ok(norm) => norm,
        Err(never) => match never {},
    };
    reducer.watch.check()?;
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::simd::Simd;
    use crate::kernels::norm::lcg_vector;

    /// Shared or not (whatever the length), on any pool, the rayon backend's norm is the SIMD
    /// backend's bits:
    /// sums that are not exact (random values, scaled so that L2 takes each of its paths).
    fn same_bits_as_one_core<T: SimdReal>() {
        for len in [1_000, 70_001, 300_007, 1_200_001] {
            let v = lcg_vector::<T>(len, 11).unwrap();
            for scale in [1.0, 1e30, 1e-30] {
                let scale = if T::PRECISION == crate::real::Precision::F32 {
                    T::from_f64(scale)
                } else {
                    T::from_f64(f64::powi(scale, 8))
                };
                let x = v.mapv(|x| x * scale);
                for threads in [1, 2, 3] {
                    // WebAssembly starts no threads: the global pool is the caller there.
                    let rayon = if cfg!(target_family = "wasm") {
                        Rayon::new()
                    } else {
                        Rayon::with_threads(threads).unwrap()
                    };
                    for kind in NormKind::ALL {
                        let one_core =
                            crate::kernels::norm::simd::norm(Simd::new().level(), x.view(), kind)
                                .unwrap();
                        let decided = norm(&rayon, x.view(), kind).unwrap();
                        let slice = x.as_slice().unwrap();
                        let reducer = Reducer::new(rayon.level(), false, size_of_val(slice));
                        let shared = shared_norm(&rayon, reducer, slice, kind).unwrap();
                        for (how, got) in [("as decided", decided), ("shared", shared)] {
                            assert_eq!(
                                got.as_f64().to_bits(),
                                one_core.as_f64().to_bits(),
                                "{len} ×{scale} {kind} on {threads} threads, {how}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn shared_norms_are_the_simd_backends_bits() {
        same_bits_as_one_core::<f32>();
        same_bits_as_one_core::<f64>();
    }
}
