// optimizer: fused parameter updates, the same maths as the CPU backend (ae-core's SgdStep and
// AdamStep document them). One thread per parameter.

struct Params {
    len: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad0: u32,
    _pad1: u32,
    lr: f32,
    momentum: f32,   // sgd
    beta1: f32,
    beta2: f32,
    eps: f32,
    decay: f32,      // adam: 1 - lr * decoupled weight decay
    inv_bc1: f32,    // adam: 1 / (1 - beta1^t)
    inv_bc2: f32,    // adam: 1 / (1 - beta2^t)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

// v = momentum v + g; param -= lr v   (m is the velocity)
@compute @workgroup_size(256, 1, 1)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        let vel = p.momentum * m[i] + grad[i];
        m[i] = vel;
        param[i] = param[i] - p.lr * vel;
    }
}

@compute @workgroup_size(256, 1, 1)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        let g = grad[i];
        let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
        let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
        m[i] = m1;
        v[i] = v1;
        param[i] = param[i] * p.decay - p.lr * (m1 * p.inv_bc1) / (sqrt(v1 * p.inv_bc2) + p.eps);
    }
}
