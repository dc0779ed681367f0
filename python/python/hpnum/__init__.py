"""hpnum: the kernels of *High Performance Python* on NumPy arrays.

The Julia set, 2D heat diffusion with periodic boundaries and vector norms, on one core
(``"scalar"``), explicit SIMD (``"simd"``), all cores (``"rayon"``), any GPU (``"gpu"``:
Vulkan, Metal, DX12 or GL), or whichever is predicted fastest for the call (``"auto"``,
the default; :func:`last_choice` says what it picked). Every kernel releases the GIL, so
Python threads run kernels in parallel; arrays of any layout are used where they lie.

Errors: wrong dtype or rank is a ``TypeError``, bad values (shapes, an unstable ``dt``,
NaN parameters, an unknown backend) a ``ValueError``, an unsupported precision or a
missing GPU :class:`UnsupportedError`, a failing device :class:`DeviceError` (both
``RuntimeError``), memory that cannot be had ``MemoryError``.
"""

from __future__ import annotations

import numbers
import os
import sys
from typing import Optional, Tuple

import numpy as np

# On a headless Linux machine, Mesa's Vulkan device-selection layer prints two
# "XDG_RUNTIME_DIR is invalid" lines when the GPU adapters are enumerated (it looks for a
# Wayland compositor). Its own switch silences it; set here, at import, unless the user
# chose either way or a desktop session exists. (The library does the same when it opens a
# device, but only while the process runs one thread, which an interpreter rarely does.)
if sys.platform.startswith("linux") and not {"XDG_RUNTIME_DIR", "NODEVICE_SELECT"} & set(os.environ):
    os.environ["NODEVICE_SELECT"] = "1"

from . import _hpnum  # noqa: E402 (after the switch above)
from ._hpnum import (  # noqa: E402
    BACKENDS,
    KERNELS,
    NORM_KINDS,
    DeviceError,
    Gpu,
    GpuGrid,
    GpuVector,
    UnsupportedError,
    __version__,
    tune,
)
from ._crossover import Crossover, crossover  # noqa: E402

__all__ = [
    "julia",
    "diffuse",
    "book_grid",
    "norm",
    "backends",
    "last_choice",
    "crossover",
    "Crossover",
    "tune",
    "Gpu",
    "GpuGrid",
    "GpuVector",
    "UnsupportedError",
    "DeviceError",
    "BACKENDS",
    "KERNELS",
    "NORM_KINDS",
    "__version__",
]

# From the extension, which takes them from the library's own lists: BACKENDS, the backend
# names every call accepts ("auto" first); KERNELS, the kernels; NORM_KINDS, the norms
# :func:`norm` computes.


def _dtype_name(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError as e:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from e
    if name not in ("float32", "float64"):
        raise TypeError(f"dtype must be float32 or float64, got {name}")
    return name


def _count(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def julia(
    width: int,
    max_iter: int,
    *,
    dtype=np.float64,
    backend: str = "auto",
    region: Optional[Tuple[float, float, float, float]] = None,
    c: Optional[Tuple[float, float]] = None,
    height: Optional[int] = None,
) -> np.ndarray:
    """Julia set escape counts as a ``uint32`` array of shape ``(rows, width)``.

    By default the book's axes (``-1.8 ≤ x, y < 1.8``, accumulated as the book does) and
    constant ``c = -0.62772 - 0.42193j``: ``julia(1000, 300).sum()`` is the book's
    33219980 (33222988 in ``float32``). ``region=(x_min, x_max, y_min, y_max)`` and
    ``height`` ask for any rectangle, ``c=(re, im)`` for any constant.
    """
    width, rows, max_iter, region, c = _julia_arguments(width, max_iter, height, region, c)
    return _hpnum.julia(width, rows, max_iter, _dtype_name(dtype), _backend(backend), region, c)


def _julia_arguments(width, max_iter, height, region, c):
    """`julia`'s arguments checked and in the extension's types: `(width, rows, max_iter,
    region, c)` (also what `hpnum.dask.julia` takes)."""
    width = _count("width", width, 1)
    max_iter = _count("max_iter", max_iter)
    if max_iter >= 2**32:
        raise ValueError(f"max_iter must be below 2**32, got {max_iter}")
    rows = width if height is None else _count("height", height, 1)
    if region is not None:
        region = tuple(float(v) for v in region)
        if len(region) != 4:
            raise ValueError(f"region must be (x_min, x_max, y_min, y_max), got {region!r}")
    if c is not None:
        c = (float(c[0]), float(c[1]))
    return width, rows, max_iter, region, c


def book_grid(n: int, *, dtype=np.float64, cols: Optional[int] = None) -> np.ndarray:
    """The book's initial diffusion grid: ``n × n`` (or ``n × cols``) zeros with a block of
    0.005 in the middle, as ``float64`` (or ``float32``)."""
    rows = _count("n", n, 1)
    cols = rows if cols is None else _count("cols", cols, 1)
    return _hpnum.book_grid(rows, cols, _dtype_name(dtype))


def diffuse(
    grid: np.ndarray,
    steps: int,
    *,
    diffusivity: float = 1.0,
    dt: float = 0.1,
    backend: str = "auto",
    scratch: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Advances ``grid`` (2-D ``float32`` or ``float64``, any layout: C, Fortran, strided,
    negative strides) ``steps`` explicit-Euler steps with periodic boundaries, in place, and
    returns it. The update per cell is the book's NumPy expression, bit for bit:
    ``g + D·dt·(-4g + up + down + left + right)``. Stable for ``D·dt ≤ 1/4``. Ctrl-C stops a
    long run (``KeyboardInterrupt``; the grid's contents are then unspecified).

    ``scratch``, an array of ``grid``'s shape and dtype whose memory does not overlap
    ``grid``'s (as ``np.may_share_memory`` judges), is used as the second buffer instead
    of a fresh one, which a loop of calls saves (a fresh buffer's first touch cost 0.4 ms a
    step at 2048², 16 steps a call); its contents afterwards are unspecified."""
    if not isinstance(grid, np.ndarray):
        raise TypeError(f"grid must be a numpy array, got {type(grid).__name__}")
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D, got {grid.ndim}-D of shape {grid.shape}")
    _dtype_name(grid.dtype)
    if not grid.flags.writeable:
        raise ValueError("grid must be writeable: it is diffused in place")
    if scratch is not None:
        if not isinstance(scratch, np.ndarray):
            raise TypeError(f"scratch must be a numpy array, got {type(scratch).__name__}")
        if scratch.shape != grid.shape:
            raise ValueError(f"scratch must have grid's shape {grid.shape}, got {scratch.shape}")
        if scratch.dtype != grid.dtype:
            raise TypeError(f"scratch must have grid's dtype {grid.dtype}, got {scratch.dtype}")
        if not scratch.flags.writeable:
            raise ValueError("scratch must be writeable")
        if np.may_share_memory(grid, scratch):
            raise ValueError("scratch must not share memory with grid")
    steps = _count("steps", steps)
    _hpnum.diffuse(grid, steps, float(diffusivity), float(dt), _backend(backend), scratch)
    return grid


def norm(v: np.ndarray, kind: str = "l2", *, backend: str = "auto") -> float:
    """A norm of the 1-D ``float32`` or ``float64`` array ``v`` (any stride): ``"l1"``,
    ``"l2"`` (without overflow or underflow), ``"linf"`` or ``"l2sq"`` (the book's
    ``norm_squared``, which may overflow). Sums are pairwise; NaN anywhere gives NaN,
    otherwise an infinity gives +inf."""
    # The extension checks everything itself: checking here first cost 1.6 µs a call, four
    # times np.dot's whole call. Its refusals are explained here, after the fact.
    try:
        return _hpnum.norm(v, kind, backend)
    except (TypeError, ValueError):
        _norm_arguments(v, kind, backend)
        raise


def _norm_arguments(v, kind: str, backend: str) -> None:
    """Raises the error that explains what is wrong with :func:`norm`'s arguments, if
    anything is."""
    if not isinstance(v, np.ndarray):
        raise TypeError(f"v must be a numpy array, got {type(v).__name__}")
    if v.ndim != 1:
        raise ValueError(f"v must be 1-D, got {v.ndim}-D of shape {v.shape}")
    _dtype_name(v.dtype)
    if kind not in NORM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NORM_KINDS)}, got {kind!r}")
    _backend(backend)


def backends() -> list:
    """What each backend on this machine is: a dict per backend with ``name``, ``device``,
    ``device_name``, ``isa``, ``threads``, ``precisions`` and ``keeps_subnormals``."""
    return _hpnum.backends()


def last_choice() -> Optional[dict]:
    """What ``backend="auto"`` chose for its latest call (``backend``, ``kernel``,
    ``precision``, ``predicted_seconds``), or ``None`` before the first."""
    return _hpnum.last_choice()
