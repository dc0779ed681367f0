// One explicit-Euler diffusion step with periodic boundaries, one invocation per cell.
// The host prepends `alias real = f32;` (or f64), the shared contract (WORKGROUP_SIZE,
// `struct DiffusionDims`; src/backends/gpu/contract.rs) and shaders/bits/ (for `rounded`,
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
