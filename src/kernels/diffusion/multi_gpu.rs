//! One diffusion grid over several GPUs in one process: a row band per device, each
//! resident on its device with K rows of halo above and below, exchanged through the host
//! every K steps, the devices stepping their bands at the same time. The scheme of
//! `hpnum::distributed` (feature `mpi`) inside one process: bit-identical to one device.

use ndarray::{Array2, ArrayView2, s};

use crate::backends::gpu::Gpu;
use crate::backends::gpu::grid::GpuGrid;
use crate::bands::Bands;
use crate::error::{Error, Result};
use crate::kernels::diffusion::DiffusionParams;
use crate::memory;
use crate::real::Real;

/// A grid split into row bands over several GPUs (see the module's docs).
pub struct MultiGpuGrid<T: Real> {
    rows: usize,
    cols: usize,
    halo: usize,
    bands: Bands,
    /// Per device: its band with `halo` rows above and below, `band + 2·halo` rows.
    parts: Vec<GpuGrid<T>>,
}

impl<T: Real> MultiGpuGrid<T> {
    /// Splits `grid` into one row band per device of `gpus` (open them with
    /// `GpuOptions::adapter_index` or `adapter_name`; two devices on one adapter work too),
    /// exchanging `halo` rows (K ≥ 1) every K steps.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no devices, more devices than rows, or `halo` of 0 or
    /// more than the thinnest band; what uploading to a device returns.
    pub fn upload(gpus: &[Gpu], grid: ArrayView2<'_, T>, halo: usize) -> Result<Self> {
        let (rows, cols) = grid.dim();
        let bands = Bands::new(rows, gpus.len())?;
        bands.check_halo(halo)?;
        let mut parts = Vec::with_capacity(gpus.len());
        for (d, gpu) in gpus.iter().enumerate() {
            let band = bands.rows_of(d);
            let mut tile = memory::zeroed_array2::<T>(band.len() + 2 * halo, cols, "band tile")?;
            for (r, mut row) in tile.rows_mut().into_iter().enumerate() {
                // band.start − halo + r, wrapped around the periodic grid.
                let source = (band.start + rows * (halo / rows + 1) + r - halo) % rows;
                row.assign(&grid.row(source));
            }
            parts.push(gpu.upload_grid(tile.view())?);
        }
        Ok(MultiGpuGrid {
            rows,
            cols,
            halo,
            bands,
            parts,
        })
    }

    /// `(rows, cols)` of the whole grid.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// How many devices share the grid.
    pub fn devices(&self) -> usize {
        self.parts.len()
    }

    /// Rows exchanged between neighbouring devices, and steps between exchanges (K).
    pub fn halo(&self) -> usize {
        self.halo
    }

    /// Advances the whole grid `steps` steps: halos through the host, then every device
    /// steps its band and halos up to K times, the devices concurrently.
    ///
    /// # Errors
    /// What a device returns.
    pub fn step(&mut self, params: &DiffusionParams<T>, steps: usize) -> Result<()> {
        let mut done = 0;
        while done < steps {
            let k = self.halo.min(steps - done);
            self.exchange(k)?;
            // Each device steps its own tile k times: rows older than this exchange are
            // farther than k from the band and cannot reach it.
            std::thread::scope(|scope| {
                let running: Vec<_> = self
                    .parts
                    .iter_mut()
                    .map(|part| scope.spawn(move || part.advance(params, k)))
                    .collect();
                running.into_iter().try_for_each(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::Device {
                            details: "a device's stepping thread panicked".into(),
                        })
                    })
                })
            })?;
            done += k;
        }
        Ok(())
    }

    /// Every band's first and last `k` rows down to the host, and up into its neighbours'
    /// halos (the devices form a periodic ring).
    fn exchange(&mut self, k: usize) -> Result<()> {
        let (halo, cols) = (self.halo, self.cols);
        let n = self.parts.len();
        let mut firsts = Vec::with_capacity(n);
        let mut lasts = Vec::with_capacity(n);
        for (d, part) in self.parts.iter().enumerate() {
            let band = self.bands.rows_of(d).len();
            let mut first = memory::zeroed_vec::<T>(k * cols, "halo rows")?;
            let mut last = memory::zeroed_vec::<T>(k * cols, "halo rows")?;
            part.download_rows(halo..halo + k, &mut first)?;
            part.download_rows(halo + band - k..halo + band, &mut last)?;
            firsts.push(first);
            lasts.push(last);
        }
        for (d, part) in self.parts.iter_mut().enumerate() {
            let band = self.bands.rows_of(d).len();
            part.upload_rows(halo - k, &lasts[(d + n - 1) % n])?;
            part.upload_rows(halo + band, &firsts[(d + 1) % n])?;
        }
        Ok(())
    }

    /// The whole grid, gathered from the devices.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] if the host array cannot be allocated; what a device returns.
    pub fn download(&self) -> Result<Array2<T>> {
        let mut out = memory::zeroed_array2::<T>(self.rows, self.cols, "gathered grid")?;
        for (d, part) in self.parts.iter().enumerate() {
            let band = self.bands.rows_of(d);
            let mut rows = out.slice_mut(s![band.clone(), ..]);
            let target = rows.as_slice_mut().ok_or_else(|| Error::InvalidParameter {
                name: "out",
                reason: "not row-major".into(),
            })?;
            part.download_rows(self.halo..self.halo + band.len(), target)?;
        }
        Ok(out)
    }
}
