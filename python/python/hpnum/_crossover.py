"""The crossover sweep from Python: :func:`crossover` and the :class:`Crossover` it returns.

The sweep itself is the library's (the one ``cargo run --example crossover`` runs); this
module turns its measurements into tables, plots and files.
"""

from __future__ import annotations

import csv
import os
import sys
from typing import Iterable, List, Optional, Sequence

import numpy as np

from . import _hpnum

#: The order and colours of the lines in :meth:`Crossover.plot`, as in the Rust plots.
_STYLE = {
    "scalar": ("#7f7f7f", "-"),
    "simd": ("#1f77b4", "-"),
    "rayon": ("#2ca02c", "-"),
    "auto": ("#9467bd", ":"),
    "gpu-resident": ("#d62728", "-"),
    "gpu": ("#ff7f0e", "--"),
    "gpu-readback": ("#8c564b", "-."),
}

_FLAVOURS = {
    "gpu-resident": "resident",
    "gpu": "one-shot",
    "gpu-readback": "reading back every step",
}


def _precision(dtype) -> str:
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise TypeError(f"dtypes must be float32 or float64, got {name}")
    return "f32" if name == "float32" else "f64"


def _tqdm_progress():
    """A progress callback drawing a tqdm bar, or ``None`` without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=0, unit="point", desc="crossover", leave=False)

    def progress(done: int, total: int, row) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        if row is not None:
            bar.set_postfix_str(f"{row['label']} {row['precision']} {row['size']} {row['backend']}")
        bar.refresh()

    return progress, bar


def crossover(
    kernels: Optional[Iterable[str]] = None,
    *,
    dtypes: Sequence = (np.float32,),
    quick: bool = False,
    backends: Optional[Iterable[str]] = None,
    sizes: Optional[Iterable[int]] = None,
    repeats: Optional[int] = None,
    progress=True,
) -> "Crossover":
    """Times each kernel over a range of sizes on every backend and finds where the GPU
    overtakes the best CPU backend, with and without its transfers.

    The same sweep as ``cargo run --release --example crossover``: the CPU backends,
    ``auto``, and on a GPU its one-shot calls (``gpu``: upload, compute, download), its
    calls on resident data (``gpu-resident``) and a diffusion that reads back every step
    (``gpu-readback``), beside the machine's limits measured in the same run.

    ``kernels``: names from :data:`KERNELS` (default: all). ``dtypes``: ``float32``
    and/or ``float64``, one sweep each. ``quick``: fewer sizes and repeats (about a minute
    on a software GPU driver). ``backends``: names to time (default: every one this
    machine runs). ``sizes``: the sizes for every kernel, in its size unit (default: the
    kernel's own range). ``repeats``: timed runs per point (the median is kept).
    ``progress``: ``True`` draws a bar when ``tqdm`` is installed, ``False`` nothing, or a
    callable ``progress(done, total, row)`` called after every point (``row`` is ``None``
    where a backend could not run that size; an exception it raises stops the sweep).
    Ctrl-C stops the sweep within its running call and raises ``KeyboardInterrupt``.
    """
    kernels = list(_hpnum.KERNELS if kernels is None else kernels)
    if isinstance(dtypes, (str, type, np.dtype)):
        dtypes = (dtypes,)
    precisions = [_precision(d) for d in dtypes]
    backends = None if backends is None else [str(b) for b in backends]
    if sizes is not None:
        sizes = [int(s) for s in sizes]
        if any(s < 1 for s in sizes):
            raise ValueError(f"sizes must be at least 1, got {sizes}")
    if repeats is not None and (isinstance(repeats, bool) or int(repeats) < 1):
        raise ValueError(f"repeats must be at least 1, got {repeats!r}")
    bar = None
    if progress is True:
        callback, bar = _tqdm_progress()
    elif progress is False or progress is None:
        callback = None
    elif callable(progress):
        callback = progress
    else:
        raise TypeError(f"progress must be True, False or a callable, got {progress!r}")
    try:
        runs = _hpnum.crossover_sweep(
            kernels,
            precisions,
            quick=bool(quick),
            backends=backends,
            sizes=sizes,
            repeats=None if repeats is None else int(repeats),
            progress=callback,
        )
    finally:
        if bar is not None:
            bar.close()
    return Crossover(runs)


class Crossover:
    """What :func:`crossover` measured.

    ``rows``: one dict per measurement, with ``kernel``, ``label`` (``julia``,
    ``diffusion``, ``norm-l2``), ``precision`` (``f32``/``f64``), ``size`` (in
    ``size_label`` units), ``backend`` (``scalar``, ``simd``, ``rayon``, ``auto``, ``gpu``,
    ``gpu-resident``, ``gpu-readback``), ``seconds`` (median per call), ``throughput`` (in
    ``unit``, 10⁹ per second) and ``of_limit`` (the fraction of the limit it reached:
    the host's for CPU backends, on one core for ``scalar`` and ``simd``; the device's for
    ``gpu-resident``; ``None`` for calls that include transfers).
    ``crossings``: per precision, kernel and GPU flavour, the first ``size`` from which the
    GPU beats every CPU backend at every larger size measured (``None``: never in range).
    ``limits``: the host's and the device's limits, the bus as ``auto`` models it.
    """

    def __init__(self, runs) -> None:
        self._runs = runs
        self.rows: List[dict] = runs.rows()
        self.crossings: List[dict] = runs.crossings()
        self.limits: dict = runs.limits()

    def __repr__(self) -> str:
        found = [c for c in self.crossings if c["size"] is not None]
        return (
            f"<hpnum.Crossover: {len(self.rows)} measurements, "
            f"{len(found)} of {len(self.crossings)} GPU crossings in range>"
        )

    def crossing(self, kernel: str, flavour: str = "gpu", dtype=np.float32) -> Optional[int]:
        """The size from which ``flavour`` (``gpu``, ``gpu-resident``, ``gpu-readback``)
        beats the best CPU backend on ``kernel`` in ``dtype``, or ``None``."""
        precision = _precision(dtype)
        for c in self.crossings:
            if c["kernel"] == kernel and c["flavour"] == flavour and c["precision"] == precision:
                return c["size"]
        return None

    def to_pandas(self):
        """The rows as a :class:`pandas.DataFrame` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("Crossover.to_pandas needs pandas: pip install pandas") from e
        return pd.DataFrame(self.rows)

    def plot(self, kernel: str, *, dtype=None):
        """A matplotlib figure of ``kernel`` in the style of the Rust example's plots: time
        per call and throughput against size, log-log, one line per backend, the crossings
        marked. ``dtype``: which sweep (default: the first). Needs matplotlib
        (``pip install "hpnum[plot]"``)."""
        try:
            import matplotlib

            if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
                # No display is needed to draw a figure; a notebook sets its own backend.
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError('Crossover.plot needs matplotlib: pip install "hpnum[plot]"') from e
        precision = self.rows[0]["precision"] if dtype is None and self.rows else None
        if dtype is not None:
            precision = _precision(dtype)
        rows = [r for r in self.rows if r["kernel"] == kernel and r["precision"] == precision]
        if not rows:
            known = sorted({r["kernel"] for r in self.rows})
            raise ValueError(f"no measurements of {kernel!r} in {precision}; measured: {known}")
        fig, (time_ax, rate_ax) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
        backends = [b for b in _STYLE if any(r["backend"] == b for r in rows)]
        for backend in backends:
            points = sorted((r["size"], r["seconds"], r["throughput"]) for r in rows if r["backend"] == backend)
            sizes = [p[0] for p in points]
            colour, line = _STYLE[backend]
            time_ax.plot(sizes, [p[1] for p in points], line, color=colour, marker="o", ms=3, label=backend)
            rate_ax.plot(sizes, [p[2] for p in points], line, color=colour, marker="o", ms=3, label=backend)
        wins = []
        for c in self.crossings:
            if c["kernel"] == kernel and c["precision"] == precision and c["size"] is not None:
                colour = _STYLE[c["flavour"]][0]
                wins.append(f"{c['flavour']} from {c['size']}")
                for ax in (time_ax, rate_ax):
                    ax.axvline(c["size"], color=colour, alpha=0.5, lw=1, ls="--")
                    ax.annotate(f"{c['flavour']} wins", (c["size"], 1), xycoords=("data", "axes fraction"),
                                xytext=(3, -12), textcoords="offset points", fontsize="small", color=colour)
        label, size_label, unit = rows[0]["label"], rows[0]["size_label"], rows[0]["unit"]
        measured = sorted({r["size"] for r in rows})
        for ax, what in ((time_ax, "seconds per call"), (rate_ax, unit)):
            ax.set_xscale("log")
            ax.set_yscale("log")
            # Ticks at the measured sizes.
            ax.set_xticks(measured, [str(s) for s in measured], fontsize="small")
            ax.minorticks_off()
            ax.set_xlabel(size_label)
            ax.set_ylabel(what)
            ax.grid(True, which="both", alpha=0.25)
        verdict = "GPU wins " + ", ".join(wins) if wins else "the CPU wins at every size"
        fig.suptitle(f"{label} ({precision}): {verdict}")
        time_ax.set_title("time per call")
        rate_ax.set_title("throughput")
        rate_ax.legend(fontsize="small")
        return fig

    def summary(self) -> str:
        """The crossings as a Markdown table, with the machine's adapter."""
        adapter = self.limits.get("adapter") or "no GPU"
        lines = [
            f"Adapter: {adapter}. The first size from which the GPU beats the best CPU backend "
            "at every larger size measured (– : never in the range).",
            "",
            "| precision | kernel | " + " | ".join(_FLAVOURS.values()) + " |",
            "|---|---|" + "---:|" * len(_FLAVOURS),
        ]
        keys = []
        for c in self.crossings:
            if (c["precision"], c["kernel"]) not in keys:
                keys.append((c["precision"], c["kernel"]))
        for precision, kernel in keys:
            cells = []
            for flavour in _FLAVOURS:
                size = next(
                    (
                        c["size"]
                        for c in self.crossings
                        if (c["precision"], c["kernel"], c["flavour"]) == (precision, kernel, flavour)
                    ),
                    None,
                )
                cells.append("–" if size is None else str(size))
            lines.append(f"| {precision} | {kernel} | " + " | ".join(cells) + " |")
        if not keys:
            lines.append("| – | – | no GPU measured | | |")
        return "\n".join(lines) + "\n"

    def save(self, out=None, *, calibrate: bool = False, calibration_path=None) -> dict:
        """Writes the sweep to the folder ``out`` (if given): one CSV per kernel and
        precision (``<label>-<precision>.csv``), a PNG plot of each when matplotlib is
        installed, and ``summary.md``. With ``calibrate=True``, also fits ``auto``'s cost
        model to the measurements and stores it exactly as the Rust example's ``--save``
        does (``calibration_path``: elsewhere than where ``auto`` reads it); ``auto`` in a
        new process then uses it. Returns what was written: ``{"csv": [...], "png":
        [...], "summary": path, "calibration": path}``."""
        written = {"csv": [], "png": [], "summary": None, "calibration": None}
        if out is not None:
            out = os.fspath(out)
            os.makedirs(out, exist_ok=True)
            groups = []
            for r in self.rows:
                if (r["label"], r["precision"], r["kernel"]) not in groups:
                    groups.append((r["label"], r["precision"], r["kernel"]))
            fields = ["kernel", "label", "precision", "size", "backend", "seconds", "throughput", "unit", "of_limit"]
            try:
                import matplotlib  # noqa: F401

                can_plot = True
            except ImportError:
                can_plot = False
            for label, precision, kernel in groups:
                path = os.path.join(out, f"{label}-{precision}.csv")
                with open(path, "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
                    w.writeheader()
                    for r in self.rows:
                        if r["label"] == label and r["precision"] == precision:
                            w.writerow(r)
                written["csv"].append(path)
                if can_plot:
                    import matplotlib.pyplot as plt

                    fig = self.plot(kernel, dtype=np.float32 if precision == "f32" else np.float64)
                    png = os.path.join(out, f"{label}-{precision}.png")
                    fig.savefig(png, dpi=110)
                    plt.close(fig)
                    written["png"].append(png)
            summary = os.path.join(out, "summary.md")
            with open(summary, "w") as f:
                f.write("# hpnum crossover\n\n" + self.summary())
            written["summary"] = summary
        if calibrate:
            path = None if calibration_path is None else os.fspath(calibration_path)
            written["calibration"] = self._runs.save_calibration(path)
        return written

