"""What hpnum.dask costs, against one process, on this machine (every result checked bit for
bit against the one-process grid):

1. 4096² f64 diffusion, 500 steps: rayon in one process, then `hpnum.dask.diffuse` on
   LocalClusters of one and two worker processes;
2. Dask's cost per task: a one-step diffusion in 32 × 32 chunks (the kernel's work is a
   millisecond; the rest is scheduling), per task of the graph;
3. the cost per exchange: 4096² f64, 240 steps in chunks of 1024 × 4096, halo K from 2 to
   120 (240 / K exchanges), the time above the cells' own (the one-process rate times the
   haloed cells) divided by the exchanges;
4. the model from 2 and 3: per chunk and exchange, Dask costs its tasks (fixed) and copies
   of the chunk (per cell); the steps per exchange K and the chunk size from which they
   fall below a tenth of the work.

    pip install "./python[dask]" && python python/benchmarks/dask_diffusion.py
"""

import time

import dask
import dask.array as da
import distributed
import numpy as np

import hpnum
import hpnum.dask as hd

N, STEPS = 4096, 500


def timed(f):
    start = time.perf_counter()
    result = f()
    return time.perf_counter() - start, result


def whole_run(g, t_one, want):
    print(f"\n## 1. {N}² f64, {STEPS} steps\none process, rayon: {t_one:.2f} s")
    for workers, threads in [(1, 2), (2, 1)]:
        with distributed.LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=True,
            dashboard_address=None,
        ) as cluster, distributed.Client(cluster):
            for chunks, halo in [((1024, 4096), 16), ((2048, 4096), 16), ((1024, 4096), None)]:
                if halo is None:
                    halo = hd.halo_for(((1024,) * 4, (4096,)), STEPS)
                x = da.from_array(g, chunks=chunks)
                graph = hd.diffuse(x, STEPS, halo=halo, backend="rayon")
                t, got = timed(graph.compute)
                assert np.array_equal(got, want)
                print(
                    f"LocalCluster {workers}×{threads}, chunks {chunks}, halo {halo}: "
                    f"{t:.2f} s = {t_one / t:.2f}× one process; "
                    f"{len(graph.__dask_graph__())} tasks"
                )


def per_task(scheduler_name, compute):
    g = hpnum.book_grid(1024)
    x = da.from_array(g, chunks=(32, 32))
    graph = hd.diffuse(x, 1, halo=1, backend="simd")
    kernel, want = timed(lambda: hpnum.diffuse(g.copy(), 1, backend="simd"))
    runs = [timed(lambda: compute(graph)) for _ in range(3)]
    t = min(r[0] for r in runs)
    assert np.array_equal(runs[0][1], want)
    tasks = len(graph.__dask_graph__())
    cost = (t - kernel) / tasks
    per_chunk = tasks / len(graph.chunks[0]) / len(graph.chunks[1])
    print(
        f"{scheduler_name}: {tasks} tasks in {t:.3f} s: {cost * 1e6:.0f} µs per task, "
        f"{per_chunk:.1f} tasks per chunk and exchange"
    )
    return cost, per_chunk


def per_exchange(scheduler_name, compute, g, cell_seconds, backend):
    steps, rows = 240, 1024
    x = da.from_array(g, chunks=(rows, N))
    want = hpnum.diffuse(g.copy(), steps, backend=backend)
    costs = []
    for k in [2, 4, 8, 16, 48, 120]:
        t, got = timed(lambda: compute(hd.diffuse(x, steps, halo=k, backend=backend)))
        assert np.array_equal(got, want)
        chunks = N // rows
        # Each chunk steps its rows and K halo rows on each side; the columns wrap within
        # the chunk's own K-deep halo too.
        cells = chunks * (rows + 2 * k) * (N + 2 * k) * steps
        exchanges = steps // k
        cost = (t - cells * cell_seconds) / exchanges
        costs.append(cost)
        print(
            f"{scheduler_name}, K = {k:3d}: {t:.2f} s, {exchanges:3d} exchanges, "
            f"cells {cells * cell_seconds:.2f} s: {cost * 1e3:.1f} ms per exchange "
            f"({cost / chunks * 1e3:.1f} per chunk)"
        )
    # The long-K rows have two to five exchanges each: too few to read a cost from.
    return float(np.median(costs[:4])) / (N // rows), rows * N


def main():
    g = hpnum.book_grid(N)
    t_one, want = timed(lambda: hpnum.diffuse(g.copy(), STEPS, backend="rayon"))
    whole_run(g, t_one, want)

    print("\n## 2. cost per task (1024², one step, 32 × 32 chunks)")
    task_threaded = per_task("threaded", lambda a: a.compute(scheduler="threads"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        task_cluster = per_task("LocalCluster 2×1", lambda a: a.compute())

    print(f"\n## 3. cost per exchange ({N}², 240 steps, chunks 1024 × {N})")
    cell_rayon = t_one / (N * N * STEPS)
    t_simd, _ = timed(lambda: hpnum.diffuse(g.copy(), 50, backend="simd"))
    cell_simd = t_simd / (N * N * 50)
    with dask.config.set(scheduler="threads"):
        chunk_threaded = per_exchange(
            "threaded, rayon", lambda a: a.compute(), g, cell_rayon, "rayon"
        )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        # Two processes on two cores: one SIMD core each, the cells at one core's rate / 2.
        chunk_cluster = per_exchange(
            "LocalCluster 2×1, simd", lambda a: a.compute(), g, cell_simd / 2, "simd"
        )

    print("\n## 4. model: per chunk and exchange, fixed (tasks) + per cell (copies)")
    for name, (task, tasks), (exchange, cells), cell in [
        ("threaded (2 cores)", task_threaded, chunk_threaded, cell_rayon),
        ("LocalCluster 2×1 (a core each)", task_cluster, chunk_cluster, cell_simd),
    ]:
        fixed = task * tasks
        copy = max(exchange - fixed, 0.0) / cells
        # Dask's share of an exchange's time falls below a tenth when K steps of a chunk's
        # cells cost ten times the copies (K ≥ 10·copy/cell) and the fixed part (chunk
        # cells ≥ 10·fixed / (K·cell − 10·copy)).
        k_min = 10 * copy / cell
        print(
            f"{name}: fixed {fixed * 1e3:.2f} ms, copies {copy * 1e9:.2f} ns per cell, "
            f"a cell-step {cell * 1e9:.2f} ns: Dask under a tenth from K ≥ {k_min:.0f}"
        )
        for k in [2 * round(k_min), 4 * round(k_min)]:
            need = 10 * fixed / (k * cell - 10 * copy)
            print(f"    K = {k}: chunks ≥ {need:.3g} cells (≈ {np.sqrt(need):.0f}²)")


if __name__ == "__main__":
    main()
