// Julia set escape counts, one invocation per pixel.
// The host prepends `alias real = f32;` (or f64), the shared contract (WORKGROUP_SIZE,
// `struct JuliaDims`; declared in gpu.rs beside this file) and the bit-level view of `real`
// (src/backends/gpu/wgsl/bits_*.wgsl, for `rounded`).
// Same operations as hpnum::kernels::julia::escape_count, each product rounded before it
// is added (`rounded`): a driver may not fuse them, which would change boundary pixels
// (an H100 gave 33219848 for the book's f32 33222988).

@group(0) @binding(0) var<storage, read> xs: array<real>;
@group(0) @binding(1) var<storage, read> ys: array<real>;
// c_re, c_im, and 1.0 for `rounded`.
@group(0) @binding(2) var<storage, read> constant: array<real, 3>;
@group(0) @binding(3) var<uniform> dims: JuliaDims;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    // Linear pixel index over a 2D grid of workgroups: one dimension alone is capped at
    // 65 535 workgroups.
    let i = (wg.y * groups.x + wg.x) * WORKGROUP_SIZE + local;
    let cols = dims.cols;
    if (i >= cols * dims.rows) {
        return;
    }
    let col = i % cols;
    let row = i / cols;
    var re = xs[col];
    var im = ys[dims.first_row + row];
    let c_re = constant[0];
    let c_im = constant[1];
    let one = constant[2];
    var n = 0u;
    loop {
        if (n >= dims.max_iter) {
            break;
        }
        let re2 = rounded(re * re, one);
        let im2 = rounded(im * im, one);
        if (!(re2 + im2 < 4.0)) {
            break;
        }
        let new_re = (re2 - im2) + c_re;
        // re·im + im·re: the two products are the same number (IEEE multiplication
        // commutes), so one is rounded and added to itself.
        let re_im = rounded(re * im, one);
        im = (re_im + re_im) + c_im;
        re = new_re;
        n = n + 1u;
    }
    // The dispatch's rows start at `segment_row` within this segment's counts.
    counts[dims.segment_row * cols + i] = n;
}
