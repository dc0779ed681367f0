//! The host's own limits, measured the way the kernels use the machine: STREAM-like copy
//! and read bandwidth over buffers far beyond the caches, and peak floating-point
//! throughput without fused multiply-adds (the kernels use none), on all cores and on one.

use std::hint::black_box;
use web_time::Instant;

use rayon::prelude::*;

use crate::error::Result;
use crate::kernels::kernel::Limit;
use crate::memory;
use crate::real::Precision;

/// Words (8 bytes) per buffer of the bandwidth probes: 128 MiB, beyond any last-level cache
/// of the machines hpnum meets.
const STREAM_WORDS: usize = 1 << 24;

/// Passes of each probe; the best is kept.
const PASSES: usize = 4;

/// Independent multiply→add chains per thread, each one register: enough to cover the
/// latency of both operations on two FP pipes.
const CHAINS: usize = 12;

/// Iterations of every chain in one pass of the arithmetic probe.
const FLOP_ITERATIONS: u64 = 1 << 18;

/// What the host can do at most, measured by [`HostLimits::measure`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct HostLimits {
    /// Copy bandwidth on all cores: bytes read plus bytes written per second.
    pub copy_bytes_per_s: f64,
    /// Read bandwidth on all cores, bytes per second.
    pub read_bytes_per_s: f64,
    /// Peak multiply-then-add throughput on all cores in f32, operations per second.
    pub f32_flops: f64,
    /// The same in f64.
    pub f64_flops: f64,
    /// Copy bandwidth on one thread. One core cannot saturate the memory, so the
    /// single-core backends' yardstick is measured, not the all-cores figure divided.
    pub one_core_copy_bytes_per_s: f64,
    /// Read bandwidth on one thread.
    pub one_core_read_bytes_per_s: f64,
    /// Peak multiply-then-add throughput on one thread in f32.
    pub one_core_f32_flops: f64,
    /// The same in f64.
    pub one_core_f64_flops: f64,
}

/// On how many cores a limit applies: all (rayon, `Auto`, the machine) or one (the scalar
/// and SIMD backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cores {
    /// Every core of rayon's global pool.
    All,
    /// One thread.
    One,
}

impl Cores {
    /// The cores a backend runs on, by its name: `scalar` and `simd` run on one.
    pub fn of_backend(name: &str) -> Cores {
        match name {
            "scalar" | "simd" => Cores::One,
            _ => Cores::All,
        }
    }
}

impl HostLimits {
    /// Measures the limits (about a second; 256 MiB of memory for a moment).
    ///
    /// # Errors
    /// [`crate::Error::OutOfMemory`] if the probes' buffers cannot be allocated.
    pub fn measure() -> Result<HostLimits> {
        let src: Vec<u64> = memory::collect_vec(STREAM_WORDS, 0..STREAM_WORDS as u64, "probe")?;
        let mut dst = memory::zeroed_vec::<u64>(STREAM_WORDS, "probe")?;
        let chunk = (STREAM_WORDS / rayon::current_num_threads().max(1) / 4).max(1);
        let bytes = (STREAM_WORDS * 8) as f64;
        let best = |mut pass: Box<dyn FnMut() + '_>| {
            (0..PASSES)
                .map(|_| {
                    let start = Instant::now();
                    pass();
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let copy = best(Box::new(|| {
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s))
        }));
        let read = best(Box::new(|| {
            black_box(
                src.par_chunks(chunk)
                    .map(|s| s.iter().fold(0u64, |a, &x| a ^ x))
                    .reduce(|| 0, |a, b| a ^ b),
            );
        }));
        let one_core_copy = best(Box::new(|| dst.copy_from_slice(&src)));
        let one_core_read = best(Box::new(|| {
            black_box(src.iter().fold(0u64, |a, &x| a ^ x));
        }));
        let threads = rayon::current_num_threads().max(1);
        Ok(HostLimits {
            copy_bytes_per_s: 2.0 * bytes / copy.max(1e-12),
            read_bytes_per_s: bytes / read.max(1e-12),
            f32_flops: peak_flops(Precision::F32, threads),
            f64_flops: peak_flops(Precision::F64, threads),
            one_core_copy_bytes_per_s: 2.0 * bytes / one_core_copy.max(1e-12),
            one_core_read_bytes_per_s: bytes / one_core_read.max(1e-12),
            one_core_f32_flops: peak_flops(Precision::F32, 1),
            one_core_f64_flops: peak_flops(Precision::F64, 1),
        })
    }

    /// The yardstick `limit` in `precision` on `cores`: bytes per second for the
    /// bandwidths (read plus written for a copy), operations per second for arithmetic.
    pub fn of(&self, limit: Limit, precision: Precision, cores: Cores) -> f64 {
        match (limit, cores) {
            (Limit::Arithmetic, Cores::All) => self.flops(precision),
            (Limit::Arithmetic, Cores::One) => match precision {
                Precision::F32 => self.one_core_f32_flops,
                Precision::F64 => self.one_core_f64_flops,
            },
            (Limit::CopyBandwidth, Cores::All) => self.copy_bytes_per_s,
            (Limit::CopyBandwidth, Cores::One) => self.one_core_copy_bytes_per_s,
            (Limit::ReadBandwidth, Cores::All) => self.read_bytes_per_s,
            (Limit::ReadBandwidth, Cores::One) => self.one_core_read_bytes_per_s,
        }
    }

    /// Peak arithmetic in `precision`.
    pub fn flops(&self, precision: Precision) -> f64 {
        match precision {
            Precision::F32 => self.f32_flops,
            Precision::F64 => self.f64_flops,
        }
    }
}

/// Multiply-then-add operations per second on `threads` threads of rayon's pool, best of
/// [`PASSES`].
fn peak_flops(precision: Precision, threads: usize) -> f64 {
    let arch = pulp::Arch::new();
    (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            let flops: u64 = (0..threads)
                .into_par_iter()
                .map(|k| match precision {
                    Precision::F32 => {
                        let (x, n) = arch.dispatch(MulAddChains(k as f32));
                        black_box(x);
                        n
                    }
                    Precision::F64 => {
                        let (x, n) = arch.dispatch(MulAddChains(k as f64));
                        black_box(x);
                        n
                    }
                })
                .sum();
            flops as f64 / start.elapsed().as_secs_f64().max(1e-12)
        })
        .fold(0.0, f64::max)
}

/// `x = x·m + a` (a multiply, then an add, as the kernels do: no FMA) on `CHAINS`
/// independent registers, in explicit vectors of the best instruction set pulp finds.
/// Returns a value to keep and the operations done.
struct MulAddChains<T>(T);

macro_rules! impl_chains {
    ($t:ty, $v:ident, $splat:ident, $mul:ident, $add:ident, $lanes:ident) => {
        impl pulp::WithSimd for MulAddChains<$t> {
            type Output = ($t, u64);

            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, s: S) -> ($t, u64) {
                let (m, a) = black_box((s.$splat(0.999_9), s.$splat(1e-4)));
                // Distinct, opaque starting values: identical chains would be merged into one.
                let mut x: [S::$v; CHAINS] =
                    black_box(core::array::from_fn(|k| s.$splat(self.0 + k as $t)));
                for _ in 0..FLOP_ITERATIONS {
                    for v in &mut x {
                        *v = s.$add(s.$mul(*v, m), a);
                    }
                }
                let x = black_box(x);
                let first: $t = bytemuck::cast_slice::<_, $t>(&x)[0];
                (first, (CHAINS * S::$lanes) as u64 * 2 * FLOP_ITERATIONS)
            }
        }
    };
}

impl_chains!(f32, f32s, splat_f32s, mul_f32s, add_f32s, F32_LANES);
impl_chains!(f64, f64s, splat_f64s, mul_f64s, add_f64s, F64_LANES);
