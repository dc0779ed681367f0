// A norm workgroup's reduction with subgroup operations (wgpu's SUBGROUP feature): each
// subgroup adds its invocations' partials in registers (subgroupAdd, subgroupMax), one
// invocation per subgroup stores the subgroup's, and after a single barrier the first
// invocation merges those (a handful: 8 subgroups of 32 on NVIDIA) in subgroup order.
// Appended to norm.wgsl in place of reduce_tree.wgsl; the host falls back
// to the tree where a driver cannot build this (f64 subgroup arithmetic is optional).

// What an invocation needs to know of its place in the workgroup and its subgroup.
struct Lane {
    @builtin(local_invocation_index) local: u32,
    @builtin(subgroup_invocation_id) in_subgroup: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
}

// One entry per subgroup (a workgroup has at most WORKGROUP_SIZE of them), written before
// it is read (the pipelines skip WebGPU's zeroing): only the subgroups' own entries are.
var<workgroup> subgroup_sum: array<real, WORKGROUP_SIZE>;
var<workgroup> subgroup_tiny: array<real, WORKGROUP_SIZE>;
var<workgroup> subgroup_amax: array<real_bits, WORKGROUP_SIZE>;

// Combines every invocation's partial into the workgroup's, written to `partials`.
fn reduce_workgroup(lane: Lane, group: u32, mine: NormPartial) {
    let sum = subgroupAdd(mine.sum);
    let tiny = subgroupAdd(mine.tiny);
    // The largest magnitude as integers, high word first: the maximum of the high words,
    // then of the low words among the invocations that hold it.
    let high = subgroupMax(magnitude_high_word(mine.amax));
    let low = subgroupMax(select(0u, magnitude_low_word(mine.amax), magnitude_high_word(mine.amax) == high));
    if (lane.in_subgroup == 0u) {
        subgroup_sum[lane.subgroup] = sum;
        subgroup_tiny[lane.subgroup] = tiny;
        subgroup_amax[lane.subgroup] = magnitude_from_words(high, low);
    }
    workgroupBarrier();
    if (lane.local == 0u) {
        var total = NormPartial(subgroup_sum[0], subgroup_tiny[0], subgroup_amax[0]);
        for (var s = 1u; s < lane.subgroups; s = s + 1u) {
            total = merge(total, NormPartial(subgroup_sum[s], subgroup_tiny[s], subgroup_amax[s]));
        }
        partials[group] = total;
    }
}
