// columns: per-column ops on a row-major f32 matrix [rows, cols] (ae_backend::ops::ColumnOps),
// one thread per column (a decoder weight's column j holds code unit j's direction); the same
// maths as the CPU backend. 2-D grids of 256-wide workgroups (j = y * row_stride + x).

struct ColumnParams {
    len: u32,        // columns
    cols: u32,       // width of a row
    row_stride: u32, // threads per row of the 2-D dispatch
    rows: u32,
    alpha: f32,      // l1_decoder_norm_backward: the coefficient
    h_rows: u32,     // l1_decoder_norm_backward: rows of `h`
    tanh_scale: f32, // l1_decoder_norm_backward: 0 for L1, c > 0 for tanh(c n |h|)
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ColumnParams;
@group(0) @binding(1) var<storage, read> w_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<f32>;
@group(0) @binding(5) var<storage, read_write> norms: array<f32>;

fn column(gid: vec3<u32>) -> u32 {
    return gid.y * p.row_stride + gid.x;
}

// ||w_in[:, j]||^2.
fn w_in_squared_norm(j: u32) -> f32 {
    var sq = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        let v = w_in[i * p.cols + j];
        sq += v * v;
    }
    return sq;
}

// w[:, j] /= ||w[:, j]|| (a zero column stays zero).
@compute @workgroup_size(256, 1, 1)
fn normalize_columns(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = column(gid);
    if (j >= p.len) {
        return;
    }
    var sq = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        let v = w[i * p.cols + j];
        sq += v * v;
    }
    if (sq > 0.0) {
        let inv = 1.0 / sqrt(sq);
        for (var i = 0u; i < p.rows; i++) {
            w[i * p.cols + j] = w[i * p.cols + j] * inv;
        }
    }
}

// grad[:, j] -= (grad[:, j] . w[:, j]) / ||w[:, j]||^2 * w[:, j] (nothing for a zero column).
@compute @workgroup_size(256, 1, 1)
fn remove_parallel_component(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = column(gid);
    if (j >= p.len) {
        return;
    }
    var dot = 0.0;
    var sq = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        let v = w_in[i * p.cols + j];
        dot += grad[i * p.cols + j] * v;
        sq += v * v;
    }
    if (sq > 0.0) {
        let c = dot / sq;
        for (var i = 0u; i < p.rows; i++) {
            grad[i * p.cols + j] = grad[i * p.cols + j] - c * w_in[i * p.cols + j];
        }
    }
}

// norms[j] = ||w_in[:, j]||.
@compute @workgroup_size(256, 1, 1)
fn column_norms(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = column(gid);
    if (j >= p.len) {
        return;
    }
    norms[j] = sqrt(w_in_squared_norm(j));
}

// The decoder-norm-weighted L1 (or, with tanh_scale c > 0, tanh) penalty's decoder gradient:
// grad[:, j] += alpha * (sum_i |h[i, j]| phi'(n_j |h[i, j]|)) / n_j * w_in[:, j], n_j =
// ||w_in[:, j]||, phi' = 1 for L1 and c (1 - tanh^2(c u)) for tanh (nothing for a zero column);
// h is [h_rows, cols].
@compute @workgroup_size(256, 1, 1)
fn l1_decoder_norm_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = column(gid);
    if (j >= p.len) {
        return;
    }
    let sq = w_in_squared_norm(j);
    if (sq > 0.0) {
        let norm = sqrt(sq);
        var abs_sum = 0.0;
        for (var i = 0u; i < p.h_rows; i++) {
            let v = abs(h[i * p.cols + j]);
            abs_sum += v * saturated_slope(norm * v, p.tanh_scale);
        }
        let c = p.alpha * abs_sum / norm;
        for (var i = 0u; i < p.rows; i++) {
            grad[i * p.cols + j] = grad[i * p.cols + j] + c * w_in[i * p.cols + j];
        }
    }
}
