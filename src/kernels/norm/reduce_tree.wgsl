// A norm workgroup's reduction in workgroup memory, portable to every API: the
// invocations' partials are halved pairwise, WORKGROUP_SIZE / 2 … 1, one barrier per level.
// Appended to norm.wgsl where the device lacks subgroup operations (see
// reduce_subgroups.wgsl for the other).

// What an invocation needs to know of its place in the workgroup.
struct Lane {
    @builtin(local_invocation_index) local: u32,
}

// Written before they are read (the pipelines skip WebGPU's zeroing): every lane stores
// its partial, and the tree reads only lanes below WORKGROUP_SIZE.
var<workgroup> shared_sum: array<real, WORKGROUP_SIZE>;
var<workgroup> shared_tiny: array<real, WORKGROUP_SIZE>;
var<workgroup> shared_amax: array<real_bits, WORKGROUP_SIZE>;

// Combines every invocation's partial into the workgroup's, written to `partials`.
fn reduce_workgroup(lane: Lane, group: u32, mine: NormPartial) {
    let local = lane.local;
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
        partials[group] =
            NormPartial(shared_sum[0], shared_tiny[0], shared_amax[0]);
    }
}
