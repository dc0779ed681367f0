"""hpnum on Dask: the book's kernels on arrays larger than one process, computed in chunks
on any Dask scheduler (threads, processes, a ``dask.distributed`` cluster), with the bits
of one call on the whole array.

Install with ``pip install "hpnum[dask]"``; the rest of hpnum needs no Dask, and this
module imports it only when a function is called.

- :func:`diffuse` steps a 2-D Dask array: every ``K`` steps each chunk takes a periodic
  halo of ``K`` cells from its neighbours (``map_overlap``), steps ``K`` times with hpnum,
  and keeps its interior. ``K`` steps of the stencil move information ``K`` cells, so the
  interior is exactly what one call on the whole grid gives: bit for bit, for any shape,
  chunking, ``K`` and dtype (on backends that give the reference's bits, which every CPU
  backend does).
- :func:`julia` is the image :func:`hpnum.julia` gives, computed block by block on the
  same axes.

Each task calls hpnum with the GIL released, so a threaded worker runs as many chunks at
once as it has threads.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import numpy as np

from . import _backend, _count, _dtype_name, _hpnum, _julia_arguments
from . import diffuse as _diffuse

__all__ = ["diffuse", "julia", "halo_for"]

#: The deepest halo :func:`diffuse` picks by itself: deeper halos exchange less often but
#: recompute more cells (2·K·(rows + cols) per chunk and exchange).
MAX_DEFAULT_HALO = 16


def _dask_array():
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError(
            'hpnum.dask needs Dask: pip install "hpnum[dask]" (or dask[array])'
        ) from e
    return da


def halo_for(chunks: Tuple[Tuple[int, ...], ...], steps: int) -> int:
    """The halo :func:`diffuse` uses when none is given: an eighth of the thinnest chunk
    (so that the recomputed border stays a small part of each chunk), at least 1, at most
    :data:`MAX_DEFAULT_HALO` and at most ``steps``."""
    thinnest = min(min(axis) for axis in chunks)
    return max(1, min(thinnest // 8, MAX_DEFAULT_HALO, steps))


def _advance(block: np.ndarray, steps: int, diffusivity: float, dt: float, backend: str):
    # A chunk with its halo, as Dask hands it over (possibly read-only): stepped in a copy.
    grid = np.array(block, order="C", copy=True)
    return _diffuse(grid, steps, diffusivity=diffusivity, dt=dt, backend=backend)


def diffuse(
    x,
    steps: int,
    *,
    halo: Optional[int] = None,
    diffusivity: float = 1.0,
    dt: float = 0.1,
    backend: str = "auto",
):
    """``steps`` explicit-Euler diffusion steps of the 2-D Dask array ``x`` (``float32`` or
    ``float64``) with periodic boundaries, as a new Dask array: equal, bit for bit, to
    ``hpnum.diffuse(x.compute(), steps, ...)``.

    Every ``halo`` steps (``K``; by default :func:`halo_for` the chunks) each chunk takes
    ``K`` cells of its neighbours on every side, wrapping around the grid's edges, steps
    ``K`` times, and keeps its interior. A chunk thinner than ``K`` cannot hold a halo that
    deep: that is a ``ValueError`` naming the thinnest chunk (rechunk, or pass a smaller
    ``halo``). Arguments are checked here, before anything runs: ``TypeError`` for a
    non-Dask or non-float array, ``ValueError`` for another rank, a bad count or an
    unstable ``D·dt``."""
    da = _dask_array()
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D, got {x.ndim}-D of shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, got {x.dtype}")
    steps = _count("steps", steps, 0)
    diffusivity, dt = float(diffusivity), float(dt)
    # The same checks one call makes (an unstable D·dt, NaN, an unknown backend), now.
    _diffuse(np.zeros((1, 1), dtype=x.dtype), 0, diffusivity=diffusivity, dt=dt, backend=backend)
    if steps == 0 or x.size == 0:
        return x
    k = halo_for(x.chunks, steps) if halo is None else _count("halo", halo, 1)
    for axis, sizes in enumerate(x.chunks):
        if min(sizes) < k:
            raise ValueError(
                f"halo {k} is deeper than the thinnest chunk along axis {axis} "
                f"({min(sizes)} cells): rechunk so that every chunk has at least {k}, "
                f"or pass a smaller halo"
            )
    full, rest = divmod(steps, k)
    for depth in [k] * full + ([rest] if rest else []):
        step = functools.partial(
            _advance, steps=depth, diffusivity=diffusivity, dt=dt, backend=backend
        )
        x = x.map_overlap(
            step,
            depth=depth,
            boundary="periodic",
            trim=True,
            dtype=x.dtype,
            meta=np.empty((0, 0), dtype=x.dtype),
        )
    return x


def julia(
    width: int,
    max_iter: int,
    *,
    chunks,
    dtype=np.float64,
    region: Optional[Tuple[float, float, float, float]] = None,
    c: Optional[Tuple[float, float]] = None,
    height: Optional[int] = None,
    backend: str = "auto",
):
    """The Julia image :func:`hpnum.julia` gives for the same arguments, as a Dask array of
    ``uint32`` in ``chunks`` (any form Dask accepts: ``1000``, ``(500, 700)``, ``"auto"``):
    each block is computed on its window of the image's axes, so every pixel has the
    coordinates, and the count, of the whole image's."""
    da = _dask_array()
    # Every argument checked as hpnum.julia checks it, before anything runs.
    width, rows, max_iter, region, c = _julia_arguments(width, max_iter, height, region, c)
    name, backend = _dtype_name(dtype), _backend(backend)
    xs, ys = _hpnum.julia_axes(width, rows, name, region)
    # c (finite?) and the backend's precision, checked on one pixel, now.
    _hpnum.julia_from_axes(xs[:1], ys[:1], 0, name, backend, c)
    chunks = da.core.normalize_chunks(chunks, (len(ys), len(xs)), dtype=np.uint32)
    ys_d = da.from_array(ys, chunks=(chunks[0],))
    xs_d = da.from_array(xs, chunks=(chunks[1],))

    def block(ys_block: np.ndarray, xs_block: np.ndarray) -> np.ndarray:
        return _hpnum.julia_from_axes(
            np.ascontiguousarray(xs_block), np.ascontiguousarray(ys_block), max_iter, name,
            backend, c,
        )

    return da.blockwise(
        block, "ij", ys_d, "i", xs_d, "j", dtype=np.uint32,
        meta=np.empty((0, 0), dtype=np.uint32),
    )
