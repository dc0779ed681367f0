"""The resident GPU API, the backends' description, the version, auto's observable choice,
and the GIL released for the whole of every kernel (two Python threads run kernels at
once)."""

import threading
import time

import numpy as np
import pytest

import hpnum
from conftest import BACKENDS, supports

needs_gpu = pytest.mark.skipif("gpu" not in BACKENDS, reason="no GPU adapter")


def test_backends_describe_themselves():
    described = {b["name"]: b for b in hpnum.backends()}
    assert {"scalar", "simd", "rayon"} <= described.keys()
    for b in described.values():
        assert b["device"]
        assert "f32" in b["precisions"]
        assert b["threads"] >= 1
    assert described["scalar"]["keeps_subnormals"] == ["f32", "f64"]


def test_the_version_is_the_installed_packages():
    from importlib.metadata import version

    assert hpnum.__version__ == version("hpnum")


def test_auto_says_what_it_chose():
    hpnum.julia(64, 20, backend="auto")
    choice = hpnum.last_choice()
    assert choice["kernel"] == "julia"
    assert choice["precision"] == "f64"
    assert choice["backend"] in {"scalar", "simd", "rayon", "gpu"}
    assert choice["predicted_seconds"] > 0


@needs_gpu
def test_resident_grid_steps_downloads_and_uploads():
    gpu = hpnum.Gpu()
    assert gpu.adapter["name"]
    grid = hpnum.book_grid(48, dtype=np.float32)
    want = grid.copy()
    hpnum.diffuse(want, 30, backend="scalar")
    resident = gpu.upload_grid(grid)
    assert resident.shape == (48, 48) and resident.dtype == "float32"
    seconds = resident.step(10) + resident.step(20)
    assert seconds >= 0
    np.testing.assert_array_equal(resident.download(), want)
    out = np.zeros((48, 48), dtype=np.float32, order="F")
    assert resident.download(out=out) is out
    np.testing.assert_array_equal(out, want)
    resident.upload(grid[::-1, ::-1])
    np.testing.assert_array_equal(resident.download(), grid[::-1, ::-1])
    resident.steps_per_dispatch = 4
    assert resident.steps_per_dispatch == 4
    with pytest.raises(ValueError):
        resident.steps_per_dispatch = 0
    # Streamed strips give the same bits as single steps.
    assert resident.temporal_blocking == "tiles"
    resident.upload(grid)
    resident.temporal_blocking = "stream"
    assert resident.temporal_blocking == "stream"
    resident.step(30)
    np.testing.assert_array_equal(resident.download(), want)
    with pytest.raises(ValueError, match="tiles, stream"):
        resident.temporal_blocking = "rings"
    with pytest.raises(TypeError, match="float32"):
        resident.download(out=np.zeros((48, 48)))


@needs_gpu
def test_resident_vector_and_the_time_split():
    gpu = hpnum.Gpu()
    v = np.linspace(-2, 2, 100_001, dtype=np.float32)
    resident = gpu.upload_vector(v)
    assert len(resident) == v.size
    assert resident.norm("linf") == 2.0
    assert resident.norm("l1") == pytest.approx(np.abs(v.astype(np.float64)).sum(), rel=1e-6)
    np.testing.assert_array_equal(resident.download(), v)
    grid = hpnum.book_grid(64, dtype=np.float32)
    timings = gpu.diffuse_timed(grid, 100)
    assert set(timings) == {"upload", "compute", "download", "clock"}
    assert timings["clock"] in {"timestamps", "host"}
    want = hpnum.book_grid(64, dtype=np.float32)
    hpnum.diffuse(want, 100, backend="scalar")
    np.testing.assert_array_equal(grid, want)


@needs_gpu
def test_float64_where_the_adapter_has_none_is_unsupported():
    gpu = hpnum.Gpu()
    grid = np.zeros((4, 4))
    if gpu.adapter["f64"]:
        gpu.upload_grid(grid).step(1)
    else:
        with pytest.raises(hpnum.UnsupportedError, match="f64"):
            gpu.upload_grid(grid)
    assert issubclass(hpnum.UnsupportedError, RuntimeError)
    assert issubclass(hpnum.DeviceError, RuntimeError)


def test_two_threads_run_kernels_at_the_same_time():
    # If a call held the GIL, the second thread could not even enter hpnum before the
    # first call returned: its start would come after the other's end.
    spans = []

    def run():
        start = time.perf_counter()
        hpnum.julia(400, 300, backend="scalar")
        spans.append((start, time.perf_counter()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (s1, e1), (s2, e2) = sorted(spans)
    assert s2 < e1, f"calls did not overlap: {spans}"
