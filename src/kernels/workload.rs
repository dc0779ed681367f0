//! What one call of a kernel costs in the units that limit it: the `Auto` backend predicts
//! with it, the benchmark matrix and the crossover sweep report throughput and fractions of
//! measured limits with it. Each kernel defines its constructor in its folder
//! ([`Workload::julia`], [`Workload::diffusion`], [`Workload::norm`]).
//!
//! | kernel | `work` | `memory_bytes` | `flops` | `transfer_bytes` (one-shot device call) |
//! |---|---|---|---|---|
//! | Julia | pixels × max_iter | — | 9 per pixel-iteration | both axes in, the counts out |
//! | diffusion | cells × steps | 2 × element × cells × steps | 7 per cell-step | the grid in and out |
//! | norm | elements | element × elements | — | the vector in |
//!
//! Julia's `work` is an upper bound (every pixel iterating to the cap); its measured work is
//! [`super::julia::pixel_iterations`] of the result, which the bench and the crossover
//! report against [`super::julia::FLOPS_PER_ITERATION`].
//!
//! ```
//! use hpnum::kernels::Workload;
//!
//! let step = Workload::diffusion::<f32>(1024, 1024, 1);
//! assert_eq!(step.memory_bytes, 8.0 * 1024.0 * 1024.0); // 8 bytes per f32 cell-step
//! assert_eq!(step.transfer_bytes, step.memory_bytes); // the grid in and out, once
//! ```

use crate::kernels::kernel::Kernel;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::julia::JuliaParams;

    #[test]
    fn workloads_count_what_the_table_says() -> crate::error::Result<()> {
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
