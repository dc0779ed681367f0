//! The machine's limits, measured in the same run as the kernels: STREAM-like copy and read
//! bandwidth on buffers far larger than the caches (one core and all cores), and peak
//! floating-point throughput without FMA (the kernels use none).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use rayon::prelude::*;

use crate::record::{Recorder, Work};

/// 256 MiB per buffer: well beyond any last-level cache of this machine class.
const STREAM_WORDS: usize = 1 << 25;

/// Independent mul→add chains per thread, each one register: enough to cover the latency
/// of both operations on two FP pipes.
const CHAINS: usize = 12;
const FLOP_ITERS: u64 = 1 << 20;

pub fn bench(c: &mut Criterion, rec: &Recorder) {
    let src: Vec<u64> = (0..STREAM_WORDS as u64).collect();
    let mut dst = vec![0u64; STREAM_WORDS];
    let bytes = (STREAM_WORDS * 8) as u64;
    let chunk = STREAM_WORDS / rayon::current_num_threads().max(1) / 4;

    let mut g = c.benchmark_group("bandwidth");
    g.throughput(Throughput::Bytes(2 * bytes));
    g.bench_function("copy/1-core", |b| {
        rec.bench(b, "bandwidth/copy/1-core", Work::Bytes(2 * bytes), || {
            dst.copy_from_slice(&src)
        })
    });
    g.bench_function("copy/all-cores", |b| {
        rec.bench(
            b,
            "bandwidth/copy/all-cores",
            Work::Bytes(2 * bytes),
            || {
                dst.par_chunks_mut(chunk)
                    .zip(src.par_chunks(chunk))
                    .for_each(|(d, s)| d.copy_from_slice(s))
            },
        )
    });
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("read/1-core", |b| {
        rec.bench(b, "bandwidth/read/1-core", Work::BytesRead(bytes), || {
            black_box(src.iter().fold(0u64, |a, &x| a ^ x));
        })
    });
    g.bench_function("read/all-cores", |b| {
        rec.bench(
            b,
            "bandwidth/read/all-cores",
            Work::BytesRead(bytes),
            || {
                black_box(
                    src.par_chunks(chunk)
                        .map(|s| s.iter().fold(0u64, |a, &x| a ^ x))
                        .reduce(|| 0, |a, b| a ^ b),
                );
            },
        )
    });
    g.finish();

    let threads = rayon::current_num_threads() as u64;
    let arch = pulp::Arch::new();
    let mut g = c.benchmark_group("peak");
    let flops = threads * arch.dispatch(MulAddChains(1.0f32)).1;
    g.throughput(Throughput::Elements(flops));
    g.bench_function("flops/f32", |b| {
        rec.bench(b, "peak/flops/f32", Work::Flops(flops), || {
            black_box(
                (0..threads)
                    .into_par_iter()
                    .map(|_| arch.dispatch(MulAddChains(1.0f32)).0)
                    .sum::<f32>(),
            );
        })
    });
    let flops = threads * arch.dispatch(MulAddChains(1.0f64)).1;
    g.throughput(Throughput::Elements(flops));
    g.bench_function("flops/f64", |b| {
        rec.bench(b, "peak/flops/f64", Work::Flops(flops), || {
            black_box(
                (0..threads)
                    .into_par_iter()
                    .map(|_| arch.dispatch(MulAddChains(1.0f64)).0)
                    .sum::<f64>(),
            );
        })
    });
    g.finish();
}

/// `x = x·m + a` (a multiply, then an add, as the kernels do: no FMA) on `CHAINS`
/// independent registers, in explicit vectors of the best instruction set pulp finds.
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
                for _ in 0..FLOP_ITERS {
                    for v in &mut x {
                        *v = s.$add(s.$mul(*v, m), a);
                    }
                }
                let x = black_box(x);
                let first: $t = bytemuck::cast_slice::<_, $t>(&x)[0];
                (first, (CHAINS * S::$lanes) as u64 * 2 * FLOP_ITERS)
            }
        }
    };
}

impl_chains!(f32, f32s, splat_f32s, mul_f32s, add_f32s, F32_LANES);
impl_chains!(f64, f64s, splat_f64s, mul_f64s, add_f64s, F64_LANES);
