// The subgroup matmul variant (appended to linear.wgsl, whose tiled entry points it replaces;
// needs SUBGROUP): split-k for products with few rows (a batch of 1-16 against a layer). A
// 64-thread workgroup computes one output at a time: each thread sums every 64th term of the
// k-long dot product, subgroupAdd adds its subgroup's, and the first thread adds the
// subgroups' partial sums. Workgroups stride over the outputs, so any [m, n] fits the grid.

const SK: u32 = 64u;
var<workgroup> sk_parts: array<f32, SK>;

// op(a)[r, kk] op(b)[kk, col] summed over this thread's terms kk = t, t + SK, ...
fn splitk_terms(r: u32, col: u32, t: u32) -> f32 {
    var s = 0.0;
    for (var k0 = 0u; k0 < p.k; k0 += SK) {
        let kk = k0 + t;
        if (kk < p.k) {
            var av: f32;
            var bv: f32;
            if (p.trans_a != 0u) {
                av = a[kk * p.m + r];
            } else {
                av = a[r * p.k + kk];
            }
            if (p.trans_b != 0u) {
                bv = b[col * p.k + kk];
            } else {
                bv = b[kk * p.n + col];
            }
            s = fma(av, bv, s);
        }
    }
    return s;
}

// The workgroup's sum of its threads' `s` (thread 0's result; the others get a partial).
fn splitk_reduce(s: f32, lane: u32, group: u32, groups: u32, t: u32) -> f32 {
    let part = subgroupAdd(s);
    if (lane == 0u) {
        sk_parts[group] = part;
    }
    workgroupBarrier();
    var total = 0.0;
    if (t == 0u) {
        for (var g = 0u; g < groups; g++) {
            total += sk_parts[g];
        }
    }
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(SK, 1, 1)
fn matmul(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) group: u32,
    @builtin(num_subgroups) groups: u32,
) {
    for (var r = wg.y; r < p.m; r += nwg.y) {
        for (var col = wg.x; col < p.n; col += nwg.x) {
            let total = splitk_reduce(splitk_terms(r, col, t), lane, group, groups, t);
            if (t == 0u) {
                store_product(r * p.n + col, total);
            }
        }
    }
}

@compute @workgroup_size(SK, 1, 1)
fn matmul_bias_activation(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) group: u32,
    @builtin(num_subgroups) groups: u32,
) {
    for (var r = wg.y; r < p.m; r += nwg.y) {
        for (var col = wg.x; col < p.n; col += nwg.x) {
            let total = splitk_reduce(splitk_terms(r, col, t), lane, group, groups, t);
            if (t == 0u) {
                store_bias_activation(r * p.n + col, total);
            }
        }
    }
}
