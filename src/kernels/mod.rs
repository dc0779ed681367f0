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

mod case;
pub mod diffusion;
pub mod julia;
pub mod norm;
pub mod workload;

#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use self::case::GpuFlavour;
pub use self::case::{Case, CaseRun};
pub use self::workload::Workload;
use crate::{Real, Result};

/// The kernels, in the order every listing uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Julia escape counts (book ch. 2).
    Julia,
    /// 2D heat diffusion steps (book ch. 6–7).
    Diffusion,
    /// A vector norm (book ch. 6).
    Norm,
}

/// What limits a kernel on any machine: the yardstick its throughput is reported against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Floating-point arithmetic without fused multiply-adds (Julia).
    Arithmetic,
    /// Streaming one array into another: bytes read plus bytes written (diffusion).
    CopyBandwidth,
    /// Streaming an array in: bytes read (norms).
    ReadBandwidth,
}

/// Work units per second of a backend for a kernel, with no measurement: the round
/// figures `Auto` starts from (see `crate::backends::auto::model`). CPU rates are per core
/// in f64; f32 runs twice as many SIMD lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DefaultRates {
    pub scalar: f64,
    pub simd: f64,
    pub rayon_per_thread: f64,
    /// A mid-range discrete GPU in f32.
    pub discrete_gpu: f64,
}

/// A kernel's facts that the shared machinery needs, declared in its folder.
pub(crate) struct KernelInfo {
    pub name: &'static str,
    /// What the size of one of its calls measures (`width`, `grid side`, `length`).
    pub size_label: &'static str,
    /// The unit of its throughput figures.
    pub unit: &'static str,
    pub limit: Limit,
    pub rates: DefaultRates,
    /// Sizes the benchmark matrix times.
    pub bench_sizes: &'static [usize],
    /// Sizes the crossover sweep visits: `(first, last, factor)` for a quick run, a full
    /// run, and a full run on a real GPU (where transfers are amortised only at larger sizes).
    pub sweep: [(usize, usize, usize); 3],
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 3] = [Kernel::Julia, Kernel::Diffusion, Kernel::Norm];

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

    /// The kernel's representative calls at `size`, inputs built: one per variant the
    /// benchmarks time (norms: L2 and the book's ‖v‖²), the first being the one the
    /// crossover sweep uses.
    ///
    /// # Errors
    /// [`crate::Error::OutOfMemory`] if the inputs cannot be allocated;
    /// [`crate::Error::InvalidParameter`] for a size of 0.
    pub fn cases<T: Real>(self, size: usize) -> Result<Vec<Box<dyn Case<T>>>> {
        match self {
            Kernel::Julia => julia::case::cases(size),
            Kernel::Diffusion => diffusion::case::cases(size),
            Kernel::Norm => norm::case::cases(size),
        }
    }

    /// The first of [`Kernel::cases`]: the call the crossover sweep times.
    ///
    /// # Errors
    /// As [`Kernel::cases`].
    pub fn case<T: Real>(self, size: usize) -> Result<Box<dyn Case<T>>> {
        self.cases(size)?
            .into_iter()
            .next()
            .ok_or_else(|| crate::Error::invalid("kernel", format!("{} has no case", self.name())))
    }

    /// The GPU shader holding the kernel's entry points.
    #[cfg(feature = "gpu")]
    pub(crate) fn shader(self) -> crate::backends::gpu::Shader {
        match self {
            Kernel::Julia => julia::gpu::SHADER,
            Kernel::Diffusion => diffusion::gpu::SHADER,
            Kernel::Norm => norm::gpu::SHADER,
        }
    }
}

#[cfg(feature = "gpu")]
impl crate::backends::gpu::Shader {
    /// Every shader: `Shader::ALL` of hpnum 0.1, when `Shader` was an enum.
    #[deprecated(since = "0.2.0", note = "use `Shader::all()`")]
    pub const ALL: [crate::backends::gpu::Shader; 4] = [
        julia::gpu::SHADER,
        diffusion::gpu::SHADER,
        norm::gpu::SHADER,
        crate::backends::gpu::PROBE_SHADER,
    ];
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

    #[cfg(feature = "gpu")]
    #[test]
    #[allow(deprecated)]
    fn the_deprecated_shader_list_names_current_shaders() {
        let all = crate::backends::gpu::Shader::all();
        assert!(
            crate::backends::gpu::Shader::ALL
                .iter()
                .all(|s| all.contains(s))
        );
    }
}
