//! Julia on all cores: one task per row, scheduled by work stealing, since a row's cost
//! varies by 100× and more across the set. Each row is the SIMD backend's code, so the
//! counts are the same bits.

use ndarray::Array2;
use rayon::prelude::*;

use crate::backends::rayon::Rayon;
use crate::error::Result;
use crate::kernels::julia::JuliaParams;
use crate::kernels::julia::simd::JuliaRows;
use crate::simd::element::SimdReal;

/// The rayon backend's Julia.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if the counts cannot be allocated.
pub(crate) fn counts<T: SimdReal>(rayon: &Rayon, params: &JuliaParams<T>) -> Result<Array2<u32>> {
    let level = rayon.level();
    let cols = params.xs().len();
    crate::kernels::julia::counts_row_major(params, |out, watch| {
        if cols == 0 {
            return;
        }
        rayon.install(|| {
            out.par_chunks_mut(cols)
                .zip(params.ys().par_iter())
                .for_each(|(row, y)| {
                    level.dispatch(JuliaRows {
                        xs: params.xs(),
                        ys: std::slice::from_ref(y),
                        c: params.c(),
                        max_iter: params.max_iter(),
                        out: row,
                        watch,
                    })
                })
        })
    })
}
