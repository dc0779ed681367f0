"""hpnum.crossover, its tables, plots and files, and ``python -m hpnum``.

The sweeps here are small (two sizes, one repeat) so that the suite stays fast; the CLI's
quick sweep over every kernel runs once in CI (.ci/run) and in the notebook.
"""

import csv
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import hpnum
from conftest import BACKENDS

HAS_GPU = "gpu" in BACKENDS
SIZES = [1_000, 100_000]


@pytest.fixture(scope="module")
def norm_sweep():
    backends = ["scalar", "simd"] + (["gpu"] if HAS_GPU else [])
    return hpnum.crossover(["norm"], sizes=SIZES, repeats=1, backends=backends, progress=False)


def best_cpu_crossing(rows, cpu_backends, flavour):
    """The crossing as the library defines it, recomputed from the rows alone."""
    sizes = sorted({r["size"] for r in rows})
    seconds = {(r["size"], r["backend"]): r["seconds"] for r in rows}
    first = None
    for size in reversed(sizes):
        best = min((seconds[(size, b)] for b in cpu_backends if (size, b) in seconds), default=np.inf)
        if (size, flavour) in seconds and seconds[(size, flavour)] < best:
            first = size
        else:
            break
    return first


def test_every_row_is_a_measurement_with_the_documented_fields(norm_sweep):
    expected = {"scalar", "simd"} | ({"gpu", "gpu-resident"} if HAS_GPU else set())
    assert {r["backend"] for r in norm_sweep.rows} == expected
    assert len(norm_sweep.rows) == len(expected) * len(SIZES)
    for r in norm_sweep.rows:
        assert set(r) >= {"kernel", "label", "precision", "size", "backend", "seconds", "throughput", "of_limit"}
        assert (r["kernel"], r["label"], r["precision"], r["unit"]) == ("norm", "norm-l2", "f32", "GB/s")
        assert r["size"] in SIZES
        assert 0 < r["seconds"] < 10
        # The throughput is the bytes read per second: one f32 per element.
        assert r["throughput"] == pytest.approx(4 * r["size"] / r["seconds"] / 1e9, rel=1e-9)
        if r["backend"] == "gpu":
            assert r["of_limit"] is None  # its time includes the bus
        else:
            assert r["of_limit"] > 0


def test_crossings_follow_from_the_rows(norm_sweep):
    flavours = ["gpu-resident", "gpu"] if HAS_GPU else []
    assert [c["flavour"] for c in norm_sweep.crossings] == flavours
    cpu = norm_sweep.limits["cpu_backends"]
    assert cpu == ["scalar", "simd"]
    for c in norm_sweep.crossings:
        assert c["size"] == best_cpu_crossing(norm_sweep.rows, cpu, c["flavour"])
        assert norm_sweep.crossing("norm", c["flavour"]) == c["size"]


def test_limits_are_the_ones_measured_in_the_run(norm_sweep):
    host = norm_sweep.limits["host"]
    assert host["copy_bytes_per_s"] > 1e8 and host["one_core_read_bytes_per_s"] > 1e8
    assert host["f64_flops"] > 1e8
    if HAS_GPU:
        device = norm_sweep.limits["device"]
        assert device["read_bytes_per_s"] > 1e6 and device["f32_flops"] > 1e6
        assert norm_sweep.limits["link"]["transfer_bytes_per_s"] > 0
        assert hpnum.Gpu().adapter["name"] in norm_sweep.limits["adapter"]
    # Each resident GPU row's fraction is its bytes over the device's read probe.
    for r in norm_sweep.rows:
        if r["backend"] == "gpu-resident":
            read = norm_sweep.limits["device"]["read_bytes_per_s"]
            assert r["of_limit"] == pytest.approx(4 * r["size"] / r["seconds"] / read, rel=1e-9)


def test_to_pandas_has_one_row_per_measurement(norm_sweep):
    frame = norm_sweep.to_pandas()
    assert len(frame) == len(norm_sweep.rows)
    assert list(frame["seconds"]) == [r["seconds"] for r in norm_sweep.rows]


def test_plot_draws_one_line_per_backend_on_log_axes(norm_sweep, tmp_path):
    import matplotlib.pyplot as plt

    fig = norm_sweep.plot("norm")
    time_ax, rate_ax = fig.axes
    backends = {r["backend"] for r in norm_sweep.rows}
    assert {line.get_label() for line in time_ax.get_lines()} >= backends
    assert time_ax.get_xscale() == time_ax.get_yscale() == "log"
    scalar = next(line for line in time_ax.get_lines() if line.get_label() == "scalar")
    assert list(scalar.get_xdata()) == SIZES
    fig.savefig(tmp_path / "n.png")
    assert (tmp_path / "n.png").stat().st_size > 1000
    plt.close(fig)
    with pytest.raises(ValueError, match="no measurements of 'julia'"):
        norm_sweep.plot("julia")


def test_save_writes_tables_plots_summary_and_the_calibration(norm_sweep, tmp_path):
    written = norm_sweep.save(tmp_path / "out", calibrate=True, calibration_path=tmp_path / "cal.tsv")
    (table,) = written["csv"]
    with open(table) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(norm_sweep.rows)
    assert float(rows[0]["seconds"]) == norm_sweep.rows[0]["seconds"]
    assert os.path.getsize(written["png"][0]) > 1000
    assert "| f32 | norm |" in pathlib.Path(written["summary"]).read_text() or not HAS_GPU
    calibration = pathlib.Path(written["calibration"]).read_text()
    # The table Auto reads: the measured backends, each with its points.
    assert "simd" in calibration and "scalar" in calibration
    if HAS_GPU:
        assert "adapter\t" in calibration


def test_progress_counts_every_point_and_its_exception_stops_the_sweep():
    seen = []

    def progress(done, total, row):
        seen.append((done, total, row))

    hpnum.crossover(["norm"], sizes=SIZES, repeats=1, backends=["scalar"], dtypes=[np.float32, np.float64], progress=progress)
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert {s[1] for s in seen} == {4}
    assert [s[2]["precision"] for s in seen] == ["f32", "f32", "f64", "f64"]

    class Enough(Exception):
        pass

    calls = []

    def stop_at_first(done, total, row):
        calls.append(done)
        raise Enough()

    with pytest.raises(Enough):
        hpnum.crossover(["norm"], sizes=SIZES, repeats=1, backends=["scalar"], progress=stop_at_first)
    assert calls == [1]


def test_ctrl_c_stops_a_sweep_within_its_running_call():
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            # Minutes on one scalar core: Julia at the largest widths, many repeats.
            hpnum.crossover(["julia"], sizes=[4000, 8000], repeats=50, backends=["scalar"], progress=False)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    assert hpnum.norm(np.ones(4), backend="scalar") == 2.0


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: hpnum.crossover(["fft"]), ValueError),
        (lambda: hpnum.crossover(["norm"], backends=["cuda"]), ValueError),
        (lambda: hpnum.crossover(["norm"], sizes=[0]), ValueError),
        (lambda: hpnum.crossover(["norm"], repeats=0), ValueError),
        (lambda: hpnum.crossover(["norm"], dtypes=[np.int32]), TypeError),
        (lambda: hpnum.crossover(["norm"], dtypes=[]), ValueError),
        (lambda: hpnum.crossover(["norm"], progress="yes"), TypeError),
    ],
)
def test_bad_options_are_refused_before_anything_runs(call, error):
    started = time.monotonic()
    with pytest.raises(error):
        call()
    assert time.monotonic() - started < 1


def run_cli(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "hpnum", *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def test_the_command_line_sweeps_and_writes_what_it_promises(tmp_path):
    done = run_cli(
        "crossover", "--kernels", "norm", "--sizes", "1000", "100000", "--repeats", "1", "--out", "out",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert (out / "norm-l2-f32.csv").stat().st_size > 0
    assert (out / "norm-l2-f32.png").stat().st_size > 1000
    assert "# hpnum crossover" in (out / "summary.md").read_text()
    assert "wrote 1 CSV tables, 1 PNG plots" in done.stdout


def test_save_on_the_command_line_calibrates_auto_where_it_reads(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-m", "hpnum", "crossover", "--kernels", "norm", "--sizes", "1000", "100000",
         "--repeats", "1", "--backends", "scalar", "simd", "--out", "out", "--save"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    saved = tmp_path / "cache" / "hpnum" / "calibration.tsv"
    assert f"saved the calibration for `auto` to {saved}" in done.stdout
    assert "simd" in saved.read_text()


def test_a_progress_bar_is_drawn_with_tqdm(capsys):
    import tqdm  # noqa: F401 (in the test extra)

    hpnum.crossover(["norm"], sizes=SIZES, repeats=1, backends=["scalar"], progress=True)
    assert "crossover" in capsys.readouterr().err


def test_the_command_line_describes_the_machine(tmp_path):
    done = run_cli("info", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"hpnum {hpnum.__version__}" in done.stdout
    for b in hpnum.backends():
        assert b["name"] in done.stdout
    if HAS_GPU:
        assert hpnum.Gpu().adapter["name"] in done.stdout
        assert "device: copy" in done.stdout and "bus: upload" in done.stdout


@pytest.mark.skipif(not HAS_GPU, reason="no GPU adapter")
def test_settings_saved_for_this_device_are_taken_and_shown(tmp_path):
    # What `report --save` writes: the adapter line, then its settings.
    identity = hpnum.Gpu().adapter["identity"]
    saved = tmp_path / "calibration.tsv"
    saved.write_text(
        f"adapter\t{identity}\ngpu-setting\tstaging_depth\t5\ngpu-setting\tdiffusion_blocking\tstream\n"
    )
    env = {**os.environ, "HPNUM_GPU_TUNING": str(saved)}
    env.pop("HPNUM_GPU_STAGING_DEPTH", None)
    show = "import hpnum; a = hpnum.Gpu().adapter; print(a['staging_depth'], a['diffusion_blocking'], *a['tuned'])"

    def run(env):
        return subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, timeout=600, env=env)

    tuned = run(env)
    assert tuned.returncode == 0, tuned.stderr
    assert tuned.stdout.split() == ["5", "stream", "staging_depth", "diffusion_blocking"]
    info = run_cli("info", cwd=tmp_path, env=env)
    assert "saved settings taken: staging_depth, diffusion_blocking" in info.stdout, info.stdout
    ignored = run({**env, "HPNUM_GPU_TUNING": "off"})
    assert ignored.returncode == 0, ignored.stderr
    assert ignored.stdout.split()[1:] == ["tiles"], ignored.stdout


@pytest.mark.skipif(not HAS_GPU, reason="no GPU adapter")
def test_tune_measures_chooses_saves_and_the_next_gpu_takes_it(tmp_path):
    saved = tmp_path / "calibration.tsv"
    stages = []
    result = hpnum.tune(quick=True, path=str(saved), progress=stages.append)
    assert stages == ["transfer paths", "staging chunks and depths", "norm reductions", "temporal blocking"]
    assert result["adapter"] == hpnum.Gpu().adapter["identity"]
    chosen = result["chosen"]
    for field in ("transfer_path", "staging_chunk_bytes", "staging_depth", "diffusion_steps_per_dispatch"):
        assert field in chosen, field
    assert {"transfer_path", "staging", "diffusion"} <= set(result["why"]), result["why"]
    assert chosen["transfer_path"] in ("staging", "mapped")
    assert int(chosen["staging_depth"]) >= 1 and int(chosen["diffusion_steps_per_dispatch"]) >= 1
    assert result["saved_to"] == str(saved)
    text = saved.read_text()
    assert f"adapter\t{result['adapter']}\n" in text
    for field, value in chosen.items():
        assert f"gpu-setting\t{field}\t{value}\n" in text
    env = {**os.environ, "HPNUM_GPU_TUNING": str(saved)}
    show = "import hpnum; print(*hpnum.Gpu().adapter['tuned'])"
    taken = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, timeout=600, env=env)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.split() == list(chosen), (taken.stdout, chosen)


@pytest.mark.skipif(not HAS_GPU, reason="no GPU adapter")
def test_the_command_line_tunes_without_saving(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = run_cli("tune", "--quick", "--no-save", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "measuring temporal blocking" in done.stdout and "  transfer_path = " in done.stdout
    assert "saved to" not in done.stdout and not (tmp_path / "cache" / "hpnum").exists()


def test_tune_stops_when_progress_raises(tmp_path):
    def stop(stage):
        raise KeyError(stage)

    if not HAS_GPU:
        with pytest.raises(hpnum.UnsupportedError):
            hpnum.tune(quick=True, save=False)
        return
    with pytest.raises(KeyError, match="transfer paths"):
        hpnum.tune(quick=True, path=str(tmp_path / "never.tsv"), progress=stop)
    assert not (tmp_path / "never.tsv").exists()


@pytest.mark.skipif(not HAS_GPU, reason="no GPU adapter")
def test_device_limits_and_bus_rates_are_measured_dicts():
    gpu = hpnum.Gpu()
    limits = gpu.device_limits()
    assert limits["copy_bytes_per_s"] > 0 and limits["read_bytes_per_s"] > 0 and limits["f32_flops"] > 0
    assert (limits["f64_flops"] is None) == (not gpu.adapter["f64"])
    assert limits["clock"] in ("timestamps", "host")
    assert gpu.device_limits() == limits  # measured once, remembered
    bus = gpu.bus_rates()
    assert bus["upload_bytes_per_s"] > 0 and bus["download_bytes_per_s"] > 0
    assert 0 < bus["round_trip_s"] < 1 and bus["bytes"] == 32 << 20
    a = gpu.adapter
    assert a["transfer_path"] in ("staging", "mappedbuffers")
    assert a["staging_depth"] >= 1 and a["workgroup_storage_bytes"] >= 16384
    assert a["diffusion_blocking"] in ("tiles", "stream") and isinstance(a["tuned"], list)
    if a["api"] == "Vulkan":
        assert a["read_back_memory"] in ("cached", "uncached")
        if a["device"] == "softwaregpu":
            assert a["read_back_memory"] == a["mapped_data_memory"] == "cached"
    else:
        assert a["read_back_memory"] is None
