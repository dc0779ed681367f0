//! The scalar backend: the kernels' reference definitions, one element at a time, on one
//! core, in the book's operation order and without FMA. It is the yardstick: the other
//! backends are tested against it and reproduce it bit for bit where their kernel says so.
//! Its code is each kernel's `reference` (`src/kernels/<kernel>/mod.rs`).

use crate::backend::{Capabilities, Describe};

/// Plain loops over the reference definitions in [`crate::kernels`].
///
/// ```
/// use hpnum::{Backend, JuliaParams, Scalar};
///
/// let counts = Scalar.julia(&JuliaParams::<f64>::book(1000, 300)?)?;
/// assert_eq!(counts.iter().map(|&n| u64::from(n)).sum::<u64>(), 33_219_980); // the book's
/// # Ok::<(), hpnum::Error>(())
/// ```
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
