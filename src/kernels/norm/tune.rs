//! The norms' GPU setting chosen by measurement: which workgroup reduction sums the
//! partials (subgroup operations or the tree in workgroup memory), timed on a resident L2.

use crate::backends::gpu::Gpu;
use crate::backends::gpu::options::GpuOptions;
use crate::backends::gpu::shaders::Reduction;
use crate::error::Result;
use crate::interrupt::Watch;
use crate::kernels::norm::{NormKind, lcg_vector};
use crate::kernels::tune::{Choice, MARGIN, measuring, median};
use crate::real::Precision;

/// A resident L2 of f32 values with each workgroup reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormReductions {
    /// How many values.
    pub values: usize,
    /// With subgroup operations; `None` where the device has none.
    pub subgroups_seconds: Option<f64>,
    /// Through the tree in workgroup memory.
    pub tree_seconds: f64,
}

/// Device seconds of a resident L2 of `n` f32 values with each workgroup reduction the
/// device has, each on a device of its own (the reduction is fixed when a device opens).
///
/// # Errors
/// What the device gives; [`crate::Error::Interrupted`] after
/// [`crate::interrupt_running_calls`].
pub fn norm_reductions(n: usize, repeats: usize) -> Result<NormReductions> {
    let watch = Watch::start();
    let host = lcg_vector::<f32>(n, 1)?;
    let time = |subgroups: bool| -> Result<(Reduction, f64)> {
        let gpu = Gpu::new(&GpuOptions {
            subgroups: Some(subgroups),
            ..measuring()
        })?;
        let v = gpu.upload_vector(host.view())?;
        let (compute, _) = median(watch, repeats, || {
            Ok(gpu.norm_resident(&v, NormKind::L2)?.1.compute)
        })?;
        Ok((gpu.norm_reduction(Precision::F32)?, compute.as_secs_f64()))
    };
    let (reduction, seconds) = time(true)?;
    let (_, tree_seconds) = time(false)?;
    Ok(NormReductions {
        values: n,
        subgroups_seconds: (reduction == Reduction::Subgroups).then_some(seconds),
        tree_seconds,
    })
}

/// Subgroup reductions unless the tree is [`MARGIN`] times as fast; nothing without both
/// timings.
pub(crate) fn choose(reductions: Option<&NormReductions>) -> Option<Choice> {
    let &NormReductions {
        values,
        subgroups_seconds: Some(subgroups),
        tree_seconds: tree,
    } = reductions?
    else {
        return None;
    };
    Some(Choice {
        chosen: vec![("subgroups", (subgroups / tree < MARGIN).to_string())],
        why: (
            "subgroups",
            format!(
                "a resident L2 of {values:.0e} f32: subgroups {:.3} ms, the workgroup-memory \
                 tree {:.3} ms",
                subgroups * 1e3,
                tree * 1e3
            ),
        ),
    })
}
