//! Norms and Julia over the ranks: local work on any backend, then a combine that every
//! rank performs identically, in rank order.

use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator as Comm;
use mpi::traits::*;
use ndarray::{Array2, ArrayView1};

use crate::backend::Backend;
use crate::bands::Bands;
use crate::distributed::agree::agree;
use crate::error::{Error, Result};
use crate::kernels::julia::JuliaParams;
use crate::kernels::norm::NormKind;
use crate::memory;
use crate::real::Real;

/// The norm `kind` of the vector whose parts the ranks hold (`local` on each), the same bits
/// on every rank and on every run for a given rank count: each rank's norm of its part by
/// `backend`, gathered everywhere and combined in rank order (sums for L1 and L2²; the
/// largest for L∞; for L2, `m·√Σ(lᵢ/m)²` with `m` the largest part, which cannot overflow).
/// NaN anywhere gives NaN, else an infinity +∞, as on one process. Collective.
///
/// # Errors
/// On every rank if `backend` fails on any.
pub fn norm<T: Real, B: Backend<T> + ?Sized>(
    comm: &Comm,
    local: ArrayView1<'_, T>,
    kind: NormKind,
    backend: &B,
) -> Result<T> {
    let mine = agree(comm, backend.norm(local, kind))?;
    let mut parts = vec![0f64; comm.size() as usize];
    // f64 holds every f32 exactly, so the parts arrive with their bits.
    comm.all_gather_into(&mine.as_f64(), &mut parts[..]);
    let parts: Vec<T> = parts.into_iter().map(T::from_f64).collect();
    Ok(combine(&parts, kind))
}

/// Combines the ranks' norms of their parts, in rank order.
fn combine<T: Real>(parts: &[T], kind: NormKind) -> T {
    if let Some(nan) = parts.iter().find(|p| p.is_nan()) {
        return *nan;
    }
    let largest = parts
        .iter()
        .fold(T::zero(), |m, &p| if p > m { p } else { m });
    match kind {
        NormKind::L1 | NormKind::L2Squared => parts.iter().fold(T::zero(), |s, &p| s + p),
        NormKind::LInf => largest,
        NormKind::L2 => {
            if largest == T::zero() || largest.is_infinite() {
                return largest;
            }
            let sum = parts.iter().fold(T::zero(), |s, &p| {
                let q = p / largest;
                s + q * q
            });
            largest * sum.sqrt()
        }
    }
}

/// The Julia image of `params`, computed in row bands over the ranks by `backend` and
/// gathered on rank `root` (`None` on the others). Collective: every rank passes the same
/// parameters.
///
/// # Errors
/// On every rank if on any: more ranks than rows, `root` not a rank, `backend` failing,
/// memory for the image on the root.
pub fn julia<T: Real, B: Backend<T> + ?Sized>(
    comm: &Comm,
    root: i32,
    params: &JuliaParams<T>,
    backend: &B,
) -> Result<Option<Array2<u32>>> {
    let rank = comm.rank();
    let ranks = comm.size() as usize;
    let (rows, cols) = params.shape();
    let computed = (|| {
        if root < 0 || root >= comm.size() {
            return Err(Error::InvalidParameter {
                name: "root",
                reason: format!("{root} is not a rank of a {ranks}-rank communicator"),
            });
        }
        Count::try_from(rows * cols).map_err(|_| Error::InvalidParameter {
            name: "params",
            reason: format!("{rows} × {cols} pixels exceed MPI's count type"),
        })?;
        let bands = Bands::new(rows, ranks)?;
        let band = bands.rows_of(rank as usize);
        let (c_re, c_im) = params.c();
        let local = JuliaParams::from_axes(
            params.xs().to_vec(),
            params.ys()[band].to_vec(),
            (c_re.as_f64(), c_im.as_f64()),
            params.max_iter(),
        )?;
        let counts = backend.julia(&local)?;
        let image = if rank == root {
            Some(memory::zeroed_array2::<u32>(
                rows,
                cols,
                "gathered julia image",
            )?)
        } else {
            None
        };
        Ok((bands, counts, image))
    })();
    let (bands, counts, mut image) = agree(comm, computed)?;
    let send = counts.as_slice().unwrap_or(&[]);
    let root_process = comm.process_at_rank(root);
    match image.as_mut().and_then(|g| g.as_slice_mut()) {
        Some(recv) => {
            let (counts, offsets) = crate::distributed::counts::counts_and_offsets(&bands, cols);
            let mut partition = PartitionMut::new(recv, counts, &offsets[..]);
            root_process.gather_varcount_into_root(send, &mut partition);
        }
        None => root_process.gather_varcount_into(send),
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_keeps_nan_infinity_and_range() {
        assert!(combine(&[1.0f64, f64::NAN, f64::INFINITY], NormKind::L2).is_nan());
        assert_eq!(
            combine(&[1.0f64, f64::INFINITY], NormKind::L1),
            f64::INFINITY
        );
        assert_eq!(combine(&[3e300f64, 4e300], NormKind::L2), 5e300);
        assert_eq!(combine(&[0.0f32, 0.0], NormKind::L2), 0.0);
        assert_eq!(combine(&[2.0f64, 5.0, 1.0], NormKind::LInf), 5.0);
        assert_eq!(combine(&[2.0f64, 5.0, 1.0], NormKind::L2Squared), 8.0);
    }
}
