// sparsity: the code penalties, TopK and the dead-latent ops of sparse autoencoders
// (ae_backend::ops::SparsityOps), the same maths as ae_backend::ops::sparsity, whose constants
// (KL_EPS, ACTIVE_THRESHOLD, MASKED) the Rust side generates in front of this file. Tensors are
// row-major f32; elementwise dispatches are 2-D grids of 256-wide workgroups
// (i = y * row_stride + x). Reductions write one partial sum per workgroup (or per column) that
// reduce.wgsl's `finish_sum` adds up.

// ---- l1_penalty ----

struct L1PenaltyParams {
    len: u32,         // elements
    cols: u32,        // width of a row
    weighted: u32,    // 1: unit weights bound
    row_stride: u32,  // threads per row of the 2-D dispatch
    step: f32,        // lambda / rows
    tanh_scale: f32,  // 0: L1; c > 0: tanh(c w |h|)
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> l1_p: L1PenaltyParams;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

// L1: grad[i, j] += lambda / rows * w_j * sign(h[i, j]) * phi'(w_j |h|); partial[workgroup] =
// sum of phi(w_j |h|) over the workgroup's elements (finish_sum scales by lambda / rows); phi
// the identity, or tanh(c u) with tanh_scale c > 0.
@compute @workgroup_size(256, 1, 1)
fn l1_penalty(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.y * l1_p.row_stride + gid.x;
    var value = 0.0;
    if (i < l1_p.len) {
        var w = 1.0;
        if (l1_p.weighted != 0u) {
            w = weights[i % l1_p.cols];
        }
        let v = h[i];
        let u = w * abs(v);
        value = saturated_value(u, l1_p.tanh_scale);
        grad[i] = grad[i] + l1_p.step * w * sign(v) * saturated_slope(u, l1_p.tanh_scale);
    }
    let total = workgroup_sum(lid, value);
    if (lid == 0u) {
        partial[wg.y * nwg.x + wg.x] = total;
    }
}

// ---- kl_sparsity: bias_grad (column sums into `means`), then these two ----

struct KlSparsityParams {
    len: u32,        // columns (divergence) or elements (gradient)
    cols: u32,       // width of a row
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
    rho: f32,
    coef: f32,       // divergence: 1 / rows; gradient: beta / rows
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> kl_p: KlSparsityParams;
@group(0) @binding(5) var<storage, read_write> means: array<f32>;

fn kl_divergence_of(rho: f32, m: f32) -> f32 {
    return rho * log(rho / m) + (1.0 - rho) * log((1.0 - rho) / (1.0 - m));
}

// Per column j < len (after bias_grad left unit j's sum in means[j]):
// means[j] = clamp(means[j] / rows); partial[j] = KL(rho || means[j]).
@compute @workgroup_size(256, 1, 1)
fn kl_sparsity_divergence(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.y * kl_p.row_stride + gid.x;
    if (j < kl_p.len) {
        let m = clamp(means[j] * kl_p.coef, KL_EPS, 1.0 - KL_EPS);
        means[j] = m;
        partial[j] = kl_divergence_of(kl_p.rho, m);
    }
}

// grad[i, j] += beta / rows * (-rho / m_j + (1 - rho) / (1 - m_j)).
@compute @workgroup_size(256, 1, 1)
fn kl_sparsity_gradient(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * kl_p.row_stride + gid.x;
    if (i < kl_p.len) {
        let m = means[i % kl_p.cols];
        let rho = kl_p.rho;
        grad[i] = grad[i] + kl_p.coef * ((1.0 - rho) / (1.0 - m) - rho / m);
    }
}

// ---- topk: per row of z [rows, cols], keep the k largest values (ties: lower column first);
// out = max(z, 0) on kept elements, 0 elsewhere; mask = 1 where kept and z > 0. Values are
// ordered by ae_backend::ops::sparsity::topk_key (f32 total order). One 256-thread workgroup per
// row (row = wg.y * nwg.x + wg.x): a radix select finds the k-th largest key bit by bit (32
// counting passes over the row), then one pass writes the row. ----

struct TopkParams {
    rows: u32,
    cols: u32,
    k: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> topk_p: TopkParams;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> mask: array<f32>;

var<workgroup> counter: atomic<u32>;
var<workgroup> total: u32;

// An unsigned key whose order is f32 total order.
fn key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

// How many keys of the row satisfy (key & m) == want, summed over the workgroup.
fn count(base: u32, lid: u32, m: u32, want: u32) -> u32 {
    var c = 0u;
    for (var j = lid; j < topk_p.cols; j += 256u) {
        if ((key(z[base + j]) & m) == want) {
            c += 1u;
        }
    }
    atomicAdd(&counter, c);
    workgroupBarrier();
    if (lid == 0u) {
        total = atomicLoad(&counter);
        atomicStore(&counter, 0u);
    }
    return workgroupUniformLoad(&total);
}

fn write(i: u32, v: f32, kept: bool) {
    let on = kept && v > 0.0;
    out[i] = select(0.0, v, on);
    mask[i] = select(0.0, 1.0, on);
}

@compute @workgroup_size(256, 1, 1)
fn topk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wg.y * nwg.x + wg.x;
    if (row >= topk_p.rows) {
        return;
    }
    let base = row * topk_p.cols;
    // Invariant: the k-th largest key starts with `prefix` on the bits of `decided`, and
    // `remaining` of the keys with that prefix are among the k largest.
    var prefix = 0u;
    var decided = 0u;
    var remaining = topk_p.k;
    for (var i = 0u; i < 32u; i++) {
        let bit = 1u << (31u - i);
        let with_bit = count(base, lid, decided | bit, prefix | bit);
        if (with_bit < remaining) {
            remaining -= with_bit;
        } else {
            prefix |= bit;
        }
        decided |= bit;
    }
    // `prefix` is the k-th largest key; `remaining` keys equal to it are kept.
    let equal = count(base, lid, 0xFFFFFFFFu, prefix);
    let keep_all_equal = equal == remaining;
    for (var j = lid; j < topk_p.cols; j += 256u) {
        let v = z[base + j];
        let kv = key(v);
        if (kv != prefix) {
            write(base + j, v, kv > prefix);
        } else if (keep_all_equal) {
            write(base + j, v, true);
        }
    }
    // More equal keys than places: the lowest columns win, in order, on one thread.
    if (!keep_all_equal && lid == 0u) {
        var left = remaining;
        for (var j = 0u; j < topk_p.cols; j++) {
            let v = z[base + j];
            if (key(v) == prefix) {
                write(base + j, v, left > 0u);
                if (left > 0u) {
                    left -= 1u;
                }
            }
        }
    }
}

// ---- jump_relu: out = z where z > theta[col] and z > 0, else 0; mask = 1 there. One thread per
// element, a 2-D grid of 256-wide workgroups (i = y * row_stride + x). (batch_topk is the topk
// kernel above on the whole batch as one row.) ----

struct JumpReluParams {
    len: u32,        // jump_relu: elements; jump_relu_backward: columns
    cols: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    rows: u32,       // jump_relu_backward: rows of z
    bandwidth: f32,  // jump_relu_backward: the rectangle kernel's bandwidth eps
    l0: f32,         // jump_relu_backward: the L0 coefficient over the rows
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> jump_p: JumpReluParams;
@group(0) @binding(9) var<storage, read> theta: array<f32>;
@group(0) @binding(10) var<storage, read_write> theta_grad: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn jump_relu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * jump_p.row_stride + gid.x;
    if (i < jump_p.len) {
        let v = z[i];
        write(i, v, v > theta[i % jump_p.cols]);
    }
}

// The backward of jump_relu with a trained threshold theta = exp(log theta), and its L0 penalty
// (ae_backend::ops::sparsity::jump_log_threshold_grad): one thread per column j, over the rows
// in order. theta_grad[j] = sum_i theta_j * -(1 / eps) K((z - theta_j) / eps) (theta_j g + l0),
// K(u) = 1 for |u| < 1/2; grad[i, j] = 0 where the unit is off; partial[j] = the unit's count
// of on elements (finish_sum scales by the L0 coefficient).
@compute @workgroup_size(256, 1, 1)
fn jump_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.y * jump_p.row_stride + gid.x;
    if (j >= jump_p.len) {
        return;
    }
    let t = theta[j];
    let eps = jump_p.bandwidth;
    var lg = 0.0;
    var on = 0.0;
    for (var i = 0u; i < jump_p.rows; i++) {
        let at = i * jump_p.cols + j;
        let v = z[at];
        let u = (v - t) / eps;
        if (u > -0.5 && u < 0.5) {
            lg += -(t / eps) * (t * grad[at] + jump_p.l0);
        }
        if (v > t && v > 0.0) {
            on += 1.0;
        } else {
            grad[at] = 0.0;
        }
    }
    theta_grad[j] = lg;
    partial[j] = on;
}

// ---- track_dead and mask_dead: the dead latents of the AuxK loss ----

struct DeadParams {
    len: u32,        // track_dead: columns; mask_dead: elements
    cols: u32,       // width of a row
    row_stride: u32, // threads per row of the 2-D dispatch
    rows: u32,       // track_dead: rows of `code`
    window: f32,     // mask_dead: samples without activation after which a unit is dead
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> dead_p: DeadParams;
@group(0) @binding(1) var<storage, read> code: array<f32>;
@group(0) @binding(2) var<storage, read_write> since: array<f32>;
@group(0) @binding(8) var<storage, read> since_in: array<f32>;

fn dead_index(gid: vec3<u32>) -> u32 {
    return gid.y * dead_p.row_stride + gid.x;
}

// One thread per column j of `code` [rows, cols]: since[j] = 0 when some
// code[i, j] > ACTIVE_THRESHOLD, else since[j] + rows.
@compute @workgroup_size(256, 1, 1)
fn track_dead(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = dead_index(gid);
    if (j >= dead_p.len) {
        return;
    }
    var fired = false;
    for (var i = 0u; i < dead_p.rows; i++) {
        if (code[i * dead_p.cols + j] > ACTIVE_THRESHOLD) {
            fired = true;
            break;
        }
    }
    since[j] = select(since[j] + f32(dead_p.rows), 0.0, fired);
}

// ---- threshold_average: BatchTopK's inference threshold, a running average ----

struct ThresholdParams {
    len: u32,   // entries of `code`
    decay: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> threshold_p: ThresholdParams;
@group(0) @binding(11) var<storage, read_write> threshold: array<f32>;
var<workgroup> smallest: array<f32, 256>;

// One workgroup: t = the smallest positive code entry (each thread a strided share, then a
// tree of mins); threshold[0] = t where unset (negative), else decay * old + (1 - decay) * t;
// unchanged where no entry is positive (t stays at -MASKED, the largest finite f32).
@compute @workgroup_size(256, 1, 1)
fn threshold_average(@builtin(local_invocation_id) lid: vec3<u32>) {
    var m = -MASKED;
    for (var i = lid.x; i < threshold_p.len; i += 256u) {
        let v = code[i];
        if (v > 0.0) {
            m = min(m, v);
        }
    }
    smallest[lid.x] = m;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            smallest[lid.x] = min(smallest[lid.x], smallest[lid.x + s]);
        }
        workgroupBarrier();
    }
    let t = smallest[0];
    if (lid.x == 0u && t < -MASKED) {
        let old = threshold[0];
        threshold[0] = select(threshold_p.decay * old + (1.0 - threshold_p.decay) * t, t, old < 0.0);
    }
}

// out[i, j] = z[i, j] (the pre-activation) where since_in[j] >= window, else MASKED (the
// lowest finite f32, which topk never turns on).
@compute @workgroup_size(256, 1, 1)
fn mask_dead(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = dead_index(gid);
    if (i >= dead_p.len) {
        return;
    }
    out[i] = select(MASKED, z[i], since_in[i % dead_p.cols] >= dead_p.window);
}
