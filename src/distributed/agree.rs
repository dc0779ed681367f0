//! A collective agreement on success: every rank learns whether any rank failed, so that a
//! failure on one rank becomes an error on all of them instead of a hang.

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator as Comm;
use mpi::traits::*;

use crate::error::{Error, Result};

/// Returns `local` where it failed; else an `Error::Distributed` naming the lowest failing
/// rank if any other failed; else `Ok`. Every rank must call it at the same point.
pub(crate) fn agree<T>(comm: &Comm, local: Result<T>) -> Result<T> {
    let mine: i32 = if local.is_err() {
        comm.rank()
    } else {
        i32::MAX
    };
    let mut lowest = i32::MAX;
    comm.all_reduce_into(&mine, &mut lowest, SystemOperation::min());
    match local {
        Err(e) => Err(e),
        Ok(_) if lowest != i32::MAX => Err(Error::Distributed {
            rank: lowest,
            reason: "it reported an error (see that rank's output)".into(),
        }),
        Ok(value) => Ok(value),
    }
}
