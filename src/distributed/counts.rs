//! Message counts and offsets of the bands' rows, for MPI's collectives of varying counts.

use crate::bands::Bands;

/// Each rank's element count and offset in a row-major array of `cols` columns split into
/// `bands`, for MPI's scatter and gather of varying counts (the callers check that the
/// whole array fits MPI's count type).
pub(crate) fn counts_and_offsets(bands: &Bands, cols: usize) -> (Vec<mpi::Count>, Vec<mpi::Count>) {
    bands
        .lengths()
        .enumerate()
        .map(|(r, len)| {
            let start = bands.rows_of(r).start;
            ((len * cols) as mpi::Count, (start * cols) as mpi::Count)
        })
        .unzip()
}
