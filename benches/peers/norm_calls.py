"""hpnum's norm, one call at a time, beside single-threaded OpenBLAS: where one core stands
against the peer's kernel, and what the rayon backend adds to one SIMD core, per length.

Run with OpenBLAS on one thread, so that its `dot` is one core's loop too:

    OPENBLAS_NUM_THREADS=1 python3 benches/peers/norm_calls.py

Each figure is the best of 7 `timeit` repeats of back-to-back calls (the cores warm, the
pool's threads awake): an upper bound on speed, not the steady state `book_peers.py` races.
"""

import os
import timeit

import numpy as np

import hpnum


def seconds(f, n):
    calls = max(3, int(2e6 / n))
    return min(timeit.repeat(f, number=calls, repeat=7)) / calls


def main():
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "(unset: all cores)")
    print(f"hpnum {hpnum.__version__}, numpy {np.__version__}, OPENBLAS_NUM_THREADS={threads}")
    print("| ‖v‖² | np.dot | hpnum simd (1 core) | hpnum rayon | rayon ÷ simd time |")
    print("|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for n in (70_000, 100_000, 140_000, 300_000, 1_000_000, 10_000_000):
            v = rng.standard_normal(n).astype(dtype)
            dot = seconds(lambda: np.dot(v, v), n)
            simd = seconds(lambda: hpnum.norm(v, "l2sq", backend="simd"), n)
            rayon = seconds(lambda: hpnum.norm(v, "l2sq", backend="rayon"), n)
            gbs = lambda t: f"{t * 1e6:.1f} µs ({v.nbytes / t / 1e9:.0f} GB/s)"
            print(
                f"| {np.dtype(dtype).name}, N = {n:,} | {gbs(dot)} | {gbs(simd)} | {gbs(rayon)} "
                f"| {rayon / simd:.2f} |"
            )


if __name__ == "__main__":
    main()
