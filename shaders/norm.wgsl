// Norm reductions as a tree: each workgroup reduces its block of the input to one
// (sum, max |x|) pair; the host runs `combine` over those pairs until one is left.
// The host prepends `alias real = f32;` (or f64) and the shared contract: WORKGROUP_SIZE,
// NORM_ELEMENTS_PER_INVOCATION, the SUMMAND_* codes and `struct NormJob`, `struct NormCall`
// (src/backends/gpu/contract.rs).
//
// Each invocation adds NORM_ELEMENTS_PER_INVOCATION values in sequence, then the workgroup
// halves its partials in shared memory: pairwise summation, with the accuracy that implies.

// Which elements this dispatch reads and where its partials go.
@group(0) @binding(0) var<uniform> job: NormJob;
@group(0) @binding(1) var<storage, read> scale: array<real, 1>;
@group(0) @binding(2) var<storage, read> input: array<real>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2<real>>;
@group(0) @binding(4) var<storage, read> previous: array<vec2<real>>;
// What every dispatch of the call sums.
@group(0) @binding(5) var<uniform> call: NormCall;

var<workgroup> shared_sum: array<real, WORKGROUP_SIZE>;
var<workgroup> shared_max: array<real, WORKGROUP_SIZE>;

// NaN-sticky maximum: max() itself may return either operand when one is NaN.
// `x <= x` is false only for NaN, with IEEE ordered comparisons.
fn sticky_max(m: real, a: real) -> real {
    if (!(m <= m)) {
        return m;
    }
    if (!(a <= a)) {
        return a;
    }
    return max(m, a);
}

fn summand(x: real) -> real {
    switch call.summand {
        case SUMMAND_ABS: {
            return abs(x);
        }
        case SUMMAND_SQUARE: {
            return x * x;
        }
        default: {
            let y = x / scale[0];
            return y * y;
        }
    }
}

// Combines every invocation's (sum, max) into the workgroup's partial. Each entry point
// only differs in what it reads; the loops stay apart because a helper reading both
// `input` and `previous` would put both bindings into both entry points' layouts.
fn reduce_workgroup(local: u32, group: u32, sum: real, m: real) {
    shared_sum[local] = sum;
    shared_max[local] = m;
    var width = WORKGROUP_SIZE / 2u;
    loop {
        if (width == 0u) {
            break;
        }
        workgroupBarrier();
        if (local < width) {
            shared_sum[local] = shared_sum[local] + shared_sum[local + width];
            shared_max[local] = sticky_max(shared_max[local], shared_max[local + width]);
        }
        width = width / 2u;
    }
    if (local == 0u) {
        partials[job.first_partial + group] = vec2<real>(shared_sum[0], shared_max[0]);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn leaves(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_ELEMENTS_PER_INVOCATION;
    var sum = real(0.0);
    var m = real(0.0);
    for (var k = 0u; k < NORM_ELEMENTS_PER_INVOCATION; k = k + 1u) {
        let i = base + k * WORKGROUP_SIZE + local;
        if (i < job.len) {
            let x = input[job.first_input + i];
            sum = sum + summand(x);
            m = sticky_max(m, abs(x));
        }
    }
    reduce_workgroup(local, group, sum, m);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn combine(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_ELEMENTS_PER_INVOCATION;
    var sum = real(0.0);
    var m = real(0.0);
    for (var k = 0u; k < NORM_ELEMENTS_PER_INVOCATION; k = k + 1u) {
        let i = base + k * WORKGROUP_SIZE + local;
        if (i < job.len) {
            let p = previous[job.first_input + i];
            sum = sum + p.x;
            m = sticky_max(m, p.y);
        }
    }
    reduce_workgroup(local, group, sum, m);
}
