"""hpnum beside the peers a reader of the book would try, in one process, on this machine.

Julia (the book's 1000², 300 iterations) with Numba ``@jit`` on one thread and with a
``prange`` loop on every core; diffusion per step with the book's in-place NumPy version and
a plain Numba ``prange`` loop, beside ``np.copyto`` of the same grid (a step reads and
writes the grid once: the copy is the memory's limit for one thread); ‖v‖² with
``np.dot`` and L2 with ``np.linalg.norm`` (OpenBLAS: threaded, vectorised, at the read
bandwidth). hpnum runs through its Python package, on the rayon (every core) and SIMD (one
core) backends. Every result is checked against the reference first.

The contenders of a workload are timed in rounds, in a rotating order, each in the steady
state of a loop of its own calls: first a pause, because BLAS and OpenMP threads spin for
tens of milliseconds after a call and would slow whichever contender comes next (measured:
hpnum's rayon norm of 10⁷ right after ``np.dot`` took twice its time alone); then 30 ms
of untimed calls, because after an idle pause this VM's cores run at half speed for some
milliseconds; then the timed calls. A contender's time is the median over rounds of its
per-round median. The last columns say how many times faster hpnum's best backend, and its
default backend (`auto`, where it ran), are than the peer (above 1: hpnum is faster).

    pip install "./python[bench]"      # numpy, numba (and matplotlib, unused here)
    python3 benches/peers/book_peers.py [--quick] [--runs N]
"""

import argparse
import os
import platform
import time

import numpy as np
from numba import get_num_threads, njit, prange

import hpnum


def race(contenders, rounds=5, pause=0.1, warm=0.03):
    """Seconds per call of each contender (a dict name -> function), timed in rounds of up
    to 5 calls (fewer for a contender whose call takes over 10 ms)."""
    times = {name: [] for name in contenders}
    repeats = {}
    for name, f in contenders.items():
        t = time.perf_counter()
        f()  # warm-up: compilation, first touch of pages, thread pools
        repeats[name] = max(1, min(5, int(0.05 / (time.perf_counter() - t))))
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            time.sleep(pause)  # other libraries' spinning threads go back to sleep
            f = contenders[name]
            # Then the contender runs untimed for a while: after an idle pause this VM's
            # cores run at half speed for some milliseconds (cold caches, clocks ramping).
            warm_until = time.perf_counter() + warm
            while time.perf_counter() < warm_until:
                f()
            runs = []
            for _ in range(repeats[name]):
                t = time.perf_counter()
                f()
                runs.append(time.perf_counter() - t)
            times[name].append(sorted(runs)[len(runs) // 2])
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


AUTO = "hpnum auto (the default)"


def table_rows(label, peers, hpnum_contenders, per=1):
    """Races the peers against hpnum's backends; rows of (label, who, seconds, best, auto):
    hpnum's best backend's seconds, and its default backend's where it ran (else None)."""
    seconds = race({**peers, **hpnum_contenders})
    seconds = {name: t / per for name, t in seconds.items()}
    best = min(seconds[name] for name in hpnum_contenders)
    auto = seconds.get(AUTO)
    return [(label, name, seconds[name], best, auto) for name in seconds]


# --- Julia --------------------------------------------------------------------------------


def book_axes(width):
    """The book's axes, accumulated as calc_pure_python does."""
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
    return np.array(xs), np.array(ys)


def _julia_rows(xs, ys, c_re, c_im, maxiter, out):
    """The book's loop; `prange` is `range` unless Numba compiles it with parallel=True."""
    for r in prange(ys.shape[0]):
        for k in range(xs.shape[0]):
            re, im = xs[k], ys[r]
            n = 0
            while n < maxiter and re * re + im * im < 4.0:
                new_re = (re * re - im * im) + c_re
                im = (re * im + im * re) + c_im
                re = new_re
                n += 1
            out[r, k] = n


# One body, two forms a reader would try: plain @jit on one thread, and prange on all.
julia_jit = njit(_julia_rows)
julia_prange = njit(parallel=True)(_julia_rows)


# --- diffusion ----------------------------------------------------------------------------


def evolve_numpy(grid, dt, out, D=1.0):
    """diffusion_numpy_memory2.py: np.roll into a preallocated out, in place."""
    np.multiply(grid, -4, out)
    out += np.roll(grid, +1, 0)
    out += np.roll(grid, -1, 0)
    out += np.roll(grid, +1, 1)
    out += np.roll(grid, -1, 1)
    out *= D * dt
    out += grid


@njit(parallel=True)
def evolve_prange(grid, out, coefficient, minus_four):
    """The plain loop a reader writes next: one pass, periodic indices, every core.
    `minus_four` comes in the grid's dtype: a literal -4.0 would be a float64 and make a
    float32 step compute in float64."""
    rows, cols = grid.shape
    for i in prange(rows):
        up = (i - 1) % rows
        down = (i + 1) % rows
        for j in range(cols):
            t = minus_four * grid[i, j]
            t += grid[up, j]
            t += grid[down, j]
            t += grid[i, (j - 1) % cols]
            t += grid[i, (j + 1) % cols]
            out[i, j] = t * coefficient + grid[i, j]


def book_grid(n, dtype):
    grid = np.zeros((n, n), dtype=dtype)
    lo, hi = int(0.4 * n), int(0.5 * n)
    grid[lo:hi, lo:hi] = 0.005
    return grid


def diffusion_rows(n, dtype, steps):
    name = np.dtype(dtype).name
    grid = book_grid(n, dtype)
    out = np.empty_like(grid)
    coefficient = dtype(1.0) * dtype(0.1)
    minus_four = dtype(-4.0)

    def numpy_run():
        g, o = grid.copy(), out
        for _ in range(steps):
            evolve_numpy(g, 0.1, o)
            g, o = o, g

    def prange_run():
        g, o = grid.copy(), out
        for _ in range(steps):
            evolve_prange(g, o, coefficient, minus_four)
            g, o = o, g

    # The checks: Numba's loop keeps the book's order, so its bits are hpnum's.
    check = grid.copy()
    hpnum.diffuse(check, 4, backend="scalar")
    g, o = grid.copy(), np.empty_like(grid)
    for _ in range(4):
        evolve_prange(g, o, coefficient, minus_four)
        g, o = o, g
    np.testing.assert_array_equal(g, check)

    # hpnum gets a second buffer allocated once, as the peers' loops do.
    work, scratch = grid.copy(), np.empty_like(grid)
    # The copy reads a grid whose pages are all written: `grid` came from np.zeros, and
    # its untouched pages are the kernel's one zero page, which a read finds in cache (a
    # copy from it measured 62 GB/s against 43 from written pages, 4096² float64).
    written = grid.copy()
    return table_rows(
        f"diffusion {n}² {name}, per step",
        {
            "np.copyto (one thread's limit)": lambda: [
                np.copyto(out, written) for _ in range(steps)
            ],
            "NumPy in place (the book)": numpy_run,
            f"Numba prange, {get_num_threads()} threads": prange_run,
        },
        {
            "hpnum rayon": lambda: hpnum.diffuse(work, steps, backend="rayon", scratch=scratch),
            "hpnum simd (1 core)": lambda: hpnum.diffuse(
                work, steps, backend="simd", scratch=scratch
            ),
        },
        per=steps,
    )


# --- norms --------------------------------------------------------------------------------


def norm_rows(n, dtype):
    name = np.dtype(dtype).name
    v = random_vector(n, dtype)
    rows = []
    wide = v.astype(np.float64)
    # float64 sums of float32 values: exact enough to check both precisions against.
    exact = {"l2sq": float(np.dot(wide, wide)), "l1": float(np.abs(wide).sum())}
    exact["l2"] = exact["l2sq"] ** 0.5
    exact["linf"] = float(np.abs(wide).max())
    for kind, label, peer_name, peer in (
        ("l2sq", "‖v‖²", "np.dot(v, v)", lambda: np.dot(v, v)),
        ("l2", "L2", "np.linalg.norm(v)", lambda: np.linalg.norm(v)),
        ("l1", "L1", "np.abs(v).sum()", lambda: np.abs(v).sum()),
        ("linf", "L∞", "np.abs(v).max()", lambda: np.abs(v).max()),
    ):
        want = exact[kind]
        # hpnum promises pairwise-class accuracy; BLAS's float32 dot accumulates in float32
        # and may be off by more (it is only timed here).
        tolerance = 1e-6 if dtype == np.float32 else 1e-13
        for backend in ("auto", "rayon", "simd"):
            got = hpnum.norm(v, kind, backend=backend)
            assert abs(got - want) <= tolerance * want, (kind, backend, got, want)
        rows += table_rows(
            f"{label} {name}, N = {n:.0e}",
            {peer_name: peer},
            {
                AUTO: lambda: hpnum.norm(v, kind),
                "hpnum rayon": lambda: hpnum.norm(v, kind, backend="rayon"),
                "hpnum simd (1 core)": lambda: hpnum.norm(v, kind, backend="simd"),
            },
        )
    return rows


def call_floor_rows():
    """The cost of a call itself: 8 elements, the default backend, against np.dot's."""
    v = random_vector(8, np.float64)
    calls = range(1000)  # timed in thousands: one call is below the clock's resolution

    def dots():
        for _ in calls:
            np.dot(v, v)

    def norms():
        for _ in calls:
            hpnum.norm(v, "l2sq")

    return table_rows(
        "a call: ‖v‖² of 8 float64",
        {"np.dot(v, v)": dots},
        {AUTO: norms},
        per=len(calls),
    )


def beside_numpy_rows(n, dtype, rounds=5, calls=50):
    """hpnum's call in a loop that alternates it with ``np.dot`` (whose OpenBLAS threads
    keep spinning after each call), against the same calls alone: rows of (label, who,
    seconds per hpnum call, the alone time), so the last column reads beside ÷ alone (the
    issue's target: at most 1.2)."""
    v = random_vector(n, dtype)
    alone, beside = [], []
    for _ in range(rounds):
        time.sleep(0.1)
        for _ in range(3):
            hpnum.norm(v, "l2sq")
        t = time.perf_counter()
        for _ in range(calls):
            hpnum.norm(v, "l2sq")
        alone.append((time.perf_counter() - t) / calls)
        time.sleep(0.1)
        spent = 0.0
        for _ in range(calls):
            np.dot(v, v)
            t = time.perf_counter()
            hpnum.norm(v, "l2sq")
            spent += time.perf_counter() - t
        beside.append(spent / calls)
    alone_s, beside_s = sorted(alone)[rounds // 2], sorted(beside)[rounds // 2]
    label = f"‖v‖² {np.dtype(dtype).name}, N = {n:.0e}, alternating with np.dot"
    return [
        (label, "beside np.dot, hpnum auto (ratio: beside ÷ alone)", beside_s, alone_s, None),
        (label, "hpnum auto alone", alone_s, alone_s, None),
    ]


def random_vector(n, dtype):
    """Values in [-1, 1), the same on every run."""
    return np.random.default_rng(12345).uniform(-1.0, 1.0, n).astype(dtype)


def all_rows(quick):
    """Every workload's rows, once."""
    rows = []
    xs, ys = book_axes(1000)
    out = np.zeros((ys.size, xs.size), dtype=np.int32)
    c = (-0.62772, -0.42193)
    for f in (julia_jit, julia_prange):
        f(xs, ys, c[0], c[1], 300, out)
        assert out.sum() == 33219980, out.sum()
    assert int(hpnum.julia(1000, 300, backend="rayon").sum()) == 33219980
    rows += table_rows(
        "Julia 1000², 300 it., f64",
        {
            "Numba @jit, 1 thread": lambda: julia_jit(xs, ys, c[0], c[1], 300, out),
            f"Numba prange, {get_num_threads()} threads": lambda: julia_prange(
                xs, ys, c[0], c[1], 300, out
            ),
        },
        {
            "hpnum rayon": lambda: hpnum.julia(1000, 300, backend="rayon"),
            "hpnum simd (1 core)": lambda: hpnum.julia(1000, 300, backend="simd"),
        },
    )
    sizes = (2048,) if quick else (1024, 2048, 4096)
    for n in sizes:
        for dtype in (np.float64, np.float32):
            rows += diffusion_rows(n, dtype, steps=8 if n >= 4096 else 16)
    rows += call_floor_rows()
    for n in (10**6, 10**7):
        rows += beside_numpy_rows(n, np.float64)
    lengths = (10**4, 10**6) if quick else (10**4, 10**5, 10**6, 10**7, 10**8)
    for n in lengths:
        for dtype in (np.float64, np.float32):
            rows += norm_rows(n, dtype)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes")
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat everything; the table gives medians"
    )
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba "
        f"{__import__('numba').__version__} ({get_num_threads()} threads), hpnum "
        f"{hpnum.__version__}, {os.cpu_count()} cpus, {platform.processor() or platform.machine()}"
    )
    runs = [all_rows(args.quick) for _ in range(max(1, args.runs))]
    median = lambda xs: sorted(xs)[len(xs) // 2]
    print(
        f"| workload | who | time (median of {len(runs)}) | hpnum's best is … × faster "
        "| hpnum auto is … × faster (median, range over the runs) |\n|---|---|---:|---:|---:|"
    )
    for i, (what, who, _, _, _) in enumerate(runs[0]):
        seconds = median([run[i][2] for run in runs])
        if seconds >= 1e-3:
            shown = f"{seconds * 1e3:.2f} ms"
        else:
            shown = f"{seconds * 1e6:.{0 if seconds >= 1e-5 else 2}f} µs"
        ratios = []
        for against in (3, 4):
            if who.startswith("hpnum") or runs[0][i][against] is None:
                ratios.append("")
            else:
                ratios.append(ratio_cell([run[i][2] / run[i][against] for run in runs]))
        print(f"| {what} | {who} | {shown} | {ratios[0]} | {ratios[1]} |")


def ratio_cell(ratios):
    """The median of the runs' ratios, in bold, and their range."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    middle = sorted(ratios)[len(ratios) // 2]
    return f"**{middle:.2f}** ({min(ratios):.2f}–{max(ratios):.2f})"


if __name__ == "__main__":
    main()
