//! Diffusion, norms and Julia over the ranks of an MPI communicator (feature `mpi`, on
//! rsmpi and the system's MPI: Open MPI, MPICH, Slurm's `srun`).
//!
//! - [`DistributedGrid`]: a global `rows × cols` grid split into row bands, one per rank
//!   (the periodic ring of a 1-D Cartesian decomposition), each stepped by any local backend.
//!   Every K steps ([`DistributedGrid::halo`]) each rank swaps K-row halos with its two
//!   neighbours (nonblocking sends and receives), then steps its band plus halos K times
//!   locally: the halo's own cells go stale one row per step, the band's never do. On host
//!   backends the band's interior can be stepped while the halos are in flight
//!   ([`DistributedGrid::set_overlap`]); on a GPU the band stays resident between
//!   exchanges. Each
//!   cell's operations are the single-process step's, so the result is **bit-identical** to
//!   one process for any rank count and any K; fewer, larger messages as K grows.
//! - [`norm`]: each rank's norm of its part, combined in rank order on every rank (the same
//!   bits on every run for a given rank count; L2 stays overflow-safe).
//! - [`julia`]: row bands of the image, gathered on one rank.
//!
//! Errors stay errors: a call that fails on one rank fails on every rank
//! ([`crate::Error::Distributed`] on the others), after a collective agreement, so that no
//! rank waits forever for a partner that has given up.

mod agree;
mod counts;
mod grid;
mod reduce;

pub use self::grid::{DistributedGrid, StepTimes};
pub use self::reduce::{julia, norm};
pub use crate::bands::Bands;

/// The communicator type hpnum's distributed calls take (`universe.world()`, or a
/// duplicate or split of it).
pub use mpi::topology::SimpleCommunicator as Comm;
