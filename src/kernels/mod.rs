//! The kernels, one folder each: `julia/`, `diffusion/`, `norm/`. A kernel's folder holds
//! everything about it: its definition (parameters, validation, the scalar reference, what
//! one call costs), its SIMD and rayon code, its GPU host code beside its WGSL shader, and
//! the representative calls the benchmarks and the crossover sweep time ([`Case`]).
//! `crate::backends` is the plumbing they run on and names no kernel.
//!
//! [`Kernel`] is the one list of kernels: `Auto`'s default costs, the benchmark matrix, the
//! crossover sweep and the Python package's listing iterate [`Kernel::ALL`].
//!
//! ```
//! use hpnum::kernels::Kernel;
//!
//! let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
//! assert_eq!(names, ["julia", "diffusion", "norm"]);
//! assert_eq!(Kernel::parse("norm"), Some(Kernel::Norm));
//! ```

pub(crate) mod case;
pub mod diffusion;
pub mod julia;
pub(crate) mod kernel;
pub mod norm;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod tune;
pub mod workload;

#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use self::case::GpuFlavour;
pub use self::case::{Case, CaseRun};
use self::kernel::KernelInfo;
pub use self::kernel::{Kernel, Limit};
pub use self::workload::Workload;

impl Kernel {
    pub(crate) fn info(self) -> &'static KernelInfo {
        match self {
            Kernel::Julia => &julia::INFO,
            Kernel::Diffusion => &diffusion::INFO,
            Kernel::Norm => &norm::INFO,
        }
    }

    /// `julia`, `diffusion` or `norm`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The kernel called `name` ([`Kernel::name`]).
    pub fn parse(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What a call's size measures: `width` (Julia), `grid side` (diffusion), `length`
    /// (norms).
    pub fn size_label(self) -> &'static str {
        self.info().size_label
    }

    /// The unit of the kernel's throughput figures (`Gpix·it/s`, `GB/s`).
    pub fn unit(self) -> &'static str {
        self.info().unit
    }

    /// What limits it: the yardstick its throughput is a fraction of.
    pub fn limit(self) -> Limit {
        self.info().limit
    }

    /// The sizes the benchmark matrix times.
    pub fn bench_sizes(self) -> &'static [usize] {
        self.info().bench_sizes
    }

    /// The sizes a crossover sweep visits: fewer with `quick` (a run under a minute), larger
    /// ones on a real GPU, where a one-shot call's transfers are amortised only there.
    pub fn sweep_sizes(self, quick: bool, real_gpu: bool) -> Vec<usize> {
        let (first, last, factor) = match (quick, real_gpu) {
            (true, _) => self.info().sweep[0],
            (false, false) => self.info().sweep[1],
            (false, true) => self.info().sweep[2],
        };
        std::iter::successors(Some(first), |&n| n.checked_mul(factor.max(2)))
            .take_while(|&n| n <= last)
            .collect()
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_listed_once_with_its_own_facts() {
        for (i, kernel) in Kernel::ALL.into_iter().enumerate() {
            assert_eq!(Kernel::parse(kernel.name()), Some(kernel));
            assert!(Kernel::ALL[..i].iter().all(|k| k.name() != kernel.name()));
            assert!(!kernel.bench_sizes().is_empty());
            for (quick, gpu) in [(true, false), (false, false), (false, true)] {
                let sizes = kernel.sweep_sizes(quick, gpu);
                assert!(sizes.len() >= 3, "{kernel}: {sizes:?}");
                assert!(sizes.windows(2).all(|w| w[0] < w[1]));
            }
        }
        assert_eq!(Kernel::parse("fft"), None);
    }
}
