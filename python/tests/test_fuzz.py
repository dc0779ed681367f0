"""Property fuzzing of the Python API with Hypothesis: random shapes (1×n, n×1, empty),
layouts (C, Fortran, transposed, strided, reversed), dtypes (float32/float64 accepted, the
rest a TypeError), values (NaN, ±inf, subnormals, huge, -0.0) and parameters, each call
checked against a NumPy formulation or the documented error, on every backend.

CI runs the fixed-seed profile ``ci``; ``HYPOTHESIS_PROFILE=long`` runs many more examples
by hand. ``pytest --hypothesis-show-statistics`` prints how many ran.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hpnum
from conftest import supports

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FLOATS = [np.float32, np.float64]
#: Dtypes every kernel must refuse with a TypeError.
WRONG_DTYPES = [np.int32, np.int64, np.float16, np.complex128, np.bool_, np.uint8]


def values(dtype, special: bool):
    """Elements of `dtype`: ordinary values, or also NaN, ±inf, subnormals, huge ones and
    signed zeros."""
    info = np.finfo(dtype)
    ordinary = st.floats(-1e3, 1e3, width=info.bits)
    if not special:
        return ordinary
    tiny = st.floats(-float(info.tiny), float(info.tiny), width=info.bits, allow_subnormal=True)
    big = float(info.max)
    huge = st.one_of(
        st.floats(big / 8, big, width=info.bits), st.floats(-big, -big / 8, width=info.bits)
    )
    fixed = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan])
    return st.one_of(ordinary, tiny, huge, fixed)


def layouts(base: np.ndarray):
    """The same values in another memory layout, as a writeable view."""
    return st.sampled_from(["c", "fortran", "transposed", "strided", "reversed"]).map(
        lambda layout: laid_out(base, layout)
    )


def laid_out(base: np.ndarray, layout: str) -> np.ndarray:
    if layout == "c":
        return np.ascontiguousarray(base)
    if layout == "fortran":
        return np.asfortranarray(base)
    if layout == "transposed":
        return np.ascontiguousarray(base.T).T
    if layout == "strided":
        wide = np.zeros((base.shape[0], 2 * base.shape[1]), dtype=base.dtype)
        wide[:, ::2] = base
        return wide[:, ::2]
    flipped = np.ascontiguousarray(base[::-1, ::-1])
    return flipped[::-1, ::-1]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit, any NaN matching any NaN."""
    nan = np.isnan(a) & np.isnan(b)
    kind = np.uint32 if a.dtype == np.float32 else np.uint64
    bits = np.ascontiguousarray(a).view(kind) == np.ascontiguousarray(b).view(kind)
    return bool(np.all(nan | bits))


def numpy_step(g: np.ndarray, coefficient) -> np.ndarray:
    """The book's in-place NumPy step, in the grid's dtype."""
    t = g * g.dtype.type(-4.0)
    t += np.roll(g, 1, 0)
    t += np.roll(g, -1, 0)
    t += np.roll(g, 1, 1)
    t += np.roll(g, -1, 1)
    t *= coefficient
    return t + g


def keeps_subnormals(backend: str, dtype) -> bool:
    if backend == "auto":
        return all(keeps_subnormals(b["name"], dtype) for b in hpnum.backends())
    wanted = {"float32": "f32", "float64": "f64"}[np.dtype(dtype).name]
    return any(b["name"] == backend and wanted in b["keeps_subnormals"] for b in hpnum.backends())


@st.composite
def grids(draw):
    # Half the grids hold ordinary values only, where every bit is checked; the others also
    # NaN, ±inf and the like, which soon spread over a small grid.
    special = draw(st.booleans())
    dtype = draw(st.sampled_from(FLOATS))
    # Up to 40 columns: wider than a vector of any SIMD level, so that vector paths run.
    shape = draw(st.tuples(st.integers(0, 9), st.integers(0, 40)))
    # Every element drawn (no fill value), so that neighbours differ and order shows.
    base = draw(hnp.arrays(dtype, shape, elements=values(dtype, special), fill=st.nothing()))
    return draw(layouts(base))


@given(
    grid=grids(),
    steps=st.integers(0, 4),
    d_dt=st.sampled_from([(1.0, 0.1), (0.5, 0.5), (0.0, 0.1), (2.0, 0.125)]),
)
def test_diffusion_equals_the_numpy_step_in_any_layout(backend, grid, steps, d_dt):
    dtype = grid.dtype
    if not supports(backend, dtype):
        with pytest.raises(hpnum.UnsupportedError):
            hpnum.diffuse(grid, steps, backend=backend)
        return
    diffusivity, dt = d_dt
    coefficient = dtype.type(diffusivity) * dtype.type(dt)
    want = np.array(grid, dtype=dtype)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            want = numpy_step(want, coefficient)
    before = grid.copy()
    out = hpnum.diffuse(grid, steps, diffusivity=diffusivity, dt=dt, backend=backend)
    assert out is grid
    if keeps_subnormals(backend, dtype):
        assert same_bits(grid, want), (backend, before, grid, want)
    else:
        # A device that may flush subnormals differs from IEEE only below the smallest
        # normal, step by step.
        atol = 8 * (steps + 1) * float(np.finfo(dtype).tiny)
        close = np.isclose(grid, want, rtol=0, atol=atol, equal_nan=True)
        assert np.all(close | (grid == want)), (backend, before, grid, want)


@given(
    dtype=st.sampled_from(WRONG_DTYPES),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_diffusion_refuses_other_dtypes_with_a_type_error(backend, dtype, shape):
    with pytest.raises(TypeError):
        hpnum.diffuse(np.zeros(shape, dtype=dtype), 1, backend=backend)


@given(
    steps=st.one_of(st.integers(-5, -1), st.floats(0.5, 2.5), st.just(True)),
    d_dt=st.one_of(
        st.tuples(st.floats(0.26, 10), st.just(1.0)),
        st.tuples(st.just(math.nan), st.just(0.1)),
        st.tuples(st.just(1.0), st.floats(-10, -1e-9)),
        st.tuples(st.just(math.inf), st.just(0.1)),
    ),
    ndim=st.sampled_from([0, 1, 3]),
)
def test_diffusion_parameters_out_of_their_domain_are_errors(steps, d_dt, ndim):
    grid = np.zeros((3, 3))
    with pytest.raises((TypeError, ValueError)):
        hpnum.diffuse(grid, steps)
    with pytest.raises(ValueError):
        hpnum.diffuse(grid, 1, diffusivity=d_dt[0], dt=d_dt[1])
    with pytest.raises(ValueError):
        hpnum.diffuse(np.zeros((2,) * ndim), 1)
    assert np.all(grid == 0)


def exact_sum(terms: np.ndarray) -> float:
    """The exactly rounded sum (math.fsum), +inf where it overflows."""
    try:
        return math.fsum(float(t) for t in terms)
    except OverflowError:
        return math.inf


def norm_oracle(v: np.ndarray, kind: str) -> float:
    """Each norm by NumPy and math.fsum, with hpnum's semantics: NaN anywhere gives NaN,
    else an infinity +inf; squares are rounded in the vector's dtype (the book's L2² can
    overflow there), L2 scales by the largest magnitude first."""
    if np.any(np.isnan(v)):
        return math.nan
    if np.any(np.isinf(v)):
        return math.inf
    if v.size == 0:
        return 0.0
    magnitudes = np.abs(v).astype(np.float64)
    if kind == "linf":
        return float(magnitudes.max())
    if kind == "l1":
        return exact_sum(magnitudes)
    if kind == "l2sq":
        with np.errstate(over="ignore"):
            return exact_sum(np.square(v).astype(np.float64))
    amax = magnitudes.max()
    if amax == 0:
        return 0.0
    scaled = np.array([float(x) / amax for x in magnitudes], dtype=np.longdouble)
    return float(amax * np.sqrt(np.sum(scaled * scaled)))


@st.composite
def vectors(draw):
    special = draw(st.booleans())
    dtype = draw(st.sampled_from(FLOATS))
    n = draw(st.integers(0, 300))
    base = draw(hnp.arrays(dtype, n, elements=values(dtype, special), fill=st.nothing()))
    view = draw(st.sampled_from(["contiguous", "strided", "reversed"]))
    if view == "strided":
        wide = np.zeros(2 * n, dtype=dtype)
        wide[::2] = base
        return wide[::2]
    if view == "reversed":
        return np.ascontiguousarray(base[::-1])[::-1]
    return base


@given(v=vectors(), kind=st.sampled_from(hpnum.NORM_KINDS))
def test_norms_agree_with_numpy_and_exact_sums(backend, v, kind):
    if not supports(backend, v.dtype):
        with pytest.raises(hpnum.UnsupportedError):
            hpnum.norm(v, kind, backend=backend)
        return
    got = hpnum.norm(v, kind, backend=backend)
    want = norm_oracle(v, kind)
    if math.isnan(want):
        assert math.isnan(got), (backend, kind, v)
        return
    assert got >= 0.0 and math.copysign(1.0, got) == 1.0, (backend, kind, got)
    if math.isinf(want):
        assert got == math.inf, (backend, kind, v, got)
        return
    # Pairwise-class accuracy: a few ulps times log₂ n, on sums of non-negative terms.
    eps = float(np.finfo(v.dtype).eps)
    bound = 8 * eps * max(1.0, math.log2(max(v.size, 2)))
    largest = float(np.finfo(v.dtype).max)
    # Near the top of the dtype's range, rounding decides whether the result overflows.
    assume(abs(want - largest) > 2 * bound * largest)
    if want > largest:
        assert got == math.inf, (backend, kind, got, want)
        return
    tiny = float(np.finfo(v.dtype).smallest_subnormal)
    assert abs(got - want) <= bound * want + tiny, (backend, kind, got, want)


@given(dtype=st.sampled_from(WRONG_DTYPES), n=st.integers(0, 8), ndim=st.sampled_from([0, 2, 3]))
def test_norms_refuse_other_dtypes_and_ranks(dtype, n, ndim):
    with pytest.raises(TypeError):
        hpnum.norm(np.zeros(n, dtype=dtype))
    with pytest.raises(ValueError):
        hpnum.norm(np.zeros((2,) * ndim))
    with pytest.raises(ValueError):
        hpnum.norm(np.zeros(n), "l3")


def julia_oracle(xs, ys, c, max_iter, dtype) -> np.ndarray:
    """The book's loop vectorised with NumPy in `dtype`: each operation rounded, no FMA."""
    re = np.broadcast_to(xs[None, :], (ys.size, xs.size)).astype(dtype)
    im = np.broadcast_to(ys[:, None], (ys.size, xs.size)).astype(dtype)
    c_re, c_im = dtype(c[0]), dtype(c[1])
    counts = np.zeros(re.shape, dtype=np.uint32)
    alive = np.ones(re.shape, dtype=bool)
    four = dtype(4.0)
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            alive &= (re * re + im * im) < four
            if not alive.any():
                break
            counts += alive
            new_re = (re * re - im * im) + c_re
            new_im = (re * im + im * re) + c_im
            re = np.where(alive, new_re, re)
            im = np.where(alive, new_im, im)
    return counts


@given(
    dtype=st.sampled_from(FLOATS),
    cols=st.integers(1, 24),
    rows=st.integers(1, 24),
    corner=st.tuples(st.floats(-2, 1.5), st.floats(-2, 1.5)),
    size=st.tuples(st.floats(0.01, 2), st.floats(0.01, 2)),
    c=st.tuples(st.floats(-1, 1), st.floats(-1, 1)),
    max_iter=st.integers(0, 60),
)
def test_julia_agrees_with_a_numpy_oracle_on_any_region(
    backend, dtype, cols, rows, corner, size, c, max_iter
):
    region = (corner[0], corner[0] + size[0], corner[1], corner[1] + size[1])
    if not supports(backend, dtype):
        with pytest.raises(hpnum.UnsupportedError):
            hpnum.julia(cols, max_iter, dtype=dtype, backend=backend, region=region, height=rows)
        return
    got = hpnum.julia(cols, max_iter, dtype=dtype, backend=backend, region=region, c=c, height=rows)
    xs = region[0] + np.arange(cols) * ((region[1] - region[0]) / cols)
    ys = region[3] - np.arange(rows) * ((region[3] - region[2]) / rows)
    np.testing.assert_array_equal(got, julia_oracle(xs, ys, c, max_iter, dtype))


@given(
    width=st.one_of(st.integers(-3, 0), st.floats(1, 5), st.just(None)),
    region=st.one_of(
        st.tuples(st.just(1.0), st.just(-1.0), st.just(0.0), st.just(1.0)),
        st.tuples(st.just(math.nan), st.just(1.0), st.just(0.0), st.just(1.0)),
        st.tuples(st.just(0.0), st.just(1.0), st.just(0.0)),
    ),
    c=st.sampled_from([(math.nan, 0.0), (0.0, math.inf)]),
    dtype=st.sampled_from(WRONG_DTYPES),
)
def test_julia_parameters_out_of_their_domain_are_errors(width, region, c, dtype):
    with pytest.raises((TypeError, ValueError)):
        hpnum.julia(width, 10)
    with pytest.raises(ValueError):
        hpnum.julia(8, 10, region=region)
    with pytest.raises(ValueError):
        hpnum.julia(8, 10, c=c)
    with pytest.raises(TypeError):
        hpnum.julia(8, 10, dtype=dtype)
