// Norm reductions as a tree: each workgroup reduces its block of the input to one
// NormPartial; `combine` reduces those partials until one is left, which the host finishes
// (src/backends/gpu/norm.rs). The host prepends `alias real = f32;` (or f64), the shared
// contract (WORKGROUP_SIZE, NORM_LOADS_PER_INVOCATION, NORM_PARTIALS_PER_INVOCATION,
// REALS_PER_VEC4, the SUMMAND_* codes, `struct NormJob`, `struct NormCall`; see
// src/backends/gpu/contract.rs) and the bit-level view of `real` (shaders/bits/).
//
// The numerical contract holds on every conforming driver, including one that flushes
// subnormals and assumes that no NaN or ∞ occurs:
// - every value is classified by its bits: the largest magnitude is an integer maximum of
//   the magnitude bits (NaN-sticky: NaN bits lie above ∞'s), and NaN and ±∞ never enter a
//   sum; the host turns a NaN or ∞ maximum into the norm's NaN or ∞;
// - subnormal inputs of L1 are summed apart, in units of the smallest subnormal (exact
//   integers, normal floats); the scaled sum of squares builds x · 2^-shift from the bits;
//   a plain square of a subnormal is below the smallest subnormal, zero on any device.
// Accuracy is pairwise-class: an invocation sums a bounded run of values in sequence
// (NORM_LOADS_PER_INVOCATION 16-byte loads), then the workgroup's tree and the levels of
// `combine` add the partials pairwise.

// What a workgroup of any level produces: Σ summand over normal values, Σ of subnormal
// values in units of the smallest subnormal (L1 only), and the largest magnitude's bits.
struct NormPartial {
    sum: real,
    tiny: real,
    amax: real_bits,
}

// Which loads (or partials) this dispatch reads and where its partials go.
@group(0) @binding(0) var<uniform> job: NormJob;
// The vector, as 16-byte loads (the host pads each piece with zeros to a whole load;
// zeros add nothing to any norm).
@group(0) @binding(2) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<NormPartial>;
@group(0) @binding(4) var<storage, read> previous: array<NormPartial>;
// What every dispatch of the call sums.
@group(0) @binding(5) var<uniform> call: NormCall;

var<workgroup> shared_sum: array<real, WORKGROUP_SIZE>;
var<workgroup> shared_tiny: array<real, WORKGROUP_SIZE>;
var<workgroup> shared_amax: array<real_bits, WORKGROUP_SIZE>;

fn empty_partial() -> NormPartial {
    return NormPartial(real(0.0), real(0.0), real_bits());
}

// Adds one input value, given by its bits, to an invocation's partial.
fn add_value(acc: NormPartial, bits: real_bits) -> NormPartial {
    var out = acc;
    let m = magnitude_bits(bits);
    out.amax = larger_magnitude(out.amax, m);
    // An integer test: no driver may fold it. NaN and ∞ are the maximum's business.
    if (!is_finite_magnitude(m)) {
        return out;
    }
    let subnormal = is_subnormal_magnitude(m);
    switch call.summand {
        case SUMMAND_ABS: {
            if (subnormal) {
                out.tiny = out.tiny + subnormal_units(m);
            } else {
                out.sum = out.sum + normal_magnitude(m);
            }
        }
        case SUMMAND_SQUARE: {
            if (!subnormal) {
                let a = normal_magnitude(m);
                out.sum = out.sum + a * a;
            }
        }
        default: {
            // SUMMAND_SCALED_SQUARE: (x · 2^-shift)², shift from the host's L∞.
            let y = scaled_magnitude(m, bitcast<i32>(call.shift));
            out.sum = out.sum + y * y;
        }
    }
    return out;
}

fn merge(a: NormPartial, b: NormPartial) -> NormPartial {
    return NormPartial(a.sum + b.sum, a.tiny + b.tiny, larger_magnitude(a.amax, b.amax));
}

// Combines every invocation's partial into the workgroup's. The entry points differ only
// in what they read; a helper reading both `input` and `previous` would put both bindings
// into both entry points' layouts.
fn reduce_workgroup(local: u32, group: u32, mine: NormPartial) {
    shared_sum[local] = mine.sum;
    shared_tiny[local] = mine.tiny;
    shared_amax[local] = mine.amax;
    var width = WORKGROUP_SIZE / 2u;
    loop {
        if (width == 0u) {
            break;
        }
        workgroupBarrier();
        if (local < width) {
            shared_sum[local] = shared_sum[local] + shared_sum[local + width];
            shared_tiny[local] = shared_tiny[local] + shared_tiny[local + width];
            shared_amax[local] = larger_magnitude(shared_amax[local], shared_amax[local + width]);
        }
        width = width / 2u;
    }
    if (local == 0u) {
        partials[job.first_partial + group] =
            NormPartial(shared_sum[0], shared_tiny[0], shared_amax[0]);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn leaves(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_LOADS_PER_INVOCATION;
    var acc = empty_partial();
    // Consecutive invocations read consecutive 16-byte loads: every load is coalesced.
    for (var k = 0u; k < NORM_LOADS_PER_INVOCATION; k = k + 1u) {
        let i = base + k * WORKGROUP_SIZE + local;
        if (i < job.len) {
            let load = input[job.first_input + i];
            for (var lane = 0u; lane < REALS_PER_VEC4; lane = lane + 1u) {
                acc = add_value(acc, real_bits_in(load, lane));
            }
        }
    }
    reduce_workgroup(local, group, acc);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn combine(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_PARTIALS_PER_INVOCATION;
    var acc = empty_partial();
    for (var k = 0u; k < NORM_PARTIALS_PER_INVOCATION; k = k + 1u) {
        let i = base + k * WORKGROUP_SIZE + local;
        if (i < job.len) {
            acc = merge(acc, previous[job.first_input + i]);
        }
    }
    reduce_workgroup(local, group, acc);
}
