// reduce: column sums (the bias gradient) and the final sum of a loss's partial sums.

struct Params {
    rows: u32,
    cols: u32,
    count: u32, // finish_sum: number of partial sums
    _pad: u32,
    scale: f32, // finish_sum: acc += scale * sum
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// out[0, j] = sum_i x[i, j]: x [rows, cols], out [1, cols]. A 256-thread workgroup per block of
// 64 columns: 4 threads per column each sum every 4th row, then the 4 partials are added.
var<workgroup> col_parts: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn column_sum(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let j = wg.x * 64u + lid.x;
    var s = 0.0;
    if (j < p.cols) {
        for (var i = lid.y; i < p.rows; i += 4u) {
            s += x[i * p.cols + j];
        }
    }
    col_parts[lid.y * 64u + lid.x] = s;
    workgroupBarrier();
    if (lid.y == 0u && j < p.cols) {
        out[j] = col_parts[lid.x] + col_parts[64u + lid.x] + col_parts[128u + lid.x] + col_parts[192u + lid.x];
    }
}

// out[0] += scale * sum(x[0..count]); one workgroup.
@compute @workgroup_size(256, 1, 1)
fn finish_sum(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.count; i += 256u) {
        s += x[i];
    }
    let total = workgroup_sum(lid, s);
    if (lid == 0u) {
        out[0] = out[0] + p.scale * total;
    }
}
