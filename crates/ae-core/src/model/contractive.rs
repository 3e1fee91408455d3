//! The contractive penalty (Rifai et al. 2011) on the encoder `f` (input -> code):
//! `lambda * (1 / rows) * sum_b ||J_f(x_b)||_F^2`, the batch mean of the squared Frobenius norm of
//! the encoder's Jacobian `[code_dim, input_dim]` at each sample, added to the reconstruction loss
//! (itself a batch mean, so that `lambda` means the same at any batch size).
//!
//! - [`ContractiveMethod::Exact`], one-layer encoders with an identity, ReLU, leaky-ReLU,
//!   sigmoid or tanh code: `||J||_F^2 = sum_j f'(z_j)^2 sum_i W_ji^2`. Its gradient reaches `W`
//!   directly (`2 lambda / rows * (sum_b f'(z_bj)^2) W_ji`) and through the code
//!   (`lambda / rows * r_j * 2 f''(z_bj)` added to `d loss / d h_bj`, then the layer's own
//!   backward), and so the bias too.
//! - [`ContractiveMethod::Projection`], any other encoder (deeper, GELU or softplus): the random
//!   projection `||J v_b||^2` with `v_b ~ N(0, I)` drawn per sample and step from the run's seed
//!   (`E_v ||J v||^2 = ||J||_F^2`), `J v` taken by the forward difference
//!   `(f(x + eps v) - f(x)) / eps` with `eps` = [`CONTRACTIVE_STEP`]: a second encoder pass on
//!   `x + eps v`, differentiated exactly through both passes. It is unbiased but for the finite
//!   difference, whose bias is `O(eps)` (the encoder's curvature along `v`): a consistent
//!   estimate as `eps -> 0`, not an unbiased one.

use super::layer::encoder_input;
use super::{Autoencoder, Workspace};
use crate::params::Gradients;
use crate::{Activation, Backend, Error, Loss, Matrix, ModelConfig, Noise, Result};

/// The finite-difference step `eps` of [`ContractiveMethod::Projection`], in (normalised) input
/// units: small against the data's spread, large enough that `f32` rounding in
/// `f(x + eps v) - f(x)` stays near `1e-5` of the difference.
pub const CONTRACTIVE_STEP: f32 = 1e-2;

/// The contractive penalty's setting: `lambda * mean_b ||J_f(x_b)||_F^2`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contractive {
    /// The coefficient, finite and `>= 0`.
    pub lambda: f32,
}

/// How the penalty is computed for a model ([`Contractive::method`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractiveMethod {
    /// The closed form of a one-layer encoder.
    Exact,
    /// One random projection per sample and step, by a forward difference.
    Projection,
}

impl Contractive {
    /// The method a model of `config` gets: exact for a one-layer encoder whose code activation
    /// has a closed-form `f''` in the code (identity, ReLU, leaky ReLU, sigmoid, tanh), the
    /// projection estimate otherwise.
    pub fn method(config: &ModelConfig) -> ContractiveMethod {
        match (config.encoder_depth(), config.activations[0]) {
            (1, Activation::Gelu | Activation::Softplus) => ContractiveMethod::Projection,
            (1, _) => ContractiveMethod::Exact,
            _ => ContractiveMethod::Projection,
        }
    }

    /// Checks the coefficient: finite and `>= 0`.
    pub fn check(&self) -> Result<()> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::Config(format!(
                "the contractive coefficient (`train.contractive`) must be finite and >= 0, \
                 got {}",
                self.lambda
            )));
        }
        Ok(())
    }

    /// Checks the coefficient ([`Contractive::check`]) and the model: no TopK, BatchTopK or JumpReLU code (not
    /// differentiable in the input where units switch), and no pre-encoder bias with the
    /// projection estimate.
    pub fn validate(&self, config: &ModelConfig) -> Result<()> {
        self.check()?;
        if config.code_topk.is_some() || config.jump_relu {
            return Err(Error::Config(
                "the contractive penalty needs a smooth code: not TopK, BatchTopK or JumpReLU \
                 (their units switch on and off, so the encoder's Jacobian is not the code's \
                 sensitivity)"
                    .into(),
            ));
        }
        if config.pre_bias && Self::method(config) == ContractiveMethod::Projection {
            return Err(Error::Config(
                "the contractive penalty's projection estimate (deeper encoders, GELU or \
                 softplus codes) does not support a pre-encoder bias; use a one-layer encoder \
                 with an identity, relu, sigmoid or tanh code"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The exact method's curvature of the code activation: `2 f''(z) = f'(z) (a + b h)` as
/// `(a, b)` (`h = f(z)`); `None` where `f'' = 0` (identity and the piecewise-linear ones).
fn curvature(act: Activation) -> Option<(f32, f32)> {
    match act {
        // f'' = f' (1 - 2h)
        Activation::Sigmoid => Some((2.0, -4.0)),
        // f'' = -2 h f'
        Activation::Tanh => Some((0.0, -4.0)),
        _ => None,
    }
}

/// The buffers of the exact method, one batch size.
struct ExactBuffers<T> {
    /// `f'(z)` `[rows, code]`.
    gain: T,
    /// `f'(z)^2` `[rows, code]`.
    gain_sq: T,
    /// `2 f''(z)` `[rows, code]` (curved activations only).
    slope: Option<T>,
    /// `r_j = sum_i W_ji^2` `[1, code]`.
    row_sq: T,
    /// `s_j = sum_b f'(z_bj)^2` `[1, code]`.
    unit_sum: T,
    /// `[code, in]`: `W * W`, then the direct weight gradient.
    weight: T,
    /// Ones `[1, in]`.
    ones: T,
}

/// The buffers of the projection method, one batch size.
struct ProjectionBuffers<B: Backend> {
    /// `x + eps v` `[rows, in]`.
    input: B::Tensor,
    /// The encoder pass on it (its decoder buffers unused).
    ws: Box<Workspace<B>>,
    /// Scratch bias gradients, one per encoder layer `[1, out]`.
    bias_grads: Vec<B::Tensor>,
}

enum Buffers<B: Backend> {
    Exact(ExactBuffers<B::Tensor>),
    Projection(ProjectionBuffers<B>),
}

/// What the contractive penalty needs for batches of one size; made by
/// [`Autoencoder::contractive_workspace`] and put in [`Workspace::contractive`], where
/// [`Autoencoder::forward_backward`] finds it.
pub struct ContractiveWorkspace<B: Backend> {
    lambda: f32,
    /// The seed of this step's projections ([`ContractiveMethod::Projection`]); the trainer
    /// sets it every step.
    pub seed: u32,
    /// `[1, 1]`: each batch adds `scale * lambda * mean_b ||J||_F^2` into it.
    pub acc: B::Tensor,
    /// `d penalty / d code` of the clean pass `[rows, code]`, added at the code layer.
    code_grad: Option<B::Tensor>,
    buffers: Buffers<B>,
}

impl<B: Backend> Autoencoder<B> {
    /// Buffers of the contractive penalty `setting` for batches of `rows` samples (checked
    /// against the model: [`Contractive::validate`]).
    pub fn contractive_workspace(
        &self,
        backend: &B,
        rows: usize,
        setting: Contractive,
    ) -> Result<ContractiveWorkspace<B>> {
        setting.validate(&self.config)?;
        let (code, input) = (self.config.code_dim(), self.config.input_dim);
        let (code_grad, buffers) = match Contractive::method(&self.config) {
            ContractiveMethod::Exact => {
                let curved = curvature(self.config.activations[0]).is_some();
                let mut ones = backend.zeros(1, input)?;
                backend.fill(&mut ones, 1.0);
                let exact = ExactBuffers {
                    gain: backend.zeros(rows, code)?,
                    gain_sq: backend.zeros(rows, code)?,
                    slope: curved.then(|| backend.zeros(rows, code)).transpose()?,
                    row_sq: backend.zeros(1, code)?,
                    unit_sum: backend.zeros(1, code)?,
                    weight: backend.zeros(code, input)?,
                    ones,
                };
                let grad = curved.then(|| backend.zeros(rows, code)).transpose()?;
                (grad, Buffers::Exact(exact))
            }
            ContractiveMethod::Projection => {
                let depth = self.config.encoder_depth();
                let bias_grads = self.plans[..depth]
                    .iter()
                    .map(|p| backend.zeros(1, p.spec.outputs))
                    .collect::<Result<_>>()?;
                let projection = ProjectionBuffers {
                    input: backend.zeros(rows, input)?,
                    ws: Box::new(self.workspace(backend, rows)?),
                    bias_grads,
                };
                (
                    Some(backend.zeros(rows, code)?),
                    Buffers::Projection(projection),
                )
            }
        };
        Ok(ContractiveWorkspace {
            lambda: setting.lambda,
            seed: 0,
            acc: backend.zeros(1, 1)?,
            code_grad,
            buffers,
        })
    }

    /// After the forward pass on `x` (`ws` holding it): adds `scale * penalty` into `c.acc`,
    /// leaves `d penalty / d code` in `c.code_grad` and (exact method) writes the direct weight
    /// gradient into `grads` (marking it written, so that the backward adds to it).
    pub(super) fn contractive_forward(
        &self,
        backend: &B,
        x: &B::Tensor,
        ws: &Workspace<B>,
        scale: f32,
        c: &mut ContractiveWorkspace<B>,
        grads: &mut Gradients<B>,
    ) {
        let depth = self.config.encoder_depth();
        let code_layer = &ws.layers[depth - 1];
        let lambda = c.lambda;
        match &mut c.buffers {
            Buffers::Exact(e) => {
                let plan = self.plans[0];
                let act = plan.spec.activation;
                let (z, h) = (&code_layer.z, code_layer.output());
                let w = &self.params[plan.weight];
                let rows = ws.rows as f32;
                // f'(z) and f'(z)^2.
                backend.fill(&mut e.gain, 1.0);
                backend.activation_backward(act, z, h, &mut e.gain);
                backend.copy(&e.gain, &mut e.gain_sq);
                backend.mul_assign(&mut e.gain_sq, &e.gain);
                // r = ones [1, in] (W * W)ᵀ: [1, code]. (A tied model stores the encoder's
                // weight as it is, [code, in].)
                backend.copy(w, &mut e.weight);
                backend.mul_assign(&mut e.weight, w);
                backend.matmul(&e.ones, false, &e.weight, true, 1.0, 0.0, &mut e.row_sq);
                // The value lambda / rows * sum_bj r_j f'(z_bj)^2 and its gradient in
                // f'(z)^2, lambda / rows * r_j: a unit-weighted L1 of the (non-negative)
                // squared gains.
                match (c.code_grad.as_mut(), e.slope.as_mut(), curvature(act)) {
                    (Some(g), Some(slope), Some((a, b))) => {
                        // Through h: 2 f''(z) / f'(z) = a + b h, so d / d h = lambda / rows *
                        // r_j f'(z) (a + b h), which the layer's backward takes by f'(z).
                        backend.fill(slope, a);
                        backend.scale_add(b, h, slope);
                        backend.mul_assign(slope, &e.gain);
                        backend.fill(g, 0.0);
                        backend.l1_penalty(
                            &e.gain_sq,
                            Some(&e.row_sq),
                            lambda,
                            0.0,
                            scale,
                            &mut c.acc,
                            g,
                        );
                        backend.mul_assign(g, slope);
                    }
                    _ => {
                        // No curvature: the value only; `gain` is free for the L1 gradient.
                        backend.fill(&mut e.gain, 0.0);
                        backend.l1_penalty(
                            &e.gain_sq,
                            Some(&e.row_sq),
                            lambda,
                            0.0,
                            scale,
                            &mut c.acc,
                            &mut e.gain,
                        );
                    }
                }
                // The direct term: d / d W_ji = 2 lambda / rows * s_j W_ji.
                backend.bias_grad(&e.gain_sq, &mut e.unit_sum);
                backend.matmul(
                    &e.unit_sum,
                    true,
                    &e.ones,
                    false,
                    2.0 * lambda / rows,
                    0.0,
                    &mut e.weight,
                );
                backend.mul_assign(&mut e.weight, w);
                let gw = &mut grads.tensors[plan.weight];
                if grads.written[plan.weight] {
                    backend.scale_add(1.0, &e.weight, gw);
                } else {
                    backend.copy(&e.weight, gw);
                    grads.written[plan.weight] = true;
                }
            }
            Buffers::Projection(p) => {
                let noise = Noise::Gauss {
                    sigma: CONTRACTIVE_STEP,
                };
                backend.corrupt(noise, c.seed, encoder_input(x, None), &mut p.input);
                self.forward_layers(backend, &p.input, &mut p.ws, depth);
                let code = self.config.code_dim();
                let moved = &mut p.ws.layers[depth - 1];
                // lambda / rows * sum_b ||(f(x + eps v) - f(x)) / eps||^2 as an MSE of the two
                // codes (a mean over rows * code, hence the weight), its gradient in the moved
                // code written into that pass's code gradient.
                let weight = lambda * code as f32 / (CONTRACTIVE_STEP * CONTRACTIVE_STEP);
                let (moved_code, moved_grad) = match moved.a.as_ref() {
                    Some(a) => (a, &mut moved.grad),
                    None => (&moved.z, &mut moved.grad),
                };
                backend.loss(
                    Loss::Mse,
                    moved_code,
                    code_layer.output(),
                    weight,
                    scale,
                    &mut c.acc,
                    Some(moved_grad),
                );
                let g = c
                    .code_grad
                    .as_mut()
                    .expect("the projection has a code gradient");
                backend.fill(g, 0.0);
                backend.scale_add(-1.0, &moved.grad, g);
            }
        }
    }

    /// After the main backward (projection method): the moved pass's backward from its code
    /// gradient, adding into every encoder parameter's gradient.
    pub(super) fn contractive_backward(
        &self,
        backend: &B,
        c: &mut ContractiveWorkspace<B>,
        grads: &mut Gradients<B>,
    ) {
        let Buffers::Projection(p) = &mut c.buffers else {
            return;
        };
        for i in (0..self.config.encoder_depth()).rev() {
            let (before, rest) = p.ws.layers.split_at_mut(i);
            let (input, input_grad) = match before.last_mut() {
                None => (&p.input, None),
                Some(prev) => (prev.a.as_ref().unwrap_or(&prev.z), Some(&mut prev.grad)),
            };
            // The layer's backward writes its bias gradient: into scratch, then added.
            let bias = self.plans[i].bias;
            std::mem::swap(&mut grads.tensors[bias], &mut p.bias_grads[i]);
            self.layer_backward(
                backend,
                i,
                input,
                &mut rest[0],
                None,
                None,
                false,
                grads,
                input_grad,
            );
            std::mem::swap(&mut grads.tensors[bias], &mut p.bias_grads[i]);
            backend.scale_add(1.0, &p.bias_grads[i], &mut grads.tensors[bias]);
        }
    }
}

impl<B: Backend> Autoencoder<B> {
    /// The mean over the rows of `x` `[n, input_dim]` of `||J_f(x)||_F^2`, measured by central
    /// differences of the encoder with step `step` in each input coordinate (`2 input_dim`
    /// encoder passes over `x`): what the contractive penalty holds down, for evaluation.
    pub fn jacobian_norm(&self, backend: &B, x: &Matrix, step: f32) -> Result<f64> {
        if !(step.is_finite() && step > 0.0) {
            return Err(Error::Config(format!(
                "the Jacobian's difference step must be positive, got {step}"
            )));
        }
        let mut total = 0.0f64;
        for i in 0..x.cols {
            let (mut up, mut down) = (x.clone(), x.clone());
            for r in 0..x.rows {
                up.data[r * x.cols + i] += step;
                down.data[r * x.cols + i] -= step;
            }
            let (cu, cd) = (self.encode(backend, &up)?, self.encode(backend, &down)?);
            let code = cu.cols;
            for r in 0..x.rows {
                // The step as stored in f32.
                let k = r * x.cols + i;
                let span = up.data[k] as f64 - down.data[k] as f64;
                let (a, b) = (&cu.data[r * code..][..code], &cd.data[r * code..][..code]);
                total += a
                    .iter()
                    .zip(b)
                    .map(|(a, b)| ((*a as f64 - *b as f64) / span).powi(2))
                    .sum::<f64>();
            }
        }
        Ok(total / x.rows.max(1) as f64)
    }
}

impl<B: Backend> ContractiveWorkspace<B> {
    /// `d penalty / d code` of the clean pass, once [`Autoencoder::contractive_forward`] ran.
    pub(super) fn code_grad(&self) -> Option<&B::Tensor> {
        self.code_grad.as_ref()
    }
}
