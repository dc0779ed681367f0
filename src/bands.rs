//! Which rows of a global grid each part owns: the decomposition shared by the MPI ranks
//! of `hpnum::distributed` (feature `mpi`) and the devices of a multi-GPU grid.

use crate::error::{Error, Result};

/// Row bands of a `rows`-row grid over `ranks` parts (MPI ranks, GPUs): the first
/// `rows % ranks` hold one row more than the others, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bands {
    rows: usize,
    ranks: usize,
}

impl Bands {
    /// # Errors
    /// [`Error::InvalidParameter`] when there are more ranks than rows (a rank would hold
    /// none) or no ranks.
    pub fn new(rows: usize, ranks: usize) -> Result<Self> {
        if ranks == 0 || ranks > rows {
            return Err(Error::InvalidParameter {
                name: "ranks",
                reason: format!(
                    "{ranks} ranks cannot share {rows} rows: every rank needs at least one"
                ),
            });
        }
        Ok(Bands { rows, ranks })
    }

    /// The rows of `rank`'s band.
    pub fn rows_of(&self, rank: usize) -> std::ops::Range<usize> {
        let base = self.rows / self.ranks;
        let extra = self.rows % self.ranks;
        let first = rank * base + rank.min(extra);
        first..first + base + usize::from(rank < extra)
    }

    /// Checks a halo of `halo` rows (K): at least 1, and at most the thinnest band, since a
    /// halo comes from the neighbouring band alone.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `halo` otherwise.
    pub fn check_halo(&self, halo: usize) -> Result<()> {
        if halo == 0 || halo > self.thinnest() {
            return Err(Error::InvalidParameter {
                name: "halo",
                reason: format!(
                    "{halo} rows: must be at least 1 and at most the thinnest band's {} rows",
                    self.thinnest()
                ),
            });
        }
        Ok(())
    }

    /// The fewest rows any band holds.
    pub fn thinnest(&self) -> usize {
        self.rows / self.ranks
    }

    /// Every band's length, in rank order.
    pub fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ranks).map(|r| self.rows_of(r).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_rows_once_in_order() -> Result<()> {
        for rows in 1..40 {
            for ranks in 1..=rows.min(9) {
                let bands = Bands::new(rows, ranks)?;
                let mut next = 0;
                for r in 0..ranks {
                    let band = bands.rows_of(r);
                    assert_eq!(band.start, next);
                    assert!(band.len() >= bands.thinnest() && band.len() <= bands.thinnest() + 1);
                    next = band.end;
                }
                assert_eq!(next, rows);
            }
        }
        assert!(Bands::new(3, 4).is_err());
        assert!(Bands::new(3, 0).is_err());
        Ok(())
    }
}
