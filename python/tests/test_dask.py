"""hpnum.dask: the kernels on Dask arrays equal one call on the whole array, bit for bit,
on the threaded scheduler and on a two-process LocalCluster, for any shape, chunking,
halo and dtype; bad input is refused before anything runs."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpnum
from conftest import BACKENDS, supports

da = pytest.importorskip("dask.array", reason='hpnum.dask needs pip install "hpnum[dask]"')
distributed = pytest.importorskip("distributed")
import hpnum.dask as hd  # noqa: E402 (after Dask is known to be there)


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, as a small cluster has them."""
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def odd_grid(rows, cols, dtype):
    rng = np.random.default_rng(rows * 1000 + cols)
    return rng.random((rows, cols)).astype(dtype)


def test_the_issues_case_on_a_two_worker_cluster(cluster):
    g = odd_grid(601, 499, np.float64)
    got = hd.diffuse(da.from_array(g, chunks=(300, 250)), 37).compute()
    want = hpnum.diffuse(g.copy(), 37)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert len(cluster.scheduler_info()["workers"]) == 2


def test_a_cancelled_computation_leaves_the_workers_usable(cluster):
    g = odd_grid(512, 512, np.float64)
    x = da.from_array(g, chunks=(128, 512))
    running = cluster.compute(hd.diffuse(x, 4000, halo=8, backend="rayon"))
    time.sleep(0.5)
    running.cancel()
    got = hd.diffuse(x, 9, halo=4).compute()
    assert np.array_equal(got, hpnum.diffuse(g.copy(), 9))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diffusion_equals_one_call_on_every_backend(backend, dtype):
    if not supports(backend, dtype):
        pytest.skip(f"{backend} has no {np.dtype(dtype).name}")
    g = hpnum.book_grid(64, dtype=dtype, cols=45)
    want = hpnum.diffuse(g.copy(), 100, backend=backend)
    x = da.from_array(g, chunks=(16, 15))
    got = hd.diffuse(x, 100, halo=8, backend=backend).compute(scheduler="threads")
    assert np.array_equal(got, want), backend


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    chunk=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    steps=st.integers(0, 13),
    halo=st.one_of(st.none(), st.integers(1, 6)),
    dtype=st.sampled_from([np.float32, np.float64]),
    backend=st.sampled_from([b for b in BACKENDS if b != "gpu"]),
)
def test_any_shape_chunking_and_halo_gives_the_same_bits(
    rows, cols, chunk, steps, halo, dtype, backend
):
    g = odd_grid(rows, cols, dtype)
    x = da.from_array(g, chunks=chunk)
    k = halo if halo is not None else hd.halo_for(x.chunks, max(steps, 1))
    thinnest = min(min(sizes) for sizes in x.chunks)
    if steps > 0 and k > thinnest:
        with pytest.raises(ValueError, match="thinnest chunk"):
            hd.diffuse(x, steps, halo=halo, backend=backend)
        return
    got = hd.diffuse(x, steps, halo=halo, backend=backend).compute(scheduler="threads")
    want = hpnum.diffuse(g.copy(), steps, backend=backend)
    assert np.array_equal(got, want)


def test_a_step_count_not_a_multiple_of_the_halo_ends_with_a_shallower_round():
    g = odd_grid(50, 30, np.float64)
    x = hd.diffuse(da.from_array(g, chunks=(25, 15)), 11, halo=4, diffusivity=0.5, dt=0.2)
    want = hpnum.diffuse(g.copy(), 11, diffusivity=0.5, dt=0.2)
    assert np.array_equal(x.compute(scheduler="threads"), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_julia_equals_one_call(cluster, dtype):
    want = hpnum.julia(200, 100, dtype=dtype)
    got = hd.julia(200, 100, dtype=dtype, chunks=(61, 70)).compute()
    assert got.dtype == np.uint32 and np.array_equal(got, want)
    region, c = (-1.2, 0.4, -0.8, 0.95), (-0.4, 0.6)
    want = hpnum.julia(97, 60, region=region, c=c, height=53, dtype=dtype, backend="scalar")
    got = hd.julia(97, 60, region=region, c=c, height=53, dtype=dtype, chunks=17)
    assert np.array_equal(got.compute(scheduler="threads"), want)


def test_the_books_julia_sum_in_blocks():
    counts = hd.julia(1000, 300, chunks=(250, 400), backend="rayon")
    assert int(counts.sum().compute(scheduler="threads")) == 33219980


def test_bad_input_is_refused_before_anything_runs():
    x = da.zeros((10, 10), chunks=5)
    with pytest.raises(TypeError, match="dask array"):
        hd.diffuse(np.zeros((10, 10)), 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        hd.diffuse(da.zeros((10, 10), dtype=np.int32, chunks=5), 1)
    with pytest.raises(ValueError, match="2-D"):
        hd.diffuse(da.zeros((10,), chunks=5), 1)
    with pytest.raises(ValueError):
        hd.diffuse(x, 1, dt=1.0)  # D·dt above 1/4: unstable
    with pytest.raises(ValueError, match="thinnest chunk along axis 1"):
        hd.diffuse(da.zeros((12, 12), chunks=(6, 3)), 5, halo=4)
    with pytest.raises(ValueError, match="backend"):
        hd.diffuse(x, 1, backend="fpga")
    with pytest.raises(ValueError, match="at least 1"):
        hd.julia(0, 10, chunks=5)
    with pytest.raises(ValueError, match="region"):
        hd.julia(10, 10, chunks=5, region=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError):
        hd.julia(10, 10, chunks=5, c=(float("nan"), 0.0))
    with pytest.raises(TypeError, match="float32 or float64"):
        hd.julia(10, 10, chunks=5, dtype=np.int32)
    assert hd.diffuse(x, 0) is x


CPU_BACKENDS = ["auto", "scalar", "simd", "rayon"]


def special_vector(n, dtype, seed, scale=1.0, specials=()):
    """A random vector times `scale`, with `specials` (NaN, ±inf, huge) at random places."""
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal(n) * scale).astype(dtype)
    for value in specials:
        if n:
            v[rng.integers(n)] = value
    return v


def assert_same_bits(got, want, what):
    got, want = np.float64(got), np.float64(want)
    assert (np.isnan(got) and np.isnan(want)) or got.tobytes() == want.tobytes(), (
        f"{what}: {got!r} != {want!r}"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_equals_one_call_on_a_two_worker_cluster(cluster, dtype):
    v = special_vector(1_000_003, dtype, 5)
    for kind in hpnum.NORM_KINDS:
        for backend in CPU_BACKENDS:
            got = hd.norm(da.from_array(v, chunks=300_001), kind, backend=backend).compute()
            assert_same_bits(got, hpnum.norm(v, kind, backend=backend), (kind, backend))


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(0, 30_000),
    chunks=st.lists(st.integers(1, 12_000), min_size=1, max_size=6),
    dtype=st.sampled_from([np.float32, np.float64]),
    kind=st.sampled_from(list(hpnum.NORM_KINDS)),
    backend=st.sampled_from(CPU_BACKENDS),
    # Plain; every square overflowing; every square below the underflow threshold.
    scale=st.sampled_from([1.0, 1e30, 1e-30]),
    specials=st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 3e38]), max_size=2),
)
def test_any_length_and_chunking_gives_the_norms_bits(
    n, chunks, dtype, kind, backend, scale, specials
):
    v = special_vector(n, dtype, n, scale if dtype == np.float32 else scale**8, specials)
    sizes = []
    while sum(sizes) < n:
        sizes.append(min(chunks[len(sizes) % len(chunks)], n - sum(sizes)))
    x = da.from_array(v, chunks=(tuple(sizes) or (0,),))
    got = hd.norm(x, kind, backend=backend).compute(scheduler="threads")
    assert_same_bits(got, hpnum.norm(v, kind, backend=backend), (kind, backend, sizes))


def test_norm_of_a_computed_array_and_of_the_books_vector():
    x = da.arange(1_000_000, dtype=np.float64, chunks=123_457)
    assert hd.norm(x, "l2sq").compute() == 333_332_833_333_500_000.0
    squares = da.sqrt(x)  # a graph, not stored data: the chunks are computed where needed
    v = np.sqrt(np.arange(1_000_000, dtype=np.float64))
    assert_same_bits(hd.norm(squares, "l1").compute(), hpnum.norm(v, "l1"), "l1 of sqrt")


def test_norm_bad_input_is_refused_before_anything_runs():
    v = da.ones(10, chunks=5)
    with pytest.raises(TypeError, match="dask array"):
        hd.norm(np.ones(10))
    with pytest.raises(ValueError, match="1-D"):
        hd.norm(da.ones((4, 4), chunks=2))
    with pytest.raises(TypeError, match="float32 or float64"):
        hd.norm(da.ones(10, dtype=np.int64, chunks=5))
    with pytest.raises(ValueError, match="kind"):
        hd.norm(v, "l3")
    with pytest.raises(ValueError, match="backend"):
        hd.norm(v, backend="fpga")
    with pytest.raises(hpnum.UnsupportedError, match="CPU backends"):
        hd.norm(v, backend="gpu")
    unknown = v[v > 0]  # chunk sizes Dask does not know before computing
    with pytest.raises(ValueError, match="unknown size"):
        hd.norm(unknown)


def test_a_chunk_beyond_a_workers_memory_is_a_memory_error_before_allocating(cluster):
    huge = da.zeros((60_000, 60_000), chunks=(60_000, 60_000))  # 28.8 GB: lazy, never built
    limit = min(w["memory_limit"] for w in cluster.scheduler_info()["workers"].values())
    with pytest.raises(MemoryError, match=f"memory_limit of {limit}"):
        hd.diffuse(huge, 10)
    with pytest.raises(MemoryError, match="memory_limit"):
        hd.julia(100_000, 10, chunks=100_000)  # 40 GB of counts in one block
    with pytest.raises(MemoryError, match="needs 100 bytes"):
        hd._check_memory(100, "a test", limit=99)
    hd._check_memory(100, "a test", limit=100)


def test_without_a_cluster_the_machines_memory_is_the_limit(monkeypatch):
    # The module's cluster may still be the default client: ask as if there were none.
    monkeypatch.setattr(hd, "_cluster_memory_limit", lambda: None)
    huge = da.zeros((60_000, 60_000), chunks=(60_000, 60_000))
    with pytest.raises(MemoryError, match="available"):
        hd.diffuse(huge, 10)  # 86 GB for one task: beyond this machine (and CI's)
