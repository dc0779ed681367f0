//! The diffusion kernel's settings on a GPU that a measurement may choose per device: how a
//! dispatch of several steps keeps its cells in workgroup memory ([`TemporalBlocking`]).

use crate::error::{Error, Result};

/// How a dispatch of K ≥ 2 diffusion steps keeps its cells in workgroup memory
/// (`GpuGrid::set_temporal_blocking`). Both give the bits of K single steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TemporalBlocking {
    /// Square tiles with a K-cell halo on every side, each loaded whole and stepped K times
    /// (the default): simple, but every tile reloads and recomputes its halo.
    #[default]
    Tiles,
    /// Strips of columns streamed down the grid through a ring of three rows per time level
    /// (the scheme of EBISU, ICS '23, and AN5D, CGO '20): each row is loaded once per strip,
    /// the halo of 2K rows once per 256. K is bounded by the workgroup memory the device
    /// grants (`GpuGrid::max_steps_per_dispatch_with`).
    Stream,
}

impl TemporalBlocking {
    /// `tiles` or `stream`.
    pub fn name(self) -> &'static str {
        match self {
            TemporalBlocking::Tiles => "tiles",
            TemporalBlocking::Stream => "stream",
        }
    }
}

impl std::str::FromStr for TemporalBlocking {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tiles" => Ok(TemporalBlocking::Tiles),
            "stream" => Ok(TemporalBlocking::Stream),
            other => Err(Error::invalid(
                "temporal blocking",
                format!("`{other}` is not one of tiles, stream"),
            )),
        }
    }
}
