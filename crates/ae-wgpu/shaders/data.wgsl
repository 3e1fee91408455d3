// data: row gathers, column-block copies and the seeded corruption of denoising autoencoders,
// a gather and its corruption in one pass
// (ae_backend::ops::DataOps), the same maths as ae_backend::ops::data. One thread per element, a
// 2-D grid of 256-wide workgroups (i = y * row_stride + x).

// gather_rows: dst[r, :] = src[rows[r], :], src [n, cols], dst [rows, cols].

struct GatherRowsParams {
    len: u32,        // rows * cols of dst
    cols: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> gather_p: GatherRowsParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * gather_p.row_stride + gid.x;
    if (i < gather_p.len) {
        let r = i / gather_p.cols;
        let c = i % gather_p.cols;
        dst[i] = src[rows[r] * gather_p.cols + c];
    }
}

// copy_columns: block_dst[r, dst_col + c] = block_src[r, src_col + c] for c < cols, block_src
// [rows, src_cols], block_dst [rows, dst_cols]; the rest of block_dst is left as it is.

struct CopyColumnsParams {
    len: u32,        // rows * cols of the block
    cols: u32,       // width of the block
    row_stride: u32, // threads per row of the 2-D dispatch
    src_cols: u32,
    dst_cols: u32,
    src_col: u32,
    dst_col: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> block_p: CopyColumnsParams;
@group(0) @binding(1) var<storage, read> block_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> block_dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn copy_columns(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * block_p.row_stride + gid.x;
    if (i < block_p.len) {
        let r = i / block_p.cols;
        let c = i % block_p.cols;
        block_dst[r * block_p.dst_cols + block_p.dst_col + c] =
            block_src[r * block_p.src_cols + block_p.src_col + c];
    }
}

// corrupt: out = x corrupted elementwise by NOISE_MASK (zeroed with probability `param`) or
// NOISE_GAUSS (plus `param` times a standard normal, by Box-Muller); any other kind writes NaN.

struct CorruptParams {
    len: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    kind: u32,       // NOISE_MASK or NOISE_GAUSS
    seed: u32,
    param: f32,      // mask: p; gauss: sigma
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> corrupt_p: CorruptParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const TAU: f32 = 6.283185307179586;

// PCG output permutation, as ae_backend::ops::data::hash_u32.
fn hash_u32(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform number in (0, 1), as ae_backend::ops::data::hash_uniform.
fn hash_uniform(seed: u32, i: u32, stream: u32) -> f32 {
    let v = hash_u32(hash_u32(seed ^ (stream * 0x9E3779B9u)) ^ i);
    return (f32(v >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Element `i` (flat row-major index) of value `v` corrupted by noise `kind` with `param`.
fn corrupted(v: f32, i: u32, kind: u32, seed: u32, param: f32) -> f32 {
    let u1 = hash_uniform(seed, i, 0u);
    switch kind {
        case NOISE_MASK: {
            return select(v, 0.0, u1 < param);
        }
        case NOISE_GAUSS: {
            let u2 = hash_uniform(seed, i, 1u);
            return v + param * sqrt(-2.0 * log(u1)) * cos(TAU * u2);
        }
        default: {
            return nan_f32();
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn corrupt(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * corrupt_p.row_stride + gid.x;
    if (i < corrupt_p.len) {
        out[i] = corrupted(x[i], i, corrupt_p.kind, corrupt_p.seed, corrupt_p.param);
    }
}

// gather_rows_corrupted: gather_rows and corrupt in one pass, dst[r, :] = src[rows[r], :] and
// noisy = dst corrupted (the clean batch is the target, the noisy one the input).

struct GatherCorruptParams {
    len: u32,        // rows * cols of dst
    cols: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    kind: u32,       // NOISE_MASK or NOISE_GAUSS
    seed: u32,
    param: f32,      // mask: p; gauss: sigma
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> gather_noise_p: GatherCorruptParams;
@group(0) @binding(4) var<storage, read_write> noisy: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn gather_rows_corrupted(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = gather_noise_p;
    let i = gid.y * p.row_stride + gid.x;
    if (i < p.len) {
        let v = src[rows[i / p.cols] * p.cols + i % p.cols];
        dst[i] = v;
        noisy[i] = corrupted(v, i, p.kind, p.seed, p.param);
    }
}
