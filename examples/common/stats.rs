//! Summary statistics of a result grid, exactly rounded so they can be compared to the last
//! bit with the reference's (which uses Python's `math.fsum`).

use ndarray::ArrayView2;
use xsum::{Xsum, XsumAuto};

/// Sum, extremes and L2 norm of a grid.
#[derive(Debug, Clone, Copy)]
pub struct GridStats {
    /// Σ x, exactly rounded.
    pub sum: f64,
    /// Largest value (NaN-ignoring).
    pub max: f64,
    /// Smallest value (NaN-ignoring).
    pub min: f64,
    /// √(Σ x²): the squares rounded, their sum exactly rounded, as `sqrt(fsum(x*x))`.
    pub l2: f64,
}

impl GridStats {
    /// Statistics of `grid` (values widened to f64 beforehand, exactly).
    pub fn of(grid: ArrayView2<'_, f64>) -> Self {
        let mut sum = XsumAuto::new();
        let mut sum_sq = XsumAuto::new();
        for &x in grid {
            sum.add(x);
            sum_sq.add(x * x);
        }
        GridStats {
            sum: sum.sum(),
            max: grid.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            min: grid.iter().copied().fold(f64::INFINITY, f64::min),
            l2: sum_sq.sum().sqrt(),
        }
    }
}
