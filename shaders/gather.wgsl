// gather: dst[r, :] = src[rows[r], :], src [n, cols], dst [rows, cols]; one thread per element.

struct Params {
    len: u32,        // rows * cols of dst
    cols: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        let r = i / p.cols;
        let c = i % p.cols;
        dst[i] = src[rows[r] * p.cols + c];
    }
}
