"""The book's Python peers, timed on this machine for docs/performance.md.

NumPy in-place diffusion (diffusion_numpy_memory2.py's operation order), the book's norm
squared via np.dot and np.sum(v*v), and the Julia set with Numba (@jit, warm, one thread)
and checks each result against hpnum's references. Prints a Markdown table.

    python3 benches/peers/book_peers.py            # needs numpy and numba
"""
import os
import platform
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from numba import jit


def best(f, repeats=5):
    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def evolve(grid, dt, out, D=1.0):
    # diffusion_numpy_memory2.py: np.roll into a preallocated out, in place.
    np.multiply(grid, -4, out)
    out += np.roll(grid, +1, 0)
    out += np.roll(grid, -1, 0)
    out += np.roll(grid, +1, 1)
    out += np.roll(grid, -1, 1)
    out *= D * dt
    out += grid


def diffusion_per_step(n, dtype, steps=20):
    grid = np.zeros((n, n), dtype=dtype)
    lo, hi = int(0.4 * n), int(0.5 * n)
    grid[lo:hi, lo:hi] = 0.005
    out = np.empty_like(grid)

    def run():
        g, o = grid, out
        for _ in range(steps):
            evolve(g, 0.1, o)
            g, o = o, g

    return best(run, 3) / steps


@jit(nopython=True)
def julia_numba(zs_re, zs_im, c_re, c_im, maxiter, out):
    for i in range(zs_re.shape[0]):
        re, im = zs_re[i], zs_im[i]
        n = 0
        while n < maxiter and re * re + im * im < 4.0:
            new_re = (re * re - im * im) + c_re
            im = (re * im + im * re) + c_im
            re = new_re
            n += 1
        out[i] = n


def book_axes(width):
    x1, x2, y1, y2 = -1.8, 1.8, -1.8, 1.8
    x_step, y_step = (x2 - x1) / width, (y1 - y2) / width
    xs, ys = [], []
    x = x1
    while x < x2:
        xs.append(x)
        x += x_step
    y = y2
    while y > y1:
        ys.append(y)
        y += y_step
    return xs, ys


def main():
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"numba {__import__('numba').__version__}, {os.cpu_count()} cpus")
    rows = []
    xs, ys = book_axes(1000)
    zs_re = np.array([x for y in ys for x in xs])
    zs_im = np.array([y for y in ys for x in xs])
    out = np.zeros(zs_re.shape[0], dtype=np.int32)
    t = best(lambda: julia_numba(zs_re, zs_im, -0.62772, -0.42193, 300, out), 3)
    assert out.sum() == 33219980, out.sum()
    rows.append(("Julia 1000², 300 it., f64", "Numba @jit, warm, 1 thread", t))
    for n in (256, 512, 1024, 2048, 4096):
        rows.append((f"diffusion {n}² f64, per step", "NumPy in place", diffusion_per_step(n, np.float64)))
    for n in (1024, 4096):
        rows.append((f"diffusion {n}² f32, per step", "NumPy in place", diffusion_per_step(n, np.float32)))
    for n in (10**6, 10**7, 10**8):
        v = np.arange(n, dtype=np.float64)
        rows.append((f"‖v‖² f64, N = {n:.0e}", "np.dot(v, v)", best(lambda: np.dot(v, v))))
        rows.append((f"‖v‖² f64, N = {n:.0e}", "np.sum(v * v)", best(lambda: np.sum(v * v))))
    print("| workload | peer | time |\n|---|---|---:|")
    for what, peer, seconds in rows:
        shown = f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"
        print(f"| {what} | {peer} | {shown} |")


if __name__ == "__main__":
    main()
