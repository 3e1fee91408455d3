// reduce: the final sum of the per-workgroup partial sums that the loss and the sparsity
// penalties write (a helper of the wgpu backend, no trait method of its own).

struct FinishSumParams {
    count: u32,  // number of partial sums
    scale: f32,  // acc += scale * sum
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: FinishSumParams;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;

// acc[0] += scale * sum(partial[0..count]); one workgroup.
@compute @workgroup_size(256, 1, 1)
fn finish_sum(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.count; i += 256u) {
        s += partial[i];
    }
    let total = workgroup_sum(lid, s);
    if (lid == 0u) {
        acc[0] = acc[0] + p.scale * total;
    }
}
