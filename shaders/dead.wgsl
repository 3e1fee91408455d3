// dead: the dead-latent ops of the AuxK loss, the same maths as the CPU backend (see
// `Backend::track_dead` and `Backend::mask_dead` in crates/ae-core/src/backend.rs). Tensors are
// row-major f32; dispatches are 2-D grids of 256-wide workgroups (i = y * row_stride + x).

struct Params {
    len: u32,        // track_dead: columns; mask_dead: elements
    cols: u32,       // width of a row
    row_stride: u32, // threads per row of the 2-D dispatch
    rows: u32,       // track_dead: rows of `src`
    window: f32,     // mask_dead: samples without activation after which a unit is dead
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> since: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn index(gid: vec3<u32>) -> u32 {
    return gid.y * p.row_stride + gid.x;
}

// One thread per column j of `src` [rows, cols] (the code): since[j] = 0 when some
// src[i, j] > 1e-6 (ae_core::sparsity::ACTIVE_THRESHOLD), else since[j] + rows.
@compute @workgroup_size(256, 1, 1)
fn track_dead(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = index(gid);
    if (j >= p.len) {
        return;
    }
    var fired = false;
    for (var i = 0u; i < p.rows; i++) {
        if (src[i * p.cols + j] > 1e-6) {
            fired = true;
            break;
        }
    }
    since[j] = select(since[j] + f32(p.rows), 0.0, fired);
}

// out[i, j] = src[i, j] (the pre-activation z) where since[j] >= window, else the lowest finite
// f32 (ae_core::sparsity::MASKED).
@compute @workgroup_size(256, 1, 1)
fn mask_dead(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (i >= p.len) {
        return;
    }
    let masked = bitcast<f32>(0xff7fffffu);
    out[i] = select(masked, src[i], since[i % p.cols] >= p.window);
}
