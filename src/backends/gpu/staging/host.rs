//! The host side of a transfer: data moves straight between the caller's memory, in any
//! ndarray layout, and mapped memory. A contiguous array is one copy each way, spread over
//! the rayon pool's threads for large chunks; a strided view is gathered (scattered) row
//! piece by row piece, never through a whole-array copy.

use std::ops::Range;

use bytemuck::Pod;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

use crate::backends::gpu::context::Context;
use crate::backends::gpu::errors::device_error;
use crate::error::Result;

/// Host copies at least this long are split over the rayon pool's threads.
const PARALLEL_COPY_BYTES: usize = 4 << 20;
/// Each thread's share of a split copy is at least this long.
const PARALLEL_PIECE_BYTES: usize = 1 << 20;
/// The host side of an upload, in the order of the device buffer's elements.
pub(crate) enum Source<'a, T> {
    /// Contiguous: copied straight into mapped memory.
    Slice(&'a [T]),
    /// Any other layout, read row by row (a vector is one row).
    Rows(ArrayView2<'a, T>),
}

impl<'a, T: Pod> Source<'a, T> {
    /// A grid of any layout, in row-major order.
    pub(crate) fn grid(view: ArrayView2<'a, T>) -> Self {
        match view.to_slice() {
            Some(slice) => Source::Slice(slice),
            None => Source::Rows(view),
        }
    }

    /// A vector of any stride, in index order.
    pub(crate) fn vector(view: ArrayView1<'a, T>) -> Self {
        match view.to_slice() {
            Some(slice) => Source::Slice(slice),
            None => Source::Rows(view.insert_axis(Axis(0))),
        }
    }

    /// Elements `range` into `out` (their bytes), gathering strided rows through `gather`.
    pub(super) fn write(
        &self,
        range: Range<usize>,
        out: wgpu::WriteOnly<'_, [u8]>,
        gather: &mut Vec<T>,
    ) -> Result<()> {
        if range.end > self.len() {
            return Err(short_host_side());
        }
        match self {
            Source::Slice(slice) => {
                let mut out = out;
                out.copy_from_slice(bytemuck::cast_slice(&slice[range]));
            }
            Source::Rows(view) => {
                let mut out = out;
                for (row, cols, at) in row_pieces(range, view.ncols()) {
                    let piece = view.slice(s![row, cols]);
                    let bytes = at * size_of::<T>()..(at + piece.len()) * size_of::<T>();
                    let mut part = out.slice(bytes);
                    match piece.as_slice() {
                        Some(p) => part.copy_from_slice(bytemuck::cast_slice(p)),
                        None => {
                            gather.clear();
                            gather.extend(piece.iter().copied());
                            part.copy_from_slice(bytemuck::cast_slice(gather));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Source::Slice(slice) => slice.len(),
            Source::Rows(view) => view.len(),
        }
    }
}

/// The host side of a transfer is shorter than its device side: a bug, reported as an
/// error rather than a panic.
pub(super) fn short_host_side() -> crate::error::Error {
    device_error("a transfer's host array is shorter than its device buffers")
}

/// The host side of a download, in the order of the device buffer's elements.
pub(crate) enum Sink<'a, T> {
    /// Contiguous: copied straight out of mapped memory.
    Slice(&'a mut [T]),
    /// Any other layout, written row by row (a vector is one row).
    Rows(ArrayViewMut2<'a, T>),
}

impl<'a, T: Pod> Sink<'a, T> {
    /// A grid of any layout, in row-major order.
    pub(crate) fn grid(view: ArrayViewMut2<'a, T>) -> Self {
        if !view.is_standard_layout() {
            return Sink::Rows(view);
        }
        // A standard-layout view is contiguous, so this is always `Some`; were it not, the
        // empty sink would fail the transfer with an error (see `Sink::read`).
        Sink::Slice(view.into_slice().unwrap_or_default())
    }

    /// A vector of any stride, in index order.
    pub(crate) fn vector(view: ArrayViewMut1<'a, T>) -> Self {
        Sink::grid(view.insert_axis(Axis(0)))
    }

    /// Elements `range` from `bytes` (their bytes, as mapped), a long contiguous copy over
    /// several threads if `parallel`.
    pub(super) fn read(&mut self, range: Range<usize>, bytes: &[u8], parallel: bool) -> Result<()> {
        match self {
            Sink::Slice(slice) => {
                let out = slice.get_mut(range).ok_or_else(short_host_side)?;
                copy_from(bytemuck::cast_slice_mut(out), bytes, parallel);
            }
            Sink::Rows(view) => {
                if range.end > view.len() {
                    return Err(short_host_side());
                }
                // Mapped memory is aligned for any element type in practice; the fallback
                // copies once into aligned memory.
                let owned;
                let elements: &[T] = match bytemuck::try_cast_slice(bytes) {
                    Ok(elements) => elements,
                    Err(_) => {
                        owned = bytemuck::pod_collect_to_vec::<u8, T>(bytes);
                        &owned
                    }
                };
                let cols = view.ncols();
                for (row, cols, at) in row_pieces(range, cols) {
                    let mut piece = view.slice_mut(s![row, cols]);
                    let n = piece.len();
                    piece.assign(&ArrayView1::from(&elements[at..at + n]));
                }
            }
        }
        Ok(())
    }
}

/// The pieces of rows that the row-major element range `range` covers in a grid of `cols`
/// columns: `(row, columns, offset of the piece within the range)`.
pub(super) fn row_pieces(
    range: Range<usize>,
    cols: usize,
) -> impl Iterator<Item = (usize, Range<usize>, usize)> {
    let start = range.start;
    let mut at = range.start;
    std::iter::from_fn(move || {
        if at >= range.end || cols == 0 {
            return None;
        }
        let (row, first) = (at / cols, at % cols);
        let last = cols.min(first + (range.end - at));
        let piece = (row, first..last, at - start);
        at += last - first;
        Some(piece)
    })
}

/// Writes the host elements `host` of `source` into `buffer`, mapped for writing from its
/// byte 0. A long contiguous source is split over the rayon pool's threads (where the pool
/// says so), each writing its part through a mapped view of its own: wgpu's write-only
/// slice of one view cannot be sent to another thread (wgpu 30), but views of disjoint
/// ranges of one buffer can.
pub(super) fn write_mapped<T: Pod>(
    ctx: &Context,
    buffer: &wgpu::Buffer,
    host: Range<usize>,
    source: &Source<'_, T>,
    gather: &mut Vec<T>,
) -> Result<()> {
    let bytes = host.len() * size_of::<T>();
    let threads = rayon::current_num_threads();
    if let Source::Slice(slice) = source
        && ctx.staging.parallel
        && bytes >= PARALLEL_COPY_BYTES
        && threads > 1
    {
        let src: &[u8] = bytemuck::cast_slice(slice.get(host).ok_or_else(short_host_side)?);
        // Parts start on multiples of 8 bytes, as mapped views must (MAP_ALIGNMENT).
        let part = bytes
            .div_ceil(threads)
            .max(PARALLEL_PIECE_BYTES)
            .next_multiple_of(8);
        let views = (0..bytes)
            .step_by(part)
            .map(|start| {
                let range = start..(start + part).min(bytes);
                let view = ctx.mapped_range_mut(buffer, range.start as u64..range.end as u64)?;
                Ok((view, range))
            })
            .collect::<Result<Vec<_>>>()?;
        views
            .into_par_iter()
            .for_each(|(mut view, range)| view.copy_from_slice(&src[range]));
        return Ok(());
    }
    let mut view = ctx.mapped_range_mut(buffer, 0..bytes as u64)?;
    source.write(host, view.slice(..), gather)
}

/// Mapped memory into `dst`, over several threads when long and `parallel`.
pub(super) fn copy_from(dst: &mut [u8], src: &[u8], parallel: bool) {
    if !parallel || src.len() < PARALLEL_COPY_BYTES || rayon::current_num_threads() < 2 {
        dst.copy_from_slice(src);
        return;
    }
    let piece = src
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(PARALLEL_PIECE_BYTES);
    dst.par_chunks_mut(piece)
        .zip(src.par_chunks(piece))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

#[cfg(test)]
mod tests {
    use super::row_pieces;

    #[test]
    fn row_pieces_cover_a_range_exactly() {
        let pieces: Vec<_> = row_pieces(3..11, 4).collect();
        assert_eq!(pieces, vec![(0, 3..4, 0), (1, 0..4, 1), (2, 0..3, 5)]);
        assert_eq!(row_pieces(0..0, 4).count(), 0);
        assert_eq!(row_pieces(4..8, 4).collect::<Vec<_>>(), vec![(1, 0..4, 0)]);
    }
}
