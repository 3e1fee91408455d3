// activation: elementwise activations and their backward, the same maths as
// crates/ae-core/src/activation.rs. `act` picks the function:
// 0 identity, 1 relu, 2 leaky_relu, 3 sigmoid, 4 tanh, 5 gelu (tanh approximation), 6 softplus.

struct Params {
    len: u32,
    act: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const LEAKY_SLOPE: f32 = 0.01;
const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_A: f32 = 0.044715;

fn gelu_inner(x: f32) -> f32 {
    return GELU_C * (x + GELU_A * x * x * x);
}

fn forward(act: u32, x: f32) -> f32 {
    switch act {
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(LEAKY_SLOPE * x, x, x > 0.0); }
        case 3u: { return sigmoid(x); }
        case 4u: { return stable_tanh(x); }
        // 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation where tanh u nears -1.
        case 5u: { return x * sigmoid(2.0 * gelu_inner(x)); }
        case 6u: { return softplus(x); }
        default: { return x; }
    }
}

// f'(x), given y = f(x).
fn derivative(act: u32, x: f32, y: f32) -> f32 {
    switch act {
        case 1u: { return select(0.0, 1.0, x > 0.0); }
        case 2u: { return select(LEAKY_SLOPE, 1.0, x > 0.0); }
        // From x, not y: y (1 - y) and 1 - y^2 cancel where y is near 1.
        case 3u: {
            let t = exp(-abs(x));
            return t / ((1.0 + t) * (1.0 + t));
        }
        case 4u: {
            let t = exp(-2.0 * abs(x));
            return 4.0 * t / ((1.0 + t) * (1.0 + t));
        }
        case 5u: {
            let two_u = 2.0 * gelu_inner(x);
            let t = exp(-abs(two_u));
            let ds = t / ((1.0 + t) * (1.0 + t));
            return sigmoid(two_u) + 2.0 * x * ds * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
        }
        case 6u: { return sigmoid(x); }
        default: { return 1.0; }
    }
}

// out = f(z)
@compute @workgroup_size(256, 1, 1)
fn activation_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
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
