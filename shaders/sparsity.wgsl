// sparsity: the code penalties of sparse autoencoders (L1, KL) and the seeded input corruption
// of denoising ones; the same maths as crates/ae-core/src/sparsity.rs. Tensors are row-major f32,
// 1-D dispatches are 2-D grids of 256-wide workgroups (i = y * row_stride + x). Reductions write
// one partial sum per workgroup (or per column) that reduce.wgsl's `finish_sum` adds up.

struct Params {
    len: u32,        // elements (l1, kl_gradient, corrupt) or columns (kl_divergence)
    cols: u32,       // width of a row
    flag: u32,       // l1: unit weights bound; corrupt: 0 mask, 1 gauss
    row_stride: u32, // threads per row of the 2-D dispatch
    a: f32,          // l1: lambda / rows; kl: rho; corrupt: p or sigma
    b: f32,          // kl_divergence: 1 / rows; kl_gradient: beta / rows
    seed: u32,       // corrupt
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read_write> means: array<f32>;

const KL_EPS: f32 = 1e-6;
const TAU: f32 = 6.283185307179586;

fn index(gid: vec3<u32>) -> u32 {
    return gid.y * p.row_stride + gid.x;
}

// L1: grad[i, j] += lambda / rows * w_j * sign(h[i, j]); partial[workgroup] = sum of w_j |h|
// over the workgroup's elements (finish_sum scales by lambda / rows).
@compute @workgroup_size(256, 1, 1)
fn l1_penalty(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = index(gid);
    var value = 0.0;
    if (i < p.len) {
        var w = 1.0;
        if (p.flag != 0u) {
            w = weights[i % p.cols];
        }
        let v = h[i];
        value = w * abs(v);
        grad[i] = grad[i] + p.a * w * sign(v);
    }
    let total = workgroup_sum(lid, value);
    if (lid == 0u) {
        partial[wg.y * nwg.x + wg.x] = total;
    }
}

fn kl_divergence_of(rho: f32, m: f32) -> f32 {
    return rho * log(rho / m) + (1.0 - rho) * log((1.0 - rho) / (1.0 - m));
}

// KL, per column j < len (after column_sum left unit j's sum in means[j]):
// means[j] = clamp(means[j] / rows); partial[j] = KL(rho || means[j]).
@compute @workgroup_size(256, 1, 1)
fn kl_divergence(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = index(gid);
    if (j < p.len) {
        let m = clamp(means[j] * p.b, KL_EPS, 1.0 - KL_EPS);
        means[j] = m;
        partial[j] = kl_divergence_of(p.a, m);
    }
}

// KL's gradient: grad[i, j] += beta / rows * (-rho / m_j + (1 - rho) / (1 - m_j)).
@compute @workgroup_size(256, 1, 1)
fn kl_gradient(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        let m = means[i % p.cols];
        let rho = p.a;
        grad[i] = grad[i] + p.b * ((1.0 - rho) / (1.0 - m) - rho / m);
    }
}

// PCG output permutation, as ae_core::sparsity::hash_u32.
fn hash_u32(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform number in (0, 1), as ae_core::sparsity::hash_uniform.
fn hash_uniform(seed: u32, i: u32, stream: u32) -> f32 {
    let v = hash_u32(hash_u32(seed ^ (stream * 0x9E3779B9u)) ^ i);
    return (f32(v >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Denoising corruption, as ae_core::sparsity::Noise::apply: grad (the output) = noisy h.
@compute @workgroup_size(256, 1, 1)
fn corrupt(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i < p.len) {
        let u1 = hash_uniform(p.seed, i, 0u);
        if (p.flag == 0u) {
            grad[i] = select(h[i], 0.0, u1 < p.a);
        } else {
            let u2 = hash_uniform(p.seed, i, 1u);
            grad[i] = h[i] + p.a * sqrt(-2.0 * log(u1)) * cos(TAU * u2);
        }
    }
}
