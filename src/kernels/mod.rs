//! The kernels' definitions: parameters, validation and the scalar reference of each, in one
//! place. Every backend computes what these modules define, and is tested against them.

pub mod diffusion;
pub mod julia;
pub mod norm;
pub mod workload;
