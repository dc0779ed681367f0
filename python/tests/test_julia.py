"""Julia from Python: the book's sums, the reference grids pixel for pixel, any region and
constant, and every error path, on every backend."""

import numpy as np
import pytest

import hpnum
from conftest import julia_reference, supports


@pytest.mark.parametrize("dtype, total", [(np.float64, 33_219_980), (np.float32, 33_222_988)])
def test_the_books_sum(backend, dtype, total):
    if not supports(backend, dtype):
        with pytest.raises(hpnum.UnsupportedError):
            hpnum.julia(1000, 300, dtype=dtype, backend=backend)
        return
    counts = hpnum.julia(1000, 300, dtype=dtype, backend=backend)
    assert counts.dtype == np.uint32
    assert counts.shape == (1000, 1000)
    assert int(counts.sum()) == total


@pytest.mark.parametrize("width, max_iter", [(64, 50), (200, 100)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reference_grids_pixel_for_pixel(backend, width, max_iter, dtype):
    if not supports(backend, dtype):
        pytest.skip(f"{backend} has no {np.dtype(dtype).name}")
    got = hpnum.julia(width, max_iter, dtype=dtype, backend=backend)
    np.testing.assert_array_equal(got, julia_reference(width, max_iter, dtype))


def test_a_region_and_a_constant_agree_with_a_numpy_loop(backend):
    # The book's loop, vectorised with NumPy in float64, on a small rectangle.
    region, c, cols, rows, max_iter = (-1.5, 0.5, -0.7, 1.3), (0.285, 0.01), 37, 23, 60
    xs = region[0] + (region[1] - region[0]) / cols * np.arange(cols)
    ys = region[3] - (region[3] - region[2]) / rows * np.arange(rows)
    z = xs[None, :] + 1j * ys[:, None]
    want = np.zeros(z.shape, dtype=np.uint32)
    alive = np.ones(z.shape, dtype=bool)
    for _ in range(max_iter):
        alive &= np.abs(z) < 2
        want += alive
        z = np.where(alive, z * z + complex(*c), z)
    got = hpnum.julia(cols, max_iter, height=rows, region=region, c=c, backend=backend)
    assert got.shape == (rows, cols)
    # |z| < 2 via hypot and z*z via complex multiplication round differently from the
    # book's separate real and imaginary parts on a few boundary pixels.
    assert np.mean(got == want) > 0.99


def test_errors_are_python_exceptions():
    with pytest.raises(ValueError, match="width"):
        hpnum.julia(0, 10)
    with pytest.raises(TypeError, match="width"):
        hpnum.julia(10.5, 10)
    with pytest.raises(TypeError, match="dtype"):
        hpnum.julia(10, 10, dtype=np.int32)
    with pytest.raises(ValueError, match="backend"):
        hpnum.julia(10, 10, backend="cuda")
    with pytest.raises(ValueError, match="region"):
        hpnum.julia(10, 10, region=(1.0, -1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="region"):
        hpnum.julia(10, 10, region=(float("nan"), 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="height"):
        hpnum.julia(10, 10, height=5)
    with pytest.raises(ValueError, match="max_iter"):
        hpnum.julia(10, -1)
