// optim: fused parameter updates (ae_backend::ops::OptimOps), the same maths as
// ae_backend::ops::optim (SgdStep::apply, AdamCoefficients::apply). One thread per parameter,
// a 2-D grid of 256-wide workgroups (i = y * row_stride + x).

struct SgdParams {
    len: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    lr: f32,
    momentum: f32,
}

@group(0) @binding(0) var<uniform> sgd_p: SgdParams;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;

// velocity = momentum velocity + g; param -= lr velocity
@compute @workgroup_size(256, 1, 1)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * sgd_p.row_stride + gid.x;
    if (i < sgd_p.len) {
        let vel = sgd_p.momentum * velocity[i] + grad[i];
        velocity[i] = vel;
        param[i] = param[i] - sgd_p.lr * vel;
    }
}

struct AdamParams {
    len: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad0: u32,
    _pad1: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    decay: f32,      // 1 - lr * decoupled weight decay
    inv_bc1: f32,    // 1 / (1 - beta1^t)
    inv_bc2: f32,    // 1 / (1 - beta2^t)
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> adam_p: AdamParams;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * adam_p.row_stride + gid.x;
    if (i < adam_p.len) {
        let g = grad[i];
        let m1 = adam_p.beta1 * m[i] + (1.0 - adam_p.beta1) * g;
        let v1 = adam_p.beta2 * v[i] + (1.0 - adam_p.beta2) * g * g;
        m[i] = m1;
        v[i] = v1;
        param[i] = param[i] * adam_p.decay
            - adam_p.lr * (m1 * adam_p.inv_bc1) / (sqrt(v1 * adam_p.inv_bc2) + adam_p.eps);
    }
}
