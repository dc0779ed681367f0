// The device's own limits, measured the way the kernels use the device: `stream_copy` streams one
// buffer into another with vector loads and stores, `stream_read` only loads (folding what it reads,
// so that the loads cannot be optimised away), `arithmetic` runs PROBE_CHAINS independent
// multiply-then-add chains per invocation in the shader's `real` (no fma(), as the kernels
// use none; a driver may still contract them, as it may in the kernels).
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
    var x: array<real, PROBE_CHAINS>;
    for (var c = 0u; c < PROBE_CHAINS; c = c + 1u) {
        x[c] = real(at.x % 1024u) + real(c);
    }
    let m = real(0.9999);
    let a = real(0.0001);
    for (var k = 0u; k < job.iterations; k = k + 1u) {
        for (var c = 0u; c < PROBE_CHAINS; c = c + 1u) {
            x[c] = x[c] * m + a;
        }
    }
    var total = real(0.0);
    for (var c = 0u; c < PROBE_CHAINS; c = c + 1u) {
        total = total + x[c];
    }
    sink[at.x] = total;
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
