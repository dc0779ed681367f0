//! What every kernel is to the shared machinery: the list of kernels ([`Kernel`]), what
//! limits each ([`Limit`]), and the facts a kernel's folder declares about itself
//! ([`KernelInfo`]). The facts themselves live in each folder (`INFO`); `super` maps a
//! [`Kernel`] to them.

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
/// figures `Auto` starts from (see `crate::calibration`). CPU rates are per core in f64;
/// f32 runs twice as many SIMD lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DefaultRates {
    pub scalar: f64,
    pub simd: f64,
    pub rayon_per_thread: f64,
    /// What a call on the rayon backend costs before its work, in seconds: waking the
    /// pool, or nothing much where the caller starts alone (norms).
    pub rayon_overhead: f64,
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
}
