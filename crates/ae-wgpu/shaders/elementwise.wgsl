// elementwise: copy, fill, scale_add, mul_assign, exponential and divide_by (ae_backend::ops::ElementwiseOps) over
// row-major f32 tensors of `len` elements, dispatched as a 2-D grid of 256-wide workgroups
// (i = y * row_stride + x).

struct ElementwiseParams {
    len: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    value: f32,      // fill: the value; scale_add: alpha
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: ElementwiseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn index(gid: vec3<u32>) -> u32 {
    return gid.y * p.row_stride + gid.x;
}

// y = x
@compute @workgroup_size(256, 1, 1)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        y[i] = x[i];
    }
}

// y = value
@compute @workgroup_size(256, 1, 1)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        y[i] = p.value;
    }
}

// y += value * x
@compute @workgroup_size(256, 1, 1)
fn scale_add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        y[i] = y[i] + p.value * x[i];
    }
}

// y *= x (the backward of a 0/1 mask)
@compute @workgroup_size(256, 1, 1)
fn mul_assign(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        y[i] = y[i] * x[i];
    }
}

// y = e^x (a JumpReLU threshold from its logarithm)
@compute @workgroup_size(256, 1, 1)
fn exponential(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        y[i] = exp(x[i]);
    }
}

// y /= x[0] (a [1, 1] statistic), or y = 0 where x[0] is 0
@compute @workgroup_size(256, 1, 1)
fn divide_by(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        let s = x[0];
        y[i] = select(y[i] / s, 0.0, s == 0.0);
    }
}
