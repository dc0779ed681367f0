//! Norms on all cores: the SIMD backend's pairwise tree with its top levels forked as rayon
//! tasks. The tree's shape depends only on the length and the lane count, so the result is
//! the same bits whatever the thread count.

use ndarray::ArrayView1;

use crate::backends::rayon::Rayon;
use crate::error::Result;
use crate::interrupt::Watch;
use crate::kernels::norm::NormKind;
use crate::kernels::norm::simd::Reducer;
use crate::simd::element::SimdReal;

/// The rayon backend's norm.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] if a strided view's contiguous copy cannot be allocated.
pub(crate) fn norm<T: SimdReal>(rayon: &Rayon, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
    let x = crate::kernels::norm::contiguous(&v)?;
    let reducer = Reducer {
        level: rayon.level(),
        parallel: true,
        watch: Watch::start(),
    };
    rayon.install(|| reducer.norm(&x, kind))
}
