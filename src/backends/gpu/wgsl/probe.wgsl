// The device's own limits, measured the way the kernels use the device: `stream_copy` streams one
// buffer into another with vector loads and stores, `stream_read` only loads (folding what it reads,
// so that the loads cannot be optimised away), `arithmetic` runs PROBE_CHAINS independent
// chains per invocation in the shader's `real`, half multiplies and half adds, none of
// which a driver can fuse (the kernels round their products before adding them).
// `subnormals` asks whether the device keeps subnormal numbers.
// The host prepends `alias real = f32;` (or f64) and the shared contract: WORKGROUP_SIZE,
// PROBE_CHAINS and `struct ProbeJob` (declared in src/backends/gpu/probe.rs).

@group(0) @binding(0) var<uniform> job: ProbeJob;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> sink: array<real>;

// The invocation's index and the number of invocations, over a 2D grid of workgroups
// (one dimension alone is capped at 65 535 workgroups).
fn first_and_stride(wg: vec3<u32>, groups: vec3<u32>, local: u32) -> vec2<u32> {
    let first = (wg.y * groups.x + wg.x) * WORKGROUP_SIZE + local;
    return vec2<u32>(first, groups.x * groups.y * WORKGROUP_SIZE);
}

// Grid-stride loops: at every step neighbouring invocations touch neighbouring vectors.
@compute @workgroup_size(WORKGROUP_SIZE)
fn stream_copy(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let at = first_and_stride(wg, groups, local);
    for (var i = at.x; i < job.vec4s; i = i + at.y) {
        dst[i] = src[i];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn stream_read(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let at = first_and_stride(wg, groups, local);
    var folded = vec4<u32>(0u);
    for (var i = at.x; i < job.vec4s; i = i + at.y) {
        folded = folded ^ src[i];
    }
    // Never true for the probe's zeroed buffers, but the compiler cannot know that.
    if (all(folded == vec4<u32>(0x9e3779b9u))) {
        dst[at.x] = folded;
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn arithmetic(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let at = first_and_stride(wg, groups, local);
    // PROBE_CHAINS lanes in eight vec4 registers (no array: a driver may keep a
    // dynamically indexed array in memory): four multiply-only chains and four add-only
    // chains, so that no product feeds an add and nothing can be fused, as the kernels'
    // rounded products cannot. m is above 1 and a small, so that 2²⁰ iterations neither
    // overflow nor reach subnormals.
    let base = real(at.x % 1024u) + 1.0;
    let lane = vec4<real>(base, base + 1.0, base + 2.0, base + 3.0);
    var p0 = lane;
    var p1 = lane + 4.0;
    var p2 = lane + 8.0;
    var p3 = lane + 12.0;
    var s0 = lane + 16.0;
    var s1 = lane + 20.0;
    var s2 = lane + 24.0;
    var s3 = lane + 28.0;
    let m = vec4<real>(real(1.0000001));
    let a = vec4<real>(real(0.0001));
    for (var k = 0u; k < job.iterations; k = k + 1u) {
        p0 = p0 * m;
        s0 = s0 + a;
        p1 = p1 * m;
        s1 = s1 + a;
        p2 = p2 * m;
        s2 = s2 + a;
        p3 = p3 * m;
        s3 = s3 + a;
    }
    let total = (p0 + p1) + (p2 + p3) + (s0 + s1) + (s2 + s3);
    sink[at.x] = (total.x + total.y) + (total.z + total.w);
}

// Whether the device keeps subnormals in `real` arithmetic (WGSL allows flushing them to
// zero). sink[0..4] holds the smallest normal, 0.25, a quarter of the smallest normal (a
// subnormal) and 1, read at run time so that nothing folds; sink[4..7] receive a
// subnormal product of normal operands, a product with a subnormal operand and a sum of
// subnormals. The host compares their bits with IEEE's.
@compute @workgroup_size(WORKGROUP_SIZE)
fn subnormals(@builtin(local_invocation_index) local: u32) {
    if (local == 0u) {
        sink[4] = sink[0] * sink[1];
        sink[5] = sink[2] * sink[3];
        sink[6] = sink[2] + sink[2];
    }
}
