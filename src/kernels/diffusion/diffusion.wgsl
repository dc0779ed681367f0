// One explicit-Euler diffusion step with periodic boundaries, one invocation per cell.
// The host prepends `alias real = f32;` (or f64), the shared contract (WORKGROUP_SIZE,
// `struct DiffusionDims`, `struct DiffusionTile`, TILE_*; declared in gpu.rs beside this
// file) and the bit-level view of `real` (src/backends/gpu/wgsl/bits_*.wgsl, for `rounded`,
// which keeps a driver from fusing `t * coefficient` into the final add).
//
// The grid may be stored as several bands of rows (one buffer each) when it exceeds the
// device's largest storage binding: `src` is this band, and the rows just above and below
// it are read from `above` (row `dims.above_row`) and `below` (row `dims.below_row`), which
// are this band itself when there is only one. Operation order as
// hpnum::kernels::diffusion::cell.

@group(0) @binding(0) var<storage, read> src: array<real>;
@group(0) @binding(1) var<storage, read> above: array<real>;
@group(0) @binding(2) var<storage, read> below: array<real>;
@group(0) @binding(3) var<storage, read_write> dst: array<real>;
// D·dt, and 1.0 for `rounded`.
@group(0) @binding(4) var<storage, read> coefficient: array<real, 2>;
@group(0) @binding(5) var<uniform> dims: DiffusionDims;

// One workgroup covers WORKGROUP_SIZE consecutive cells of one row, so that loads and
// stores are contiguous. x: column; y and z: row (z only when a band has more than 65 535
// rows).
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cols = dims.cols;
    let rows = dims.rows;
    let col = id.x;
    let row = id.z * groups.y + id.y;
    if (col >= cols || row >= rows) {
        return;
    }
    let i = row * cols + col;
    let g = src[i];
    var up: real;
    if (row == 0u) {
        up = above[dims.above_row * cols + col];
    } else {
        up = src[i - cols];
    }
    var down: real;
    if (row + 1u == rows) {
        down = below[dims.below_row * cols + col];
    } else {
        down = src[i + cols];
    }
    // Periodic in the row, without a division.
    let left = src[select(i - 1u, i + cols - 1u, col == 0u)];
    let right = src[select(i + 1u, i + 1u - cols, col + 1u == cols)];
    // -4·g is exact, so fusing it with the first add changes nothing; t · D·dt is not.
    let t0 = -4.0 * g;
    let t1 = t0 + up;
    let t2 = t1 + down;
    let t3 = t2 + left;
    let t4 = t3 + right;
    let t5 = rounded(t4 * coefficient[0], coefficient[1]);
    dst[i] = t5 + g;
}

// Four cells per invocation (`quads`), for rows whose length is a multiple of 4 (the host
// checks): 16-byte loads and stores in f32 (32 in f64), the left and right neighbours of a
// quad's end lanes taken from the neighbouring quads. Every lane performs `main`'s
// operations in `main`'s order, so the bits are the same.
@group(0) @binding(7) var<storage, read> src4: array<vec4<real>>;
@group(0) @binding(8) var<storage, read> above4: array<vec4<real>>;
@group(0) @binding(9) var<storage, read> below4: array<vec4<real>>;
@group(0) @binding(10) var<storage, read_write> dst4: array<vec4<real>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn quads(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let quads_per_row = dims.cols / 4u;
    let rows = dims.rows;
    let q = id.x;
    let row = id.z * groups.y + id.y;
    if (q >= quads_per_row || row >= rows) {
        return;
    }
    let i = row * quads_per_row + q;
    let g = src4[i];
    var up: vec4<real>;
    if (row == 0u) {
        up = above4[dims.above_row * quads_per_row + q];
    } else {
        up = src4[i - quads_per_row];
    }
    var down: vec4<real>;
    if (row + 1u == rows) {
        down = below4[dims.below_row * quads_per_row + q];
    } else {
        down = src4[i + quads_per_row];
    }
    // Periodic in the row, without a division.
    let before = src4[select(i - 1u, i + quads_per_row - 1u, q == 0u)];
    let after = src4[select(i + 1u, i + 1u - quads_per_row, q + 1u == quads_per_row)];
    let left = vec4<real>(before.w, g.x, g.y, g.z);
    let right = vec4<real>(g.y, g.z, g.w, after.x);
    let t0 = -4.0 * g;
    let t1 = t0 + up;
    let t2 = t1 + down;
    let t3 = t2 + left;
    let t4 = t3 + right;
    let scaled = t4 * coefficient[0];
    let one = coefficient[1];
    let t5 = vec4<real>(
        rounded(scaled.x, one),
        rounded(scaled.y, one),
        rounded(scaled.z, one),
        rounded(scaled.w, one),
    );
    dst4[i] = t5 + g;
}

// Temporal blocking: `tile.steps` (K) steps in one dispatch. Each workgroup loads a
// TILE_SIDE² tile of the grid into workgroup memory, its `tile.interior`² cells plus a halo
// of K cells on every side (wrapped: the grid is periodic), steps the tile K times, the
// valid region shrinking by one cell per side per step, and writes the interior back. Each
// cell's operations are `main`'s, in the same order, so K steps here are bit-identical to K
// dispatches of `main`. Only for grids in one band (the host checks).
@group(0) @binding(6) var<uniform> tile: DiffusionTile;

// Written before it is read (the pipelines skip WebGPU's zeroing): each step reads only
// cells loaded or computed before the barrier that precedes it.
var<workgroup> cells: array<real, TILE_CELLS>;

// x mod n for x ≥ -k, as an index: shifted by a multiple of n to be non-negative first,
// because GLSL leaves `%` of a negative operand undefined (GL gave wrong cells with a
// signed remainder here).
fn wrap(x: i32, n: i32, k: i32) -> u32 {
    return u32(x + n * (k / n + 1)) % u32(n);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn tiled(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let cols = i32(tile.cols);
    let rows = i32(tile.rows);
    let k = i32(tile.steps);
    let interior = i32(tile.interior);
    let side = i32(TILE_SIDE);
    let first_row = i32(wg.y) * interior - k;
    let first_col = i32(wg.x) * interior - k;

    for (var j = 0u; j < TILE_CELLS_PER_INVOCATION; j = j + 1u) {
        let at = i32(local + j * WORKGROUP_SIZE);
        if (at < side * side) {
            let row = wrap(first_row + at / side, rows, k);
            let col = wrap(first_col + at % side, cols, k);
            cells[at] = src[row * tile.cols + col];
        }
    }
    workgroupBarrier();

    let one = coefficient[1];
    for (var step = 1; step <= k; step = step + 1) {
        // New values in registers first: every read of this step sees the previous one.
        var next: array<real, TILE_CELLS_PER_INVOCATION>;
        for (var j = 0u; j < TILE_CELLS_PER_INVOCATION; j = j + 1u) {
            let at = i32(local + j * WORKGROUP_SIZE);
            let r = at / side;
            let c = at % side;
            if (at < side * side && r >= step && r < side - step && c >= step && c < side - step) {
                let g = cells[at];
                let t0 = -4.0 * g;
                let t1 = t0 + cells[at - side];
                let t2 = t1 + cells[at + side];
                let t3 = t2 + cells[at - 1];
                let t4 = t3 + cells[at + 1];
                let t5 = rounded(t4 * coefficient[0], one);
                next[j] = t5 + g;
            }
        }
        workgroupBarrier();
        for (var j = 0u; j < TILE_CELLS_PER_INVOCATION; j = j + 1u) {
            let at = i32(local + j * WORKGROUP_SIZE);
            let r = at / side;
            let c = at % side;
            if (at < side * side && r >= step && r < side - step && c >= step && c < side - step) {
                cells[at] = next[j];
            }
        }
        workgroupBarrier();
    }

    for (var j = 0u; j < TILE_CELLS_PER_INVOCATION; j = j + 1u) {
        let at = i32(local + j * WORKGROUP_SIZE);
        let r = at / side - k;
        let c = at % side - k;
        let row = i32(wg.y) * interior + r;
        let col = i32(wg.x) * interior + c;
        if (at < side * side && r >= 0 && r < interior && c >= 0 && c < interior
            && row < rows && col < cols) {
            dst[u32(row) * tile.cols + u32(col)] = cells[at];
        }
    }
}

// Temporal blocking by streaming (`streamed`), as EBISU and AN5D do for 2D stencils: each
// workgroup owns a strip of WORKGROUP_SIZE columns (its `WORKGROUP_SIZE - 2K` interior plus
// a K-column halo on each side, wrapped) and walks down `stream.strip_rows` rows of it, plus
// K rows before and after. Each input row is loaded once, into a ring of three rows per
// time level in workgroup memory; as row q arrives, level l computes its row q - l from
// level l - 1's rows q - l - 1, q - l and q - l + 1 (levels in order, a barrier between),
// and level K's row goes straight to `dst`. The halo is loaded once per strip, not once
// per tile, and one invocation per column keeps every load and store contiguous. Each
// cell's operations are `main`'s, in the same order: bit-identical to K dispatches of
// `main`. Only for grids in one band (the host checks); K ≤ STREAM_LEVELS.
@group(0) @binding(11) var<uniform> stream: DiffusionStream;

// Written before it is read (the pipelines skip WebGPU's zeroing): level l reads level
// l - 1's rows q - 1 … q + 1 and columns j - 1 … j + 1, all written at earlier phases.
var<workgroup> rings: array<real, STREAM_CELLS>;

// Where row q (counted from the strip's first loaded row) of time level `level` lives.
fn ring_at(level: u32, q: u32, column: u32) -> u32 {
    return (level * 3u + q % 3u) * WORKGROUP_SIZE + column;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn streamed(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) j: u32,
) {
    let cols = stream.cols;
    let rows = stream.rows;
    let k = stream.steps;
    let interior = WORKGROUP_SIZE - 2u * k;
    let strip = stream.strip_rows;
    let col = wrap(i32(wg.x * interior + j) - i32(k), i32(cols), i32(k));
    let first_row = i32(wg.y * strip) - i32(k);
    let out_col = wg.x * interior + j - k;
    let writes = j >= k && j + k < WORKGROUP_SIZE && out_col < cols;
    let one = coefficient[1];
    // One loop over (row, level) phases with one barrier each: row t is loaded at its
    // phase 0, level l computes at phase l. (Nested loops, each with its barrier, took
    // llvmpipe's GL compiler minutes.)
    let phases = (strip + 2u * k) * (k + 1u);
    for (var phase = 0u; phase < phases; phase = phase + 1u) {
        let t = phase / (k + 1u);
        let level = phase % (k + 1u);
        if (level == 0u) {
            let row = wrap(first_row + i32(t), i32(rows), i32(k));
            rings[ring_at(0u, t, j)] = src[row * cols + col];
        } else if (t >= 2u * level && j >= level && j + level < WORKGROUP_SIZE) {
            // Level `level`'s row q = t - level needs input rows q - level … q + level:
            // from t = 2·level on.
            let q = t - level;
            let prior = level - 1u;
            let g = rings[ring_at(prior, q, j)];
            let t0 = -4.0 * g;
            let t1 = t0 + rings[ring_at(prior, q - 1u, j)];
            let t2 = t1 + rings[ring_at(prior, q + 1u, j)];
            let t3 = t2 + rings[ring_at(prior, q, j - 1u)];
            let t4 = t3 + rings[ring_at(prior, q, j + 1u)];
            let t5 = rounded(t4 * coefficient[0], one);
            let value = t5 + g;
            if (level < k) {
                rings[ring_at(level, q, j)] = value;
            } else {
                let out_row = wg.y * strip + t - 2u * k;
                if (writes && out_row < rows) {
                    dst[out_row * cols + out_col] = value;
                }
            }
        }
        // Uniform: every invocation reaches it.
        workgroupBarrier();
    }
}
