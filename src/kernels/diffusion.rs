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

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::{Error, Real, Result};

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
