// topk: per row of z [rows, cols], keep the k largest values (ties: lower column first);
// out = max(z, 0) on kept elements, 0 elsewhere; mask = 1 where kept and z > 0. The same maths as
// the CPU backend, ordering values by ae_core::sparsity::topk_key (f32 total order).
// One 256-thread workgroup per row (row = wg.y * nwg.x + wg.x): a radix select finds the k-th
// largest key bit by bit (32 counting passes over the row), then one pass writes the row.

struct Params {
    rows: u32,
    cols: u32,
    k: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

var<workgroup> counter: atomic<u32>;
var<workgroup> total: u32;

// An unsigned key whose order is f32 total order.
fn key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

// How many keys of the row satisfy (key & m) == want, summed over the workgroup.
fn count(base: u32, lid: u32, m: u32, want: u32) -> u32 {
    var c = 0u;
    for (var j = lid; j < p.cols; j += 256u) {
        if ((key(z[base + j]) & m) == want) {
            c += 1u;
        }
    }
    atomicAdd(&counter, c);
    workgroupBarrier();
    if (lid == 0u) {
        total = atomicLoad(&counter);
        atomicStore(&counter, 0u);
    }
    return workgroupUniformLoad(&total);
}

fn write(i: u32, v: f32, kept: bool) {
    let on = kept && v > 0.0;
    out[i] = select(0.0, v, on);
    mask[i] = select(0.0, 1.0, on);
}

@compute @workgroup_size(256, 1, 1)
fn topk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wg.y * nwg.x + wg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.cols;
    // Invariant: the k-th largest key starts with `prefix` on the bits of `decided`, and
    // `remaining` of the keys with that prefix are among the k largest.
    var prefix = 0u;
    var decided = 0u;
    var remaining = p.k;
    for (var i = 0u; i < 32u; i++) {
        let bit = 1u << (31u - i);
        let with_bit = count(base, lid, decided | bit, prefix | bit);
        if (with_bit < remaining) {
            remaining -= with_bit;
        } else {
            prefix |= bit;
        }
        decided |= bit;
    }
    // `prefix` is the k-th largest key; `remaining` keys equal to it are kept.
    let equal = count(base, lid, 0xFFFFFFFFu, prefix);
    let keep_all_equal = equal == remaining;
    for (var j = lid; j < p.cols; j += 256u) {
        let v = z[base + j];
        let kv = key(v);
        if (kv != prefix) {
            write(base + j, v, kv > prefix);
        } else if (keep_all_equal) {
            write(base + j, v, true);
        }
    }
    // More equal keys than places: the lowest columns win, in order, on one thread.
    if (!keep_all_equal && lid == 0u) {
        var left = remaining;
        for (var j = 0u; j < p.cols; j++) {
            let v = z[base + j];
            if (key(v) == prefix) {
                write(base + j, v, left > 0u);
                if (left > 0u) {
                    left -= 1u;
                }
            }
        }
    }
}
