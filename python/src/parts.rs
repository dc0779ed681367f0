//! Norms in parts, for `hpnum.dask.norm`: which tree a backend sums in, where a vector may
//! be cut, each part's partial sums and their combination (`hpnum::kernels::norm::parts`).
//! A tree travels between processes as `(backend, isa)`, a partial as `(sum, largest,
//! nan)` in f64 (which holds every f32 exactly), a part as `(start, stop, sum, largest,
//! nan)`.

use hpnum::backends::simd::Isa;
use hpnum::kernels::Workload;
use hpnum::kernels::norm::parts::NormTree;
use hpnum::kernels::norm::{NextPass, Partial, next_pass};
use hpnum::{DeviceKind, NormKind, Real};
use numpy::PyReadonlyArray1;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::{self, IntoPy, UnsupportedError};
use crate::kernels::{Dtype, describe, dtype};
use crate::select;

/// A tree as Python holds it: the backend that sums in it and its instruction set.
type TreeName = (String, Option<String>);

/// A partial as Python holds it.
type PartialTuple = (f64, f64, bool);

/// A part as Python holds it: its node's range and partial.
type PartTuple = (usize, usize, f64, f64, bool);

/// Adds the functions to the extension module.
pub(crate) fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(norm_tree, m)?)?;
    m.add_function(wrap_pyfunction!(norm_align, m)?)?;
    m.add_function(wrap_pyfunction!(norm_parts, m)?)?;
    m.add_function(wrap_pyfunction!(norm_combine, m)?)?;
    m.add_function(wrap_pyfunction!(norm_result, m)?)?;
    m.add_function(wrap_pyfunction!(norm_passes, m)?)?;
    Ok(())
}

/// The tree `backend` sums a norm of `len` elements of `dtype_name` in. `auto` is what
/// `hpnum.norm` would choose for that length; where that is the GPU (whose sums follow its
/// workgroups, not a tree that parts can rebuild), the rayon backend's tree.
#[pyfunction]
pub(crate) fn norm_tree(backend: &str, dtype_name: &str, len: usize) -> PyResult<TreeName> {
    let chosen = match backend {
        "auto" => match dtype(dtype_name)? {
            Dtype::F32 => auto_choice::<f32>(len)?,
            Dtype::F64 => auto_choice::<f64>(len)?,
        },
        other => other.to_owned(),
    };
    let capabilities = select::backend(&chosen).py_err()?.capabilities();
    match chosen.as_str() {
        "scalar" => Ok((chosen, None)),
        "simd" | "rayon" => Ok((chosen, Some(capabilities.isa))),
        other => Err(UnsupportedError::new_err(format!(
            "a norm in parts runs on the CPU backends (scalar, simd, rayon), not on {other}: a \
             GPU's sums follow its workgroups, which parts cannot rebuild"
        ))),
    }
}

/// The CPU backend `auto` chooses for a norm of `len` elements of `T`.
fn auto_choice<T: Real>(len: usize) -> PyResult<String> {
    let auto = select::auto().py_err()?;
    let (backend, choice) = auto
        .choose(Workload::norm::<T>(len), T::PRECISION)
        .py_err()?;
    Ok(if backend.capabilities().device == DeviceKind::Cpu {
        choice.backend
    } else {
        "rayon".to_owned()
    })
}

/// The library's tree from its Python form.
fn tree_of((backend, isa): &TreeName) -> PyResult<NormTree> {
    match (backend.as_str(), isa) {
        ("scalar", None) => Ok(NormTree::Scalar),
        ("simd" | "rayon", Some(isa)) => Ok(NormTree::Simd {
            isa: isa.parse::<Isa>().py_err()?,
        }),
        _ => Err(PyValueError::new_err(format!(
            "{backend:?}, {isa:?} is not a tree from hpnum._hpnum.norm_tree"
        ))),
    }
}

/// Each of `cuts` moved to the nearest leaf edge of the tree over `len` elements.
#[pyfunction]
pub(crate) fn norm_align(
    tree: TreeName,
    dtype_name: &str,
    len: usize,
    cuts: Vec<usize>,
) -> PyResult<Vec<usize>> {
    let tree = tree_of(&tree)?;
    cuts.into_iter()
        .map(|at| match dtype(dtype_name)? {
            Dtype::F32 => tree.align::<f32>(len, at).py_err(),
            Dtype::F64 => tree.align::<f64>(len, at).py_err(),
        })
        .collect()
}

/// The parts of the next pass that `kind` needs (given the whole vector's partials of the
/// passes `done`) over `x`, the elements `offset ..` of a vector of `len`: one per node of
/// the tree that `x` holds whole. `None` when the norm needs no further pass.
#[pyfunction]
#[pyo3(signature = (x, offset, len, tree, kind, done))]
pub(crate) fn norm_parts(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    offset: usize,
    len: usize,
    tree: TreeName,
    kind: &str,
    done: Vec<PartialTuple>,
) -> PyResult<Option<Vec<PartTuple>>> {
    let kind = norm_kind(kind)?;
    let parallel = tree.0 == "rayon";
    let tree = tree_of(&tree)?;
    if let Ok(x) = x.extract::<PyReadonlyArray1<'_, f64>>() {
        return parts_in(py, x.as_slice()?, offset, len, tree, kind, &done, parallel);
    }
    if let Ok(x) = x.extract::<PyReadonlyArray1<'_, f32>>() {
        return parts_in(py, x.as_slice()?, offset, len, tree, kind, &done, parallel);
    }
    Err(PyTypeError::new_err(format!(
        "x must be a contiguous 1-D float32 or float64 numpy array, got {}",
        describe(x)
    )))
}

#[allow(clippy::too_many_arguments)]
fn parts_in<T: Real>(
    py: Python<'_>,
    x: &[T],
    offset: usize,
    len: usize,
    tree: NormTree,
    kind: NormKind,
    done: &[PartialTuple],
    parallel: bool,
) -> PyResult<Option<Vec<PartTuple>>> {
    let NextPass::Run(pass) = next_pass(kind, &partials::<T>(done)) else {
        return Ok(None);
    };
    let end = offset.saturating_add(x.len());
    errors::interruptible(py, false, || {
        tree.nodes::<T>(len, offset..end)?
            .into_iter()
            .map(|node| {
                let part = &x[node.start - offset..node.end - offset];
                let p = tree.partial(part, pass, parallel)?;
                Ok((
                    node.start,
                    node.end,
                    p.sum.as_f64(),
                    p.largest.as_f64(),
                    p.nan,
                ))
            })
            .collect::<hpnum::Result<Vec<_>>>()
            .map(Some)
    })
}

/// The whole vector's partial of one pass from its parts (any order).
#[pyfunction]
pub(crate) fn norm_combine(
    tree: TreeName,
    dtype_name: &str,
    len: usize,
    parts: Vec<PartTuple>,
) -> PyResult<PartialTuple> {
    let tree = tree_of(&tree)?;
    match dtype(dtype_name)? {
        Dtype::F32 => combine_in::<f32>(tree, len, &parts),
        Dtype::F64 => combine_in::<f64>(tree, len, &parts),
    }
}

fn combine_in<T: Real>(tree: NormTree, len: usize, parts: &[PartTuple]) -> PyResult<PartialTuple> {
    let parts: Vec<_> = parts
        .iter()
        .map(|&(start, end, sum, largest, nan)| (start..end, partial::<T>((sum, largest, nan))))
        .collect();
    let p = tree.combine(len, &parts).py_err()?;
    Ok((p.sum.as_f64(), p.largest.as_f64(), p.nan))
}

/// The norm, once the passes `done` are all it needs; `None` if it needs another.
#[pyfunction]
pub(crate) fn norm_result(
    kind: &str,
    dtype_name: &str,
    done: Vec<PartialTuple>,
) -> PyResult<Option<f64>> {
    let kind = norm_kind(kind)?;
    Ok(match dtype(dtype_name)? {
        Dtype::F32 => result_in::<f32>(kind, &done),
        Dtype::F64 => result_in::<f64>(kind, &done),
    })
}

fn result_in<T: Real>(kind: NormKind, done: &[PartialTuple]) -> Option<f64> {
    match next_pass(kind, &partials::<T>(done)) {
        NextPass::Done(norm) => Some(norm.as_f64()),
        NextPass::Run(_) => None,
    }
}

/// The most passes over the vector the norm `kind` takes (`kernels::norm::most_passes`).
#[pyfunction]
pub(crate) fn norm_passes(kind: &str) -> PyResult<usize> {
    Ok(hpnum::kernels::norm::most_passes(norm_kind(kind)?))
}

fn norm_kind(kind: &str) -> PyResult<NormKind> {
    kind.parse()
        .map_err(|e: hpnum::Error| PyValueError::new_err(e.to_string()))
}

fn partial<T: Real>((sum, largest, nan): PartialTuple) -> Partial<T> {
    Partial {
        sum: T::from_f64(sum),
        largest: T::from_f64(largest),
        nan,
    }
}

fn partials<T: Real>(done: &[PartialTuple]) -> Vec<Partial<T>> {
    done.iter().map(|&p| partial::<T>(p)).collect()
}
