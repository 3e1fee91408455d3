// common: helpers every kernel file may use; compiled in front of each shader file, after the
// constants the Rust side generates (see ae-wgpu/src/kernels.rs), since WGSL has no includes.

// A quiet NaN: what a kernel writes for a selector it does not know.
fn nan_f32() -> f32 {
    let bits = 0x7fc00000u;
    return bitcast<f32>(bits);
}

// Logistic sigmoid, stable at both ends.
fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// ln(1 + e^x) without overflow.
fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log(1.0 + exp(-abs(x)));
}

// e^y - 1, accurate near 0 (a degree-7 Taylor polynomial for |y| < 0.5).
fn expm1(y: f32) -> f32 {
    if (abs(y) < 0.5) {
        return y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0
            + y * (1.0 / 720.0 + y * (1.0 / 5040.0)))))));
    }
    return exp(y) - 1.0;
}

// tanh without overflow for large |x| and without cancellation for small |x|.
fn stable_tanh(x: f32) -> f32 {
    let e = expm1(-2.0 * abs(x));
    return sign(x) * (-e) / (2.0 + e);
}

// The slope phi'(u) of the L1 penalty phi(u) = u (c = 0) or its tanh form phi(u) = tanh(c u)
// (ae_backend::ops::sparsity::saturated).
fn saturated_slope(u: f32, c: f32) -> f32 {
    if (c > 0.0) {
        let t = stable_tanh(c * u);
        return c * (1.0 - t * t);
    }
    return 1.0;
}

// phi(u) itself.
fn saturated_value(u: f32, c: f32) -> f32 {
    if (c > 0.0) {
        return stable_tanh(c * u);
    }
    return u;
}

var<workgroup> sums: array<f32, 256>;

// The sum of `value` over a 256-thread workgroup (tree reduction in workgroup memory); every
// thread of the workgroup must call it, and every thread gets the total.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
    sums[lid] = value;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            sums[lid] += sums[lid + s];
        }
        workgroupBarrier();
    }
    let total = sums[0];
    workgroupBarrier();
    return total;
}

// The activations f(x) of ae_backend::ops::activation, by the ACT_* ids; an unknown id gives
// NaN. Used by activation.wgsl and by the matmul epilogue in linear.wgsl.
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
