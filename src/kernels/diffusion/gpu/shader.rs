//! The host–shader contract of `diffusion.wgsl`: its uniform structs and the constants
//! derived from the workgroup memory a device grants (declared here, emitted into the
//! shader), its entry points, and how many steps each blocked scheme can take.

use crate::backends::gpu::contract::{WORKGROUP_SIZE, WgslStruct, wgsl_struct};
use crate::backends::gpu::shaders::{Shader, ShaderDef, ShaderTarget};
use crate::real::Precision;

wgsl_struct! {
    /// One diffusion dispatch: a band of rows, and which rows of its neighbouring bands
    /// lie just above and below it (the bands are the same buffer when there is one).
    pub(crate) struct DiffusionDims {
        /// Cells per row.
        cols,
        /// Rows in this band.
        rows,
        /// The row of the `above` binding just above the band's first row.
        above_row,
        /// The row of the `below` binding just below the band's last row.
        below_row,
    }
}

wgsl_struct! {
    /// One temporally blocked diffusion dispatch (`tiled`): `steps` steps of a one-band
    /// grid, each workgroup stepping a tile of `TILE_SIDE`² cells whose inner
    /// `interior`² it writes back (`interior = TILE_SIDE - 2·steps`).
    pub(crate) struct DiffusionTile {
        /// Cells per row.
        cols,
        /// Rows of the grid.
        rows,
        /// Steps per dispatch (K), also the halo's width.
        steps,
        /// Cells per side of the part of a tile that is written back.
        interior,
    }
}

wgsl_struct! {
    /// One streamed diffusion dispatch (`streamed`): `steps` steps of a one-band grid, each
    /// workgroup walking `strip_rows` rows of a strip of `WORKGROUP_SIZE` columns.
    pub(crate) struct DiffusionStream {
        /// Cells per row.
        cols,
        /// Rows of the grid.
        rows,
        /// Steps per dispatch (K): time levels, and the halo's width.
        steps,
        /// Rows each workgroup writes.
        strip_rows,
    }
}

/// Rows each streamed workgroup writes (fewer in a smaller grid): its 2K halo rows are
/// loaded once per this many, and a 8192² grid still has 32 strips of rows for the
/// device's cores to share.
pub(super) const STREAM_STRIP_ROWS: usize = 256;

/// How many time levels of three rows of `WORKGROUP_SIZE` cells fit in the workgroup memory
/// an entry point may use: the most steps one streamed dispatch can take (5 in f32 and 2 in
/// f64 in WebGPU's guaranteed 16 KiB; 16 and 8 in the 48 KiB NVIDIA's Vulkan driver grants).
pub(crate) fn stream_levels(precision: Precision, workgroup_storage_bytes: u32) -> u32 {
    let cells = workgroup_storage_bytes / precision.bytes() as u32;
    (cells / (3 * WORKGROUP_SIZE)).min((WORKGROUP_SIZE - 1) / 2)
}

/// Cells per side of the temporally blocked diffusion's tile: the largest square of `real`
/// within the workgroup memory an entry point may use (64² f32, 45² f64 in WebGPU's
/// guaranteed 16 KiB; 110² and 78² in the 48 KiB NVIDIA's Vulkan driver grants), so that a
/// device granting more recomputes less halo per cell written.
pub(crate) fn tile_side(precision: Precision, workgroup_storage_bytes: u32) -> u32 {
    let cells = workgroup_storage_bytes / precision.bytes() as u32;
    cells.isqrt()
}

/// The most steps one tiled dispatch can take in `precision` on every device: a tile of the
/// guaranteed workgroup memory must keep at least one interior cell per side.
pub(crate) fn max_tile_steps(precision: Precision) -> u32 {
    (tile_side(precision, ShaderTarget::GUARANTEED_WORKGROUP_STORAGE_BYTES) - 1) / 2
}

fn blocking_constants(target: &ShaderTarget) -> Vec<(&'static str, u32)> {
    let side = tile_side(target.precision, target.workgroup_storage_bytes);
    let levels = stream_levels(target.precision, target.workgroup_storage_bytes);
    vec![
        ("TILE_SIDE", side),
        ("TILE_CELLS", side * side),
        (
            "TILE_CELLS_PER_INVOCATION",
            (side * side).div_ceil(WORKGROUP_SIZE),
        ),
        ("STREAM_LEVELS", levels),
        // At least one level, so that the array is declared on every device.
        ("STREAM_CELLS", levels.max(1) * 3 * WORKGROUP_SIZE),
    ]
}

/// `diffusion.wgsl`: one step, one invocation per cell (`main`) or per four cells of a row
/// (`quads`), or several steps in workgroup memory, on tiles (`tiled`) or streamed down
/// strips of columns (`streamed`).
pub(crate) const SHADER: Shader = Shader::new(&ShaderDef {
    name: "diffusion",
    defined_in: file!(),
    dispatch: &[
        (
            MAIN,
            "One step, one invocation per cell of a band of `dims.rows` rows: \
             (⌈cols / WORKGROUP_SIZE⌉, y, z) workgroups with y · z ≥ rows, y at most the \
             device's limit (row = id.z · groups.y + id.y). Reads `src` (the band), `above` \
             and `below` (the neighbouring bands, whose rows `dims.above_row` and \
             `dims.below_row` are the halo; the band itself when the grid is one band), \
             writes `dst`; the next step swaps `src` and `dst`. `coefficient` holds D·dt and \
             1.0.",
        ),
        (
            QUADS,
            "As `main`, one invocation per four cells of a row (cols a multiple of 4), \
             through the vec4 views at bindings 7–10: (⌈cols / 4 / WORKGROUP_SIZE⌉, y, z).",
        ),
        (
            TILED,
            "K = `tile.steps` steps in one dispatch on a grid in one binding: one workgroup \
             per tile of `tile.interior`² cells (interior = TILE_SIDE − 2K), \
             (⌈cols / interior⌉, ⌈rows / interior⌉, 1); reads binding 0, writes binding 3.",
        ),
        (
            STREAMED,
            "K = `stream.steps` steps in one dispatch on a grid in one binding: one workgroup \
             per strip of WORKGROUP_SIZE − 2K columns and `stream.strip_rows` rows, \
             (⌈cols / (WORKGROUP_SIZE − 2K)⌉, ⌈rows / strip_rows⌉, 1); K at most \
             STREAM_LEVELS; reads binding 0, writes binding 3.",
        ),
    ],
    body: include_str!("../diffusion.wgsl"),
    entry_points: &[MAIN, QUADS, TILED, STREAMED],
    uses_bits: true,
    rounds_products: true,
    structs: &[
        DiffusionDims::LAYOUT,
        DiffusionTile::LAYOUT,
        DiffusionStream::LAYOUT,
    ],
    constants: &[],
    target_constants: blocking_constants,
    reduction: None,
});

pub(super) const MAIN: &str = "main";
pub(super) const QUADS: &str = "quads";
pub(super) const TILED: &str = "tiled";
pub(super) const STREAMED: &str = "streamed";
