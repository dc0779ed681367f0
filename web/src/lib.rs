//! hpnum in the browser: the library's kernels on the visitor's CPU (WebAssembly) and GPU
//! (WebGPU), for the page in `web/` (`index.html`, `app.js`). Nothing here computes a
//! kernel: the page calls hpnum's own backends, shaders and host–shader contract.
//!
//! - [`selftest`]: fixed cases on the scalar backend and the GPU, the same code natively
//!   (`cargo run -p hpnum-web --bin selftest`) and in the browser (`index.html?selftest`).
//! - In the browser (`wasm32`), the functions the page calls (`wasm` module): the adapter,
//!   the self-test, and the crossover's measurements, each a JavaScript promise that
//!   resolves with JSON or rejects with a message the page shows (never a panic).

pub mod crossover;
pub mod selftest;

#[cfg(target_arch = "wasm32")]
mod wasm;
