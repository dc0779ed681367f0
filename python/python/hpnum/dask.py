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
- :func:`norm` is :func:`hpnum.norm` of the whole vector, bit for bit, for any chunking:
  every CPU backend sums in a pairwise tree whose nodes are the same bits wherever they are
  computed, so each chunk (its edges moved to the tree's leaf edges) sums the nodes it
  holds whole and the tree above them is rebuilt from those partial sums alone.

Each task calls hpnum with the GIL released, so a threaded worker runs as many chunks at
once as it has threads.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import numpy as np

from . import NORM_KINDS, _backend, _count, _dtype_name, _hpnum, _julia_arguments
from . import diffuse as _diffuse

__all__ = ["diffuse", "julia", "norm", "halo_for"]

#: What an exchange costs per cell of a chunk (Dask's copies of the chunk and its halo),
#: in steps of that cell: 8.3 threaded and 3.8 on a two-process LocalCluster, measured by
#: ``python/benchmarks/dask_diffusion.py`` on 2026-12-07 (docs/performance.md).
EXCHANGE_IN_CELL_STEPS = 6.0


def _dask_array():
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError(
            'hpnum.dask needs Dask: pip install "hpnum[dask]" (or dask[array])'
        ) from e
    return da


def _contiguous(block: np.ndarray) -> np.ndarray:
    """``block`` as the kernels take it: contiguous and aligned. A chunk that came over the
    network may be neither (a view into the message's bytes): then it is copied."""
    if not (block.flags.c_contiguous and block.flags.aligned):
        _check_memory(block.nbytes, "a copy of a chunk", _worker_memory_limit())
    return np.require(block, requirements=["C", "A"])


def halo_for(chunks: Tuple[Tuple[int, ...], ...], steps: int) -> int:
    """The halo :func:`diffuse` uses when none is given: the ``K`` that costs least per step.
    An exchange every ``K`` steps costs :data:`EXCHANGE_IN_CELL_STEPS` (``e``) steps of
    each cell, ``e / K`` per step; the halo adds ``2K`` rows (and columns) to a chunk
    ``t`` cells thin, ``2K / t`` per step. Their sum is least at ``K = √(e·t / 2)``: 55 for
    chunks 1024 thin, 28 for 256, 7 for 16. At least 1, at most the thinnest chunk and
    ``steps``."""
    thinnest = min(min(axis) for axis in chunks)
    best = round((EXCHANGE_IN_CELL_STEPS * thinnest / 2) ** 0.5)
    return max(1, min(best, thinnest, steps))


def _worker_memory_limit() -> Optional[int]:
    """The ``memory_limit`` of the ``dask.distributed`` worker running this task, if any."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # no distributed, or not on one of its workers
        return None
    return getattr(getattr(worker, "memory_manager", None), "memory_limit", None) or None


def _cluster_memory_limit() -> Optional[int]:
    """The smallest ``memory_limit`` of the workers of the current ``dask.distributed``
    client's cluster, if there is a client and its workers have limits."""
    try:
        from distributed import default_client

        workers = default_client().scheduler_info()["workers"].values()
    except (ImportError, ValueError):  # no distributed, or no client
        return None
    limits = [w.get("memory_limit") for w in workers if w.get("memory_limit")]
    return min(limits) if limits else None


def _check_memory(nbytes: int, what: str, limit: Optional[int]) -> None:
    """``MemoryError`` unless ``nbytes`` fit ``limit`` (a worker's) and what this machine has
    available now, asked before allocating them."""
    if limit is not None and nbytes > limit:
        raise MemoryError(
            f"{what} needs {nbytes} bytes, more than a worker's memory_limit of {limit}: "
            f"use smaller chunks"
        )
    _hpnum.check_memory(nbytes)


def _advance(block: np.ndarray, steps: int, diffusivity: float, dt: float, backend: str):
    # A chunk with its halo, as Dask hands it over (possibly read-only): stepped in a copy,
    # with a scratch grid of the same size.
    _check_memory(2 * block.nbytes, "a diffusion task", _worker_memory_limit())
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
    ``halo``). A chunk whose task (its haloed input, a copy and a scratch grid) would not
    fit a worker's ``memory_limit`` or this machine's available memory is a
    ``MemoryError``, here when a ``dask.distributed`` client is active, else in the task,
    before it allocates. Arguments are checked here, before anything runs: ``TypeError`` for a
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
    haloed = max(x.chunks[0]) + 2 * k, max(x.chunks[1]) + 2 * k
    # The largest task's input, its copy and its scratch, against the cluster's workers.
    _check_memory(
        3 * haloed[0] * haloed[1] * x.dtype.itemsize, "a diffusion task", _cluster_memory_limit()
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
    largest = max(chunks[0], default=0) * max(chunks[1], default=0) * 4
    _check_memory(largest, "a Julia task", _cluster_memory_limit())
    ys_d = da.from_array(ys, chunks=(chunks[0],))
    xs_d = da.from_array(xs, chunks=(chunks[1],))

    def block(ys_block: np.ndarray, xs_block: np.ndarray) -> np.ndarray:
        _check_memory(4 * len(ys_block) * len(xs_block), "a Julia task", _worker_memory_limit())
        return _hpnum.julia_from_axes(
            _contiguous(xs_block), _contiguous(ys_block), max_iter, name, backend, c
        )

    return da.blockwise(
        block, "ij", ys_d, "i", xs_d, "j", dtype=np.uint32,
        meta=np.empty((0, 0), dtype=np.uint32),
    )


def _norm_parts(block, offset, n, tree, kind, done):
    # One chunk's parts of the next pass (None when the norm needs no further pass: the
    # tasks of a pass L2 did not need cost a call and no read of the chunk).
    return _hpnum.norm_parts(_contiguous(block), offset, n, tree, kind, done)


def _norm_combine(tree, dtype_name, n, done, *chunk_parts):
    if all(parts is None for parts in chunk_parts):
        return done
    parts = [part for chunk in chunk_parts for part in chunk]
    return done + [_hpnum.norm_combine(tree, dtype_name, n, parts)]


def _norm_result(kind, dtype_name, done):
    return _hpnum.norm_result(kind, dtype_name, done)


def norm(x, kind: str = "l2", *, backend: str = "auto"):
    """The norm ``kind`` of the 1-D Dask array ``x`` (``float32`` or ``float64``) as a lazy
    value (a ``dask.delayed``) whose ``.compute()`` equals ``hpnum.norm(x.compute(), kind,
    backend=backend)`` bit for bit, for any chunking, NaN, infinities and L2's overflow
    safety included.

    Each CPU backend sums in a pairwise tree whose shape depends only on the length (and
    the SIMD lanes): ``x`` is rechunked so that its chunk edges fall on the tree's leaf
    edges (each edge moves by less than a leaf, a few thousand elements), each chunk sums
    the nodes it holds whole, and the tree above them is rebuilt from those sums. Workers
    must run the instruction set the client chose (the tree's shape depends on it): one
    that cannot raises ``hpnum.UnsupportedError``.

    ``backend="auto"`` is what :func:`hpnum.norm` chooses for the whole vector's length,
    except that where it would choose the GPU (whose sums follow its workgroups, which
    parts cannot rebuild) this runs the rayon backend's tree; ``backend="gpu"`` raises
    ``hpnum.UnsupportedError``. Arguments are checked here, before anything runs."""
    da = _dask_array()
    import dask

    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask array, got {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got {x.ndim}-D of shape {x.shape}")
    dtype_name = _dtype_name(x.dtype)
    if kind not in NORM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NORM_KINDS)}, got {kind!r}")
    n = x.shape[0]
    if n != n:  # NaN: a length Dask does not know yet
        raise ValueError("x has chunks of unknown size: call x.compute_chunk_sizes() first")
    tree = tuple(_hpnum.norm_tree(_backend(backend), dtype_name, n))
    x = _rechunk_to_leaves(x, tree, dtype_name)
    offsets = np.concatenate([[0], np.cumsum(x.chunks[0])[:-1]]).tolist()
    blocks = x.to_delayed().ravel().tolist()
    parts = dask.delayed(_norm_parts, pure=True)
    combine = dask.delayed(_norm_combine, pure=True)
    done = []
    # One stage per pass the norm may take (L2: up to three); a stage it turns out not to
    # need costs a call per chunk and no read of it.
    for _ in range(_hpnum.norm_passes(kind)):
        chunk_parts = [parts(b, off, n, tree, kind, done) for b, off in zip(blocks, offsets)]
        done = combine(tree, dtype_name, n, done, *chunk_parts)
    return dask.delayed(_norm_result, pure=True)(kind, dtype_name, done)


def _rechunk_to_leaves(x, tree, dtype_name):
    """``x`` with every chunk edge moved to the nearest leaf edge of ``tree`` (empty chunks
    dropped; a vector of one leaf is one chunk)."""
    n = x.shape[0]
    edges = np.cumsum(x.chunks[0])[:-1].tolist()
    aligned = sorted(set(_hpnum.norm_align(tree, dtype_name, n, edges)) - {0, n})
    sizes = np.diff([0] + aligned + [n]).tolist()
    if tuple(sizes) == tuple(x.chunks[0]) or n == 0:
        return x
    return x.rechunk((tuple(sizes),))
