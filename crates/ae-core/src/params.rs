//! The parameters' bookkeeping that the model, the regularisers and the optimisers share: what a
//! parameter is ([`ParamSpec`]), one gradient per parameter ([`Gradients`]) and what a code
//! penalty may touch ([`CodeTerms`]). A leaf: it depends on the backend seam alone.

use crate::Backend;

/// Whether a parameter is a weight matrix or a bias row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `[out, in]`.
    Weight,
    /// `[1, out]`.
    Bias,
    /// `[1, code]`: a JumpReLU code's per-unit threshold, stored as its logarithm
    /// ([`crate::ModelConfig::jump_relu`]).
    LogThreshold,
}

/// Name and shape of one parameter tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch-style name, e.g. `encoder.0.weight`.
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Weight or bias.
    pub kind: ParamKind,
}

/// One gradient tensor per parameter, same shapes.
pub struct Gradients<B: Backend> {
    /// In parameter order.
    pub tensors: Vec<B::Tensor>,
    /// Whether each tensor was written this step (else it is overwritten, not added to).
    pub(crate) written: Vec<bool>,
}

/// What a code penalty reads and writes besides the code's gradient (see
/// [`Regularizer::code_gradient`](crate::Regularizer::code_gradient)); made by the model at
/// the code layer during the backward pass.
pub struct CodeTerms<'a, B: Backend> {
    /// The weight of this batch's penalty in the accumulated value.
    pub scale: f32,
    /// The factor on the penalty's coefficient for this step (a warmup's ramp; 1 otherwise).
    pub strength: f32,
    /// The decoder weight reading the code `[d, code_dim]` and its gradient, already holding
    /// the reconstruction's part (untied models only).
    pub decoder: Option<(&'a B::Tensor, &'a mut B::Tensor)>,
    /// `[1, 1]`: the penalty adds `scale * value` into it.
    pub penalty: &'a mut B::Tensor,
    /// `[1, code_dim]`: scratch for per-unit statistics.
    pub unit_scratch: &'a mut B::Tensor,
}
