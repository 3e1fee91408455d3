//! The regulariser hook: a penalty added to the reconstruction loss contributes its gradient at
//! the code layer (sparsity penalties) or directly to the parameters (weight decay).

use crate::params::{CodeTerms, Gradients, ParamKind, ParamSpec};
use crate::Backend;

/// A penalty term of the training objective `reconstruction + sum of penalties`.
pub trait Regularizer<B: Backend>: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> String;

    /// Adds `d penalty / d code` into `grad` and `terms.scale * penalty` into `terms.penalty`;
    /// `code` and `grad` are `[batch, code_dim]`, `grad` holding `d loss / d code` so far.
    /// Default: the penalty does not depend on the code.
    fn code_gradient(
        &self,
        _backend: &B,
        _code: &B::Tensor,
        _grad: &mut B::Tensor,
        _terms: &mut CodeTerms<'_, B>,
    ) {
    }

    /// Adds `d penalty / d parameter` into `grads`, given the model's parameters `params` (in
    /// the order of `specs`). Default: no parameter penalty.
    fn param_gradient(
        &self,
        _backend: &B,
        _specs: &[ParamSpec],
        _params: &[B::Tensor],
        _grads: &mut Gradients<B>,
    ) {
    }
}

/// L2 weight decay coupled to the gradient (SGD's and Adam's `weight_decay`):
/// penalty `lambda / 2 * sum ||W||^2` over weight matrices (not biases), gradient `lambda * W`.
/// AdamW's decoupled decay lives in the optimiser instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightDecay {
    /// The coefficient lambda.
    pub lambda: f32,
}

impl<B: Backend> Regularizer<B> for WeightDecay {
    fn name(&self) -> String {
        format!("weight_decay({})", self.lambda)
    }

    fn param_gradient(
        &self,
        backend: &B,
        specs: &[ParamSpec],
        params: &[B::Tensor],
        grads: &mut Gradients<B>,
    ) {
        for ((spec, p), g) in specs.iter().zip(params).zip(&mut grads.tensors) {
            if spec.kind == ParamKind::Weight {
                backend.scale_add(self.lambda, p, g);
            }
        }
    }
}
