"""hpnum.dask against one process: 4096² f64 diffusion, 500 steps, on rayon in one process
and through `hpnum.dask.diffuse` on LocalClusters of one and two worker processes; every
result checked bit for bit against the one-process grid.

    pip install "./python[dask]" && python python/benchmarks/dask_diffusion.py
"""
import sys, time
import numpy as np, dask.array as da, distributed
import hpnum, hpnum.dask as hd

def main():
    n, steps = 4096, 500
    g = hpnum.book_grid(n)
    def timed(f):
        t = time.perf_counter(); r = f(); return time.perf_counter() - t, r
    t_one, want = timed(lambda: hpnum.diffuse(g.copy(), steps, backend="rayon"))
    print(f"one process, rayon: {t_one:.2f} s")
    for workers, threads in [(1, 2), (2, 1)]:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None) as c, distributed.Client(c) as client:
            for chunks, halo in [((1024, 4096), 16), ((2048, 4096), 16)]:
                x = da.from_array(g, chunks=chunks)
                t, got = timed(lambda: hd.diffuse(x, steps, halo=halo, backend="rayon").compute())
                assert np.array_equal(got, want)
                tasks = len(hd.diffuse(x, steps, halo=halo, backend="rayon").__dask_graph__())
                print(f"LocalCluster {workers}×{threads}, chunks {chunks}, halo {halo}: {t:.2f} s = {t_one / t:.2f}× one process; {tasks} tasks")


if __name__ == "__main__":
    main()
