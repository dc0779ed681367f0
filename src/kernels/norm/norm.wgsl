// Norm reductions as a tree: each workgroup reduces its block of the input to one
// NormPartial; `combine` reduces those partials until one is left, which the host finishes
// (gpu.rs beside this file). The host prepends `alias real = f32;` (or f64), the contract
// (WORKGROUP_SIZE, REALS_PER_VEC4, NORM_LOADS_PER_INVOCATION, NORM_PARTIALS_PER_INVOCATION,
// the SUMMAND_* codes, `struct NormJob`, `struct NormCall`; declared in gpu.rs) and the
// bit-level view of `real` (src/backends/gpu/wgsl/bits_*.wgsl), and appends the
// workgroup's reduction, `struct Lane` and `fn reduce_workgroup`: a tree in workgroup
// memory (reduce_tree.wgsl) or subgroup operations where the device has them
// (reduce_subgroups.wgsl).
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

// How many loads (or partials) this dispatch reduces, from the start of its bindings.
@group(0) @binding(0) var<uniform> job: NormJob;
// The vector, as 16-byte loads (the host pads each piece with zeros to a whole load;
// zeros add nothing to any norm).
@group(0) @binding(2) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<NormPartial>;
@group(0) @binding(4) var<storage, read> previous: array<NormPartial>;
// What every dispatch of the call sums.
@group(0) @binding(5) var<uniform> call: NormCall;

fn empty_partial() -> NormPartial {
    return NormPartial(real(0.0), real(0.0), real_bits());
}

// Adds one input value, given by its bits, to an invocation's partial. Integer tests
// decide what counts (no driver may fold them), and selects, not branches, apply them.
fn add_value(acc: NormPartial, bits: real_bits) -> NormPartial {
    let m = magnitude_bits(bits);
    // NaN and ∞ are the maximum's business: they add nothing to the sums.
    let counted = is_finite_magnitude(m);
    let subnormal = is_subnormal_magnitude(m);
    var term: real;
    var tiny = real(0.0);
    if (call.summand == SUMMAND_SCALED_SQUARE) {
        // (x · 2^-shift)², shift from the host's L∞; subnormals included.
        let y = scaled_magnitude(m, bitcast<i32>(call.shift));
        term = y * y;
    } else {
        // |x| or x² of a normal value; a subnormal's square is below the smallest
        // subnormal (zero on any device), its |x| goes to `tiny` in exact units.
        let a = normal_magnitude(m);
        term = select(select(a, a * a, call.summand == SUMMAND_SQUARE), real(0.0), subnormal);
        tiny = select(real(0.0), subnormal_units(m), subnormal && call.summand == SUMMAND_ABS);
    }
    return NormPartial(
        acc.sum + select(real(0.0), term, counted),
        acc.tiny + select(real(0.0), tiny, counted),
        larger_magnitude(acc.amax, m),
    );
}

fn merge(a: NormPartial, b: NormPartial) -> NormPartial {
    return NormPartial(a.sum + b.sum, a.tiny + b.tiny, larger_magnitude(a.amax, b.amax));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn leaves(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    lane: Lane,
) {
    let local = lane.local;
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_LOADS_PER_INVOCATION;
    // Two independent partials, each taking every other load, so that two chains of adds
    // are in flight; merged pairwise at the end.
    var even = empty_partial();
    var odd = empty_partial();
    // Consecutive invocations read consecutive 16-byte loads: every load is coalesced.
    for (var k = 0u; k < NORM_LOADS_PER_INVOCATION; k = k + 2u) {
        let i = base + k * WORKGROUP_SIZE + local;
        let j = i + WORKGROUP_SIZE;
        if (i < job.len) {
            let load = input[i];
            for (var r = 0u; r < REALS_PER_VEC4; r = r + 1u) {
                even = add_value(even, real_bits_in(load, r));
            }
        }
        if (j < job.len) {
            let load = input[j];
            for (var r = 0u; r < REALS_PER_VEC4; r = r + 1u) {
                odd = add_value(odd, real_bits_in(load, r));
            }
        }
    }
    reduce_workgroup(lane, group, merge(even, odd));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn combine(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    lane: Lane,
) {
    let local = lane.local;
    let group = wg.y * groups.x + wg.x;
    let base = group * WORKGROUP_SIZE * NORM_PARTIALS_PER_INVOCATION;
    var acc = empty_partial();
    for (var k = 0u; k < NORM_PARTIALS_PER_INVOCATION; k = k + 1u) {
        let i = base + k * WORKGROUP_SIZE + local;
        if (i < job.len) {
            acc = merge(acc, previous[i]);
        }
    }
    reduce_workgroup(lane, group, acc);
}
