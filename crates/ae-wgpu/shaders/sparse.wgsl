// sparse: products with TopK codes over their active columns (ae_backend::ops::SparseOps, the
// same maths as ae_backend::ops::sparse). Index lists hold column numbers as f32, padded with n.
// A weight is [m, n] (w_t == 0) or [n, m] (w_t == 1). A 2-D grid of 256-wide workgroups
// (i = y * row_stride + x), one thread per row (active_columns), per output element
// (sparse_matmul), per active code element (sparse_input_grad) or per active element and output
// column (sparse_weight_grad, which adds into dw by compare-and-swap, as WGSL has no float
// atomics).

struct SparseParams {
    rows: u32,
    n: u32,          // code columns
    k: u32,          // index slots per row
    m: u32,          // the dense side's width
    w_t: u32,        // the weight (or dw) is stored [n, m]
    len: u32,        // threads that do work
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> sparse_p: SparseParams;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> idx_out: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;

// The index of w[o, j] in the weight's layout.
fn weight_index(o: u32, j: u32) -> u32 {
    return select(o * sparse_p.n + j, j * sparse_p.m + o, sparse_p.w_t != 0u);
}

fn thread(gid: vec3<u32>) -> u32 {
    return gid.y * sparse_p.row_stride + gid.x;
}

// idx_out[r, t]: the column of the t-th nonzero of s[r, :] (s: a mask), n after the last.
@compute @workgroup_size(256, 1, 1)
fn active_columns(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = thread(gid);
    if (r >= sparse_p.len) {
        return;
    }
    let n = sparse_p.n;
    let k = sparse_p.k;
    var t = 0u;
    for (var j = 0u; j < n && t < k; j++) {
        if (s[r * n + j] != 0.0) {
            idx_out[r * k + t] = f32(j);
            t++;
        }
    }
    for (; t < k; t++) {
        idx_out[r * k + t] = f32(n);
    }
}

// out[r, o] = sum_t s[r, j] w[o, j], j = idx[r, t]: out [rows, m].
@compute @workgroup_size(256, 1, 1)
fn sparse_matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = thread(gid);
    if (e >= sparse_p.len) {
        return;
    }
    let r = e / sparse_p.m;
    let o = e % sparse_p.m;
    var acc = 0.0;
    for (var t = 0u; t < sparse_p.k; t++) {
        let j = u32(idx[r * sparse_p.k + t]);
        if (j < sparse_p.n) {
            acc += s[r * sparse_p.n + j] * w[weight_index(o, j)];
        }
    }
    out[e] = acc;
}

// out[r, j] = sum_o dy[r, o] w[o, j] for j = idx[r, t] (out zeroed before): one thread per (r, t).
@compute @workgroup_size(256, 1, 1)
fn sparse_input_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = thread(gid);
    if (e >= sparse_p.len) {
        return;
    }
    let r = e / sparse_p.k;
    let j = u32(idx[e]);
    if (j >= sparse_p.n) {
        return;
    }
    var acc = 0.0;
    for (var o = 0u; o < sparse_p.m; o++) {
        acc += dy[r * sparse_p.m + o] * w[weight_index(o, j)];
    }
    out[r * sparse_p.n + j] = acc;
}

// dw[c, j] += dy[r, c] s[r, j] for j = idx[r, t]: one thread per (r, t, c), dy being y [rows, m].
@compute @workgroup_size(256, 1, 1)
fn sparse_weight_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = thread(gid);
    if (e >= sparse_p.len) {
        return;
    }
    let km = sparse_p.k * sparse_p.m;
    let r = e / km;
    let t = (e / sparse_p.m) % sparse_p.k;
    let c = e % sparse_p.m;
    let j = u32(idx[r * sparse_p.k + t]);
    if (j >= sparse_p.n) {
        return;
    }
    let v = s[r * sparse_p.n + j] * dy[r * sparse_p.m + c];
    if (v == 0.0) {
        return;
    }
    let i = weight_index(c, j);
    var old = atomicLoad(&dw[i]);
    loop {
        let swap = atomicCompareExchangeWeak(&dw[i], old, bitcast<u32>(bitcast<f32>(old) + v));
        if (swap.exchanged) {
            break;
        }
        old = swap.old_value;
    }
}
