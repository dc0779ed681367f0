//! What one call of a kernel costs in the units that limit it, defined once: the `Auto`
//! backend predicts with it, the benchmark matrix and the crossover example report
//! throughput and fractions of measured limits with it.
//!
//! | kernel | `work` | `memory_bytes` | `flops` | `transfer_bytes` (one-shot device call) |
//! |---|---|---|---|---|
//! | Julia | pixels × max_iter | — | 9 per pixel-iteration | both axes in, the counts out |
//! | diffusion | cells × steps | 2 × element × cells × steps | 7 per cell-step | the grid in and out |
//! | norm | elements | element × elements | — | the vector in |
//!
//! Julia's `work` is an upper bound (every pixel iterating to the cap); its measured work is
//! [`super::julia::pixel_iterations`] of the result, which the bench and the crossover
//! report against [`JULIA_FLOPS_PER_ITERATION`].

use super::julia::JuliaParams;
use crate::Real;

/// Floating-point operations per Julia pixel-iteration: four products, five sums
/// (`re·re`, `im·im`, `re·im`, `im·re`; the modulus sum, two for each new coordinate).
pub const JULIA_FLOPS_PER_ITERATION: u64 = 9;

/// Floating-point operations per diffusion cell-step: one product by −4, four sums, the
/// product by D·dt and the final sum.
pub const DIFFUSION_FLOPS_PER_CELL_STEP: u64 = 7;

/// The kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Julia escape counts.
    Julia,
    /// Diffusion steps.
    Diffusion,
    /// Any vector norm.
    Norm,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 3] = [Kernel::Julia, Kernel::Diffusion, Kernel::Norm];

    /// `julia`, `diffusion` or `norm`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Julia => "julia",
            Kernel::Diffusion => "diffusion",
            Kernel::Norm => "norm",
        }
    }

    /// The kernel called `name` ([`Kernel::name`]).
    pub fn parse(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The size of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Which kernel.
    pub kernel: Kernel,
    /// In the kernel's natural unit: Julia pixels × max_iter, diffusion cells × steps,
    /// norm elements.
    pub work: f64,
    /// Bytes a device backend must move across the bus for a one-shot call (inputs and
    /// outputs).
    pub transfer_bytes: f64,
    /// Bytes the kernel must move to and from memory at the least (0 where arithmetic,
    /// not memory, limits it).
    pub memory_bytes: f64,
    /// Floating-point operations at the most (0 where memory, not arithmetic, limits it).
    pub flops: f64,
}

impl Workload {
    /// A Julia call on `params`.
    pub fn julia<T: Real>(params: &JuliaParams<T>) -> Workload {
        let (rows, cols) = params.shape();
        let pixels = rows as f64 * cols as f64;
        let work = pixels * f64::from(params.max_iter());
        Workload {
            kernel: Kernel::Julia,
            work,
            transfer_bytes: (rows + cols) as f64 * size_of::<T>() as f64 + 4.0 * pixels,
            memory_bytes: 0.0,
            flops: work * JULIA_FLOPS_PER_ITERATION as f64,
        }
    }

    /// `steps` diffusion steps on a `rows × cols` grid of `T`.
    pub fn diffusion<T: Real>(rows: usize, cols: usize, steps: usize) -> Workload {
        let cells = rows as f64 * cols as f64;
        let element = size_of::<T>() as f64;
        let work = cells * steps as f64;
        Workload {
            kernel: Kernel::Diffusion,
            work,
            transfer_bytes: 2.0 * element * cells,
            memory_bytes: 2.0 * element * work,
            flops: work * DIFFUSION_FLOPS_PER_CELL_STEP as f64,
        }
    }

    /// A norm of `len` elements of `T`.
    pub fn norm<T: Real>(len: usize) -> Workload {
        let bytes = (len * size_of::<T>()) as f64;
        Workload {
            kernel: Kernel::Norm,
            work: len as f64,
            transfer_bytes: bytes,
            memory_bytes: bytes,
            flops: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_count_what_the_table_says() -> crate::Result<()> {
        let julia = Workload::julia(&JuliaParams::<f32>::book(200, 100)?);
        assert_eq!(julia.work, 200.0 * 200.0 * 100.0);
        assert_eq!(julia.transfer_bytes, 400.0 * 4.0 + 4.0 * 40_000.0);
        assert_eq!(julia.flops, 9.0 * julia.work);
        let diffusion = Workload::diffusion::<f64>(64, 32, 10);
        assert_eq!(diffusion.work, 64.0 * 32.0 * 10.0);
        assert_eq!(diffusion.memory_bytes, 2.0 * 8.0 * 64.0 * 32.0 * 10.0);
        assert_eq!(diffusion.transfer_bytes, 2.0 * 8.0 * 64.0 * 32.0);
        let norm = Workload::norm::<f32>(1000);
        assert_eq!((norm.work, norm.memory_bytes), (1000.0, 4000.0));
        assert_eq!(Kernel::parse("norm"), Some(Kernel::Norm));
        Ok(())
    }
}
