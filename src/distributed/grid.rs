//! A diffusion grid split into row bands over the ranks of a communicator.

use std::sync::Arc;
use std::time::Duration;

use web_time::Instant;

use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator as Comm;
use mpi::traits::*;

use mpi::Count;
use ndarray::{Array2, ArrayView2, s};

use crate::backend::{AnyBackend, Backend};
use crate::bands::Bands;
use crate::distributed::agree::agree;
use crate::error::{Error, Result};
use crate::kernels::diffusion::DiffusionParams;
use crate::memory;
use crate::real::Real;

/// Where a distributed run's time went, on this rank.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimes {
    /// Stepping the band and its halos with the local backend.
    pub compute: Duration,
    /// Exchanging halos with the neighbouring ranks (waiting for them included).
    pub exchange: Duration,
    /// Halo exchanges made.
    pub exchanges: usize,
}

/// A global `rows × cols` diffusion grid, this rank's band of it with `halo` rows above and
/// below, and the backend that steps it.
pub struct DistributedGrid<'c, T: Real> {
    comm: &'c Comm,
    rows: usize,
    cols: usize,
    bands: Bands,
    halo: usize,
    /// The band with its halos: `halo + band + halo` rows × `cols`, row-major. With a
    /// GPU-resident band, the host's copy of what is exchanged (and of the band after
    /// each `step`).
    local: Array2<T>,
    scratch: Array2<T>,
    /// The band alone, stepped while the halos are in flight, and its scratch.
    work: [Array2<T>; 2],
    /// A 3K-row strip at either end of the band, stepped once the halos have arrived.
    strip: [Array2<T>; 2],
    /// Whether host backends step the interior while the halos are in flight.
    overlap: bool,
    backend: Arc<dyn AnyBackend>,
    /// The band and halos resident on a GPU between exchanges, if stepped there.
    #[cfg(feature = "gpu")]
    resident: Option<crate::backends::gpu::grid::GpuGrid<T>>,
}

fn count(n: usize) -> Result<Count> {
    Count::try_from(n).map_err(|_| Error::InvalidParameter {
        name: "grid",
        reason: format!("{n} elements in one MPI message exceed MPI's count type"),
    })
}

impl<'c, T: Real + Equivalence> DistributedGrid<'c, T>
where
    dyn AnyBackend: Backend<T>,
{
    /// Splits `global` (given on rank `root` only: `None` elsewhere) into row bands, one per
    /// rank of `comm`, each stepped by `backend`, exchanging `halo` rows (K ≥ 1) every `halo`
    /// steps. Collective: every rank calls it with the same `rows`, `cols`, `root`, `halo`.
    ///
    /// # Errors
    /// On every rank if on any (see [`crate::Error::Distributed`]): more ranks than rows,
    /// `halo` of 0 or more than the thinnest band, `global` missing on the root or of
    /// another shape than `rows × cols`, or memory for the band.
    pub fn scatter(
        comm: &'c Comm,
        root: i32,
        global: Option<ArrayView2<'_, T>>,
        (rows, cols): (usize, usize),
        halo: usize,
        backend: Arc<dyn AnyBackend>,
    ) -> Result<Self> {
        let checked = allocate(comm, root, global, (rows, cols), halo);
        let Allocated {
            bands,
            global,
            mut local,
            scratch,
            work,
            strip,
        } = agree(comm, checked)?;
        receive_band(comm, root, global, &bands, &mut local, halo)?;
        Ok(DistributedGrid {
            comm,
            rows,
            cols,
            bands,
            halo,
            local,
            scratch,
            work,
            strip,
            overlap: false,
            backend,
            #[cfg(feature = "gpu")]
            resident: None,
        })
    }

    /// As [`DistributedGrid::scatter`], with each rank's band and halos resident on `gpu`
    /// between exchanges: an exchange moves only the 2K rows sent and the 2K received
    /// across the bus, the steps run on the device, and the band comes back to the host
    /// once per [`DistributedGrid::step`] call (for [`DistributedGrid::band`], `gather` and
    /// `norm`). Several ranks may share one GPU. Collective.
    ///
    /// # Errors
    /// As `scatter`, and on every rank if the device fails (or lacks the precision) on any.
    #[cfg(feature = "gpu")]
    pub fn scatter_on_gpu(
        comm: &'c Comm,
        root: i32,
        global: Option<ArrayView2<'_, T>>,
        dims: (usize, usize),
        halo: usize,
        gpu: &crate::backends::gpu::Gpu,
    ) -> Result<Self> {
        let backend: Arc<dyn AnyBackend> = Arc::new(gpu.clone());
        let mut grid = Self::scatter(comm, root, global, dims, halo, backend)?;
        let resident = gpu.upload_grid(grid.local.view());
        grid.resident = Some(agree(comm, resident)?);
        Ok(grid)
    }

    /// Whether host backends step the band's interior while the halos are in flight (off
    /// by default). Overlap costs a copy of the band and a 3K-row strip at each end per
    /// exchange; it pays where messages are slow beside the computation (a network between
    /// nodes), and measured slower on one shared-memory node (2048² f64 on 1-2 ranks:
    /// 0.43 s → 0.73 s at K = 1; docs/performance.md). Bands thinner than 4K rows never
    /// overlap. The bits are the same either way. GPU-resident bands do not overlap.
    pub fn set_overlap(&mut self, overlap: bool) {
        self.overlap = overlap;
    }

    /// The global shape.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Rows exchanged with each neighbour, and steps taken between exchanges (K).
    pub fn halo(&self) -> usize {
        self.halo
    }

    /// The global rows this rank holds.
    pub fn rows_here(&self) -> std::ops::Range<usize> {
        self.bands.rows_of(self.comm.rank() as usize)
    }

    /// This rank's band, for I/O of its own part.
    pub fn band(&self) -> ArrayView2<'_, T> {
        let n = self.rows_here().len();
        self.local.slice(s![self.halo..self.halo + n, ..])
    }

    /// Advances the whole grid `steps` steps: an exchange of up to K halo rows, then up to
    /// K local steps, until done. Collective: every rank calls it with the same arguments.
    ///
    /// # Errors
    /// On every rank if the local backend fails on any.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<StepTimes> {
        #[cfg(feature = "gpu")]
        if self.resident.is_some() {
            return self.step_resident(params, steps);
        }
        let mut times = StepTimes::default();
        let mut done = 0;
        while done < steps {
            let k = self.halo.min(steps - done);
            let stepped = if self.overlap && self.rows_here().len() >= 4 * k {
                self.step_overlapped(params, k, &mut times)
            } else {
                self.step_after_exchange(params, k, &mut times)
            };
            agree(self.comm, stepped)?;
            done += k;
        }
        Ok(times)
    }

    /// One block of k steps: the exchange, then the band plus k rows each side stepped k
    /// times as a periodic grid (rows within s of its edges are stale after s steps, the
    /// band never is).
    fn step_after_exchange(
        &mut self,
        params: &DiffusionParams<T>,
        k: usize,
        times: &mut StepTimes,
    ) -> Result<()> {
        let (halo, cols) = (self.halo, self.cols);
        let band = self.rows_here().len();
        let start = Instant::now();
        let local = self.local.as_slice_mut().unwrap_or(&mut []);
        exchange(self.comm, local, (halo, band, cols), k, || ());
        times.exchange += start.elapsed();
        times.exchanges += 1;
        let start = Instant::now();
        let rows = halo - k..halo + band + k;
        let stepped = self.backend.diffuse(
            self.local.slice_mut(s![rows.clone(), ..]),
            self.scratch.slice_mut(s![rows, ..]),
            params,
            k,
        );
        times.compute += start.elapsed();
        stepped
    }

    /// One block of k steps with the exchange hidden behind the interior: while the halos
    /// are in flight the band alone is stepped k times (rows k .. band − k of it are then
    /// right: they never see the halo); once they have arrived, a 3k-row strip at each end
    /// (k rows of halo, 2k of band) is stepped k times for the band's first and last k rows.
    /// Each cell's operations are the single step's: the same bits as without overlap.
    fn step_overlapped(
        &mut self,
        params: &DiffusionParams<T>,
        k: usize,
        times: &mut StepTimes,
    ) -> Result<()> {
        let (halo, cols) = (self.halo, self.cols);
        let band = self.rows_here().len();
        let Self {
            comm,
            local,
            scratch,
            work,
            strip,
            backend,
            ..
        } = self;
        let [band_copy, band_scratch] = work;
        band_copy.assign(&local.slice(s![halo..halo + band, ..]));
        let start = Instant::now();
        let mut interior = Ok(());
        let mut interior_time = std::time::Duration::ZERO;
        exchange(
            comm,
            local.as_slice_mut().unwrap_or(&mut []),
            (halo, band, cols),
            k,
            || {
                let began = Instant::now();
                interior =
                    backend.diffuse(band_copy.view_mut(), band_scratch.view_mut(), params, k);
                interior_time = began.elapsed();
            },
        );
        times.exchange += start.elapsed().saturating_sub(interior_time);
        times.exchanges += 1;
        times.compute += interior_time;
        interior?;

        let start = Instant::now();
        let [top, bottom] = strip;
        let strip_rows = 3 * k;
        let mut ends = [(halo - k, &mut *top), (halo + band - 2 * k, &mut *bottom)];
        for (first, tile) in &mut ends {
            let mut tile = tile.slice_mut(s![..strip_rows, ..]);
            tile.assign(&local.slice(s![*first..*first + strip_rows, ..]));
        }
        for (_, tile) in &mut ends {
            backend.diffuse(
                tile.slice_mut(s![..strip_rows, ..]),
                scratch.slice_mut(s![..strip_rows, ..]),
                params,
                k,
            )?;
        }
        local
            .slice_mut(s![halo + k..halo + band - k, ..])
            .assign(&band_copy.slice(s![k..band - k, ..]));
        local
            .slice_mut(s![halo..halo + k, ..])
            .assign(&top.slice(s![k..2 * k, ..]));
        local
            .slice_mut(s![halo + band - k..halo + band, ..])
            .assign(&bottom.slice(s![k..2 * k, ..]));
        times.compute += start.elapsed();
        Ok(())
    }

    /// `step` with the band and halos on the GPU: per block the 2k rows to send come down,
    /// the 2k received go up, and the device steps the whole tile k times (rows of the halo
    /// older than this block are farther than k from the band, so they cannot reach it).
    #[cfg(feature = "gpu")]
    fn step_resident(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<StepTimes> {
        let (halo, cols) = (self.halo, self.cols);
        let band = self.rows_here().len();
        let mut times = StepTimes::default();
        let mut done = 0;
        while done < steps {
            let k = halo.min(steps - done);
            let start = Instant::now();
            let sent = self.resident_rows(|grid, local| {
                grid.download_rows(halo..halo + k, &mut local[halo * cols..(halo + k) * cols])?;
                grid.download_rows(
                    halo + band - k..halo + band,
                    &mut local[(halo + band - k) * cols..(halo + band) * cols],
                )
            });
            agree(self.comm, sent)?;
            let local = self.local.as_slice_mut().unwrap_or(&mut []);
            exchange(self.comm, local, (halo, band, cols), k, || ());
            times.exchange += start.elapsed();
            times.exchanges += 1;

            let start = Instant::now();
            let stepped = self.resident_rows(|grid, local| {
                grid.upload_rows(halo - k, &local[(halo - k) * cols..halo * cols])?;
                grid.upload_rows(
                    halo + band,
                    &local[(halo + band) * cols..(halo + band + k) * cols],
                )?;
                grid.advance(params, k)
            });
            times.compute += start.elapsed();
            agree(self.comm, stepped)?;
            done += k;
        }
        // The band back on the host, for `band`, `gather` and `norm`.
        let synced = self.resident_rows(|grid, local| {
            grid.download_rows(
                halo..halo + band,
                &mut local[halo * cols..(halo + band) * cols],
            )
        });
        agree(self.comm, synced)?;
        Ok(times)
    }

    /// Runs `op` on the resident grid and the host copy's row-major elements.
    #[cfg(feature = "gpu")]
    fn resident_rows(
        &mut self,
        op: impl FnOnce(&mut crate::backends::gpu::grid::GpuGrid<T>, &mut [T]) -> Result<()>,
    ) -> Result<()> {
        match (self.resident.as_mut(), self.local.as_slice_mut()) {
            (Some(grid), Some(local)) => op(grid, local),
            _ => Err(Error::InvalidParameter {
                name: "local",
                reason: "no resident band, or a host copy that is not row-major".into(),
            }),
        }
    }

    /// The whole grid on rank `root` (`None` on the others). Collective.
    ///
    /// # Errors
    /// On every rank if `root` is not a rank, or the root cannot allocate the grid.
    pub fn gather(&self, root: i32) -> Result<Option<Array2<T>>> {
        let rank = self.comm.rank();
        let ranks = self.comm.size() as usize;
        let prepared = (|| {
            if root < 0 || root >= self.comm.size() {
                return Err(Error::InvalidParameter {
                    name: "root",
                    reason: format!("{root} is not a rank of a {ranks}-rank communicator"),
                });
            }
            if rank == root {
                memory::zeroed_array2::<T>(self.rows, self.cols, "gathered grid").map(Some)
            } else {
                Ok(None)
            }
        })();
        let mut out = agree(self.comm, prepared)?;
        let band = self.band();
        let send = band.as_slice().unwrap_or(&[]);
        let root_process = self.comm.process_at_rank(root);
        match out.as_mut().and_then(|g| g.as_slice_mut()) {
            Some(recv) => {
                let (counts, offsets) =
                    crate::distributed::counts::counts_and_offsets(&self.bands, self.cols);
                let mut partition = PartitionMut::new(recv, counts, &offsets[..]);
                root_process.gather_varcount_into_root(send, &mut partition);
            }
            None => root_process.gather_varcount_into(send),
        }
        Ok(out)
    }

    /// A norm of the whole grid (all its cells as one vector), combined over the ranks as
    /// [`super::norm`] does. Collective.
    ///
    /// # Errors
    /// On every rank if the local backend fails on any.
    pub fn norm(&self, kind: crate::kernels::norm::NormKind) -> Result<T> {
        let band = self.band();
        let cells = band.as_slice().unwrap_or(&[]);
        crate::distributed::reduce::norm(
            self.comm,
            ndarray::ArrayView1::from(cells),
            kind,
            self.backend.as_ref(),
        )
    }
}

/// Sends the band's first and last `k` rows to the ranks above and below (the ring is
/// periodic) and receives theirs into the halos of `local` (row-major: `halo` rows, the
/// band's `band` rows, `halo` rows, of `cols` cells), running `during` while the messages
/// are in flight.
fn exchange<T: Real + Equivalence>(
    comm: &Comm,
    local: &mut [T],
    (halo, band, cols): (usize, usize, usize),
    k: usize,
    during: impl FnOnce(),
) {
    let size = comm.size();
    let rank = comm.rank();
    let above = comm.process_at_rank((rank + size - 1) % size);
    let below = comm.process_at_rank((rank + 1) % size);
    // Row-major: the halos and the rows to send are contiguous runs of the buffer.
    let (top_halo, rest) = local.split_at_mut(halo * cols);
    let (interior, bottom_halo) = rest.split_at_mut(band * cols);
    let send_up = &interior[..k * cols];
    let send_down = &interior[(band - k) * cols..];
    let receive_top = &mut top_halo[(halo - k) * cols..];
    let receive_bottom = &mut bottom_halo[..k * cols];
    // Tags tell the two messages apart when both neighbours are the same rank.
    const DOWNWARD: i32 = 1;
    const UPWARD: i32 = 2;
    mpi::request::scope(|scope| {
        let r1 = above.immediate_receive_into_with_tag(scope, receive_top, DOWNWARD);
        let r2 = below.immediate_receive_into_with_tag(scope, receive_bottom, UPWARD);
        let s1 = above.immediate_send_with_tag(scope, send_up, UPWARD);
        let s2 = below.immediate_send_with_tag(scope, send_down, DOWNWARD);
        during();
        r1.wait();
        r2.wait();
        s1.wait();
        s2.wait();
    });
}

/// What a scatter needs on each rank, checked and allocated alike on every rank before
/// any collective call (the grid, the root's global grid, the band with its halos and
/// its scratch, the copies the steps work in, the halo strips).
struct Allocated<'g, T> {
    bands: Bands,
    global: Option<ArrayView2<'g, T>>,
    local: Array2<T>,
    scratch: Array2<T>,
    work: [Array2<T>; 2],
    strip: [Array2<T>; 2],
}

/// Checks a scatter's arguments on this rank and allocates its arrays.
///
/// # Errors
/// [`Error::InvalidParameter`] for a root that is no rank or a root without the grid;
/// [`Error::ShapeMismatch`] for a global grid of another shape; the bands' errors; out of
/// memory.
fn allocate<'g, T: Real + Equivalence>(
    comm: &Comm,
    root: i32,
    global: Option<ArrayView2<'g, T>>,
    (rows, cols): (usize, usize),
    halo: usize,
) -> Result<Allocated<'g, T>> {
    let rank = comm.rank();
    let ranks = comm.size() as usize;
    if root < 0 || root >= comm.size() {
        return Err(Error::InvalidParameter {
            name: "root",
            reason: format!("{root} is not a rank of a {ranks}-rank communicator"),
        });
    }
    let bands = Bands::new(rows, ranks)?;
    bands.check_halo(halo)?;
    let global = match (rank == root, global) {
        (true, Some(g)) if g.dim() == (rows, cols) => Some(g),
        (true, Some(g)) => {
            return Err(Error::ShapeMismatch {
                what: "global grid",
                expected: vec![rows, cols],
                found: vec![g.nrows(), g.ncols()],
            });
        }
        (true, None) => {
            return Err(Error::InvalidParameter {
                name: "global",
                reason: "the root rank must give the grid".into(),
            });
        }
        (false, _) => None,
    };
    let band = bands.rows_of(rank as usize).len();
    let zeros = |rows: usize, what: &'static str| memory::zeroed_array2::<T>(rows, cols, what);
    let allocated = Allocated {
        local: zeros(band + 2 * halo, "distributed band")?,
        scratch: zeros(band + 2 * halo, "distributed scratch")?,
        work: [
            zeros(band, "distributed band copy")?,
            zeros(band, "distributed band copy")?,
        ],
        strip: [
            zeros(3 * halo, "distributed strip")?,
            zeros(3 * halo, "distributed strip")?,
        ],
        bands,
        global,
    };
    // Message sizes, checked here so that the collective calls after it cannot fail.
    count(rows * cols)?;
    Ok(allocated)
}

/// Fills the interior of this rank's `local` band from the root's `global` grid.
///
/// # Errors
/// [`Error::InvalidParameter`] if `local` is not row-major (it always is: allocated so).
fn receive_band<T: Real + Equivalence>(
    comm: &Comm,
    root: i32,
    global: Option<ArrayView2<'_, T>>,
    bands: &Bands,
    local: &mut Array2<T>,
    halo: usize,
) -> Result<()> {
    let band = bands.rows_of(comm.rank() as usize);
    let cols = local.ncols();
    let root_process = comm.process_at_rank(root);
    let interior = local
        .slice_mut(s![halo..halo + band.len(), ..])
        .into_slice()
        .ok_or_else(|| Error::InvalidParameter {
            name: "local",
            reason: "not row-major".into(),
        })?;
    match global {
        Some(g) => {
            let g = g.as_standard_layout();
            let send = g.as_slice().unwrap_or(&[]);
            let (counts, offsets) = crate::distributed::counts::counts_and_offsets(bands, cols);
            let partition = Partition::new(send, counts, &offsets[..]);
            root_process.scatter_varcount_into_root(&partition, interior);
        }
        None => root_process.scatter_varcount_into(interior),
    }
    Ok(())
}
