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

// forward(act, x) and gelu_inner(x) are in common.wgsl (the matmul epilogue uses them too).

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

// bias_activation: a layer's epilogue in one pass, add_bias then activation: pre[r, c] +=
// act_bias[c], then post = f(pre); pre, post [len / cols, cols], act_bias [1, cols]; a 2-D grid
// of 256-wide workgroups (i = y * row_stride + x).

struct BiasActivationParams {
    len: u32,
    cols: u32,
    act: u32,
    row_stride: u32,
}

@group(0) @binding(0) var<uniform> bias_act_p: BiasActivationParams;
@group(0) @binding(1) var<storage, read> act_bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> pre: array<f32>;
@group(0) @binding(3) var<storage, read_write> post: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn bias_activation(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * bias_act_p.row_stride + gid.x;
    if (i < bias_act_p.len) {
        let v = pre[i] + act_bias[i % bias_act_p.cols];
        pre[i] = v;
        post[i] = forward(bias_act_p.act, v);
    }
}

// activation_bias_backward: the epilogue's backward in one pass, activation_backward then
// bias_grad: grad_in_place *= f'(z) (a = f(z)), then bias_grad[0, j] = sum_i grad_in_place[i, j];
// z, a, grad_in_place [rows, cols]. A 256-thread workgroup per block of 64 columns: 4 threads per
// column each take every 4th row, then the 4 partials are added (bias_grad's order).

struct ActivationBiasBackwardParams {
    rows: u32,
    cols: u32,
    act: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> act_bias_back_p: ActivationBiasBackwardParams;
@group(0) @binding(4) var<storage, read_write> grad_in_place: array<f32>;
@group(0) @binding(5) var<storage, read_write> bias_grad: array<f32>;

var<workgroup> bias_parts: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn activation_bias_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let cols = act_bias_back_p.cols;
    let j = wg.x * 64u + lid.x;
    var s = 0.0;
    if (j < cols) {
        for (var i = lid.y; i < act_bias_back_p.rows; i += 4u) {
            let at = i * cols + j;
            let g = grad_in_place[at] * derivative(act_bias_back_p.act, z[at], a[at]);
            grad_in_place[at] = g;
            s += g;
        }
    }
    bias_parts[lid.y * 64u + lid.x] = s;
    workgroupBarrier();
    if (lid.y == 0u && j < cols) {
        bias_grad[j] = bias_parts[lid.x] + bias_parts[64u + lid.x] + bias_parts[128u + lid.x] + bias_parts[192u + lid.x];
    }
}
