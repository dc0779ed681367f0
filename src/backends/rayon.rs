//! The rayon backend: the SIMD kernels on all cores.
//!
//! - Julia: one task per row, scheduled by work stealing, since a row's cost varies by 100×
//!   and more across the set.
//! - Diffusion: each step splits the output into bands of rows, one fork-join (the step's
//!   barrier) per step, nothing allocated per step. Grids larger than the caches take
//!   several steps per fork-join instead (temporal blocking): each band is copied with a
//!   K-row halo into a cache-sized tile, stepped K times there and its interior written
//!   back, bit-identical to K single steps (`CacheTiles`; measured in
//!   docs/performance.md).
//! - Norms: the SIMD backend's pairwise tree with its top levels forked, so the result is
//!   the same bits whatever the thread count.
//!
//! It runs on rayon's global pool (which honours `RAYON_NUM_THREADS`) or on a pool the
//! caller provides.

use std::sync::Arc;

use ::rayon::prelude::*;
use ::rayon::{ThreadPool, ThreadPoolBuilder};
use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use super::simd::{JuliaRows, Level, Reducer, Simd, SimdReal, StepRows};
use crate::backend::{Backend, Capabilities, Describe};
use crate::backends::contiguous;
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::{Error, Result};

/// Bands per thread in a diffusion step: a few, so that a thread slowed by the OS does not
/// hold up the step's barrier for long.
const BANDS_PER_THREAD: usize = 4;

/// Bytes of one band's two tile buffers in the blocked diffusion: about one core's L2 (1 MiB
/// on the development VM; 1-2 MiB on current x86 and Arm server cores).
const TILE_BYTES: usize = 1 << 20;

/// Grids smaller than this are stepped one step per fork-join: blocking measured faster
/// from 16 MiB (2048² f32 and f64, 4096² f32) and not below (1024² f64, 8 MiB, ran 15-25 %
/// slower blocked); see docs/performance.md.
const BLOCK_FROM_GRID_BYTES: usize = 16 << 20;

/// Temporal blocking for one diffusion call: `steps` (K) steps per pass, on bands of
/// `band_rows` rows, each stepped in a tile of `band_rows + 2K` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CacheTiles {
    steps: usize,
    band_rows: usize,
}

impl CacheTiles {
    /// The blocking for a `rows × cols` grid of `element_bytes` values, or `None` where
    /// single steps are as fast: a grid within the caches, or rows so long that a tile
    /// cannot hold a band at least 4K rows high with K ≥ 4 (the halo's recomputation would
    /// cost more than the memory traffic it saves: measured at 4096² f64).
    fn plan(rows: usize, cols: usize, element_bytes: usize, steps: usize) -> Option<Self> {
        let grid_bytes = rows.checked_mul(cols)?.checked_mul(element_bytes)?;
        if grid_bytes < BLOCK_FROM_GRID_BYTES {
            return None;
        }
        let tile_rows = TILE_BYTES / (2 * cols * element_bytes).max(1);
        [8, 4]
            .into_iter()
            .filter(|&k| k <= steps)
            .find(|&k| tile_rows >= 6 * k)
            .map(|k| CacheTiles {
                steps: k,
                band_rows: tile_rows - 2 * k,
            })
    }

    /// K steps from `src` into `dst` (row-major `rows × cols`): every band of `dst` is
    /// computed in a tile holding the band and K rows of periodic halo on each side. After
    /// s steps in the tile (itself stepped as a periodic grid), rows s .. h−s hold the
    /// true values, so after K steps the band's rows do; each cell's operations are the
    /// single step's.
    fn step<T: SimdReal>(
        self,
        level: Level,
        src: &[T],
        dst: &mut [T],
        (rows, cols): (usize, usize),
        coefficient: T,
    ) {
        let k = self.steps;
        dst.par_chunks_mut(self.band_rows * cols)
            .enumerate()
            .for_each_init(
                || (Vec::<T>::new(), Vec::<T>::new()),
                |(tile, spare), (band, out)| {
                    let first = band * self.band_rows;
                    let band_rows = out.len() / cols;
                    let height = band_rows + 2 * k;
                    tile.clear();
                    for r in 0..height {
                        // first − k + r, wrapped; shifted by whole periods to stay unsigned.
                        let row = (first + rows * (k / rows + 1) + r - k) % rows;
                        tile.extend_from_slice(&src[row * cols..(row + 1) * cols]);
                    }
                    spare.resize(height * cols, T::zero());
                    for _ in 0..k {
                        level.dispatch(StepRows {
                            src: tile,
                            dst: spare,
                            rows: height,
                            cols,
                            first_row: 0,
                            coefficient,
                        });
                        std::mem::swap(tile, spare);
                    }
                    out.copy_from_slice(&tile[k * cols..(k + band_rows) * cols]);
                },
            );
    }
}

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
        // Passes of K steps in cache tiles first, then single steps for the remainder.
        let tiles = CacheTiles::plan(rows, cols, size_of::<T>(), steps);
        let (blocks, k) = tiles.map_or((0, 1), |t| (steps / t.steps, t.steps));
        let passes = blocks + (steps - blocks * k);
        let mut pass = 0;
        self.install(|| {
            contiguous::diffuse_row_major(grid, scratch, passes, |src, dst| {
                pass += 1;
                if cols == 0 {
                    return;
                }
                if let Some(tiles) = tiles.filter(|_| pass <= blocks) {
                    tiles.step(level, src, dst, (rows, cols), coefficient);
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
