// common: helpers every kernel file may use; compiled in front of each shader file (see
// crates/ae-wgpu/src/kernels.rs), since WGSL has no includes.

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

// tanh without overflow for large |x|.
fn stable_tanh(x: f32) -> f32 {
    let t = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - t) / (1.0 + t);
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
