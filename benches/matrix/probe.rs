//! The machine's limits, measured in the same run as the kernels by the library's own probe
//! (`hpnum::crossover::HostLimits`: STREAM-like copy and read bandwidth over buffers far
//! beyond the caches, and peak floating-point throughput without FMA, which the kernels do
//! not use, on all cores and on one), recorded as the table's yardsticks.

use std::time::Duration;

use hpnum::crossover::HostLimits;

use crate::record::{Recorder, Work};

pub fn bench(rec: &Recorder) {
    let limits = match HostLimits::measure() {
        Ok(limits) => limits,
        Err(e) => {
            println!("host limits: probe failed ({e})");
            return;
        }
    };
    // Recorded as one second's worth of each, so the table's rate is the limit itself. The
    // one-core rows are the yardsticks of the scalar and SIMD rows.
    let yardsticks = [
        (
            "bandwidth/copy/all-cores",
            Work::Bytes(limits.copy_bytes_per_s as u64),
        ),
        (
            "bandwidth/read/all-cores",
            Work::BytesRead(limits.read_bytes_per_s as u64),
        ),
        ("peak/flops/f32", Work::Flops(limits.f32_flops as u64)),
        ("peak/flops/f64", Work::Flops(limits.f64_flops as u64)),
        (
            "bandwidth/copy/one-core",
            Work::Bytes(limits.one_core_copy_bytes_per_s as u64),
        ),
        (
            "bandwidth/read/one-core",
            Work::BytesRead(limits.one_core_read_bytes_per_s as u64),
        ),
        (
            "peak/flops/f32/one-core",
            Work::Flops(limits.one_core_f32_flops as u64),
        ),
        (
            "peak/flops/f64/one-core",
            Work::Flops(limits.one_core_f64_flops as u64),
        ),
    ];
    for (name, work) in yardsticks {
        rec.record_limit(name, work, Duration::from_secs(1));
    }
    println!(
        "host limits (all cores): copy {:.1} GB/s, read {:.1} GB/s, {:.1} / {:.1} GFLOP/s \
         f32 / f64 without FMA; one core: copy {:.1} GB/s, read {:.1} GB/s, {:.1} / {:.1}",
        limits.copy_bytes_per_s / 1e9,
        limits.read_bytes_per_s / 1e9,
        limits.f32_flops / 1e9,
        limits.f64_flops / 1e9,
        limits.one_core_copy_bytes_per_s / 1e9,
        limits.one_core_read_bytes_per_s / 1e9,
        limits.one_core_f32_flops / 1e9,
        limits.one_core_f64_flops / 1e9
    );
}
