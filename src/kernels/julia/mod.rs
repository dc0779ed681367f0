//! The Julia set (book ch. 2): escape-time iteration counts over a grid of starting points.
//!
//! Per pixel, `z` starts at the pixel's coordinate and
//! `while |z|² < 4 and n < max_iter { z = z·z + c; n += 1 }`; the output is `n`.
//! The complex product is evaluated exactly as the book's Python does, each operation
//! rounded and no fused multiply-add:
//! `re' = (re·re − im·im) + c_re`, `im' = (re·im + im·re) + c_im`.
//! Backends that keep this order reproduce [`reference()`] bit for bit; the book's own sum for
//! its 1000×1000, 300-iteration case is 33 219 980 (f64).
//!
//! Every backend's version is here: [`reference()`] (the scalar backend), `simd.rs` (vectors
//! of pixels, several in flight), `rayon.rs` (rows by work stealing), `gpu.rs` with
//! `julia.wgsl` (one invocation per pixel), and `case.rs` (the calls the benchmarks time).
//!
//! ```
//! use hpnum::{Backend, JuliaParams, Rayon, Scalar};
//!
//! let params = JuliaParams::<f64>::book(200, 100)?;
//! let counts = Rayon::new().julia(&params)?;
//! assert_eq!(counts, Scalar.julia(&params)?); // the same bits on every CPU backend
//! assert_eq!(hpnum::kernels::julia::pixel_iterations(&counts), 524_490);
//! # Ok::<(), hpnum::Error>(())
//! ```

pub(crate) mod case;
#[cfg(feature = "gpu")]
pub(crate) mod gpu;
pub(crate) mod rayon;
pub(crate) mod simd;

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::interrupt::Watch;
use crate::kernels::kernel::{DefaultRates, Kernel, KernelInfo, Limit};
use crate::kernels::workload::Workload;
use crate::memory;
use crate::real::Real;

/// Floating-point operations per pixel-iteration: four products, five sums (`re·re`,
/// `im·im`, `re·im`, `im·re`; the modulus sum, two for each new coordinate).
pub const FLOPS_PER_ITERATION: u64 = 9;

pub(crate) const INFO: KernelInfo = KernelInfo {
    name: "julia",
    size_label: "width",
    unit: "Gpix·it/s",
    limit: Limit::Arithmetic,
    // Pixel-iterations per second: measured on a 2-core x86-64 machine (AVX-512); the GPU's
    // is a guess for a mid-range discrete part.
    rates: DefaultRates {
        scalar: 2.9e9,
        simd: 4.9e10,
        rayon_per_thread: 4.5e10,
        // waking the pool: the caller waits for its workers.
        rayon_overhead: 2e-5,
        discrete_gpu: 2e12,
    },
    bench_sizes: &[200, 1000],
    sweep: [(16, 1024, 4), (16, 1024, 2), (16, 4096, 2)],
};

impl Workload {
    /// A Julia call on `params`: `work` is pixels × max_iter (an upper bound: every pixel
    /// iterating to the cap), `transfer_bytes` both axes in and the counts out.
    pub fn julia<T: Real>(params: &JuliaParams<T>) -> Workload {
        let (rows, cols) = params.shape();
        let pixels = rows as f64 * cols as f64;
        let work = pixels * f64::from(params.max_iter());
        Workload {
            kernel: Kernel::Julia,
            work,
            transfer_bytes: (rows + cols) as f64 * size_of::<T>() as f64 + 4.0 * pixels,
            memory_bytes: 0.0,
            flops: work * FLOPS_PER_ITERATION as f64,
        }
    }
}

/// The book's region: x and y both span [−1.8, 1.8].
pub const BOOK_REGION: Region = Region {
    x_min: -1.8,
    x_max: 1.8,
    y_min: -1.8,
    y_max: 1.8,
};

/// The book's constant c = −0.62772 − 0.42193i, as (re, im).
pub const BOOK_C: (f64, f64) = (-0.62772, -0.42193);

/// A rectangle of the complex plane, in `f64` whatever precision the kernel runs in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Left edge (real part of column 0).
    pub x_min: f64,
    /// Right edge (excluded: columns are left edges of equal cells).
    pub x_max: f64,
    /// Bottom edge (excluded: rows are top edges of equal cells).
    pub y_min: f64,
    /// Top edge (imaginary part of row 0).
    pub y_max: f64,
}

/// Everything a Julia computation needs: the pixel axes, the constant and the iteration cap.
///
/// The output of every backend has shape `(ys.len(), xs.len())`: row `r`, column `k` holds the
/// count for the starting point `xs[k] + i·ys[r]`. Construction validates, so a `JuliaParams`
/// always describes a computation that can run.
#[derive(Debug, Clone, PartialEq)]
pub struct JuliaParams<T: Real> {
    xs: Vec<T>,
    ys: Vec<T>,
    c: (T, T),
    max_iter: u32,
}

impl<T: Real> JuliaParams<T> {
    /// The book's grid for `width`: axes built by repeated `f64` addition, exactly as
    /// `calc_pure_python` builds them, then rounded to `T`.
    ///
    /// The accumulation can yield one more point than `width` on each axis (width 64 gives a
    /// 65×65 grid); widths 200 and 1000 give square grids of that size.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `width` is 0; [`Error::OutOfMemory`] if the axes and
    /// the counts a call would return cannot be allocated (checked before anything is).
    pub fn book(width: usize, max_iter: u32) -> Result<Self> {
        check_book_width(width)?;
        let axis = width.saturating_add(1);
        check_footprint::<T>(axis, axis)?;
        let (xs, ys) = book_axes(width)?;
        Self::from_axes(xs, ys, BOOK_C, max_iter)
    }

    /// A `cols × rows` grid over `region` with equal cells, point `(r, k)` at the top-left
    /// corner of its cell ([`region_axes`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `cols` or `rows` is 0, a bound or `c` is not finite,
    /// or the region is empty (`x_min ≥ x_max` or `y_min ≥ y_max`); [`Error::OutOfMemory`] if
    /// the axes and the counts a call would return cannot be allocated (checked before
    /// anything is).
    pub fn new(
        region: Region,
        cols: usize,
        rows: usize,
        c: (f64, f64),
        max_iter: u32,
    ) -> Result<Self> {
        check_region(region, cols, rows)?;
        check_footprint::<T>(rows, cols)?;
        let (xs, ys) = region_axes(region, cols, rows)?;
        Self::from_axes(xs, ys, c, max_iter)
    }

    /// Explicit axes: column `k` starts at real part `xs[k]`, row `r` at imaginary part
    /// `ys[r]`. Either axis may be empty (the output is then empty); `c` is rounded to `T`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a coordinate or `c` is NaN or infinite;
    /// [`Error::OutOfMemory`] if the counts a call would return cannot be allocated.
    pub fn from_axes(xs: Vec<T>, ys: Vec<T>, c: (f64, f64), max_iter: u32) -> Result<Self> {
        memory::check_host(
            memory::bytes_of::<u32>(xs.len()) * ys.len() as u128,
            "julia counts",
        )?;
        if let Some(k) = xs.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(
                "xs",
                format!("coordinates must be finite, xs[{k}] = {}", xs[k]),
            ));
        }
        if let Some(r) = ys.iter().position(|y| !y.is_finite()) {
            return Err(Error::invalid(
                "ys",
                format!("coordinates must be finite, ys[{r}] = {}", ys[r]),
            ));
        }
        let c = finite_c::<T>(c)?;
        Ok(JuliaParams {
            xs,
            ys,
            c,
            max_iter,
        })
    }

    /// The same grid and iteration cap with another constant `c` (rounded to `T`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `c` is not finite in `T`.
    pub fn with_c(self, c: (f64, f64)) -> Result<Self> {
        let c = finite_c::<T>(c)?;
        Ok(JuliaParams { c, ..self })
    }

    /// Real parts of the columns' starting points.
    pub fn xs(&self) -> &[T] {
        &self.xs
    }

    /// Imaginary parts of the rows' starting points (descending for the book's grid).
    pub fn ys(&self) -> &[T] {
        &self.ys
    }

    /// The constant c as (re, im).
    pub fn c(&self) -> (T, T) {
        self.c
    }

    /// The iteration cap: counts lie in `0..=max_iter`.
    pub fn max_iter(&self) -> u32 {
        self.max_iter
    }

    /// Output shape `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.ys.len(), self.xs.len())
    }
}

/// `c` rounded to `T`, if finite there.
fn finite_c<T: Real>(c: (f64, f64)) -> Result<(T, T)> {
    let c = (T::from_f64(c.0), T::from_f64(c.1));
    if !c.0.is_finite() || !c.1.is_finite() {
        return Err(Error::invalid(
            "c",
            format!("must be finite in {}, got {} + {}i", T::PRECISION, c.0, c.1),
        ));
    }
    Ok(c)
}

/// The axes of [`JuliaParams::book`]: built by repeated `f64` addition, exactly as
/// `calc_pure_python` builds them, then rounded to `T`; on their own, without the counts
/// a call would return (a caller computing the image in blocks, as `hpnum.dask` does,
/// never holds them whole). Returns `(xs, ys)`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `width` is 0; [`Error::OutOfMemory`] if the axes cannot
/// be allocated.
pub fn book_axes<T: Real>(width: usize) -> Result<(Vec<T>, Vec<T>)> {
    check_book_width(width)?;
    let axis = width.saturating_add(1);
    let Region {
        x_min: x1,
        x_max: x2,
        y_min: y1,
        y_max: y2,
    } = BOOK_REGION;
    let x_step = (x2 - x1) / width as f64;
    let y_step = (y1 - y2) / width as f64;
    let mut xs = memory::with_capacity(axis, "julia axes")?;
    let mut x = x1;
    while x < x2 {
        xs.push(T::from_f64(x));
        x += x_step;
    }
    let mut ys = memory::with_capacity(axis, "julia axes")?;
    let mut y = y2;
    while y > y1 {
        ys.push(T::from_f64(y));
        y += y_step;
    }
    Ok((xs, ys))
}

/// The axes of [`JuliaParams::new`], on their own (as [`book_axes`]):
/// `x_k = x_min + k·(x_max − x_min)/cols`, `y_r = y_max − r·(y_max − y_min)/rows`, computed
/// in `f64` (multiplied, not accumulated) and rounded to `T`. Returns `(xs, ys)`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `cols` or `rows` is 0, a bound is not finite, or the
/// region is empty; [`Error::OutOfMemory`] if the axes cannot be allocated.
pub fn region_axes<T: Real>(region: Region, cols: usize, rows: usize) -> Result<(Vec<T>, Vec<T>)> {
    check_region(region, cols, rows)?;
    let Region {
        x_min,
        x_max,
        y_min,
        y_max,
    } = region;
    let x_step = (x_max - x_min) / cols as f64;
    let y_step = (y_max - y_min) / rows as f64;
    let xs = memory::collect_vec(
        cols,
        (0..cols).map(|k| T::from_f64(x_min + k as f64 * x_step)),
        "julia axes",
    )?;
    let ys = memory::collect_vec(
        rows,
        (0..rows).map(|r| T::from_f64(y_max - r as f64 * y_step)),
        "julia axes",
    )?;
    Ok((xs, ys))
}

fn check_book_width(width: usize) -> Result<()> {
    if width == 0 {
        return Err(Error::invalid("width", "must be at least 1"));
    }
    Ok(())
}

fn check_region(region: Region, cols: usize, rows: usize) -> Result<()> {
    if cols == 0 {
        return Err(Error::invalid("cols", "must be at least 1"));
    }
    if rows == 0 {
        return Err(Error::invalid("rows", "must be at least 1"));
    }
    let Region {
        x_min,
        x_max,
        y_min,
        y_max,
    } = region;
    if ![x_min, x_max, y_min, y_max].iter().all(|v| v.is_finite()) {
        return Err(Error::invalid(
            "region",
            format!("bounds must be finite, got {region:?}"),
        ));
    }
    if x_min >= x_max || y_min >= y_max {
        return Err(Error::invalid(
            "region",
            format!("needs x_min < x_max and y_min < y_max, got {region:?}"),
        ));
    }
    Ok(())
}

/// Checks, before anything is allocated, that a `rows × cols` call's axes and counts fit
/// the memory this machine has available: a request beyond it is refused at once, not
/// after gigabytes of axes have been built.
fn check_footprint<T: Real>(rows: usize, cols: usize) -> Result<()> {
    let axes = memory::bytes_of::<T>(rows) + memory::bytes_of::<T>(cols);
    let counts = memory::bytes_of::<u32>(rows) * cols as u128;
    memory::check_host(axes + counts, "julia counts and axes")
}

/// Total iterations that produced `counts`: the work measure of pixel-iterations per second.
pub fn pixel_iterations(counts: &Array2<u32>) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}

/// The escape count of one starting point: the kernel's definition, in the book's order.
#[inline(always)]
pub fn escape_count<T: Real>(z_re: T, z_im: T, c: (T, T), max_iter: u32) -> u32 {
    let four = T::from_f64(4.0);
    let (mut re, mut im) = (z_re, z_im);
    let mut n = 0;
    while n < max_iter && re * re + im * im < four {
        let new_re = (re * re - im * im) + c.0;
        im = (re * im + im * re) + c.1;
        re = new_re;
        n += 1;
    }
    n
}

/// The scalar reference: every pixel through [`escape_count`], row by row.
///
/// # Errors
/// [`Error::OutOfMemory`] if the counts cannot be allocated.
pub fn reference<T: Real>(params: &JuliaParams<T>) -> Result<Array2<u32>> {
    let (c, max_iter) = (params.c, params.max_iter);
    counts_row_major(params, |cells, watch| {
        let cols = params.xs.len().max(1);
        for (row, (y, counts)) in params.ys.iter().zip(cells.chunks_mut(cols)).enumerate() {
            if row % 8 == 0 && watch.interrupted() {
                return;
            }
            for (n, &x) in counts.iter_mut().zip(&params.xs) {
                *n = escape_count(x, *y, c, max_iter);
            }
        }
    })
}

/// The counts of `params` as a new array, filled by `fill` in row-major order; `fill` stops
/// early when its watch says so ([`crate::interrupt`]), and the call is then an error.
///
/// # Errors
/// [`Error::OutOfMemory`] if the counts cannot be allocated; [`Error::Interrupted`].
pub(crate) fn counts_row_major<T: Real>(
    params: &JuliaParams<T>,
    fill: impl FnOnce(&mut [u32], Watch),
) -> Result<Array2<u32>> {
    let watch = Watch::start();
    let (rows, cols) = params.shape();
    let mut counts = memory::zeroed_array2(rows, cols, "julia counts")?;
    match counts.as_slice_mut() {
        Some(cells) => fill(cells, watch),
        // A fresh array is row-major: unreachable, and an error rather than a panic.
        None => {
            return Err(Error::ShapeMismatch {
                what: "julia counts",
                expected: vec![rows, cols],
                found: vec![0],
            });
        }
    }
    watch.check()?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_axes_gain_a_point_at_width_64() -> Result<()> {
        let p = JuliaParams::<f64>::book(64, 50)?;
        assert_eq!(p.shape(), (65, 65));
        assert_eq!(p.xs()[0], -1.8);
        assert_eq!(p.ys()[0], 1.8);
        assert!(p.ys().windows(2).all(|w| w[0] > w[1]));
        Ok(())
    }
}
