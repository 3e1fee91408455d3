//! The regulariser hook: a penalty added to the reconstruction loss contributes its gradient at
//! the code layer (sparsity penalties, a per-row target code) or directly to the parameters
//! (weight decay).

use crate::params::{CodeTerms, Gradients, ParamKind, ParamSpec};
use crate::{Backend, Result};

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

    /// Called by the trainer before each step with the batch's rows (indices into the training
    /// rows, in batch order), for penalties that hold something per training row (a target
    /// code). Default: nothing.
    fn begin_batch(&self, _backend: &B, _rows: &[u32]) -> Result<()> {
        Ok(())
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

/// A batch size's `(rows, targets, gradient scratch)` of a [`CodeTarget`].
type BatchTargets<T> = (usize, T, T);

/// The geometry-regularised autoencoder's term (Duque et al. 2020): the code pulled toward a
/// target code per training row (an embedding such as Isomap's, computed beforehand), penalty
/// `weight * (1 / rows) * sum_b ||h_b - e_{r(b)}||^2` over a batch of `rows` whose row `b` is
/// training row `r(b)`, gradient `2 weight / rows * (h_b - e_{r(b)})` at the code. Added to the
/// epoch's penalty accumulator; give it to the trainer as an extra regulariser.
pub struct CodeTarget<B: Backend> {
    weight: f32,
    /// `[n, code]`: one target per training row.
    targets: B::Tensor,
    /// Per batch size met (a full batch and an epoch's tail): `rows`, the batch's targets and a
    /// gradient scratch, both `[rows, code]`; the last entry is the current batch's.
    batch: std::sync::Mutex<Vec<BatchTargets<B::Tensor>>>,
    code: usize,
}

impl<B: Backend> CodeTarget<B> {
    /// The pull toward `targets` `[n, code]` (row `i` for training row `i`) with `weight >= 0`.
    pub fn new(backend: &B, targets: &crate::Matrix, weight: f32) -> Result<Self> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(crate::Error::Config(format!(
                "a code target's weight must be finite and >= 0, got {weight}"
            )));
        }
        Ok(CodeTarget {
            weight,
            targets: backend.upload(targets)?,
            batch: std::sync::Mutex::new(Vec::new()),
            code: targets.cols,
        })
    }
}

impl<B: Backend> Regularizer<B> for CodeTarget<B> {
    fn name(&self) -> String {
        format!("code_target({})", self.weight)
    }

    fn begin_batch(&self, backend: &B, rows: &[u32]) -> Result<()> {
        let mut sizes = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        match sizes.iter().position(|b| b.0 == rows.len()) {
            Some(i) => {
                let entry = sizes.remove(i);
                sizes.push(entry);
            }
            None => {
                let (t, g) = (
                    backend.zeros(rows.len(), self.code)?,
                    backend.zeros(rows.len(), self.code)?,
                );
                sizes.push((rows.len(), t, g));
            }
        }
        let (_, target, _) = sizes.last_mut().expect("just pushed");
        backend.gather_rows(&self.targets, rows, target);
        Ok(())
    }

    fn code_gradient(
        &self,
        backend: &B,
        code: &B::Tensor,
        grad: &mut B::Tensor,
        terms: &mut CodeTerms<'_, B>,
    ) {
        let mut sizes = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        // Outside the trainer (no batch announced) the pull does nothing.
        let Some((_, target, scratch)) = sizes.last_mut() else {
            return;
        };
        // weight / rows * sum ||h - e||^2 is an MSE (a mean over rows * code) times
        // weight * code.
        let weight = self.weight * self.code as f32;
        backend.loss(
            crate::Loss::Mse,
            code,
            target,
            weight,
            terms.scale,
            terms.penalty,
            Some(scratch),
        );
        backend.scale_add(1.0, scratch, grad);
    }
}
