//! Explicit SIMD on the host CPU: the element trait over both precisions (`element.rs`) and
//! the instruction-set levels and their run-time dispatch (`isa.rs`). The SIMD backend is
//! one level on one core, the rayon backend the same level on every core; each kernel's
//! vector code (`src/kernels/<kernel>/simd.rs`) is written against this layer.
//!
//! Kernels are written once, generic over [pulp]'s `Simd` trait, and pulp compiles each for
//! every level it supports and dispatches to the best one the CPU has: AVX-512, AVX2 or
//! SSE4.2 on x86-64, NEON on aarch64, a one-lane fallback elsewhere. One binary therefore runs
//! its best path on every machine, without `-C target-cpu=native`, and hpnum contains no
//! per-ISA intrinsics and no `unsafe`. pulp is faer's SIMD layer, maintained with it; hand
//! written `std::arch` code would mean three copies of every kernel per precision.
//!
//! Julia and diffusion perform the reference's operations in the reference's order, lane by
//! lane and without FMA, so they equal the scalar backend bit for bit. Norms use a pairwise
//! tree with the same error bound as the reference, not the same bits.
//!
//! [pulp]: https://docs.rs/pulp

pub(crate) mod element;
pub(crate) mod isa;
