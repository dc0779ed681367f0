//! The GPU with data resident on it: `hpnum.Gpu`, its grids and vectors. Many diffusion
//! steps or norms run without crossing the bus; every call releases the GIL.

use hpnum::backends::gpu::{DeviceLimits, GpuGrid, GpuOptions, GpuTimings, GpuVector};
use hpnum::{DiffusionParams, NormKind, Real, TemporalBlocking};

use numpy::{
    IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2,
    PyUntypedArray,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPy;
use crate::kernels::describe;

/// A GPU device (see `hpnum.Gpu`).
#[pyclass(name = "Gpu", module = "hpnum")]
pub(crate) struct PyGpu {
    gpu: hpnum::Gpu,
}

/// A grid resident on the GPU, in either precision.
enum Grid {
    F32(GpuGrid<f32>),
    F64(GpuGrid<f64>),
}

/// A diffusion grid resident on the GPU (see `hpnum.Gpu.upload_grid`).
#[pyclass(name = "GpuGrid", module = "hpnum")]
pub(crate) struct PyGpuGrid {
    grid: Grid,
}

/// A vector in either precision.
enum Vector {
    F32(GpuVector<f32>),
    F64(GpuVector<f64>),
}

/// A vector resident on the GPU (see `hpnum.Gpu.upload_vector`).
#[pyclass(name = "GpuVector", module = "hpnum")]
pub(crate) struct PyGpuVector {
    vector: Vector,
}

/// A device's limits as `Gpu.device_limits` returns them.
pub(crate) fn device_limits_dict<'py>(
    py: Python<'py>,
    l: &DeviceLimits,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("copy_bytes_per_s", l.copy_bytes_per_s)?;
    d.set_item("read_bytes_per_s", l.read_bytes_per_s)?;
    d.set_item("f32_flops", l.f32_flops)?;
    d.set_item("f64_flops", l.f64_flops)?;
    d.set_item("probe_bytes", l.probe_bytes)?;
    d.set_item("clock", format!("{:?}", l.clock).to_lowercase())?;
    Ok(d)
}

fn timings_dict<'py>(py: Python<'py>, t: &GpuTimings) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("upload", t.upload.as_secs_f64())?;
    d.set_item("compute", t.compute.as_secs_f64())?;
    d.set_item("download", t.download.as_secs_f64())?;
    d.set_item("clock", format!("{:?}", t.compute_clock).to_lowercase())?;
    Ok(d)
}

fn not_a_grid(value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "grid must be a 2-D float32 or float64 numpy array, got {}",
        describe(value)
    ))
}

#[pymethods]
impl PyGpu {
    /// Opens the default adapter (shared by every `Gpu()`), or the first whose name
    /// contains `adapter`.
    #[new]
    #[pyo3(signature = (adapter=None))]
    fn new(py: Python<'_>, adapter: Option<String>) -> PyResult<Self> {
        let gpu = py
            .detach(|| match adapter {
                None => hpnum::Gpu::shared(),
                Some(name) => hpnum::Gpu::new(&GpuOptions {
                    adapter_name: Some(name),
                    ..GpuOptions::from_env()
                }),
            })
            .py_err()?;
        Ok(PyGpu { gpu })
    }

    /// The adapter: name, identity (name, API and driver: what saved measurements are
    /// kept for), graphics API, device kind, driver, f64, timestamps, subgroups,
    /// the largest binding, the transfer path and its staging chunks, workgroup memory,
    /// diffusion's steps per dispatch and blocking scheme, whether the memory behind
    /// read-back and mapped data buffers is `"cached"` or `"uncached"` (`None` where the
    /// API does not say), and `tuned`: the settings taken from those saved for this
    /// device by `report --save` (`HPNUM_GPU_TUNING=off` ignores them).
    #[getter]
    fn adapter<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a = self.gpu.adapter();
        let d = PyDict::new(py);
        d.set_item("name", &a.name)?;
        d.set_item("identity", a.identity())?;
        d.set_item("api", &a.api)?;
        d.set_item("device", format!("{:?}", a.device).to_lowercase())?;
        d.set_item("driver", &a.driver)?;
        d.set_item("f64", a.f64)?;
        d.set_item("timestamps", a.timestamps)?;
        d.set_item("subgroups", a.subgroups)?;
        d.set_item("max_binding_bytes", a.max_binding_bytes)?;
        d.set_item(
            "transfer_path",
            format!("{:?}", a.transfer_path).to_lowercase(),
        )?;
        d.set_item("staging_chunk_bytes", a.staging_chunk_bytes)?;
        d.set_item("staging_depth", a.staging_depth)?;
        d.set_item("workgroup_storage_bytes", a.workgroup_storage_bytes)?;
        let memory = |m: Option<hpnum::backends::gpu::HostMemory>| {
            m.map(|m| format!("{m:?}").to_lowercase())
        };
        d.set_item("read_back_memory", memory(a.read_back_memory))?;
        d.set_item("mapped_data_memory", memory(a.mapped_data_memory))?;
        // The kernels' settings in force, each with its default where none was set.
        let diffusion = hpnum::DiffusionSettings::of(&a.kernel_settings);
        let k = diffusion.steps_per_dispatch.unwrap_or(1);
        d.set_item("diffusion_steps_per_dispatch", k)?;
        let blocking = diffusion.blocking.unwrap_or_default();
        d.set_item("diffusion_blocking", blocking.name())?;
        d.set_item("tuned", a.tuned.clone())?;
        Ok(d)
    }

    /// The device's copy and read bandwidth (bytes per second) and peak arithmetic
    /// (operations per second), measured by compute shaders on first request (about a
    /// second) and remembered: `copy_bytes_per_s`, `read_bytes_per_s`, `f32_flops`,
    /// `f64_flops` (`None` without f64), `probe_bytes`, `clock`.
    fn device_limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let limits = py.detach(|| self.gpu.device_limits()).py_err()?;
        device_limits_dict(py, &limits)
    }

    /// Upload and download rates through hpnum's transfer path (bytes per second) and
    /// the per-call floor (`round_trip_s`: an empty submission and its wait), measured with
    /// 32 MiB on first request and remembered: `upload_bytes_per_s`,
    /// `download_bytes_per_s`, `round_trip_s`, `bytes`.
    fn bus_rates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rates = py.detach(|| self.gpu.bus_rates()).py_err()?;
        let d = PyDict::new(py);
        d.set_item("upload_bytes_per_s", rates.upload_bytes_per_s)?;
        d.set_item("download_bytes_per_s", rates.download_bytes_per_s)?;
        d.set_item("round_trip_s", rates.round_trip.as_secs_f64())?;
        d.set_item("bytes", rates.bytes)?;
        Ok(d)
    }

    /// Copies `grid` (2-D float32/float64, any layout) to the device.
    fn upload_grid(&self, py: Python<'_>, grid: &Bound<'_, PyAny>) -> PyResult<PyGpuGrid> {
        let gpu = &self.gpu;
        let grid = if let Ok(g) = grid.extract::<PyReadonlyArray2<'_, f64>>() {
            let g = g.as_array();
            Grid::F64(py.detach(|| gpu.upload_grid(g)).py_err()?)
        } else if let Ok(g) = grid.extract::<PyReadonlyArray2<'_, f32>>() {
            let g = g.as_array();
            Grid::F32(py.detach(|| gpu.upload_grid(g)).py_err()?)
        } else {
            return Err(not_a_grid(grid));
        };
        Ok(PyGpuGrid { grid })
    }

    /// Copies `v` (1-D float32/float64, any stride) to the device.
    fn upload_vector(&self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<PyGpuVector> {
        let gpu = &self.gpu;
        let vector = if let Ok(x) = v.extract::<PyReadonlyArray1<'_, f64>>() {
            let x = x.as_array();
            Vector::F64(py.detach(|| gpu.upload_vector(x)).py_err()?)
        } else if let Ok(x) = v.extract::<PyReadonlyArray1<'_, f32>>() {
            let x = x.as_array();
            Vector::F32(py.detach(|| gpu.upload_vector(x)).py_err()?)
        } else {
            return Err(PyTypeError::new_err(format!(
                "v must be a 1-D float32 or float64 numpy array, got {}",
                describe(v)
            )));
        };
        Ok(PyGpuVector { vector })
    }

    /// Diffuses `grid` in place on the device (upload, `steps` steps, download) and returns
    /// where the time went: `upload`, `compute`, `download` in seconds, and the `clock`
    /// that measured the compute (`timestamps` on the device, else `host`).
    #[pyo3(signature = (grid, steps, *, diffusivity=1.0, dt=0.1))]
    fn diffuse_timed<'py>(
        &self,
        py: Python<'py>,
        grid: &Bound<'py, PyAny>,
        steps: usize,
        diffusivity: f64,
        dt: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let gpu = &self.gpu;
        let resident = hpnum::Transfers::Resident;
        let timings = if let Ok(mut g) = grid.extract::<PyReadwriteArray2<'_, f64>>() {
            let params = DiffusionParams::new(diffusivity, dt).py_err()?;
            let g = g.as_array_mut();
            py.detach(|| gpu.diffuse_timed(g, &params, steps, resident))
        } else if let Ok(mut g) = grid.extract::<PyReadwriteArray2<'_, f32>>() {
            let params = DiffusionParams::new(diffusivity as f32, dt as f32).py_err()?;
            let g = g.as_array_mut();
            py.detach(|| gpu.diffuse_timed(g, &params, steps, resident))
        } else {
            return Err(not_a_grid(grid));
        }
        .py_err()?;
        timings_dict(py, &timings)
    }
}

fn step_grid<T: Real>(
    py: Python<'_>,
    grid: &mut GpuGrid<T>,
    steps: usize,
    diffusivity: f64,
    dt: f64,
) -> PyResult<f64> {
    let params = DiffusionParams::new(T::from_f64(diffusivity), T::from_f64(dt)).py_err()?;
    // In chunks, so that Ctrl-C is noticed between them.
    let per_chunk = ((1usize << 24) / (grid.dim().0 * grid.dim().1).max(1)).max(1);
    let mut seconds = 0.0;
    let mut done = 0;
    while done < steps {
        let n = per_chunk.min(steps - done);
        seconds += py.detach(|| grid.step(&params, n)).py_err()?.as_secs_f64();
        done += n;
        py.check_signals()?;
    }
    Ok(seconds)
}

#[pymethods]
impl PyGpuGrid {
    /// Advances the grid `steps` steps on the device; returns the compute time in seconds.
    #[pyo3(signature = (steps, *, diffusivity=1.0, dt=0.1))]
    fn step(&mut self, py: Python<'_>, steps: usize, diffusivity: f64, dt: f64) -> PyResult<f64> {
        match &mut self.grid {
            Grid::F32(g) => step_grid(py, g, steps, diffusivity, dt),
            Grid::F64(g) => step_grid(py, g, steps, diffusivity, dt),
        }
    }

    /// The grid's current state: a new array, or written into `out` (same shape and dtype,
    /// any layout), which is returned.
    #[pyo3(signature = (out=None))]
    fn download<'py>(
        &self,
        py: Python<'py>,
        out: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match (&self.grid, out) {
            (Grid::F64(g), None) => Ok(py
                .detach(|| g.download())
                .py_err()?
                .into_pyarray(py)
                .into_any()),
            (Grid::F32(g), None) => Ok(py
                .detach(|| g.download())
                .py_err()?
                .into_pyarray(py)
                .into_any()),
            (Grid::F64(g), Some(out)) => {
                {
                    let mut o = out
                        .extract::<PyReadwriteArray2<'_, f64>>()
                        .map_err(|_| wrong_out(&out, "float64"))?;
                    let o = o.as_array_mut();
                    py.detach(|| g.download_into(o)).py_err()?;
                }
                Ok(out)
            }
            (Grid::F32(g), Some(out)) => {
                {
                    let mut o = out
                        .extract::<PyReadwriteArray2<'_, f32>>()
                        .map_err(|_| wrong_out(&out, "float32"))?;
                    let o = o.as_array_mut();
                    py.detach(|| g.download_into(o)).py_err()?;
                }
                Ok(out)
            }
        }
    }

    /// Replaces the grid's state with `grid` (same shape and dtype, any layout).
    fn upload(&mut self, py: Python<'_>, grid: &Bound<'_, PyAny>) -> PyResult<()> {
        match &mut self.grid {
            Grid::F64(g) => {
                let a = grid
                    .extract::<PyReadonlyArray2<'_, f64>>()
                    .map_err(|_| not_a_grid(grid))?;
                let a = a.as_array();
                py.detach(|| g.upload_from(a)).py_err()
            }
            Grid::F32(g) => {
                let a = grid
                    .extract::<PyReadonlyArray2<'_, f32>>()
                    .map_err(|_| not_a_grid(grid))?;
                let a = a.as_array();
                py.detach(|| g.upload_from(a)).py_err()
            }
        }
    }

    /// (rows, cols).
    #[getter]
    fn shape(&self) -> (usize, usize) {
        match &self.grid {
            Grid::F32(g) => g.dim(),
            Grid::F64(g) => g.dim(),
        }
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match &self.grid {
            Grid::F32(_) => "float32",
            Grid::F64(_) => "float64",
        }
    }

    /// Diffusion steps per GPU dispatch (temporal blocking; 1 by default).
    #[getter]
    fn get_steps_per_dispatch(&self) -> usize {
        match &self.grid {
            Grid::F32(g) => g.steps_per_dispatch(),
            Grid::F64(g) => g.steps_per_dispatch(),
        }
    }

    #[setter]
    fn set_steps_per_dispatch(&mut self, k: usize) -> PyResult<()> {
        match &mut self.grid {
            Grid::F32(g) => g.set_steps_per_dispatch(k),
            Grid::F64(g) => g.set_steps_per_dispatch(k),
        }
        .py_err()
    }

    /// How dispatches of several steps block: `"tiles"` (the default) or `"stream"`
    /// (strips streamed through rings of rows). Both give the bits of single steps.
    #[getter]
    fn get_temporal_blocking(&self) -> &'static str {
        match &self.grid {
            Grid::F32(g) => g.temporal_blocking().name(),
            Grid::F64(g) => g.temporal_blocking().name(),
        }
    }

    #[setter]
    fn set_temporal_blocking(&mut self, scheme: &str) -> PyResult<()> {
        let scheme: TemporalBlocking = scheme.parse().py_err()?;
        match &mut self.grid {
            Grid::F32(g) => g.set_temporal_blocking(scheme),
            Grid::F64(g) => g.set_temporal_blocking(scheme),
        }
        .py_err()
    }
}

fn wrong_out(out: &Bound<'_, PyAny>, dtype: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "out must be a writeable 2-D {dtype} numpy array of the grid's shape, got {}",
        describe(out)
    ))
}

#[pymethods]
impl PyGpuVector {
    /// The norm `kind` (`l1`, `l2`, `linf`, `l2sq`) of the resident vector.
    #[pyo3(signature = (kind="l2"))]
    fn norm(&self, py: Python<'_>, kind: &str) -> PyResult<f64> {
        let kind: NormKind = kind
            .parse()
            .map_err(|e: hpnum::Error| PyValueError::new_err(e.to_string()))?;
        match &self.vector {
            Vector::F64(v) => py.detach(|| v.norm(kind)).py_err(),
            Vector::F32(v) => py.detach(|| v.norm(kind)).map(f64::from).py_err(),
        }
    }

    /// The vector's elements, as a new array.
    fn download<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyUntypedArray>> {
        Ok(match &self.vector {
            Vector::F64(v) => py
                .detach(|| v.download())
                .py_err()?
                .into_pyarray(py)
                .as_untyped()
                .clone(),
            Vector::F32(v) => py
                .detach(|| v.download())
                .py_err()?
                .into_pyarray(py)
                .as_untyped()
                .clone(),
        })
    }

    fn __len__(&self) -> usize {
        match &self.vector {
            Vector::F32(v) => v.len(),
            Vector::F64(v) => v.len(),
        }
    }
}
