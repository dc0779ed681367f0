"""The book's comparison from Python: pure Python, NumPy, Numba (when installed) and each
hpnum backend on the book's cases, side by side, plus the cost of calling hpnum from Python.

    python python/benchmarks/book.py [--quick] [--plot out.png]

Prints a Markdown table (the median of several runs per row) and, with --plot and
matplotlib installed, draws it. Pure Python runs a smaller Julia case (it takes seconds);
every row reports its own size.
"""

import argparse
import statistics
import sys
import time
import timeit

import numpy as np

import hpnum

try:
    import numba
except ImportError:  # optional
    numba = None


def median_seconds(fn, repeats):
    fn()  # warm-up (and Numba's compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- the book's Julia (ch. 2), pure Python ------------------------------------------
def julia_axes(width):
    x1, x2, y1, y2 = -1.8, 1.8, -1.8, 1.8
    step = (x2 - x1) / width
    xs, ys = [], []
    x = x1
    while x < x2:
        xs.append(x)
        x += step
    y = y2
    while y > y1:
        ys.append(y)
        y -= step
    return xs, ys


def julia_pure_python(width, max_iter):
    xs, ys = julia_axes(width)
    c = complex(-0.62772, -0.42193)
    total = 0
    for y in ys:
        for x in xs:
            z = complex(x, y)
            n = 0
            while abs(z) < 2 and n < max_iter:
                z = z * z + c
                n += 1
            total += n
    return total


def julia_numpy(width, max_iter):
    xs, ys = julia_axes(width)
    z = np.array(xs)[None, :] + 1j * np.array(ys)[:, None]
    c = complex(-0.62772, -0.42193)
    counts = np.zeros(z.shape, dtype=np.int64)
    for _ in range(max_iter):
        alive = np.abs(z) < 2
        counts += alive
        z = np.where(alive, z * z + c, z)
    return counts


if numba is not None:

    @numba.njit(cache=False)
    def _julia_numba(xs, ys, max_iter):
        c = complex(-0.62772, -0.42193)
        out = np.zeros((ys.size, xs.size), dtype=np.int64)
        for i in range(ys.size):
            for j in range(xs.size):
                z = complex(xs[j], ys[i])
                n = 0
                while abs(z) < 2 and n < max_iter:
                    z = z * z + c
                    n += 1
                out[i, j] = n
        return out

    def julia_numba(width, max_iter):
        xs, ys = julia_axes(width)
        return _julia_numba(np.array(xs), np.array(ys), max_iter)

    @numba.njit(cache=False)
    def _diffuse_numba(g, steps, coefficient):
        rows, cols = g.shape
        out = np.empty_like(g)
        for _ in range(steps):
            for i in range(rows):
                for j in range(cols):
                    t = -4.0 * g[i, j]
                    t += g[(i - 1) % rows, j]
                    t += g[(i + 1) % rows, j]
                    t += g[i, (j - 1) % cols]
                    t += g[i, (j + 1) % cols]
                    out[i, j] = g[i, j] + coefficient * t
            g, out = out, g
        return g


# --- the book's diffusion (ch. 6), NumPy in place ------------------------------------
def diffuse_numpy(grid, steps, coefficient=0.1):
    g = grid
    for _ in range(steps):
        t = g * -4
        t += np.roll(g, +1, 0)
        t += np.roll(g, -1, 0)
        t += np.roll(g, +1, 1)
        t += np.roll(g, -1, 1)
        t *= coefficient
        g = t + g
    return g


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    parser.add_argument("--plot", metavar="PNG", help="draw the table (needs matplotlib)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    width, max_iter = (300, 100) if args.quick else (1000, 300)
    n, steps = (256, 20) if args.quick else (1024, 100)
    norm_n = 10**5 if args.quick else 10**7
    names = [b["name"] for b in hpnum.backends()] + ["auto"]
    rows = []  # (case, implementation, seconds)

    pure = (100, max_iter) if args.quick else (200, 300)
    rows.append((f"julia {pure[0]}² × {pure[1]}", "pure Python",
                 median_seconds(lambda: julia_pure_python(*pure), 1)))
    rows.append((f"julia {width}² × {max_iter}", "NumPy",
                 median_seconds(lambda: julia_numpy(width, max_iter), 1)))
    if numba is not None:
        rows.append((f"julia {width}² × {max_iter}", "Numba",
                     median_seconds(lambda: julia_numba(width, max_iter), repeats)))
    for b in names:
        rows.append((f"julia {width}² × {max_iter}", f"hpnum {b}",
                     median_seconds(lambda: hpnum.julia(width, max_iter, backend=b), repeats)))

    grid = hpnum.book_grid(n)
    case = f"diffusion {n}² × {steps}"
    rows.append((case, "NumPy (book, in place)",
                 median_seconds(lambda: diffuse_numpy(grid.copy(), steps), repeats)))
    if numba is not None:
        rows.append((case, "Numba", median_seconds(
            lambda: _diffuse_numba(grid.copy(), steps, 0.1), repeats)))
    for b in names:
        rows.append((case, f"hpnum {b}", median_seconds(
            lambda: hpnum.diffuse(grid.copy(), steps, backend=b), repeats)))

    v = np.linspace(-1, 1, norm_n)
    case = f"L2 of {norm_n:.0e} f64"
    rows.append((case, "NumPy (np.linalg.norm)",
                 median_seconds(lambda: np.linalg.norm(v), repeats)))
    for b in names:
        rows.append((case, f"hpnum {b}", median_seconds(
            lambda: hpnum.norm(v, "l2", backend=b), repeats)))

    print(f"# {hpnum.backends()[1]['device_name']}, NumPy {np.__version__}, "
          f"Numba {numba.__version__ if numba else 'not installed'}, Python {sys.version.split()[0]}")
    print("| case | implementation | seconds (median) |")
    print("|---|---|---:|")
    for case, impl, seconds in rows:
        print(f"| {case} | {impl} | {seconds:.4g} |")

    # The binding's cost: the same 16-element norm called from Python and timed in Rust.
    tiny = np.full(16, 0.5)
    calls = 20_000
    from_python = timeit.timeit(lambda: hpnum.norm(tiny, "l2", backend="scalar"),
                                number=calls) / calls
    low_level = timeit.timeit(lambda: hpnum._hpnum.norm(tiny, "l2", "scalar"),
                              number=calls) / calls
    in_rust = hpnum._hpnum.rust_norm_call_seconds("scalar", "l2", 16, calls)
    print()
    print("| 16-element L2, scalar backend | µs per call |")
    print("|---|---:|")
    print(f"| from Python, `hpnum.norm` (argument checks in Python) | {from_python * 1e6:.2f} |")
    print(f"| from Python, the extension function itself | {low_level * 1e6:.2f} |")
    print(f"| in Rust, the same call | {in_rust * 1e6:.2f} |")

    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot", file=sys.stderr)
            return
        cases = list(dict.fromkeys(c for c, _, _ in rows))
        fig, axes = plt.subplots(len(cases), 1, figsize=(8, 3 * len(cases)))
        for ax, case in zip(axes, cases):
            entries = [(impl, s) for c, impl, s in rows if c == case]
            ax.barh([e[0] for e in entries], [e[1] for e in entries])
            ax.set_xscale("log")
            ax.set_title(case)
            ax.set_xlabel("seconds")
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
