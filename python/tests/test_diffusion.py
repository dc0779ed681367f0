"""Diffusion from Python: the book's 64×64 grids bit for bit, the book's own in-place NumPy
step on random grids, every layout, and every error path, on every backend."""

import numpy as np
import pytest

import hpnum
from conftest import diffusion_reference, supports


def numpy_step(g: np.ndarray, coefficient: float) -> np.ndarray:
    """The book's in-place NumPy step (diffusion_numpy_memory2.py)."""
    t = g * -4
    t += np.roll(g, +1, 0)
    t += np.roll(g, -1, 0)
    t += np.roll(g, +1, 1)
    t += np.roll(g, -1, 1)
    t *= coefficient
    return t + g


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_books_grid_bit_for_bit(backend, dtype):
    if not supports(backend, dtype):
        pytest.skip(f"{backend} has no {np.dtype(dtype).name}")
    grid = hpnum.book_grid(64, dtype=dtype)
    assert grid.dtype == dtype
    out = hpnum.diffuse(grid, 100, backend=backend)
    assert out is grid
    np.testing.assert_array_equal(grid, diffusion_reference(dtype))


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (17, 31), (64, 7), (33, 48)])
def test_random_grids_match_the_books_numpy_step(backend, shape):
    rng = np.random.default_rng(sum(shape))
    grid = rng.random(shape)
    want = grid.copy()
    coefficient = np.float64(1.0) * np.float64(0.1)
    for _ in range(7):
        want = numpy_step(want, coefficient)
    hpnum.diffuse(grid, 7, backend=backend)
    np.testing.assert_array_equal(grid, want)


@pytest.mark.parametrize(
    "layout",
    ["c", "fortran", "strided", "reversed", "transposed"],
)
def test_every_layout_in_place(backend, layout):
    base = hpnum.book_grid(40, cols=36)
    want = base.copy()
    hpnum.diffuse(want, 9, backend="scalar")
    if layout == "c":
        grid = base.copy()
        view = grid
    elif layout == "fortran":
        grid = np.asfortranarray(base)
        view = grid
    elif layout == "strided":
        grid = np.zeros((40, 72))
        grid[:, ::2] = base
        view = grid[:, ::2]
    elif layout == "reversed":
        grid = base[::-1, ::-1].copy()
        view = grid[::-1, ::-1]
    else:
        grid = np.ascontiguousarray(base.T)
        view = grid.T
    hpnum.diffuse(view, 9, backend=backend)
    np.testing.assert_array_equal(view, want)
    if layout == "strided":
        assert not grid[:, 1::2].any(), "wrote outside the view"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_callers_scratch_gives_the_same_bits_and_is_reused(backend, dtype, order):
    if not supports(backend, dtype):
        pytest.skip(f"{backend} has no {np.dtype(dtype).name}")
    want = hpnum.book_grid(33, cols=48, dtype=dtype)
    hpnum.diffuse(want, 11, backend="scalar")
    grid = hpnum.book_grid(33, cols=48, dtype=dtype)
    scratch = np.full((33, 48), np.nan, dtype=dtype, order=order)  # garbage is fine
    for steps in (5, 6):  # the same scratch twice, an odd and an even run
        hpnum.diffuse(grid, steps, backend=backend, scratch=scratch)
    np.testing.assert_array_equal(grid, want)


def test_a_bad_scratch_is_refused_before_anything_runs():
    grid = hpnum.book_grid(8)
    before = grid.copy()
    with pytest.raises(ValueError, match="shape"):
        hpnum.diffuse(grid, 1, scratch=np.zeros((8, 9)))
    with pytest.raises(TypeError, match="dtype"):
        hpnum.diffuse(grid, 1, scratch=np.zeros((8, 8), dtype=np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        hpnum.diffuse(grid, 1, scratch=[[0.0] * 8] * 8)
    readonly = np.zeros((8, 8))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        hpnum.diffuse(grid, 1, scratch=readonly)
    with pytest.raises(ValueError, match="share memory"):
        hpnum.diffuse(grid, 1, scratch=grid)
    with pytest.raises(ValueError, match="share memory"):
        hpnum.diffuse(grid, 1, scratch=grid[::-1])
    wide = np.zeros((8, 16))
    with pytest.raises(ValueError, match="share memory"):
        hpnum.diffuse(wide[:, ::2], 1, scratch=wide[:, 1::2])  # interleaved: refused too
    np.testing.assert_array_equal(grid, before)


def test_errors_are_python_exceptions():
    grid = np.zeros((4, 4))
    with pytest.raises(ValueError, match="unstable"):
        hpnum.diffuse(grid, 1, dt=0.3)
    with pytest.raises(ValueError, match="diffusivity"):
        hpnum.diffuse(grid, 1, diffusivity=float("nan"))
    with pytest.raises(ValueError, match="dt"):
        hpnum.diffuse(grid, 1, dt=-0.1)
    with pytest.raises(TypeError, match="int64"):
        hpnum.diffuse(np.zeros((4, 4), dtype=np.int64), 1)
    with pytest.raises(ValueError, match="2-D"):
        hpnum.diffuse(np.zeros(4), 1)
    with pytest.raises(TypeError, match="list"):
        hpnum.diffuse([[0.0]], 1)
    readonly = np.zeros((4, 4))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        hpnum.diffuse(readonly, 1)
    with pytest.raises(ValueError, match="steps"):
        hpnum.diffuse(grid, -1)
    with pytest.raises(ValueError, match="backend"):
        hpnum.diffuse(grid, 1, backend="numpy")
    # Zero steps and empty grids leave the grid alone.
    grid = hpnum.book_grid(8)
    before = grid.copy()
    hpnum.diffuse(grid, 0)
    np.testing.assert_array_equal(grid, before)
    hpnum.diffuse(np.zeros((0, 5)), 3)
