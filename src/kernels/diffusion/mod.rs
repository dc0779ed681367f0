//! 2D heat diffusion (book ch. 6–7): `u_t = D ∇²u`, explicit Euler, unit grid spacing,
//! periodic boundaries.
//!
//! One step, per cell, in the operation order of the book's fastest in-place NumPy version
//! (indices wrap around, as `np.roll` does):
//!
//! ```text
//! t = -4·g[i,j]; t += g[i-1,j]; t += g[i+1,j]; t += g[i,j-1]; t += g[i,j+1];
//! t *= D·dt; new[i,j] = t + g[i,j]
//! ```
//!
//! `D·dt` is rounded to the element type once, before the step. Backends that keep this
//! order reproduce [`reference_step`] bit for bit. Grids of any shape `np.roll` accepts work,
//! including 1×N and 2×2 (a neighbour may then be the cell itself or the same cell twice).
//! The scheme conserves the grid's sum and is stable only for D·dt ≤ 1/4.
//!
//! Every backend's version is here: [`reference_step`] (the scalar backend), `simd.rs`
//! (rows vectorised along the row), `rayon.rs` (bands of rows per step, and temporal
//! blocking in cache-sized tiles), `gpu.rs` with `diffusion.wgsl` (one or four cells per
//! invocation, or K steps per dispatch in workgroup memory), `multi_gpu.rs` (one grid over
//! several devices), and `case.rs` (the calls the benchmarks time).
//!
//! ```
//! use hpnum::kernels::diffusion::book_initial_grid;
//! use hpnum::{Backend, DiffusionParams, Scalar, Simd};
//! use ndarray::Array2;
//!
//! let mut a = book_initial_grid::<f64>(64, 64)?;
//! let mut b = a.clone();
//! let mut scratch = Array2::zeros((64, 64));
//! Scalar.diffuse(a.view_mut(), scratch.view_mut(), &DiffusionParams::book(), 100)?;
//! Simd::new().diffuse(b.view_mut(), scratch.view_mut(), &DiffusionParams::book(), 100)?;
//! assert_eq!(a, b); // bit for bit
//! assert_eq!(a[[28, 28]], 0.0016107323054391494); // the reference's centre cell
//! # Ok::<(), hpnum::Error>(())
//! ```

pub(crate) mod case;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod gpu;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod multi_gpu;
pub(crate) mod rayon;
pub mod settings;
pub(crate) mod simd;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod tune;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::kernel::{DefaultRates, Kernel, KernelInfo, Limit};
use crate::kernels::workload::Workload;
use crate::memory;
use crate::real::Real;

/// Floating-point operations per cell-step: one product by −4, four sums, the product by
/// D·dt and the final sum.
pub const FLOPS_PER_CELL_STEP: u64 = 7;

pub(crate) const INFO: KernelInfo = KernelInfo {
    name: "diffusion",
    size_label: "grid side",
    unit: "GB/s",
    limit: Limit::CopyBandwidth,
    // Cell-steps per second: measured on a 2-core x86-64 machine (AVX-512); the GPU's is a
    // guess for a mid-range discrete part.
    rates: DefaultRates {
        scalar: 6.5e8,
        simd: 1.3e9,
        rayon_per_thread: 1.2e9,
        // waking the pool: the caller waits for its workers.
        rayon_overhead: 2e-5,
        discrete_gpu: 4e10,
    },
    bench_sizes: &[256, 1024, 2048, 4096],
    sweep: [(16, 1024, 4), (16, 2048, 2), (16, 8192, 2)],
};

impl Workload {
    /// `steps` diffusion steps on a `rows × cols` grid of `T`: `work` is cell-steps,
    /// `memory_bytes` each step reading and writing the grid once, `transfer_bytes` the
    /// grid in and out.
    pub fn diffusion<T: Real>(rows: usize, cols: usize, steps: usize) -> Workload {
        let cells = rows as f64 * cols as f64;
        let element = size_of::<T>() as f64;
        let work = cells * steps as f64;
        Workload {
            kernel: Kernel::Diffusion,
            work,
            transfer_bytes: 2.0 * element * cells,
            memory_bytes: 2.0 * element * work,
            flops: work * FLOPS_PER_CELL_STEP as f64,
        }
    }
}

/// Largest stable D·dt for the explicit 5-point scheme on a unit 2D grid.
pub const STABILITY_LIMIT: f64 = 0.25;

/// The diffusivity D and time step dt, validated: finite, non-negative, D·dt ≤ 1/4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffusionParams<T: Real> {
    diffusivity: T,
    dt: T,
}

impl<T: Real> DiffusionParams<T> {
    /// Validated parameters for diffusivity D and time step dt.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `diffusivity` or `dt` is NaN, infinite or negative;
    /// [`Error::Unstable`] if their product exceeds [`STABILITY_LIMIT`].
    pub fn new(diffusivity: T, dt: T) -> Result<Self> {
        for (name, v) in [("diffusivity", diffusivity), ("dt", dt)] {
            if !v.is_finite() || v < T::zero() {
                return Err(Error::invalid(
                    name,
                    format!("must be finite and non-negative, got {v}"),
                ));
            }
        }
        let d_dt = diffusivity.as_f64() * dt.as_f64();
        if d_dt > STABILITY_LIMIT {
            return Err(Error::Unstable { d_dt });
        }
        Ok(DiffusionParams { diffusivity, dt })
    }

    /// The book's D = 1, dt = 0.1 (dt rounded to `T`).
    pub fn book() -> Self {
        DiffusionParams {
            diffusivity: T::one(),
            dt: T::from_f64(0.1),
        }
    }

    /// D.
    pub fn diffusivity(&self) -> T {
        self.diffusivity
    }

    /// dt.
    pub fn dt(&self) -> T {
        self.dt
    }

    /// D·dt rounded to `T`: the factor every step multiplies the Laplacian by.
    pub fn coefficient(&self) -> T {
        self.diffusivity * self.dt
    }
}

/// The book's initial condition: zeros, with rows and columns `int(0.4·n) .. int(0.5·n)`
/// (end exclusive, per axis) set to 0.005 rounded to `T`.
///
/// # Errors
/// [`Error::OutOfMemory`] if `rows × cols` elements exceed the address space or the memory
/// this machine has available.
pub fn book_initial_grid<T: Real>(rows: usize, cols: usize) -> Result<Array2<T>> {
    // Same float expression as the book's `int(0.4 * n)`, so every n gets the book's block.
    let band = |n: usize| ((0.4 * n as f64) as usize)..((0.5 * n as f64) as usize);
    let mut grid = crate::memory::zeroed_array2(rows, cols, "diffusion grid")?;
    let value = T::from_f64(0.005);
    for r in band(rows) {
        for k in band(cols) {
            grid[[r, k]] = value;
        }
    }
    Ok(grid)
}

/// A `rows × cols` scratch grid for [`crate::Backend::diffuse`], zeros, allocated fallibly.
///
/// # Errors
/// [`Error::OutOfMemory`] if it exceeds the address space or the memory available.
pub fn scratch<T: Real>(rows: usize, cols: usize) -> Result<Array2<T>> {
    memory::zeroed_array2(rows, cols, "diffusion scratch")
}

/// One cell's update in the reference operation order: the definition every backend keeps
/// (vector code performs these same operations lane by lane).
#[inline(always)]
pub fn cell<T: Real>(g: T, up: T, down: T, left: T, right: T, coefficient: T) -> T {
    let mut t = T::from_f64(-4.0) * g;
    t = t + up;
    t = t + down;
    t = t + left;
    t = t + right;
    t = t * coefficient;
    t + g
}

/// The scalar reference: one step from `src` into `dst` with factor `coefficient` (D·dt).
/// Works on any strides; `src` and `dst` must have the same shape (callers check with
/// [`check_scratch`]).
pub fn reference_step<T: Real>(
    src: ArrayView2<'_, T>,
    mut dst: ArrayViewMut2<'_, T>,
    coefficient: T,
) {
    let (rows, cols) = src.dim();
    for i in 0..rows {
        let up = (i + rows - 1) % rows;
        let down = (i + 1) % rows;
        for j in 0..cols {
            let left = (j + cols - 1) % cols;
            let right = (j + 1) % cols;
            dst[[i, j]] = cell(
                src[[i, j]],
                src[[up, j]],
                src[[down, j]],
                src[[i, left]],
                src[[i, right]],
                coefficient,
            );
        }
    }
}

/// The scalar backend's diffusion: [`reference_step`] between `grid` and `scratch`, on any
/// strides.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `scratch` has another shape.
pub(crate) fn diffuse_reference<T: Real>(
    mut grid: ArrayViewMut2<'_, T>,
    mut scratch: ArrayViewMut2<'_, T>,
    params: &DiffusionParams<T>,
    steps: usize,
) -> Result<()> {
    check_scratch(&grid, &scratch)?;
    let coefficient = params.coefficient();
    let watch = Watch::start();
    // Reborrowed so that both views share one lifetime, as `ping_pong` needs one type.
    ping_pong(
        &mut grid.view_mut(),
        &mut scratch.view_mut(),
        steps,
        |src, dst| {
            if !watch.interrupted() {
                reference_step(src.view(), dst.view_mut(), coefficient)
            }
        },
        |grid, scratch| grid.assign(scratch),
    );
    watch.check()
}

/// Checks that a scratch buffer can serve `grid`.
///
/// # Errors
/// [`Error::ShapeMismatch`] if the shapes differ.
pub fn check_scratch<T>(grid: &ArrayViewMut2<'_, T>, scratch: &ArrayViewMut2<'_, T>) -> Result<()> {
    if grid.dim() != scratch.dim() {
        return Err(Error::ShapeMismatch {
            what: "scratch",
            expected: grid.shape().to_vec(),
            found: scratch.shape().to_vec(),
        });
    }
    Ok(())
}

/// Runs `steps` steps of `step` in place on `grid`, alternating between `grid` and `scratch`
/// so that nothing is allocated; the result ends in `grid` (`copy_back` runs once when
/// `steps` is odd). The buffers can be views or slices: the shared driver of the CPU
/// backends. Shapes must already match ([`check_scratch`]).
pub fn ping_pong<B: ?Sized>(
    grid: &mut B,
    scratch: &mut B,
    steps: usize,
    mut step: impl FnMut(&B, &mut B),
    copy_back: impl FnOnce(&mut B, &B),
) {
    for s in 0..steps {
        if s % 2 == 0 {
            step(grid, scratch);
        } else {
            step(scratch, grid);
        }
    }
    if steps % 2 == 1 {
        copy_back(grid, scratch);
    }
}

/// Runs `steps` steps of `step` (a step on row-major slices) on `grid`, through `scratch`:
/// the driver of the vector backends, which stops early (an error, the grid unspecified)
/// when a stop is asked for ([`crate::interrupt`]). When both are row-major they are used directly;
/// otherwise the grid is copied once into a row-major buffer (with its own scratch) and the
/// result copied back, never once per step.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `scratch`'s shape differs from `grid`'s;
/// [`Error::OutOfMemory`] if a non-row-major grid's working copies cannot be allocated;
/// [`Error::Interrupted`].
pub(crate) fn diffuse_row_major<T: Real>(
    mut grid: ArrayViewMut2<'_, T>,
    mut scratch: ArrayViewMut2<'_, T>,
    steps: usize,
    mut step: impl FnMut(&[T], &mut [T]),
) -> Result<()> {
    check_scratch(&grid, &scratch)?;
    // Steps stop once a stop is asked for (`crate::interrupt`); the call is then an error.
    let watch = Watch::start();
    let mut step = |src: &[T], dst: &mut [T]| {
        if !watch.interrupted() {
            step(src, dst)
        }
    };
    if let (Some(g), Some(s)) = (grid.as_slice_mut(), scratch.as_slice_mut()) {
        ping_pong(g, s, steps, &mut step, |g, s| g.copy_from_slice(s));
        return watch.check();
    }
    const WHAT: &str = "row-major copy of a strided grid";
    // The copy and its scratch, priced together before either is allocated.
    memory::check_host(2 * memory::bytes_of::<T>(grid.len()), WHAT)?;
    let mut g = memory::collect_vec(grid.len(), grid.iter().copied(), WHAT)?;
    let mut s = memory::zeroed_vec::<T>(g.len(), WHAT)?;
    ping_pong(&mut g[..], &mut s[..], steps, &mut step, |g, s| {
        g.copy_from_slice(s)
    });
    let result = ArrayView2::from_shape(grid.dim(), &g[..]).map_err(|_| Error::ShapeMismatch {
        what: "grid",
        expected: grid.shape().to_vec(),
        found: vec![g.len()],
    })?;
    grid.assign(&result);
    watch.check()
}
