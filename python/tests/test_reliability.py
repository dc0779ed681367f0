"""Nothing a user types can kill the process: sizes beyond the machine are refused at once
and without memory, Ctrl-C stops a long call and leaves the backend (the GPU included)
ready for the next one, and the package prints nothing on a headless machine."""

import os
import resource
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import hpnum
from conftest import BACKENDS


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize(
    "call",
    [
        lambda: hpnum.julia(10**9, 1),
        lambda: hpnum.julia(3 * 10**8, 1),
        lambda: hpnum.julia(10**6, 1, region=(-1.0, 1.0, -1.0, 1.0), height=10**6),
        lambda: hpnum.book_grid(10**6),
    ],
)
def test_sizes_beyond_the_machine_are_refused_at_once_without_memory(call):
    before = peak_rss_bytes()
    started = time.monotonic()
    with pytest.raises(MemoryError, match="cannot allocate"):
        call()
    # Before the refusal was priced first, these took 22–34 s and 15.6 GB (or the
    # out-of-memory killer): a bound far above a refusal's milliseconds, far below those.
    assert time.monotonic() - started < 5.0
    assert peak_rss_bytes() - before < 500 * 2**20


def interrupt_after(seconds: float) -> threading.Timer:
    """Sends this process SIGINT (Ctrl-C) after `seconds`, from another thread."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_a_long_julia_and_the_next_call_works(backend):
    timer = interrupt_after(0.3)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            # Minutes of work on any backend: 10⁵ iterations over the book's region.
            hpnum.julia(1500, 100_000, dtype=np.float32, backend=backend)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10.0
    counts = hpnum.julia(200, 100, dtype=np.float32, backend=backend)
    assert int(counts.sum()) == 524_486


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "gpu"])
def test_ctrl_c_stops_a_long_diffusion_at_its_next_step(backend):
    grid = hpnum.book_grid(512)
    timer = interrupt_after(0.3)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            # Minutes of work on any CPU backend, in one library call.
            hpnum.diffuse(grid, 10**6, backend=backend)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10.0
    book = hpnum.book_grid(64)
    hpnum.diffuse(book, 100, backend=backend)
    assert book.sum() == pytest.approx(0.245, rel=1e-12)


def test_ctrl_c_stops_a_long_diffusion_on_the_gpu_and_the_device_goes_on():
    if "gpu" not in BACKENDS:
        pytest.skip("no GPU adapter")
    grid = np.zeros((1024, 1024), dtype=np.float32)
    timer = interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            hpnum.diffuse(grid, 10**6, backend="gpu")
    finally:
        timer.cancel()
    book = hpnum.book_grid(64)
    hpnum.diffuse(book, 100, backend="gpu")
    assert book.sum() == pytest.approx(0.245, rel=1e-12)


def test_the_package_prints_nothing_on_a_headless_machine(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "NODEVICE_SELECT")}
    script = (
        "import hpnum\n"
        "import numpy as np\n"
        "hpnum.julia(64, 10, backend='auto')\n"
        "if 'gpu' in hpnum.BACKENDS and any(b['name'] == 'gpu' for b in hpnum.backends()):\n"
        "    hpnum.norm(np.ones(100, dtype=np.float32), backend='gpu')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", (result.stdout, result.stderr)
