//! `Autoencoder<B>`: the parameters of a dense autoencoder on a backend, its forward pass and its
//! backward pass (reconstruction loss + regularisers).
//!
//! Parameters follow PyTorch's `nn.Sequential(nn.Linear, activation, ...)` layout: layer `j` of
//! the encoder is `encoder.{2j}.weight` `[out, in]` and `encoder.{2j}.bias` `[1, out]` (saved as
//! `[out]`); the decoder likewise. Layer `i` computes `z = x Wᵀ + b`, `a = f(z)`:
//! `[batch, in] -> [batch, out]`. A tied decoder layer has no weight of its own and uses the
//! mirrored encoder weight transposed.

mod contractive;
mod infer;
mod layer;
mod matryoshka;
mod sae;
pub mod variational;

pub use self::contractive::{
    Contractive, ContractiveMethod, ContractiveWorkspace, CONTRACTIVE_STEP,
};
pub use self::infer::Output;
pub use self::sae::AuxWorkspace;
pub use self::variational::{VaeBuffers, Variational, LOGVAR_LIMIT};
pub use crate::params::{CodeTerms, Gradients, ParamKind, ParamSpec};

use self::layer::{
    encoder_input, init_bound, plan, upload_params, Centered, LayerBuffers, LayerPlan, SparseSide,
};
use self::matryoshka::Prefixes;
use crate::regularizer::Regularizer;
use crate::sparsity::JumpReluTraining;
use crate::{Activation, Backend, Error, Loss, Matrix, ModelConfig, Reconstruction, Result, Rng};

/// Device buffers for one batch size: activations, their gradients and a loss accumulator.
/// Made once by [`Autoencoder::workspace`] and reused every step.
pub struct Workspace<B: Backend> {
    rows: usize,
    layers: Vec<LayerBuffers<B::Tensor>>,
    /// The mask of kept, positive code units `[rows, code_dim]` (TopK and JumpReLU models only).
    code_mask: Option<B::Tensor>,
    /// The columns of those units, `[rows, k]` (TopK models on the sparse path only:
    /// [`Autoencoder::sparse_code`]).
    code_idx: Option<B::Tensor>,
    /// The threshold per unit, `[1, code_dim]` (BatchTopK and JumpReLU models only; a JumpReLU
    /// code's `exp(log_threshold)`).
    code_theta: Option<B::Tensor>,
    /// How a JumpReLU code's threshold learns (its L0 penalty and the estimator's bandwidth;
    /// set by the trainer, [`JumpReluTraining::default`] otherwise).
    pub jump: JumpReluTraining,
    /// The forward pass is a training step's: a BatchTopK code selects over the batch. Outside
    /// training (the default) a BatchTopK model with a learned threshold applies it instead.
    pub training: bool,
    /// `[1, 1]`: the loss op adds into it.
    pub loss_acc: B::Tensor,
    /// `[1, 1]`: code penalties add `scale * penalty` into it.
    pub penalty_acc: B::Tensor,
    /// `[1, code_dim]`: per-unit statistics a code penalty leaves behind (KL's mean
    /// activations, decoder column norms).
    pub unit_scratch: B::Tensor,
    /// The factor on code penalties' coefficients for the next step (set by the trainer's
    /// warmup; 1 by default).
    pub penalty_strength: f32,
    /// The encoder's input `x - b_out` and `-b_out` (pre-encoder bias models only).
    centered: Option<Centered<B::Tensor>>,
    /// The prefix reconstructions (Matryoshka models only).
    matryoshka: Option<Prefixes<B::Tensor>>,
    /// The contractive penalty's buffers, when training with one (set by the trainer:
    /// [`Autoencoder::contractive_workspace`]).
    pub contractive: Option<ContractiveWorkspace<B>>,
    /// The Gaussian code's buffers (variational models only: [`variational`]).
    pub vae: Option<VaeBuffers<B>>,
}

impl<B: Backend> Workspace<B> {
    /// The batch size these buffers hold.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// A dense autoencoder whose parameters live on backend `B`.
pub struct Autoencoder<B: Backend> {
    config: ModelConfig,
    specs: Vec<ParamSpec>,
    params: Vec<B::Tensor>,
    plans: Vec<LayerPlan>,
    /// Products with the TopK code go over its active columns ([`crate::backend::SparseOps`]).
    sparse_code: bool,
    /// The index of a JumpReLU code's `log_threshold` in [`Autoencoder::params`].
    log_threshold: Option<usize>,
}

/// The index of the log-threshold parameter among `specs`.
fn log_threshold_index(specs: &[ParamSpec]) -> Option<usize> {
    specs.iter().position(|s| s.kind == ParamKind::LogThreshold)
}

/// A TopK code takes the sparse path ([`Autoencoder::sparse_code`]) when at most one unit in
/// this many is kept (`k * SPARSE_CODE_RATIO <= code_dim`): the crossover measured on the CPU by
/// `scripts/sparse-crossover.sh` (784-4096 on MNIST digits: sparse 2.6x dense at k = 8, 1.45x
/// at k = 32, even at k = 64, 0.84x at k = 128, 0.41x at k = 512).
pub const SPARSE_CODE_RATIO: usize = 64;

/// How products with a TopK code are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeProducts {
    /// Sparse when at most one unit in [`SPARSE_CODE_RATIO`] is kept, else dense.
    #[default]
    Auto,
    /// Dense matrix products, zeros included.
    Dense,
    /// Over the code's active columns ([`crate::backend::SparseOps`]).
    Sparse,
}

impl CodeProducts {
    /// Whether a model of `config` takes the sparse path under this choice.
    pub fn sparse_for(self, config: &ModelConfig) -> bool {
        match (self, config.code_topk) {
            // A BatchTopK row may keep more than k units: not in k index slots; a Matryoshka
            // model's products go over column blocks of the code, densely.
            (_, None) | (CodeProducts::Dense, _) => false,
            _ if config.batch_topk || !config.matryoshka.is_empty() => false,
            (CodeProducts::Sparse, Some(_)) => true,
            (CodeProducts::Auto, Some(k)) => k * SPARSE_CODE_RATIO <= config.code_dim(),
        }
    }
}

/// Whether a model of `config` takes the sparse path by default.
fn sparse_by_default(config: &ModelConfig) -> bool {
    CodeProducts::Auto.sparse_for(config)
}

impl<B: Backend> Autoencoder<B> {
    /// A freshly initialised model: weights uniform in `[-bound, bound]` (Kaiming for ReLU-like
    /// layers, Xavier otherwise) from `seed`, biases zero, a JumpReLU code's thresholds at
    /// [`ModelConfig::JUMP_INIT_THRESHOLD`].
    pub fn new(backend: &B, config: ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let (specs, plans) = plan(&config);
        let mut rng = Rng::new(seed);
        let mut host = Vec::with_capacity(specs.len());
        for spec in &specs {
            let mut m = Matrix::zeros(spec.rows, spec.cols);
            if spec.kind == ParamKind::Weight {
                let layer = plans
                    .iter()
                    .find(|p| specs[p.weight].name == spec.name)
                    .expect("every weight belongs to a layer");
                let bound = init_bound(&layer.spec);
                for v in &mut m.data {
                    *v = rng.uniform_in(-bound, bound) as f32;
                }
            }
            if spec.kind == ParamKind::LogThreshold {
                m.data
                    .fill((ModelConfig::JUMP_INIT_THRESHOLD as f64).ln() as f32);
            }
            host.push(m);
        }
        let params = upload_params(backend, &host, &specs)?;
        Ok(Autoencoder {
            sparse_code: sparse_by_default(&config),
            log_threshold: log_threshold_index(&specs),
            config,
            specs,
            params,
            plans,
        })
    }

    /// A model from named host tensors (as read from `model.safetensors`). Every parameter the
    /// config implies must be present with its exact shape; biases may be `[out]`-shaped
    /// (`[1, out]`). Extra tensors are an error. Errors name the tensor.
    pub fn from_named(
        backend: &B,
        config: ModelConfig,
        named: Vec<(String, Matrix)>,
    ) -> Result<Self> {
        config.validate()?;
        let (specs, plans) = plan(&config);
        let mut named: std::collections::HashMap<String, Matrix> = named.into_iter().collect();
        let mut host = Vec::with_capacity(specs.len());
        for spec in &specs {
            let m = named.remove(&spec.name).ok_or_else(|| {
                Error::Shape(format!(
                    "tensor '{}' [{}, {}] is missing",
                    spec.name, spec.rows, spec.cols
                ))
            })?;
            if m.rows * m.cols != spec.rows * spec.cols
                || (m.cols != spec.cols && spec.kind == ParamKind::Weight)
            {
                let code_layer = &plans[config.encoder_depth() - 1];
                let at_code = [code_layer.weight, code_layer.bias]
                    .iter()
                    .any(|&p| specs[p].name == spec.name);
                let hint = match (at_code, config.variational) {
                    (true, true) => {
                        " (a variational model's code layer has 2 x code outputs, the mean and \
                         the log-variance: is the file of a plain autoencoder?)"
                    }
                    (true, false) if m.rows * m.cols == 2 * spec.rows * spec.cols => {
                        " (twice the code layer's outputs: is it a variational model's file, \
                         whose config.json says `variational: true`?)"
                    }
                    _ => "",
                };
                return Err(Error::Shape(format!(
                    "tensor '{}' is [{}, {}], the config needs [{}, {}]{hint}",
                    spec.name, m.rows, m.cols, spec.rows, spec.cols
                )));
            }
            if let Some((r, c, v)) = m.first_non_finite() {
                return Err(Error::Shape(format!(
                    "tensor '{}' holds {v} at [{r}, {c}]",
                    spec.name
                )));
            }
            host.push(Matrix::new(spec.rows, spec.cols, m.data)?);
        }
        if let Some(extra) = named.keys().next() {
            return Err(Error::Shape(format!(
                "tensor '{extra}' is not part of this architecture"
            )));
        }
        let params = upload_params(backend, &host, &specs)?;
        Ok(Autoencoder {
            sparse_code: sparse_by_default(&config),
            log_threshold: log_threshold_index(&specs),
            config,
            specs,
            params,
            plans,
        })
    }

    /// Every parameter, downloaded, with its name.
    pub fn to_named(&self, backend: &B) -> Result<Vec<(String, Matrix)>> {
        self.specs
            .iter()
            .zip(&self.params)
            .map(|(s, t)| Ok((s.name.clone(), backend.download(t)?)))
            .collect()
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Names and shapes of the parameters, in order.
    pub fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// `[rows, cols]` of each parameter, in order.
    pub fn shapes(&self) -> Vec<(usize, usize)> {
        self.specs.iter().map(|s| (s.rows, s.cols)).collect()
    }

    /// The parameter tensors, in the order of [`Autoencoder::param_specs`].
    pub fn params(&self) -> &[B::Tensor] {
        &self.params
    }

    /// Whether products with the TopK code go over its active columns only
    /// ([`crate::backend::SparseOps`]: the decoder's forward as a gather of `k` weight columns
    /// per sample, its weight gradient as a scatter-add, the code's and the TopK layer's weight
    /// gradients at active units only) rather than dense matrix products. On by default for a
    /// TopK model keeping at most one unit in [`SPARSE_CODE_RATIO`]; the results agree with the
    /// dense path within rounding.
    pub fn sparse_code(&self) -> bool {
        self.sparse_code
    }

    /// Sets BatchTopK's inference threshold ([`ModelConfig::code_threshold`]).
    pub fn set_code_threshold(&mut self, threshold: Option<f32>) {
        self.config.code_threshold = threshold;
    }

    /// A JumpReLU code's thresholds all set to `theta > 0` (their logarithm stored).
    pub fn set_jump_thresholds(&mut self, backend: &B, theta: f32) -> Result<()> {
        let Some(lt) = self.log_threshold else {
            return Err(Error::Config(
                "a JumpReLU threshold needs a JumpReLU code (`model.jump_relu`)".into(),
            ));
        };
        if !(theta.is_finite() && theta > 0.0) {
            return Err(Error::Config(format!(
                "a JumpReLU threshold must be positive and finite, got {theta}"
            )));
        }
        let spec = &self.specs[lt];
        let m = Matrix::new(1, spec.cols, vec![(theta as f64).ln() as f32; spec.cols])?;
        backend.write(&m, &mut self.params[lt])?;
        Ok(())
    }

    /// The index of a JumpReLU code's `log_threshold` `[1, code_dim]` in
    /// [`Autoencoder::params`].
    pub fn log_threshold(&self) -> Option<usize> {
        self.log_threshold
    }

    /// Chooses the sparse path (for a TopK model) or the dense one; workspaces made before keep
    /// the buffers of the path they were made for, so make new ones.
    pub fn set_code_products(&mut self, products: CodeProducts) {
        self.sparse_code = products.sparse_for(&self.config);
    }

    /// Mutable parameter tensors (for optimisers).
    pub fn params_mut(&mut self) -> &mut [B::Tensor] {
        &mut self.params
    }

    /// The index (in [`Autoencoder::params`]) of the weight of the first decoder layer, the one
    /// that reads the code: `[out, code_dim]`, column `j` being code unit `j`'s direction. `None`
    /// for a tied model (whose decoder has no weight of its own).
    pub fn code_decoder_weight(&self) -> Option<usize> {
        let plan = self.plans[self.config.encoder_depth()];
        (!plan.transposed).then_some(plan.weight)
    }

    /// Number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.specs.iter().map(|s| s.rows * s.cols).sum()
    }

    /// Buffers for batches of `rows` samples.
    pub fn workspace(&self, backend: &B, rows: usize) -> Result<Workspace<B>> {
        let layers = self
            .plans
            .iter()
            .map(|p| {
                let out = p.spec.outputs;
                Ok(LayerBuffers {
                    z: backend.zeros(rows, out)?,
                    a: if p.spec.activation.is_identity() {
                        None
                    } else {
                        Some(backend.zeros(rows, out)?)
                    },
                    grad: backend.zeros(rows, out)?,
                })
            })
            .collect::<Result<_>>()?;
        let code = self.config.code_dim();
        Ok(Workspace {
            rows,
            layers,
            code_mask: match self.config.code_topk.is_some() || self.config.jump_relu {
                true => Some(backend.zeros(rows, code)?),
                false => None,
            },
            code_idx: match (self.config.code_topk, self.sparse_code) {
                (Some(k), true) => Some(backend.zeros(rows, k)?),
                _ => None,
            },
            code_theta: match self.config.batch_topk || self.config.jump_relu {
                true => Some(backend.zeros(1, code)?),
                false => None,
            },
            jump: JumpReluTraining::default(),
            training: false,
            loss_acc: backend.zeros(1, 1)?,
            penalty_acc: backend.zeros(1, 1)?,
            unit_scratch: backend.zeros(1, code)?,
            penalty_strength: 1.0,
            centered: match self.config.pre_bias {
                true => Some(Centered {
                    x: backend.zeros(rows, self.config.input_dim)?,
                    neg_bias: backend.zeros(1, self.config.input_dim)?,
                    first_bias_grad: backend.zeros(1, self.plans[0].spec.outputs)?,
                }),
                false => None,
            },
            matryoshka: match self.config.matryoshka.is_empty() {
                true => None,
                false => Some(Prefixes::new(
                    backend,
                    &self.config.matryoshka,
                    rows,
                    self.config.input_dim,
                    self.config.output_activation(),
                )?),
            },
            contractive: None,
            vae: match self.config.variational {
                true => Some(VaeBuffers::new(backend, rows, code)?),
                false => None,
            },
        })
    }

    /// Zeroed gradients, one per parameter.
    pub fn gradients(&self, backend: &B) -> Result<Gradients<B>> {
        Ok(Gradients {
            tensors: backend.zeros_many(&self.shapes())?,
            written: vec![false; self.specs.len()],
        })
    }

    /// The full forward pass: `x` `[rows, input_dim]` -> reconstruction, left in `ws`.
    pub fn forward(&self, backend: &B, x: &B::Tensor, ws: &mut Workspace<B>) {
        self.forward_layers(backend, x, ws, self.plans.len());
    }

    /// The reconstruction after [`Autoencoder::forward`]: `[rows, input_dim]`.
    pub fn reconstruction<'w>(&self, ws: &'w Workspace<B>) -> &'w B::Tensor {
        ws.layers.last().expect("a model has layers").output()
    }

    /// The code after a forward pass: `[rows, code_dim]` (a variational model's mean).
    pub fn code<'w>(&self, ws: &'w Workspace<B>) -> &'w B::Tensor {
        match ws.vae.as_ref() {
            Some(v) => v.mu(),
            None => ws.layers[self.config.encoder_depth() - 1].output(),
        }
    }

    /// Checks that `loss` can be used with this model's output activation.
    pub fn check_loss(&self, loss: Loss) -> Result<()> {
        if loss == Loss::Bce && self.config.output_activation() != Activation::Sigmoid {
            return Err(Error::Config(
                "the bce loss needs a sigmoid output activation (`model.output_activation` sigmoid)".into(),
            ));
        }
        Ok(())
    }

    /// Adds `scale * objective(forward(x), target)` to `ws.loss_acc` without computing
    /// gradients (for a Matryoshka model, the sum over its prefixes).
    pub fn evaluate(
        &self,
        backend: &B,
        objective: Reconstruction,
        x: &B::Tensor,
        target: &B::Tensor,
        scale: f32,
        ws: &mut Workspace<B>,
    ) {
        self.forward(backend, x, ws);
        self.add_loss(backend, objective, target, scale, ws, false);
        if let Some(v) = ws.vae.as_mut() {
            self.add_kl(backend, scale, v);
        }
        self.prefix_forward(backend, ws);
        self.prefix_losses(backend, objective, target, scale, ws, false);
    }

    /// After a forward pass: `ws.loss_acc += scale * objective(output, target)`, and with
    /// `with_grad` the last layer's `grad` set to its gradient with respect to the loss's input
    /// (the output, or BCE's logits).
    fn add_loss(
        &self,
        backend: &B,
        objective: Reconstruction,
        target: &B::Tensor,
        scale: f32,
        ws: &mut Workspace<B>,
        with_grad: bool,
    ) {
        let last = ws.layers.last_mut().expect("a model has layers");
        let loss = objective.loss;
        let input = match loss {
            Loss::Mse => last.a.as_ref().unwrap_or(&last.z),
            Loss::Bce => &last.z,
        };
        backend.loss(
            loss,
            input,
            target,
            objective.reduction.weight(self.config.input_dim),
            scale,
            &mut ws.loss_acc,
            with_grad.then_some(&mut last.grad),
        );
    }

    /// Forward and backward for one batch: `ws.loss_acc += scale * objective` and `grads` set
    /// to the gradient of the objective (plus each regulariser's gradient, and with
    /// [`Workspace::contractive`] the contractive penalty's, its value added into that
    /// workspace's `acc`) for every parameter.
    /// `x` is the (possibly corrupted) input and `target` the clean one, both `[rows, input_dim]`.
    /// A Matryoshka model's objective is the sum of its prefixes' (see [`matryoshka`]).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        backend: &B,
        objective: Reconstruction,
        x: &B::Tensor,
        target: &B::Tensor,
        scale: f32,
        ws: &mut Workspace<B>,
        grads: &mut Gradients<B>,
        regularizers: &[&dyn Regularizer<B>],
    ) {
        self.forward(backend, x, ws);
        self.add_loss(backend, objective, target, scale, ws, true);
        if let Some(v) = ws.vae.as_mut() {
            self.add_kl(backend, scale, v);
        }
        self.prefix_forward(backend, ws);
        self.prefix_losses(backend, objective, target, scale, ws, true);
        let n = self.plans.len();
        let loss = objective.loss;
        grads.written.iter_mut().for_each(|w| *w = false);
        let mut contractive = ws.contractive.take();
        if let Some(c) = contractive.as_mut() {
            self.contractive_forward(backend, x, ws, scale, c, grads);
        }
        let code_layer = self.config.encoder_depth() - 1;
        for i in (0..n).rev() {
            let (before, rest) = ws.layers.split_at_mut(i);
            let cur = &mut rest[0];
            if let (true, Some(v)) = (i == code_layer, ws.vae.as_mut()) {
                self.reparameterize_backward(backend, ws.rows, v, &mut cur.grad);
            }
            if i == code_layer {
                if let Some(g) = contractive.as_ref().and_then(|c| c.code_grad()) {
                    backend.scale_add(1.0, g, &mut cur.grad);
                }
                let code = cur.a.as_ref().unwrap_or(&cur.z);
                let decoder = self
                    .code_decoder_weight()
                    .map(|w| (&self.params[w], &mut grads.tensors[w]));
                let mut terms = CodeTerms {
                    scale,
                    strength: ws.penalty_strength,
                    decoder,
                    penalty: &mut ws.penalty_acc,
                    unit_scratch: &mut ws.unit_scratch,
                };
                for r in regularizers {
                    r.code_gradient(backend, code, &mut cur.grad, &mut terms);
                }
            }
            // BCE's gradient is already with respect to the logits; a JumpReLU code's backward
            // takes it to its pre-activation here, with the threshold's gradient.
            let jump = self.log_threshold.filter(|_| i == code_layer);
            if let (Some(lt), Some(theta)) = (jump, ws.code_theta.as_ref()) {
                let l0 = ws.jump.l0 * ws.penalty_strength / ws.rows.max(1) as f32;
                backend.jump_relu_backward(
                    &cur.z,
                    theta,
                    ws.jump.bandwidth,
                    l0,
                    scale,
                    &mut cur.grad,
                    &mut grads.tensors[lt],
                    &mut ws.penalty_acc,
                );
                grads.written[lt] = true;
            }
            let folded = (i == n - 1 && loss == Loss::Bce) || jump.is_some();
            let mask = ws
                .code_mask
                .as_ref()
                .filter(|_| i == code_layer && jump.is_none());
            let sparse = match ws.code_idx.as_ref() {
                Some(idx) if i == code_layer => Some((SparseSide::Output, idx)),
                Some(idx) if i == code_layer + 1 => Some((SparseSide::Input, idx)),
                _ => None,
            };
            let (input, mut input_grad) = match (before.last_mut(), ws.vae.as_mut()) {
                // The first decoder layer of a variational model reads the sample z.
                (Some(_), Some(v)) if i == code_layer + 1 => (&v.z, Some(&mut v.dz)),
                (None, _) => (encoder_input(x, ws.centered.as_ref()), None),
                (Some(prev), _) => (prev.a.as_ref().unwrap_or(&prev.z), Some(&mut prev.grad)),
            };
            let prefixes = ws.matryoshka.as_mut().filter(|_| i == n - 1);
            if let (Some(p), Some(code_grad)) = (prefixes, input_grad.as_mut()) {
                self.prefix_decoder_backward(backend, cur, p, folded, code_grad, grads);
                continue;
            }
            self.layer_backward(
                backend, i, input, cur, mask, sparse, folded, grads, input_grad,
            );
        }
        if let Some(c) = contractive.as_mut() {
            self.contractive_backward(backend, c, grads);
        }
        ws.contractive = contractive;
        // The pre-encoder bias: the encoder's input x - b_out adds -colsum(dz_0) W_0 =
        // -(d loss / d b_0) W_0 to the output bias's gradient.
        if let Some(c) = ws.centered.as_mut() {
            let enc_bias = self.plans[0].bias;
            backend.copy(&grads.tensors[enc_bias], &mut c.first_bias_grad);
            let later = &mut grads.tensors[enc_bias + 1..];
            self.add_pre_bias_gradient(backend, &c.first_bias_grad, later);
        }
        for r in regularizers {
            r.param_gradient(backend, &self.specs, &self.params, grads);
        }
    }
}
