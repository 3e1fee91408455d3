// linear: the affine map of a layer (ae_backend::ops::LinearOps): matmul, add_bias, bias_grad.
//
// matmul: c = alpha * op(a) op(b) + beta * c, row-major f32.
// op(a): [m, k], op(b): [k, n], c: [m, n]; op(x) is x or its transpose as the flags say.
// A WY x WX workgroup computes a BM x BN tile of c (BM = WY * RM, BN = WX * RN), each thread
// RM x RN outputs spaced WY rows and WX columns apart, with BK-deep slices of op(a) and op(b)
// staged in workgroup memory. Edges are guarded, so any shape works; beta == 0 never reads c.
//
// The constants and aliases below are the default variant's. The matmul variants (ae-wgpu's
// src/variants.rs) are this file with some of them rewritten at pipeline build time:
// - the five tile constants;
// - `Load` = vec4<f32> with VW = 4: each staging read takes 4 neighbours along the stored rows
//   of a and b (only for shapes whose stored row lengths are multiples of 4, so a vec4 is
//   either wholly inside the matrix or wholly outside);
// - `Tile` = f16 (with `enable f16;`): the staged slices held in half precision, products
//   accumulated in f32; opt-in, never the default;
// - the subgroup variant: the two entry points renamed (`_tiled`) and linear_subgroup.wgsl's
//   split-k `matmul` and `matmul_bias_activation` appended, which store through the same
//   store_product and store_bias_activation.

struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    act: u32, // matmul_bias_activation: the activation's ACT_* id
    _pad1: u32,
    _pad2: u32,
    alpha: f32,
    beta: f32,
    _pad3: f32,
    _pad4: f32,
}

alias Load = f32;
alias Tile = f32;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<Load>;
@group(0) @binding(2) var<storage, read> b: array<Load>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> epi_bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> epi_post: array<f32>;

const WX: u32 = 16u;
const WY: u32 = 16u;
const RM: u32 = 4u;
const RN: u32 = 4u;
const BK: u32 = 16u;
const VW: u32 = 1u;

const BM: u32 = WY * RM;
const BN: u32 = WX * RN;
const THREADS: u32 = WX * WY;
var<workgroup> tile_a: array<Tile, BK * BM>; // [BK][BM]: tile_a[kk * BM + i] = op(a)[row0 + i, k0 + kk]
var<workgroup> tile_b: array<Tile, BK * BN>; // [BK][BN]: tile_b[kk * BN + j] = op(b)[k0 + kk, col0 + j]

// Element `e` of a staging read: the read itself when VW = 1 (the splat gives it back for any
// `e`), its `e`-th lane when VW = 4.
fn lane(v: Load, e: u32) -> Tile {
    return Tile(vec4<f32>(v)[e]);
}

// The VW elements of a stored [rows, cols] operand `x` (a or b) from [r, col] along the row,
// zero outside the matrix (the caller starts `col` at a multiple of VW).
fn load_a(r: u32, col: u32, rows: u32, cols: u32) -> Load {
    if (r >= rows || col >= cols) {
        return Load(0.0);
    }
    return a[(r * cols + col) / VW];
}

fn load_b(r: u32, col: u32, rows: u32, cols: u32) -> Load {
    if (r >= rows || col >= cols) {
        return Load(0.0);
    }
    return b[(r * cols + col) / VW];
}

// Stages op(a)[row0 .. row0 + BM, k0 .. k0 + BK] into tile_a, VW stored neighbours per read;
// the read order follows the stored layout so neighbouring threads read neighbouring addresses.
fn stage_a(row0: u32, k0: u32, t: u32) {
    for (var idx = t; idx < BK * BM / VW; idx += THREADS) {
        if (p.trans_a != 0u) {
            // Stored [k, m]: a read runs along i.
            let kk = idx / (BM / VW);
            let i = (idx % (BM / VW)) * VW;
            let v = load_a(k0 + kk, row0 + i, p.k, p.m);
            for (var e = 0u; e < VW; e++) {
                tile_a[kk * BM + i + e] = lane(v, e);
            }
        } else {
            // Stored [m, k]: a read runs along kk.
            let i = idx / (BK / VW);
            let kk = (idx % (BK / VW)) * VW;
            let v = load_a(row0 + i, k0 + kk, p.m, p.k);
            for (var e = 0u; e < VW; e++) {
                tile_a[(kk + e) * BM + i] = lane(v, e);
            }
        }
    }
}

// Stages op(b)[k0 .. k0 + BK, col0 .. col0 + BN] into tile_b, as stage_a.
fn stage_b(col0: u32, k0: u32, t: u32) {
    for (var idx = t; idx < BK * BN / VW; idx += THREADS) {
        if (p.trans_b != 0u) {
            // Stored [n, k]: a read runs along kb.
            let j = idx / (BK / VW);
            let kb = (idx % (BK / VW)) * VW;
            let v = load_b(col0 + j, k0 + kb, p.n, p.k);
            for (var e = 0u; e < VW; e++) {
                tile_b[(kb + e) * BN + j] = lane(v, e);
            }
        } else {
            // Stored [k, n]: a read runs along j.
            let kb = idx / (BN / VW);
            let j = (idx % (BN / VW)) * VW;
            let v = load_b(k0 + kb, col0 + j, p.k, p.n);
            for (var e = 0u; e < VW; e++) {
                tile_b[kb * BN + j + e] = lane(v, e);
            }
        }
    }
}

// The workgroup's product tile: thread (lid.x, lid.y)'s RM x RN sums of op(a) op(b), for rows
// row0 + lid.y + WY * i and columns col0 + lid.x + WX * j.
fn product(row0: u32, col0: u32, lid: vec3<u32>) -> array<array<f32, RN>, RM> {
    let t = lid.y * WX + lid.x;
    var acc: array<array<f32, RN>, RM>;
    for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
            acc[i][j] = 0.0;
        }
    }
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        stage_a(row0, k0, t);
        stage_b(col0, k0, t);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, RM>;
            var bv: array<f32, RN>;
            for (var i = 0u; i < RM; i++) {
                av[i] = f32(tile_a[kk * BM + lid.y + WY * i]);
            }
            for (var j = 0u; j < RN; j++) {
                bv[j] = f32(tile_b[kk * BN + lid.x + WX * j]);
            }
            for (var i = 0u; i < RM; i++) {
                for (var j = 0u; j < RN; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}

// The index in c of thread (lid.x, lid.y)'s output (i, j) of the tile at (row0, col0), or -1
// outside c.
fn out_at(row0: u32, col0: u32, lid: vec3<u32>, i: u32, j: u32) -> i32 {
    let r = row0 + lid.y + WY * i;
    let col = col0 + lid.x + WX * j;
    if (r >= p.m || col >= p.n) {
        return -1;
    }
    return i32(r * p.n + col);
}

@compute @workgroup_size(WX, WY, 1)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let acc = product(row0, col0, lid);
    for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
            let o = out_at(row0, col0, lid, i, j);
            if (o < 0) {
                continue;
            }
            store_product(u32(o), acc[i][j]);
        }
    }
}

// matmul's store of one output: c[at] = alpha * sum + beta * c[at] (c not read when beta == 0).
fn store_product(at: u32, sum: f32) {
    var v = p.alpha * sum;
    if (p.beta != 0.0) {
        v += p.beta * c[at];
    }
    c[at] = v;
}

// matmul_bias_activation's store of one output: c[at] = alpha * sum + bias, epi_post[at] = f(c).
fn store_bias_activation(at: u32, sum: f32) {
    let v = p.alpha * sum + epi_bias[at % p.n];
    c[at] = v;
    epi_post[at] = forward(p.act, v);
}

// matmul_bias_activation: a layer's forward in one pass, the product with bias and activation
// applied as it is stored: c = alpha * op(a) op(b) + epi_bias (the pre-activation, kept for the
// backward), epi_post = f(c); c, epi_post [m, n], epi_bias [1, n]; p.beta is not read. The same
// tiles and variants as matmul.
@compute @workgroup_size(WX, WY, 1)
fn matmul_bias_activation(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let acc = product(row0, col0, lid);
    for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
            let o = out_at(row0, col0, lid, i, j);
            if (o < 0) {
                continue;
            }
            store_bias_activation(u32(o), acc[i][j]);
        }
    }
}

// add_bias: y[r, c] += bias[c]: y [len / cols, cols], bias [1, cols]; a 2-D grid of 256-wide
// workgroups (i = y * row_stride + x).

struct AddBiasParams {
    len: u32,
    cols: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> add_bias_p: AddBiasParams;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * add_bias_p.row_stride + gid.x;
    if (i < add_bias_p.len) {
        y[i] = y[i] + bias[i % add_bias_p.cols];
    }
}

// bias_grad: db[0, j] = sum_i dy[i, j]: dy [rows, cols], db [1, cols]. A 256-thread workgroup
// per block of 64 columns: 4 threads per column each sum every 4th row, then the 4 partials are
// added.

struct BiasGradParams {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> bias_grad_p: BiasGradParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

var<workgroup> col_parts: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn bias_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let j = wg.x * 64u + lid.x;
    var s = 0.0;
    if (j < bias_grad_p.cols) {
        for (var i = lid.y; i < bias_grad_p.rows; i += 4u) {
            s += dy[i * bias_grad_p.cols + j];
        }
    }
    col_parts[lid.y * 64u + lid.x] = s;
    workgroupBarrier();
    if (lid.y == 0u && j < bias_grad_p.cols) {
        db[j] = col_parts[lid.x] + col_parts[64u + lid.x] + col_parts[128u + lid.x] + col_parts[192u + lid.x];
    }
}
