//! The rayon backend: the SIMD kernels on all cores.
//!
//! - Julia: one task per row, scheduled by work stealing, since a row's cost varies by 100×
//!   and more across the set.
//! - Diffusion: each step splits the output into bands of rows, one fork-join (the step's
//!   barrier) per step, nothing allocated per step.
//! - Norms: the SIMD backend's pairwise tree with its top levels forked, so the result is
//!   the same bits whatever the thread count.
//!
//! It runs on rayon's global pool (which honours `RAYON_NUM_THREADS`) or on a pool the
//! caller provides.

use std::sync::Arc;

use ::rayon::prelude::*;
use ::rayon::{ThreadPool, ThreadPoolBuilder};
use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use super::simd::{JuliaRows, Reducer, Simd, SimdReal, StepRows};
use crate::backend::{Backend, Capabilities, Describe};
use crate::backends::contiguous;
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::{Error, Result};

/// Bands per thread in a diffusion step: a few, so that a thread slowed by the OS does not
/// hold up the step's barrier for long.
const BANDS_PER_THREAD: usize = 4;

/// SIMD kernels spread over a rayon thread pool.
#[derive(Debug, Clone)]
pub struct Rayon {
    simd: Simd,
    pool: Option<Arc<ThreadPool>>,
}

impl Rayon {
    /// On rayon's global pool, with the best SIMD level.
    pub fn new() -> Self {
        Rayon {
            simd: Simd::new(),
            pool: None,
        }
    }

    /// On rayon's global pool, with the given SIMD backend's level.
    pub fn with_simd(simd: Simd) -> Self {
        Rayon { simd, pool: None }
    }

    /// On a pool of its own with `threads` threads.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `threads` is 0 or the pool cannot be created.
    pub fn with_threads(threads: usize) -> Result<Self> {
        if threads == 0 {
            return Err(Error::invalid("threads", "must be at least 1"));
        }
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::invalid("threads", e.to_string()))?;
        Ok(Rayon::with_pool(Arc::new(pool)))
    }

    /// On the caller's pool.
    pub fn with_pool(pool: Arc<ThreadPool>) -> Self {
        Rayon {
            simd: Simd::new(),
            pool: Some(pool),
        }
    }

    /// The SIMD level it uses.
    pub fn simd(&self) -> Simd {
        self.simd
    }

    fn threads(&self) -> usize {
        match &self.pool {
            Some(pool) => pool.current_num_threads(),
            None => ::rayon::current_num_threads(),
        }
    }

    fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(op),
            None => op(),
        }
    }
}

impl Default for Rayon {
    fn default() -> Self {
        Rayon::new()
    }
}

impl Describe for Rayon {
    fn name(&self) -> &str {
        "rayon"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::cpu(self.simd.isa().name(), self.threads())
    }
}

impl<T: SimdReal> Backend<T> for Rayon {
    fn julia(&self, params: &JuliaParams<T>) -> Result<Array2<u32>> {
        let (rows, cols) = params.shape();
        let level = self.simd.level();
        contiguous::julia_counts(rows, cols, |out| {
            if cols == 0 {
                return;
            }
            self.install(|| {
                out.par_chunks_mut(cols)
                    .zip(params.ys().par_iter())
                    .for_each(|(row, y)| {
                        level.dispatch(JuliaRows {
                            xs: params.xs(),
                            ys: std::slice::from_ref(y),
                            c: params.c(),
                            max_iter: params.max_iter(),
                            out: row,
                        })
                    })
            })
        })
    }

    fn diffuse(
        &self,
        grid: ArrayViewMut2<'_, T>,
        scratch: ArrayViewMut2<'_, T>,
        params: &DiffusionParams<T>,
        steps: usize,
    ) -> Result<()> {
        let (rows, cols) = grid.dim();
        let coefficient = params.coefficient();
        let level = self.simd.level();
        let band_rows = rows.div_ceil(self.threads() * BANDS_PER_THREAD).max(1);
        self.install(|| {
            contiguous::diffuse_row_major(grid, scratch, steps, |src, dst| {
                if cols == 0 {
                    return;
                }
                dst.par_chunks_mut(band_rows * cols)
                    .enumerate()
                    .for_each(|(band, dst)| {
                        level.dispatch(StepRows {
                            src,
                            dst,
                            rows,
                            cols,
                            first_row: band * band_rows,
                            coefficient,
                        })
                    })
            })
        })
    }

    fn norm(&self, v: ArrayView1<'_, T>, kind: NormKind) -> Result<T> {
        let x = contiguous::norm_input(&v)?;
        let reducer = Reducer {
            level: self.simd.level(),
            parallel: true,
        };
        Ok(self.install(|| reducer.norm(&x, kind)))
    }
}
