# Type stubs of the extension module `hpnum._hpnum` (Rust, PyO3).
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

__version__: str
KERNELS: Tuple[str, ...]
BACKENDS: Tuple[str, ...]
NORM_KINDS: Tuple[str, ...]

class UnsupportedError(RuntimeError): ...
class DeviceError(RuntimeError): ...

def julia(
    width: int,
    height: int,
    max_iter: int,
    dtype_name: str,
    backend: str,
    region: Optional[Tuple[float, float, float, float]],
    c: Optional[Tuple[float, float]],
) -> np.ndarray: ...
def julia_axes(
    width: int,
    height: int,
    dtype_name: str,
    region: Optional[Tuple[float, float, float, float]],
) -> Tuple[np.ndarray, np.ndarray]: ...
def julia_from_axes(
    xs: np.ndarray,
    ys: np.ndarray,
    max_iter: int,
    dtype_name: str,
    backend: str,
    c: Optional[Tuple[float, float]],
) -> np.ndarray: ...
def diffuse(
    grid: np.ndarray,
    steps: int,
    diffusivity: float,
    dt: float,
    backend: str,
    scratch: Optional[np.ndarray] = None,
) -> None: ...
def norm(v: np.ndarray, kind: str, backend: str) -> float: ...
def norm_tree(backend: str, dtype_name: str, len: int) -> Tuple[str, Optional[str]]: ...
def norm_align(
    tree: Tuple[str, Optional[str]], dtype_name: str, len: int, cuts: Sequence[int]
) -> list[int]: ...
def norm_parts(
    x: np.ndarray,
    offset: int,
    len: int,
    tree: Tuple[str, Optional[str]],
    kind: str,
    done: Sequence[Tuple[float, float, bool]],
) -> Optional[list[Tuple[int, int, float, float, bool]]]: ...
def norm_combine(
    tree: Tuple[str, Optional[str]],
    dtype_name: str,
    len: int,
    parts: Sequence[Tuple[int, int, float, float, bool]],
) -> Tuple[float, float, bool]: ...
def norm_result(
    kind: str, dtype_name: str, done: Sequence[Tuple[float, float, bool]]
) -> Optional[float]: ...
def norm_passes(kind: str) -> int: ...
def check_memory(bytes: int) -> None: ...
def book_grid(rows: int, cols: int, dtype_name: str) -> np.ndarray: ...
def backends() -> list[dict]: ...
def last_choice() -> Optional[dict]: ...
def crossover_sweep(
    kernels: Sequence[str],
    precisions: Sequence[str],
    *,
    quick: bool,
    backends: Optional[Sequence[str]] = None,
    sizes: Optional[Sequence[int]] = None,
    repeats: Optional[int] = None,
    progress: Optional[Callable[[int, int, Optional[dict]], object]] = None,
) -> CrossoverRuns: ...

class CrossoverRuns:
    def rows(self) -> list[dict]: ...
    def crossings(self) -> list[dict]: ...
    def limits(self) -> dict: ...
    def save_calibration(self, path: Optional[str] = None) -> str: ...
    def __len__(self) -> int: ...

def tune(
    *,
    quick: bool = False,
    save: bool = True,
    path: Optional[str] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Measure the default GPU's settings and choose the fastest of each.

    Times both transfer paths, staging chunk sizes and depths, the norms' subgroup and
    workgroup-memory reductions, and diffusion's steps per dispatch on tiles and streamed
    strips (``quick``: smaller sizes, seconds on a software driver), chooses the
    fastest of each (a setting other than the default only when at least 1.05× as fast),
    and with ``save`` adds them to the calibration file (``path``, or the one ``auto``
    reads), where every later ``Gpu`` on this adapter and driver takes them unless
    ``HPNUM_GPU_TUNING=off``. Returns ``{"adapter", "chosen", "why", "saved_to"}``.
    ``progress(stage)`` is called before each stage. Raises :class:`UnsupportedError`
    without a GPU.
    """

class Gpu:
    def __init__(self, adapter: Optional[str] = None) -> None: ...
    @property
    def adapter(self) -> dict: ...
    def device_limits(self) -> dict: ...
    def bus_rates(self) -> dict: ...
    def upload_grid(self, grid: np.ndarray) -> GpuGrid: ...
    def upload_vector(self, v: np.ndarray) -> GpuVector: ...
    def diffuse_timed(
        self, grid: np.ndarray, steps: int, *, diffusivity: float = 1.0, dt: float = 0.1
    ) -> dict: ...

class GpuGrid:
    def step(self, steps: int, *, diffusivity: float = 1.0, dt: float = 0.1) -> float: ...
    def download(self, out: Optional[np.ndarray] = None) -> np.ndarray: ...
    def upload(self, grid: np.ndarray) -> None: ...
    @property
    def shape(self) -> Tuple[int, int]: ...
    @property
    def dtype(self) -> str: ...
    steps_per_dispatch: int
    temporal_blocking: str

class GpuVector:
    def norm(self, kind: str = "l2") -> float: ...
    def download(self) -> np.ndarray: ...
    def __len__(self) -> int: ...

def rust_norm_call_seconds(backend: str, kind: str, n: int, repeats: int) -> float: ...
