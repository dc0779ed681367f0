// Julia set escape counts, one invocation per pixel.
// The host prepends `alias real = f32;` or `alias real = f64;`.
// Same operations as hpnum::kernels::julia::escape_count; a driver may still fuse a
// multiply and an add, so a few boundary pixels can differ from the CPU backends.

@group(0) @binding(0) var<storage, read> xs: array<real>;
@group(0) @binding(1) var<storage, read> ys: array<real>;
// c_re, c_im.
@group(0) @binding(2) var<storage, read> constant: array<real, 2>;
// max_iter, cols, rows in this band, index of the band's first row in `ys`.
@group(0) @binding(3) var<uniform> dims: vec4<u32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    // Linear pixel index over a 2D grid of workgroups: one dimension alone is capped at
    // 65 535 workgroups.
    let i = (wg.y * groups.x + wg.x) * WORKGROUP + local;
    let cols = dims.y;
    if (i >= cols * dims.z) {
        return;
    }
    let col = i % cols;
    let row = i / cols;
    var re = xs[col];
    var im = ys[dims.w + row];
    let c_re = constant[0];
    let c_im = constant[1];
    var n = 0u;
    loop {
        if (n >= dims.x) {
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
