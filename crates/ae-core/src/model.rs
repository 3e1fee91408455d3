//! `Autoencoder<B>`: the parameters of a dense autoencoder on a backend, its forward pass and its
//! backward pass (reconstruction loss + regularisers).
//!
//! Parameters follow PyTorch's `nn.Sequential(nn.Linear, activation, ...)` layout: layer `j` of
//! the encoder is `encoder.{2j}.weight` `[out, in]` and `encoder.{2j}.bias` `[1, out]` (saved as
//! `[out]`); the decoder likewise. Layer `i` computes `z = x Wᵀ + b`, `a = f(z)`:
//! `[batch, in] -> [batch, out]`. A tied decoder layer has no weight of its own and uses the
//! mirrored encoder weight transposed.

use crate::regularizer::Regularizer;
use crate::{
    Activation, Backend, Error, LayerSpec, Loss, Matrix, ModelConfig, Reconstruction, Result, Rng,
};

/// Whether a parameter is a weight matrix or a bias row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `[out, in]`.
    Weight,
    /// `[1, out]`.
    Bias,
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

/// How layer `i` finds its parameters.
#[derive(Clone, Copy, Debug)]
struct LayerPlan {
    spec: LayerSpec,
    /// Index of the weight in the parameter list.
    weight: usize,
    /// The weight is stored as `[in, out]` (a tied decoder using an encoder weight).
    transposed: bool,
    bias: usize,
}

/// Buffers of one layer for a fixed batch size.
struct LayerBuffers<T> {
    /// Pre-activation `[batch, out]`.
    z: T,
    /// Activation `[batch, out]`; `None` when the activation is the identity (then it is `z`).
    a: Option<T>,
    /// Gradient with respect to the layer's output, turned in place into the gradient with
    /// respect to `z` during backward. `[batch, out]`.
    grad: T,
}

impl<T> LayerBuffers<T> {
    fn output(&self) -> &T {
        self.a.as_ref().unwrap_or(&self.z)
    }

    /// What the loss reads: the output, or the logits for BCE (whose sigmoid is folded in).
    fn loss_input(&self, loss: Loss) -> &T {
        match loss {
            Loss::Mse => self.output(),
            Loss::Bce => &self.z,
        }
    }
}

/// Device buffers for one batch size: activations, their gradients and a loss accumulator.
/// Made once by [`Autoencoder::workspace`] and reused every step.
pub struct Workspace<B: Backend> {
    rows: usize,
    layers: Vec<LayerBuffers<B::Tensor>>,
    /// TopK's mask of kept, positive code units `[rows, code_dim]` (TopK models only).
    topk_mask: Option<B::Tensor>,
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
}

/// Buffers of the pre-encoder bias ([`ModelConfig::pre_bias`]).
struct Centered<T> {
    /// `x - b_out` `[rows, input_dim]`.
    x: T,
    /// `-b_out` `[1, input_dim]`.
    neg_bias: T,
}

/// What the first layer reads: `x`, or `x - b_out` with a pre-encoder bias.
fn encoder_input<'a, T>(x: &'a T, centered: Option<&'a Centered<T>>) -> &'a T {
    centered.map_or(x, |c| &c.x)
}

/// What a code penalty reads and writes besides the code's gradient (see
/// [`Regularizer::code_gradient`](crate::Regularizer::code_gradient)).
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

impl<B: Backend> Workspace<B> {
    /// The batch size these buffers hold.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// Buffers of the AuxK loss ([`crate::AuxK`]) for one batch size; made once by
/// [`Autoencoder::auxk_workspace`].
pub struct AuxWorkspace<B: Backend> {
    rows: usize,
    /// Pre-activations with every live unit masked out `[rows, code]`.
    z_dead: B::Tensor,
    /// The dead units' TopK code `[rows, code]`.
    code: B::Tensor,
    /// Its mask (kept and positive) `[rows, code]`.
    mask: B::Tensor,
    /// The residual `x - x_hat` `[rows, d]`.
    residual: B::Tensor,
    /// The residual's reconstruction from the dead units `[rows, d]`.
    recon: B::Tensor,
    /// `d aux / d recon` `[rows, d]`.
    grad_recon: B::Tensor,
    /// `d aux / d z` of the dead units `[rows, code]`.
    grad_code: B::Tensor,
    /// `[1, code]`: the encoder bias part before it is added to the gradient.
    grad_bias: B::Tensor,
}

/// One gradient tensor per parameter, same shapes.
pub struct Gradients<B: Backend> {
    /// In parameter order.
    pub tensors: Vec<B::Tensor>,
    written: Vec<bool>,
}

/// A dense autoencoder whose parameters live on backend `B`.
pub struct Autoencoder<B: Backend> {
    config: ModelConfig,
    specs: Vec<ParamSpec>,
    params: Vec<B::Tensor>,
    plans: Vec<LayerPlan>,
}

/// Which output [`Autoencoder::map_rows`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The code: `[n, code_dim]`.
    Code,
    /// The reconstruction: `[n, input_dim]`.
    Reconstruction,
}

const INFERENCE_CHUNK: usize = 1024;

fn layer_name(config: &ModelConfig, layer: usize) -> String {
    let depth = config.encoder_depth();
    if layer < depth {
        format!("encoder.{}", 2 * layer)
    } else {
        format!("decoder.{}", 2 * (layer - depth))
    }
}

/// Parameter names, shapes and how each layer uses them.
fn plan(config: &ModelConfig) -> (Vec<ParamSpec>, Vec<LayerPlan>) {
    let layers = config.layers();
    let n = layers.len();
    let mut specs = Vec::new();
    let mut plans: Vec<LayerPlan> = Vec::with_capacity(n);
    for (i, spec) in layers.iter().enumerate() {
        let name = layer_name(config, i);
        let tied_to = (config.tied && i >= config.encoder_depth()).then(|| n - 1 - i);
        let (weight, transposed) = match tied_to {
            Some(enc) => (plans[enc].weight, true),
            None => {
                specs.push(ParamSpec {
                    name: format!("{name}.weight"),
                    rows: spec.outputs,
                    cols: spec.inputs,
                    kind: ParamKind::Weight,
                });
                (specs.len() - 1, false)
            }
        };
        specs.push(ParamSpec {
            name: format!("{name}.bias"),
            rows: 1,
            cols: spec.outputs,
            kind: ParamKind::Bias,
        });
        plans.push(LayerPlan {
            spec: *spec,
            weight,
            transposed,
            bias: specs.len() - 1,
        });
    }
    (specs, plans)
}

/// Uniform initialisation bound fitted to the activation: Kaiming (He) for the ReLU family,
/// Xavier (Glorot) otherwise.
fn init_bound(spec: &LayerSpec) -> f64 {
    let (fan_in, fan_out) = (spec.inputs as f64, spec.outputs as f64);
    match spec.activation {
        Activation::Relu | Activation::LeakyRelu | Activation::Gelu | Activation::Softplus => {
            (6.0 / fan_in).sqrt()
        }
        Activation::Identity | Activation::Sigmoid | Activation::Tanh => {
            (6.0 / (fan_in + fan_out)).sqrt()
        }
    }
}

/// Uploads one parameter; a backend error (such as a device limit) names the parameter.
fn upload_param<B: Backend>(backend: &B, m: &Matrix, spec: &ParamSpec) -> Result<B::Tensor> {
    backend.upload(m).map_err(|e| match e {
        Error::Backend(msg) => Error::Backend(format!(
            "parameter {} [{}, {}]: {msg}",
            spec.name, spec.rows, spec.cols
        )),
        e => e,
    })
}

impl<B: Backend> Autoencoder<B> {
    /// A freshly initialised model: weights uniform in `[-bound, bound]` (Kaiming for ReLU-like
    /// layers, Xavier otherwise) from `seed`, biases zero.
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
            host.push(m);
        }
        let params = host
            .iter()
            .zip(&specs)
            .map(|(m, spec)| upload_param(backend, m, spec))
            .collect::<Result<_>>()?;
        Ok(Autoencoder {
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
        let mut params = Vec::with_capacity(specs.len());
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
                return Err(Error::Shape(format!(
                    "tensor '{}' is [{}, {}], the config needs [{}, {}]",
                    spec.name, m.rows, m.cols, spec.rows, spec.cols
                )));
            }
            if let Some((r, c, v)) = m.first_non_finite() {
                return Err(Error::Shape(format!(
                    "tensor '{}' holds {v} at [{r}, {c}]",
                    spec.name
                )));
            }
            let m = Matrix::new(spec.rows, spec.cols, m.data)?;
            params.push(upload_param(backend, &m, spec)?);
        }
        if let Some(extra) = named.keys().next() {
            return Err(Error::Shape(format!(
                "tensor '{extra}' is not part of this architecture"
            )));
        }
        Ok(Autoencoder {
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

    /// The parameter tensors, in the order of [`Autoencoder::param_specs`].
    pub fn params(&self) -> &[B::Tensor] {
        &self.params
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
            topk_mask: match self.config.code_topk {
                Some(_) => Some(backend.zeros(rows, code)?),
                None => None,
            },
            loss_acc: backend.zeros(1, 1)?,
            penalty_acc: backend.zeros(1, 1)?,
            unit_scratch: backend.zeros(1, code)?,
            penalty_strength: 1.0,
            centered: match self.config.pre_bias {
                true => Some(Centered {
                    x: backend.zeros(rows, self.config.input_dim)?,
                    neg_bias: backend.zeros(1, self.config.input_dim)?,
                }),
                false => None,
            },
        })
    }

    /// Buffers of the AuxK loss for batches of `rows` samples.
    pub fn auxk_workspace(&self, backend: &B, rows: usize) -> Result<AuxWorkspace<B>> {
        let (d, c) = (self.config.input_dim, self.config.code_dim());
        Ok(AuxWorkspace {
            rows,
            z_dead: backend.zeros(rows, c)?,
            code: backend.zeros(rows, c)?,
            mask: backend.zeros(rows, c)?,
            residual: backend.zeros(rows, d)?,
            recon: backend.zeros(rows, d)?,
            grad_recon: backend.zeros(rows, d)?,
            grad_code: backend.zeros(rows, c)?,
            grad_bias: backend.zeros(1, c)?,
        })
    }

    /// The AuxK loss ([`crate::AuxK`]) after [`Autoencoder::forward_backward`] on the same
    /// batch, with `since` `[1, code]` the samples since each unit last fired, already updated
    /// with this batch ([`Backend::track_dead`] on [`Autoencoder::code`]): adds
    /// `scale * aux.coef * w * mean((e_hat - e)^2)` (`w` the `reduction`'s weight, 1 for the
    /// mean) to `ws.penalty_acc` and its gradient to `grads` (decoder weight, encoder weight and
    /// bias, and with a pre-encoder bias the output bias). `x` is the model's input
    /// and `target` the clean one, `[rows, input_dim]`; `aux` must have passed
    /// [`crate::AuxK::validate`] for this model.
    #[allow(clippy::too_many_arguments)]
    pub fn auxk_backward(
        &self,
        backend: &B,
        aux: &crate::AuxK,
        x: &B::Tensor,
        target: &B::Tensor,
        reduction: crate::Reduction,
        scale: f32,
        since: &B::Tensor,
        ws: &mut Workspace<B>,
        aw: &mut AuxWorkspace<B>,
        grads: &mut Gradients<B>,
    ) {
        debug_assert!(self.plans.len() == 2 && !self.plans[1].transposed);
        debug_assert_eq!(aw.rows, ws.rows);
        let (enc, dec) = (self.plans[0], self.plans[1]);
        debug_assert!(ws.topk_mask.is_some(), "AuxK needs a TopK model");
        backend.mask_dead(
            &ws.layers[0].z,
            since,
            aux.dead_window as f32,
            &mut aw.z_dead,
        );
        backend.topk(&aw.z_dead, aux.k, &mut aw.code, &mut aw.mask);
        backend.copy(target, &mut aw.residual);
        backend.scale_add(-1.0, ws.layers[1].output(), &mut aw.residual);
        let w_dec = &self.params[dec.weight];
        backend.matmul(&aw.code, false, w_dec, true, 1.0, 0.0, &mut aw.recon);
        backend.loss(
            Loss::Mse,
            &aw.recon,
            &aw.residual,
            reduction.weight(self.config.input_dim),
            scale * aux.coef,
            &mut ws.penalty_acc,
            Some(&mut aw.grad_recon),
        );
        // dW_dec [d, code] += coef * grad_reconᵀ h_aux.
        backend.matmul(
            &aw.grad_recon,
            true,
            &aw.code,
            false,
            aux.coef,
            1.0,
            &mut grads.tensors[dec.weight],
        );
        // d z_dead = coef * grad_recon W_dec, through TopK's mask.
        backend.matmul(
            &aw.grad_recon,
            false,
            w_dec,
            false,
            aux.coef,
            0.0,
            &mut aw.grad_code,
        );
        backend.mul_assign(&mut aw.grad_code, &aw.mask);
        backend.matmul(
            &aw.grad_code,
            true,
            encoder_input(x, ws.centered.as_ref()),
            false,
            1.0,
            1.0,
            &mut grads.tensors[enc.weight],
        );
        backend.bias_grad(&aw.grad_code, &mut aw.grad_bias);
        backend.scale_add(1.0, &aw.grad_bias, &mut grads.tensors[enc.bias]);
        if self.config.pre_bias {
            let (_, later) = grads.tensors.split_at_mut(enc.bias + 1);
            self.add_pre_bias_gradient(backend, &aw.grad_bias, later);
        }
    }

    /// Zeroed gradients, one per parameter.
    pub fn gradients(&self, backend: &B) -> Result<Gradients<B>> {
        Ok(Gradients {
            tensors: self
                .specs
                .iter()
                .map(|s| backend.zeros(s.rows, s.cols))
                .collect::<Result<_>>()?,
            written: vec![false; self.specs.len()],
        })
    }

    /// Runs layers `0..upto` on `x` `[ws.rows(), input_dim]`; results stay in `ws`.
    fn forward_layers(&self, backend: &B, x: &B::Tensor, ws: &mut Workspace<B>, upto: usize) {
        let code_layer = self.config.encoder_depth() - 1;
        if let Some(c) = ws.centered.as_mut() {
            let out_bias = &self.params[self.plans[self.plans.len() - 1].bias];
            backend.fill(&mut c.neg_bias, 0.0);
            backend.scale_add(-1.0, out_bias, &mut c.neg_bias);
            backend.copy(x, &mut c.x);
            backend.add_bias(&mut c.x, &c.neg_bias);
        }
        for i in 0..upto {
            let plan = &self.plans[i];
            let (before, rest) = ws.layers.split_at_mut(i);
            let cur = &mut rest[0];
            let input = match i {
                0 => encoder_input(x, ws.centered.as_ref()),
                _ => before[i - 1].output(),
            };
            backend.matmul(
                input,
                false,
                &self.params[plan.weight],
                !plan.transposed,
                1.0,
                0.0,
                &mut cur.z,
            );
            backend.add_bias(&mut cur.z, &self.params[plan.bias]);
            match (cur.a.as_mut(), self.config.code_topk, ws.topk_mask.as_mut()) {
                (Some(a), Some(k), Some(mask)) if i == code_layer => {
                    backend.topk(&cur.z, k, a, mask)
                }
                (Some(a), _, _) => backend.activation(plan.spec.activation, &cur.z, a),
                (None, _, _) => {}
            }
        }
    }

    /// The full forward pass: `x` `[rows, input_dim]` -> reconstruction, left in `ws`.
    pub fn forward(&self, backend: &B, x: &B::Tensor, ws: &mut Workspace<B>) {
        self.forward_layers(backend, x, ws, self.plans.len());
    }

    /// The reconstruction after [`Autoencoder::forward`]: `[rows, input_dim]`.
    pub fn reconstruction<'w>(&self, ws: &'w Workspace<B>) -> &'w B::Tensor {
        ws.layers.last().expect("a model has layers").output()
    }

    /// The code after a forward pass: `[rows, code_dim]`.
    pub fn code<'w>(&self, ws: &'w Workspace<B>) -> &'w B::Tensor {
        ws.layers[self.config.encoder_depth() - 1].output()
    }

    /// Checks that `loss` can be used with this model's output activation.
    pub fn check_loss(&self, loss: Loss) -> Result<()> {
        if loss == Loss::Bce && self.config.output_activation() != Activation::Sigmoid {
            return Err(Error::Config(
                "the bce loss needs a sigmoid output activation (--output sigmoid)".into(),
            ));
        }
        Ok(())
    }

    /// Adds `scale * objective(forward(x), target)` to `ws.loss_acc` without computing
    /// gradients.
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
        let last = ws.layers.last().expect("a model has layers");
        let loss = objective.loss;
        backend.loss(
            loss,
            last.loss_input(loss),
            target,
            objective.reduction.weight(self.config.input_dim),
            scale,
            &mut ws.loss_acc,
            None,
        );
    }

    /// Forward and backward for one batch: `ws.loss_acc += scale * objective` and `grads` set
    /// to the gradient of the objective (plus each regulariser's gradient) for every parameter.
    /// `x` is the (possibly corrupted) input and `target` the clean one, both `[rows, input_dim]`.
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
        let n = self.plans.len();
        let loss = objective.loss;
        {
            let last = &mut ws.layers[n - 1];
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
                Some(&mut last.grad),
            );
        }
        grads.written.iter_mut().for_each(|w| *w = false);
        let code_layer = self.config.encoder_depth() - 1;
        for i in (0..n).rev() {
            let plan = self.plans[i];
            let (before, rest) = ws.layers.split_at_mut(i);
            let cur = &mut rest[0];
            if i == code_layer {
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
            // d(output) -> d(z); BCE's gradient is already with respect to the logits.
            let folded = i == n - 1 && loss == Loss::Bce;
            match (cur.a.as_ref(), ws.topk_mask.as_ref()) {
                (Some(_), Some(mask)) if i == code_layer => backend.mul_assign(&mut cur.grad, mask),
                (Some(a), _) if !folded => {
                    backend.activation_backward(plan.spec.activation, &cur.z, a, &mut cur.grad)
                }
                _ => {}
            }
            let input = match i {
                0 => encoder_input(x, ws.centered.as_ref()),
                _ => before[i - 1].output(),
            };
            let beta = if grads.written[plan.weight] { 1.0 } else { 0.0 };
            let gw = &mut grads.tensors[plan.weight];
            if plan.transposed {
                // Stored W is [in, out]: dW = inputᵀ dz.
                backend.matmul(input, true, &cur.grad, false, 1.0, beta, gw);
            } else {
                // dW [out, in] = dzᵀ input.
                backend.matmul(&cur.grad, true, input, false, 1.0, beta, gw);
            }
            grads.written[plan.weight] = true;
            backend.bias_grad(&cur.grad, &mut grads.tensors[plan.bias]);
            grads.written[plan.bias] = true;
            if i > 0 {
                let w = &self.params[plan.weight];
                backend.matmul(
                    &cur.grad,
                    false,
                    w,
                    plan.transposed,
                    1.0,
                    0.0,
                    &mut before[i - 1].grad,
                );
            }
        }
        // The pre-encoder bias: the encoder's input x - b_out adds -colsum(dz_0) W_0 =
        // -(d loss / d b_0) W_0 to the output bias's gradient.
        if self.config.pre_bias {
            let enc_bias = self.plans[0].bias;
            let (head, tail) = grads.tensors.split_at_mut(enc_bias + 1);
            self.add_pre_bias_gradient(backend, &head[enc_bias], tail);
        }
        for r in regularizers {
            r.param_gradient(backend, self, grads);
        }
    }

    /// `d b_out -= db_0 W_0`: what a gradient `db_0` `[1, enc_0]` of the first encoder layer's
    /// pre-activation sums contributes to the output bias through the pre-encoder bias.
    /// `later` holds the gradients after the first encoder bias (the output bias among them).
    fn add_pre_bias_gradient(&self, backend: &B, db_0: &B::Tensor, later: &mut [B::Tensor]) {
        let out_bias = self.plans[self.plans.len() - 1].bias;
        let offset = self.plans[0].bias + 1;
        let w_0 = &self.params[self.plans[0].weight];
        backend.matmul(
            db_0,
            false,
            w_0,
            false,
            -1.0,
            1.0,
            &mut later[out_bias - offset],
        );
    }

    /// Starts the pre-encoder bias ([`ModelConfig::pre_bias`]) at the mean of `data`
    /// `[n, input_dim]`: the output bias becomes the column means, so the encoder first sees
    /// centred inputs. Gao et al. use the geometric median; the mean is its cheap stand-in.
    pub fn init_pre_bias(&mut self, backend: &B, data: &Matrix) -> Result<()> {
        let d = self.config.input_dim;
        if data.cols != d || data.rows == 0 {
            return Err(Error::Shape(format!(
                "the pre-encoder bias needs data [n > 0, {d}], got [{}, {}]",
                data.rows, data.cols
            )));
        }
        let means = data.column_means();
        let mean = Matrix::new(1, d, means.iter().map(|&m| m as f32).collect())?;
        let out_bias = self.plans[self.plans.len() - 1].bias;
        let t = upload_param(backend, &mean, &self.specs[out_bias])?;
        self.params[out_bias] = t;
        Ok(())
    }

    /// Initialises each encoder weight as the transpose of its mirror decoder weight (Gao et
    /// al. 2024: the encoder starts as the decoder's transpose, so a unit fires on the inputs it
    /// reconstructs). Needs an untied model with a mirrored decoder.
    pub fn init_encoder_from_decoder(&mut self, backend: &B) -> Result<()> {
        let depth = self.config.encoder_depth();
        let n = self.plans.len();
        if self.config.tied || n != 2 * depth {
            return Err(Error::Config(
                "initialising the encoder as the decoder's transpose needs an untied model with \
                 a mirrored decoder"
                    .into(),
            ));
        }
        for i in 0..depth {
            let (enc, dec) = (self.plans[i], self.plans[n - 1 - i]);
            if enc.spec.inputs != dec.spec.outputs || enc.spec.outputs != dec.spec.inputs {
                return Err(Error::Config(format!(
                    "encoder layer {i} is [{}, {}] but its mirror decoder layer is [{}, {}]",
                    enc.spec.inputs, enc.spec.outputs, dec.spec.inputs, dec.spec.outputs
                )));
            }
            let w = backend.download(&self.params[dec.weight])?; // [in_i, out_i]
            let mut t = Matrix::zeros(w.cols, w.rows);
            for r in 0..w.rows {
                for c in 0..w.cols {
                    t.data[c * w.rows + r] = w.data[r * w.cols + c];
                }
            }
            let spec = &self.specs[enc.weight];
            self.params[enc.weight] = upload_param(backend, &t, spec)?;
        }
        Ok(())
    }

    /// Runs the model over a host matrix in chunks and returns the code or the reconstruction.
    pub fn map_rows(&self, backend: &B, x: &Matrix, output: Output) -> Result<Matrix> {
        let code = output == Output::Code;
        let (code, recon) = self.run_rows(backend, x, code, !code)?;
        Ok(code.or(recon).expect("one output was asked for"))
    }

    /// The codes `[n, code_dim]` and reconstructions `[n, input_dim]` of `x` `[n, input_dim]`
    /// from one forward pass.
    pub fn code_and_reconstruction(&self, backend: &B, x: &Matrix) -> Result<(Matrix, Matrix)> {
        let (code, recon) = self.run_rows(backend, x, true, true)?;
        Ok((code.expect("asked for"), recon.expect("asked for")))
    }

    fn run_rows(
        &self,
        backend: &B,
        x: &Matrix,
        want_code: bool,
        want_recon: bool,
    ) -> Result<(Option<Matrix>, Option<Matrix>)> {
        if x.cols != self.config.input_dim {
            return Err(Error::Shape(format!(
                "the data has {} columns but the model's input width is {}",
                x.cols, self.config.input_dim
            )));
        }
        let depth = self.config.encoder_depth();
        let upto = if want_recon { self.plans.len() } else { depth };
        let mut codes = Vec::with_capacity(if want_code {
            x.rows * self.config.code_dim()
        } else {
            0
        });
        let mut recons = Vec::with_capacity(if want_recon { x.rows * x.cols } else { 0 });
        let mut ws: Option<Workspace<B>> = None;
        for start in (0..x.rows).step_by(INFERENCE_CHUNK) {
            let end = (start + INFERENCE_CHUNK).min(x.rows);
            let chunk = Matrix::new(
                end - start,
                x.cols,
                x.data[start * x.cols..end * x.cols].to_vec(),
            )?;
            if ws.as_ref().map(|w| w.rows) != Some(chunk.rows) {
                ws = Some(self.workspace(backend, chunk.rows)?);
            }
            let ws = ws.as_mut().expect("just made");
            let xt = backend.upload(&chunk)?;
            self.forward_layers(backend, &xt, ws, upto);
            if want_code {
                codes.extend(backend.download(ws.layers[depth - 1].output())?.data);
            }
            if want_recon {
                recons.extend(backend.download(ws.layers[upto - 1].output())?.data);
            }
        }
        let code = want_code
            .then(|| Matrix::new(x.rows, self.config.code_dim(), codes))
            .transpose()?;
        let recon = want_recon
            .then(|| Matrix::new(x.rows, x.cols, recons))
            .transpose()?;
        Ok((code, recon))
    }

    /// Codes of `x`: `[n, input_dim] -> [n, code_dim]`.
    pub fn encode(&self, backend: &B, x: &Matrix) -> Result<Matrix> {
        self.map_rows(backend, x, Output::Code)
    }

    /// Reconstructions of `x`: `[n, input_dim] -> [n, input_dim]`.
    pub fn reconstruct(&self, backend: &B, x: &Matrix) -> Result<Matrix> {
        self.map_rows(backend, x, Output::Reconstruction)
    }
}
