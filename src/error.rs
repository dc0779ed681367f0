//! The one error type of hpnum.

/// Everything that can go wrong in hpnum. Every fallible public function returns
/// [`Result`], and no public function panics on bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kernel parameter is out of its domain (zero size, NaN coordinate, negative
    /// diffusivity, …). `name` is the parameter, `reason` says what is allowed.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name as it appears in the API.
        name: &'static str,
        /// What was wrong and what is allowed.
        reason: String,
    },

    /// Two arrays that must have the same shape do not (for example a diffusion grid and
    /// its scratch buffer).
    #[error("shape mismatch: {what} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Which array is wrong.
        what: &'static str,
        /// The shape it must have.
        expected: Vec<usize>,
        /// The shape it has.
        found: Vec<usize>,
    },

    /// The explicit diffusion scheme would blow up: it is stable only for D·dt ≤ 1/4
    /// on a unit-spaced 2D grid.
    #[error(
        "unstable diffusion: D·dt = {d_dt} exceeds 0.25, the explicit scheme's stability limit \
         on a unit 2D grid; use a smaller dt"
    )]
    Unstable {
        /// The product D·dt that was asked for.
        d_dt: f64,
    },

    /// The backend cannot run this request (a precision the device lacks, for example).
    #[error("backend `{backend}` does not support {what}")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// What it cannot do.
        what: String,
    },

    /// No GPU adapter could be found or opened. `details` says what was tried and what to
    /// install or set (a Vulkan driver such as Mesa's `mesa-vulkan-drivers`, or
    /// `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`).
    #[error("no usable GPU adapter: {details}")]
    NoAdapter {
        /// What was tried and how to fix it.
        details: String,
    },

    /// The GPU device failed: lost, out of memory, or an operation on it was refused.
    #[error("GPU device error: {details}")]
    Device {
        /// The driver's or wgpu's message.
        details: String,
    },

    /// Memory for `what` cannot be had: the byte count overflows the address space, exceeds
    /// what the machine (or the GPU) has, or the allocator refused it. Raised before anything
    /// is touched, so that a size beyond the machine is an error and never an abort or a
    /// visit from the operating system's out-of-memory killer.
    #[error("cannot allocate {bytes} bytes for {what}: {reason}")]
    OutOfMemory {
        /// What the memory was for (`julia counts`, `diffusion grid on the GPU`, …).
        what: &'static str,
        /// The bytes asked for (exact even where they overflow `usize`).
        bytes: u128,
        /// Why not: the limit it exceeds, or the allocator's or driver's answer.
        reason: String,
    },

    /// Another rank of an MPI communicator failed the same collective call (feature `mpi`):
    /// every rank returns an error, so that none waits for a partner that has given up.
    #[error("rank {rank} of the communicator failed this call, so every rank stops: {reason}")]
    Distributed {
        /// The lowest rank that failed.
        rank: i32,
        /// What this rank knows about it.
        reason: String,
    },

    /// The caller asked a long call to stop (Ctrl-C in Python, or a progress callback
    /// that returned this): nothing it was computing is returned.
    #[error("interrupted")]
    Interrupted,

    /// No backend of that name exists in this build.
    #[error("unknown backend `{name}`; available: {available}")]
    UnknownBackend {
        /// The name that was asked for.
        name: String,
        /// The names this build knows, comma-separated.
        available: String,
    },
}

/// `Result` with hpnum's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`Error::InvalidParameter`] for the parameter `name`: what crates built on hpnum
    /// (the web page's, the Python package's) return for their own callers' arguments.
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}
