"""Shared by the tests: the backends under test and the reference data.

Every test runs on every backend this machine has; the GPU runs on whatever adapter wgpu
finds (Mesa's software Vulkan driver in CI). With ``HPNUM_REQUIRE_GPU=1`` (as CI sets) a
missing GPU fails the run instead of skipping its cases.
"""

import json
import os
import pathlib

import numpy as np
import pytest

try:
    import hpnum
    from hpnum import _hpnum  # noqa: F401 (the compiled extension is there)
except ImportError as e:  # pragma: no cover - says how to fix a setup, not a test
    raise pytest.UsageError(
        f"the hpnum package is not installed ({e}); install it first, from the repository's "
        'root: pip install "./python[test]"'
    ) from e

#: The reference data the Rust tests use (recomputed from the book's code).
DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"


def _available():
    names = [b["name"] for b in hpnum.backends()]
    if "gpu" not in names and os.environ.get("HPNUM_REQUIRE_GPU") == "1":
        raise RuntimeError("HPNUM_REQUIRE_GPU=1 but the GPU backend is unavailable")
    return names + ["auto"]


BACKENDS = _available()


def supports(backend: str, dtype) -> bool:
    """Whether `backend` computes in `dtype` (a GPU on GL or Metal has no float64)."""
    if backend == "auto":
        return True
    wanted = {"float32": "f32", "float64": "f64"}[np.dtype(dtype).name]
    return any(b["name"] == backend and wanted in b["precisions"] for b in hpnum.backends())


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def diffusion_reference(dtype) -> np.ndarray:
    name = "f64" if np.dtype(dtype) == np.float64 else "f32"
    data = json.loads((DATA / f"diffusion_n64_s100_{name}.json").read_text())
    return np.array(data["grid"], dtype=np.float64).astype(dtype)


def julia_reference(width: int, max_iter: int, dtype) -> np.ndarray:
    name = "f64" if np.dtype(dtype) == np.float64 else "f32"
    return np.loadtxt(DATA / f"julia_w{width}_m{max_iter}_{name}.txt", dtype=np.uint32)
