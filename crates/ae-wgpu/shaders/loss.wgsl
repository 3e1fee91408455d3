// loss: the reconstruction loss (ae_backend::ops::LossOps), the same maths as
// ae_backend::ops::loss. `kind` is LOSS_MSE (on outputs) or LOSS_BCE (on logits); any other
// writes NaN. Each workgroup writes the sum of its 256 elements' losses to partial[workgroup];
// reduce.wgsl's `finish_sum` adds them up. With `write_grad`,
// grad = weight * d mean(loss) / d input (inv_len = weight / len).

struct LossParams {
    len: u32,
    kind: u32,
    write_grad: u32,
    row_stride: u32, // threads per row of the 2-D dispatch
    inv_len: f32,     // the reduction's weight / len
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> expected: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn loss(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.y * p.row_stride + gid.x;
    var value = 0.0;
    if (i < p.len) {
        let x = input[i];
        let t = expected[i];
        var g: f32;
        switch p.kind {
            case LOSS_MSE: {
                let d = x - t;
                value = d * d;
                g = 2.0 * d;
            }
            case LOSS_BCE: {
                value = softplus(x) - t * x;
                g = sigmoid(x) - t;
            }
            default: {
                value = nan_f32();
                g = nan_f32();
            }
        }
        if (p.write_grad != 0u) {
            grad[i] = g * p.inv_len;
        }
    }
    let total = workgroup_sum(lid, value);
    if (lid == 0u) {
        partial[wg.y * nwg.x + wg.x] = total;
    }
}
