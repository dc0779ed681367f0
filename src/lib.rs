//! # hpnum
//!
//! The numeric kernels of *High Performance Python* (Gorelick & Ozsvald) — the Julia set,
//! 2D heat diffusion with periodic boundaries and vector norms — on several backends behind
//! one trait, [`Backend`], so that the same computation can be timed on each and the answer
//! to "when does the GPU beat the CPU, and when do transfers eat the gain?" measured on the
//! machine at hand.
//!
//! - [`kernels`] defines each kernel once: parameters, validation and the scalar reference.
//! - [`backends`] holds the implementations; [`Scalar`] is the reference every other backend
//!   is tested against.
//!
//! ```
//! use hpnum::{Backend, JuliaParams, NormKind, Scalar};
//! use ndarray::Array1;
//!
//! let counts = Scalar.julia(&JuliaParams::<f64>::book(64, 50)?)?;
//! assert_eq!(counts.dim(), (65, 65)); // the book's float-accumulated axes
//! assert_eq!(counts.iter().map(|&n| u64::from(n)).sum::<u64>(), 32850);
//!
//! let v = Array1::from_iter((0..1000).map(|i| i as f64));
//! assert_eq!(Scalar.norm(v.view(), NormKind::L2Squared)?, 332_833_500.0);
//! # Ok::<(), hpnum::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod backends;
pub mod bands;
#[cfg(feature = "mpi")]
pub mod distributed;
mod error;
pub mod kernels;
mod memory;
mod real;

pub use backend::{AnyBackend, Backend, Capabilities, Describe, DeviceKind};
#[cfg(feature = "gpu")]
pub use backends::Gpu;
pub use backends::{Auto, Rayon, Scalar, Simd};
pub use error::{Error, Result};
pub use kernels::diffusion::DiffusionParams;
pub use kernels::julia::{JuliaParams, Region};
pub use kernels::norm::NormKind;
pub use real::{Precision, Real};

/// The README's code, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
