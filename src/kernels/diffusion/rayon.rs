//! Diffusion on all cores. Each step splits the output into bands of rows, one fork-join
//! (the step's barrier) per step, nothing allocated per step. Grids larger than the caches
//! take several steps per fork-join instead (temporal blocking): each band is copied with a
//! K-row halo into a cache-sized tile, stepped K times there and its interior written
//! back, bit-identical to K single steps ([`CacheTiles`]; measured in
//! docs/performance.md). Every row is the SIMD backend's code, so the bits are the same.

use ndarray::ArrayViewMut2;
use rayon::prelude::*;

use crate::backends::rayon::Rayon;
use crate::error::Result;
use crate::kernels::diffusion::DiffusionParams;
use crate::kernels::diffusion::simd::StepRows;
use crate::simd::element::SimdReal;
use crate::simd::isa::Level;

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

/// The rayon backend's diffusion: passes of K steps in cache tiles first (where they pay),
/// then single steps in bands for the remainder.
///
/// # Errors
/// As [`crate::Backend::diffuse`].
pub(crate) fn diffuse<T: SimdReal>(
    rayon: &Rayon,
    grid: ArrayViewMut2<'_, T>,
    scratch: ArrayViewMut2<'_, T>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> Result<()> {
    let (rows, cols) = grid.dim();
    let coefficient = params.coefficient();
    let level = rayon.level();
    let band_rows = rows.div_ceil(rayon.threads() * BANDS_PER_THREAD).max(1);
    let tiles = CacheTiles::plan(rows, cols, size_of::<T>(), steps);
    let (blocks, k) = tiles.map_or((0, 1), |t| (steps / t.steps, t.steps));
    let passes = blocks + (steps - blocks * k);
    let mut pass = 0;
    rayon.install(|| {
        crate::kernels::diffusion::diffuse_row_major(grid, scratch, passes, |src, dst| {
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
