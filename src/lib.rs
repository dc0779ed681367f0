//! # hpnum
//!
//! The numeric kernels of *High Performance Python* (Gorelick & Ozsvald) — the Julia set,
//! 2D heat diffusion with periodic boundaries and vector norms — on several backends behind
//! one trait, [`Backend`], so that the same computation can be timed on each and the answer
//! to "when does the GPU beat the CPU, and when do transfers eat the gain?" measured on the
//! machine at hand.
//!
//! - [`kernels`] holds each kernel in a folder of its own: its definition (parameters,
//!   validation, the scalar reference, what a call costs) beside every backend's version of
//!   it, SIMD, rayon and GPU host code with its WGSL shader.
//! - [`backends`] holds what each backend is (its device, threads, instruction set, the
//!   GPU's plumbing, `Auto`'s model), knowing no kernel; [`Scalar`] is the reference every
//!   other backend is tested against.
//! - [`Backend`] is the one interface; `src/backend.rs` connects each backend to each
//!   kernel. `ARCHITECTURE.md` says where each kind of change goes.
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

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
pub mod backends;
pub mod bands;
pub mod calibration;
pub mod crossover;
#[cfg(feature = "mpi")]
#[cfg_attr(docsrs, doc(cfg(feature = "mpi")))]
pub mod distributed;
mod error;
pub mod interrupt;
pub mod kernels;
mod matrix;
mod memory;
mod real;
mod simd;

pub use backend::{AnyBackend, Backend, Capabilities, Describe, DeviceKind};
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use backends::Gpu;
pub use backends::{Auto, Rayon, Scalar, Simd};
pub use error::{Error, Result};
pub use interrupt::interrupt_running_calls;
pub use kernels::diffusion::DiffusionParams;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use kernels::diffusion::gpu::Transfers;
#[cfg(feature = "gpu")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpu")))]
pub use kernels::diffusion::multi_gpu::MultiGpuGrid;
pub use kernels::diffusion::settings::{DiffusionSettings, TemporalBlocking};
pub use kernels::julia::{JuliaParams, Region};
pub use kernels::norm::NormKind;
pub use memory::check_host;
pub use real::{PerPrecision, Precision, Real};

/// The README's code, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
