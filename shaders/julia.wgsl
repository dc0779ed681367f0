// Julia set escape counts, one invocation per pixel.
// The host prepends `alias real = f32;` (or f64) and the shared contract: WORKGROUP_SIZE and
// `struct JuliaDims` (src/backends/gpu/contract.rs).
// Same operations as hpnum::kernels::julia::escape_count; a driver may still fuse a
// multiply and an add, so a few boundary pixels can differ from the CPU backends.

@group(0) @binding(0) var<storage, read> xs: array<real>;
@group(0) @binding(1) var<storage, read> ys: array<real>;
// c_re, c_im.
@group(0) @binding(2) var<storage, read> constant: array<real, 2>;
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
    var n = 0u;
    loop {
        if (n >= dims.max_iter) {
            break;
        }
        let re2 = re * re;
        let im2 = im * im;
        if (!(re2 + im2 < 4.0)) {
            break;
        }
        let new_re = (re2 - im2) + c_re;
        im = (re * im + im * re) + c_im;
        re = new_re;
        n = n + 1u;
    }
    counts[i] = n;
}
