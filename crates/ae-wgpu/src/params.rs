//! Every kernel's parameters: one `#[repr(C)]` struct per kernel (kernels of one shape share
//! one), named and laid out as the WGSL struct its entry point reads at binding 0, which
//! `tests/shader_reflection.rs` checks. Grouped by op family, in the order of `shaders/`.

use crate::reflect::params;

// ---- elementwise ----

params! {
    /// `copy`, `fill`, `scale_add`, `mul_assign`, `exponential`, `divide_by` over `len`
    /// elements.
    ElementwiseParams {
        len: u32,
        row_stride: u32,
        /// fill: the value; scale_add: alpha.
        value: f32,
        _pad: u32,
    }
}

// ---- linear ----

params! {
    /// `matmul`: `c [m, n] = alpha * op(a) [m, k] op(b) [k, n] + beta * c`;
    /// `matmul_bias_activation`: the same product plus a bias, and its activation `act`.
    MatmulParams {
        m: u32,
        n: u32,
        k: u32,
        trans_a: u32,
        trans_b: u32,
        /// `matmul_bias_activation`: the activation's `ACT_*` id.
        act: u32,
        _pad1: u32,
        _pad2: u32,
        alpha: f32,
        beta: f32,
        _pad3: u32,
        _pad4: u32,
    }
}

params! {
    /// `add_bias`: `y [len / cols, cols] += bias [1, cols]`.
    AddBiasParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        _pad: u32,
    }
}

params! {
    /// `bias_grad`: column sums of `dy [rows, cols]`.
    BiasGradParams {
        rows: u32,
        cols: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

// ---- activation ----

params! {
    /// `activation` and `activation_backward` over `len` elements.
    ActivationParams {
        len: u32,
        /// The activation's `ACT_*` id ([`activation_id`]).
        act: u32,
        row_stride: u32,
        _pad: u32,
    }
}

params! {
    /// `bias_activation` over the `len` elements of `z [len / cols, cols]`.
    BiasActivationParams {
        len: u32,
        cols: u32,
        /// The activation's `ACT_*` id ([`activation_id`]).
        act: u32,
        row_stride: u32,
    }
}

params! {
    /// `activation_bias_backward` of `grad [rows, cols]`.
    ActivationBiasBackwardParams {
        rows: u32,
        cols: u32,
        /// The activation's `ACT_*` id ([`activation_id`]).
        act: u32,
        _pad: u32,
    }
}

// ---- loss ----

params! {
    /// `loss` over `len` elements; each workgroup writes its partial sum.
    LossParams {
        len: u32,
        /// The loss's `LOSS_*` id ([`loss_id`]).
        kind: u32,
        /// 1: write the gradient.
        write_grad: u32,
        row_stride: u32,
        /// The reduction's weight / len.
        inv_len: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

// ---- reduce (the end of every reduction) ----

params! {
    /// `finish_sum`: `acc[0] += scale * sum(partial[0..count])`.
    FinishSumParams {
        count: u32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

// ---- optim ----

params! {
    /// `sgd_step` over `len` parameters.
    SgdParams {
        len: u32,
        row_stride: u32,
        lr: f32,
        momentum: f32,
    }
}

params! {
    /// `adam_step` over `len` parameters, with `AdamStep::coefficients` precomputed.
    AdamParams {
        len: u32,
        row_stride: u32,
        _pad0: u32,
        _pad1: u32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        /// `1 - lr * decoupled weight decay`.
        decay: f32,
        /// `1 / (1 - beta1^t)`.
        inv_bc1: f32,
        /// `1 / (1 - beta2^t)`.
        inv_bc2: f32,
        _pad2: u32,
    }
}

// ---- sparsity ----

params! {
    /// `l1_penalty` over `len` elements of the code.
    L1PenaltyParams {
        len: u32,
        cols: u32,
        /// 1: unit weights bound.
        weighted: u32,
        row_stride: u32,
        /// `lambda / rows`.
        step: f32,
        /// 0: L1; `c > 0`: the penalty `tanh(c w |h|)`.
        tanh_scale: f32,
        _pad1: u32,
        _pad2: u32,
    }
}

params! {
    /// `kl_sparsity_divergence` (over columns) and `kl_sparsity_gradient` (over elements).
    KlSparsityParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        _pad: u32,
        rho: f32,
        /// divergence: `1 / rows`; gradient: `beta / rows`.
        coef: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

params! {
    /// The `sparse` family: products with a TopK code `[rows, n]` of `k` index slots a row and
    /// a dense side `m` wide.
    SparseParams {
        rows: u32,
        n: u32,
        k: u32,
        m: u32,
        w_t: u32,
        len: u32,
        row_stride: u32,
        _pad: u32,
    }
}

params! {
    /// `jump_relu` over the `len` elements of `z [rows, cols]`, `jump_relu_backward` over its
    /// `len = cols` columns.
    JumpReluParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        rows: u32,
        /// jump_relu_backward: the kernel's bandwidth.
        bandwidth: f32,
        /// jump_relu_backward: the L0 coefficient over the rows.
        l0: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

params! {
    /// `topk` of each row of `z [rows, cols]`.
    TopkParams {
        rows: u32,
        cols: u32,
        k: u32,
        _pad: u32,
    }
}

params! {
    /// `threshold_average` over the `len` entries of a code.
    ThresholdParams {
        len: u32,
        decay: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

params! {
    /// `track_dead` (over columns) and `mask_dead` (over elements).
    DeadParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        /// track_dead: rows of the code.
        rows: u32,
        /// mask_dead: samples without activation after which a unit is dead.
        window: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

// ---- columns ----

params! {
    /// Every kernel of `columns.wgsl`, over the `len` columns of `w [rows, cols]`.
    ColumnParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        rows: u32,
        /// l1_decoder_norm_backward: the coefficient.
        alpha: f32,
        /// l1_decoder_norm_backward: rows of `h`.
        h_rows: u32,
        /// l1_decoder_norm_backward: 0 for L1, `c > 0` for the penalty `tanh(c n |h|)`.
        tanh_scale: f32,
        _pad1: u32,
    }
}

// ---- data ----

params! {
    /// `gather_rows` over the `len` elements of `dst`.
    GatherRowsParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        _pad: u32,
    }
}

params! {
    /// `copy_columns` over the `len = rows * cols` elements of the block.
    CopyColumnsParams {
        len: u32,
        /// Width of the block.
        cols: u32,
        row_stride: u32,
        /// Widths of the source and destination rows.
        src_cols: u32,
        dst_cols: u32,
        /// The block's first column in the source and in the destination.
        src_col: u32,
        dst_col: u32,
        _pad: u32,
    }
}

params! {
    /// `gather_rows_corrupted` over the `len` elements of `dst` (and of `noisy`).
    GatherCorruptParams {
        len: u32,
        cols: u32,
        row_stride: u32,
        /// The noise's `NOISE_*` id ([`noise_id`]).
        kind: u32,
        seed: u32,
        /// mask: p; gauss: sigma.
        param: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

params! {
    /// `corrupt` over `len` elements.
    CorruptParams {
        len: u32,
        row_stride: u32,
        /// The noise's `NOISE_*` id ([`noise_id`]).
        kind: u32,
        seed: u32,
        /// mask: p; gauss: sigma.
        param: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}
