// activation: elementwise activations and their backward (ae_backend::ops::ActivationOps), the
// same maths as ae_backend::ops::activation. `act` picks the function by the ACT_* ids that
// the Rust side generates (see ae-wgpu/src/kernels.rs); an unknown id writes NaN.

struct ActivationParams {
    len: u32,
    act: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: ActivationParams;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn gelu_inner(x: f32) -> f32 {
    return GELU_C * (x + GELU_A * x * x * x);
}

fn forward(act: u32, x: f32) -> f32 {
    switch act {
        case ACT_IDENTITY: { return x; }
        case ACT_RELU: { return max(x, 0.0); }
        case ACT_LEAKY_RELU: { return select(LEAKY_RELU_SLOPE * x, x, x > 0.0); }
        case ACT_SIGMOID: { return sigmoid(x); }
        case ACT_TANH: { return stable_tanh(x); }
        // 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation where tanh u nears -1.
        case ACT_GELU: { return x * sigmoid(2.0 * gelu_inner(x)); }
        case ACT_SOFTPLUS: { return softplus(x); }
        default: { return nan_f32(); }
    }
}

// f'(x), given y = f(x).
fn derivative(act: u32, x: f32, y: f32) -> f32 {
    switch act {
        case ACT_IDENTITY: { return 1.0; }
        case ACT_RELU: { return select(0.0, 1.0, x > 0.0); }
        case ACT_LEAKY_RELU: { return select(LEAKY_RELU_SLOPE, 1.0, x > 0.0); }
        // From x, not y: y (1 - y) and 1 - y^2 cancel where y is near 1.
        case ACT_SIGMOID: {
            let t = exp(-abs(x));
            return t / ((1.0 + t) * (1.0 + t));
        }
        case ACT_TANH: {
            let t = exp(-2.0 * abs(x));
            return 4.0 * t / ((1.0 + t) * (1.0 + t));
        }
        case ACT_GELU: {
            let two_u = 2.0 * gelu_inner(x);
            let t = exp(-abs(two_u));
            let ds = t / ((1.0 + t) * (1.0 + t));
            return sigmoid(two_u) + 2.0 * x * ds * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
        }
        case ACT_SOFTPLUS: { return sigmoid(x); }
        default: { return nan_f32(); }
    }
}

// out = f(z)
@compute @workgroup_size(256, 1, 1)
fn activation(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        out[i] = forward(p.act, z[i]);
    }
}

// out *= f'(z), with a = f(z)
@compute @workgroup_size(256, 1, 1)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        out[i] = out[i] * derivative(p.act, z[i], a[i]);
    }
}
