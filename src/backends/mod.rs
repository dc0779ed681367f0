//! The backends: what each one *is* (its device, threads, instruction set; the GPU's
//! plumbing; `Auto`'s model), knowing no kernel, and lookup by name. What a backend
//! computes for a kernel lives in the kernel's folder ([`crate::kernels`]); the
//! `Backend` trait's implementations in `src/backend.rs` connect the two.

pub mod auto;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub mod gpu;
pub mod rayon;
pub mod scalar;
pub mod simd;

pub use self::auto::Auto;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use self::gpu::Gpu;
pub use self::rayon::Rayon;
pub use crate::matrix::{NAMES, all, by_name};
pub use scalar::Scalar;
pub use simd::Simd;
