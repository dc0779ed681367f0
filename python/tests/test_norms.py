"""Norms from Python: the book's values, NumPy's formulations on random vectors, special
values, strides, and errors, on every backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

import hpnum
from conftest import supports


def test_the_books_norm_squared(backend):
    v = np.arange(10**6, dtype=np.float64)
    exact = 333_332_833_333_500_000.0  # (N−1)·N·(2N−1)/6, N = 10⁶
    assert hpnum.norm(v, "l2sq", backend=backend) == pytest.approx(exact, rel=1e-15)
    # NumPy's dot is held to its own error bound, n·ε: OpenBLAS's kernel, which
    # OPENBLAS_CORETYPE chooses, sums in an order of its own (2.6e-14 off here with
    # Haswell's); the exact value above is the strict check.
    numpy_bound = len(v) * np.finfo(np.float64).eps
    assert hpnum.norm(v, "l2sq", backend=backend) == pytest.approx(np.dot(v, v), rel=numpy_bound)


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-13), (np.float32, 1e-5)])
def test_numpys_formulations_on_random_vectors(backend, dtype, rel):
    if not supports(backend, dtype):
        pytest.skip(f"{backend} has no {np.dtype(dtype).name}")
    rng = np.random.default_rng(7)
    for n in [1, 3, 1000, 100_003]:
        v = (rng.standard_normal(n) * 3).astype(dtype)
        w = v.astype(np.float64)
        assert hpnum.norm(v, "l1", backend=backend) == pytest.approx(np.abs(w).sum(), rel=rel)
        assert hpnum.norm(v, "l2", backend=backend) == pytest.approx(np.linalg.norm(w), rel=rel)
        assert hpnum.norm(v, "l2sq", backend=backend) == pytest.approx(np.dot(w, w), rel=rel)
        assert hpnum.norm(v, "linf", backend=backend) == np.abs(w).max()


def test_special_values_and_strides(backend):
    v = np.ones(1001)
    v[500] = np.nan
    for kind in hpnum.NORM_KINDS:
        assert np.isnan(hpnum.norm(v, kind, backend=backend))
    v[500] = -np.inf
    for kind in hpnum.NORM_KINDS:
        assert hpnum.norm(v, kind, backend=backend) == np.inf
    huge = np.full(4, 1e300)
    assert hpnum.norm(huge, "l2", backend=backend) == pytest.approx(2e300, rel=1e-15)
    assert hpnum.norm(huge, "l2sq", backend=backend) == np.inf
    base = np.linspace(-1, 1, 10_007)
    for view in (base[::3], base[::-1], base[5:-5:7]):
        assert hpnum.norm(view, "l1", backend=backend) == pytest.approx(np.abs(view).sum())
    assert hpnum.norm(np.zeros(0), "l2", backend=backend) == 0.0


def test_errors_are_python_exceptions():
    with pytest.raises(ValueError, match="kind"):
        hpnum.norm(np.ones(3), "l3")
    with pytest.raises(ValueError, match="1-D"):
        hpnum.norm(np.ones((3, 3)))
    with pytest.raises(TypeError, match="complex128"):
        hpnum.norm(np.ones(3, dtype=complex))
    with pytest.raises(TypeError, match="list"):
        hpnum.norm([1.0, 2.0])


@pytest.mark.parametrize("variable", ["HPNUM_SIMD", "HPNUM_SPIN_US"])
def test_a_cpu_setting_the_environment_gets_wrong_is_a_value_error(variable, tmp_path):
    """A wrong HPNUM_SIMD or HPNUM_SPIN_US is the caller's error, named, on every backend that
    reads it: `auto` included, which would otherwise run without the SIMD and rayon
    backends and say nothing."""
    script = (
        "import numpy as np, hpnum\n"
        "for backend in ('auto', 'rayon', 'simd'):\n"
        "    try:\n"
        "        hpnum.norm(np.ones(3), 'l2', backend=backend)\n"
        "        print(backend, 'accepted')\n"
        "    except ValueError as e:\n"
        "        print(backend, 'ValueError', e)\n"
    )
    env = {**os.environ, variable: "fastest"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    said = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    readers = ("auto", "rayon", "simd") if variable == "HPNUM_SIMD" else ("auto", "rayon")
    for backend in readers:
        assert said[backend].startswith("ValueError") and variable in said[backend], said
    if variable == "HPNUM_SPIN_US":
        assert said["simd"] == "accepted", said

