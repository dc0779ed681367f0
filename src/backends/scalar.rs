//! The scalar backend: the kernels' reference definitions, one element at a time, on one
//! core, in the book's operation order and without FMA. It is the yardstick: the other
//! backends are tested against it and reproduce it bit for bit where their kernel says so.

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::backend::{Backend, Capabilities, Describe};
use crate::kernels::diffusion::{self, DiffusionParams};
use crate::kernels::julia::{self, JuliaParams};
use crate::kernels::norm::{self, NormKind};
use crate::{Real, Result};

/// Plain loops over the reference definitions in [`crate::kernels`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Describe for Scalar {
    fn name(&self) -> &str {
        "scalar"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::cpu("scalar", 1)
    }
}

impl<T: Real> Backend<T> for Scalar {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        julia::reference(params)
    }

    fn diffuse(
        &self,
        mut grid: ArrayViewMut2<'_, T>,
        mut scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        diffusion::check_scratch(&grid, &scratch)?;
        let coefficient = params.coefficient();
        // Reborrowed so that both views share one lifetime, as `ping_pong` needs one type.
        diffusion::ping_pong(
            &mut grid.view_mut(),
            &mut scratch.view_mut(),
            steps,
            |src, dst| diffusion::reference_step(src.view(), dst.view_mut(), coefficient),
            |grid, scratch| grid.assign(scratch),
        );
        Ok(())
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        Ok(norm::reference(v, kind))
    }
}
