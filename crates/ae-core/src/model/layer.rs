//! One layer: `z = x Wᵀ + b`, `a = f(z)` (`[batch, in] -> [batch, out]`; TopK at a TopK code
//! layer) and its backward, side by side; plus how each layer finds its parameters and its
//! initialisation.

use super::{Autoencoder, Workspace};
use crate::params::{Gradients, ParamKind, ParamSpec};
use crate::{Activation, Backend, Error, LayerSpec, Matrix, ModelConfig, Result};

/// How layer `i` finds its parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct LayerPlan {
    pub(super) spec: LayerSpec,
    /// Index of the weight in the parameter list.
    pub(super) weight: usize,
    /// The weight is stored as `[in, out]` (a tied decoder using an encoder weight).
    pub(super) transposed: bool,
    pub(super) bias: usize,
}

/// Buffers of one layer for a fixed batch size.
pub(super) struct LayerBuffers<T> {
    /// Pre-activation `[batch, out]`.
    pub(super) z: T,
    /// Activation `[batch, out]`; `None` when the activation is the identity (then it is `z`).
    pub(super) a: Option<T>,
    /// Gradient with respect to the layer's output, turned in place into the gradient with
    /// respect to `z` during backward. `[batch, out]`.
    pub(super) grad: T,
}

impl<T> LayerBuffers<T> {
    pub(super) fn output(&self) -> &T {
        self.a.as_ref().unwrap_or(&self.z)
    }
}

fn layer_name(config: &ModelConfig, layer: usize) -> String {
    let depth = config.encoder_depth();
    if layer < depth {
        format!("encoder.{}", 2 * layer)
    } else {
        format!("decoder.{}", 2 * (layer - depth))
    }
}

/// Parameter names, shapes and how each layer uses them.
pub(super) fn plan(config: &ModelConfig) -> (Vec<ParamSpec>, Vec<LayerPlan>) {
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
        let bias = specs.len() - 1;
        if config.jump_relu && i + 1 == config.encoder_depth() {
            // The threshold belongs to the activation module after the linear one.
            specs.push(ParamSpec {
                name: format!("encoder.{}.log_threshold", 2 * i + 1),
                rows: 1,
                cols: spec.outputs,
                kind: ParamKind::LogThreshold,
            });
        }
        plans.push(LayerPlan {
            spec: *spec,
            weight,
            transposed,
            bias,
        });
    }
    (specs, plans)
}

/// Uniform initialisation bound fitted to the activation: Kaiming (He) for the ReLU family,
/// Xavier (Glorot) otherwise.
pub(super) fn init_bound(spec: &LayerSpec) -> f64 {
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

/// A backend error (such as a device limit) naming the parameter `spec`.
fn name_param(spec: &ParamSpec) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Backend(msg) => Error::Backend(format!(
            "parameter {} [{}, {}]: {msg}",
            spec.name, spec.rows, spec.cols
        )),
        e => e,
    }
}

/// Uploads every parameter (`host[i]` of shape `specs[i]`) into tensors made together
/// ([`Backend::zeros_many`], so the optimiser may update them in one kernel); an error names
/// the parameter.
pub(super) fn upload_params<B: Backend>(
    backend: &B,
    host: &[Matrix],
    specs: &[ParamSpec],
) -> Result<Vec<B::Tensor>> {
    let shapes: Vec<_> = specs.iter().map(|s| (s.rows, s.cols)).collect();
    let Ok(mut params) = backend.zeros_many(&shapes) else {
        // Some parameter is past the device's limits: find which, by uploading one by one.
        return host
            .iter()
            .zip(specs)
            .map(|(m, s)| backend.upload(m).map_err(name_param(s)))
            .collect();
    };
    for ((t, m), s) in params.iter_mut().zip(host).zip(specs) {
        backend.write(m, t).map_err(name_param(s))?;
    }
    Ok(params)
}

/// Which side of a layer the sparse TopK code is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SparseSide {
    /// The layer's output is the code (the TopK layer): its `dz` is zero off the code's active
    /// columns.
    Output,
    /// The layer reads the code (the first decoder layer).
    Input,
}

/// Buffers of the pre-encoder bias ([`ModelConfig::pre_bias`]).
pub(super) struct Centered<T> {
    /// `x - b_out` `[rows, input_dim]`.
    pub(super) x: T,
    /// `-b_out` `[1, input_dim]`.
    pub(super) neg_bias: T,
    /// A copy of the first encoder bias's gradient `[1, enc_0]`, read while the output bias's
    /// is written (the two are tensors made together: no kernel may read one and write the
    /// other).
    pub(super) first_bias_grad: T,
}

/// What the first layer reads: `x`, or `x - b_out` with a pre-encoder bias.
pub(super) fn encoder_input<'a, T>(x: &'a T, centered: Option<&'a Centered<T>>) -> &'a T {
    centered.map_or(x, |c| &c.x)
}

impl<B: Backend> Autoencoder<B> {
    /// Runs layers `0..upto` on `x` `[ws.rows(), input_dim]`; results stay in `ws`.
    pub(super) fn forward_layers(
        &self,
        backend: &B,
        x: &B::Tensor,
        ws: &mut Workspace<B>,
        upto: usize,
    ) {
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
            let input = match (i, ws.vae.as_ref()) {
                (0, _) => encoder_input(x, ws.centered.as_ref()),
                // The first decoder layer of a variational model reads the sample z.
                (_, Some(v)) if i == code_layer + 1 => v.z(),
                _ => before[i - 1].output(),
            };
            let w = &self.params[plan.weight];
            let bias = &self.params[plan.bias];
            // A plain layer (not a TopK or JumpReLU code, not reading a sparse code): its
            // product, bias and activation in one op.
            let code = i == code_layer
                && (self.config.code_topk.is_some() || self.log_threshold.is_some())
                && ws.code_mask.is_some();
            let sparse_input = ws.code_idx.is_some() && i == code_layer + 1;
            if let (Some(a), false, false) = (cur.a.as_mut(), code, sparse_input) {
                let act = plan.spec.activation;
                backend.linear_activation(act, input, w, !plan.transposed, bias, &mut cur.z, a);
                continue;
            }
            match ws.code_idx.as_ref() {
                // The layer after the code: `z = code Wᵀ` over its active columns.
                Some(idx) if i == code_layer + 1 => {
                    backend.sparse_matmul(input, idx, w, plan.transposed, &mut cur.z)
                }
                _ => backend.matmul(input, false, w, !plan.transposed, 1.0, 0.0, &mut cur.z),
            }
            if let (Some(lt), Some(a), Some(theta), Some(mask)) = (
                self.log_threshold.filter(|_| i == code_layer),
                cur.a.as_mut(),
                ws.code_theta.as_mut(),
                ws.code_mask.as_mut(),
            ) {
                backend.add_bias(&mut cur.z, bias);
                backend.exponential(&self.params[lt], theta);
                backend.jump_relu(&cur.z, theta, a, mask);
                continue;
            }
            match (cur.a.as_mut(), self.config.code_topk, ws.code_mask.as_mut()) {
                (Some(a), Some(k), Some(mask)) if i == code_layer => {
                    backend.add_bias(&mut cur.z, bias);
                    match (ws.code_theta.as_mut(), self.config.code_threshold) {
                        (Some(theta), Some(t)) if !ws.training => {
                            backend.fill(theta, t);
                            backend.jump_relu(&cur.z, theta, a, mask);
                        }
                        (Some(_), _) => backend.batch_topk(&cur.z, k, a, mask),
                        (None, _) => backend.topk(&cur.z, k, a, mask),
                    }
                    if let Some(idx) = ws.code_idx.as_mut() {
                        backend.active_columns(mask, idx);
                    }
                }
                (Some(a), _, _) => {
                    backend.bias_activation(plan.spec.activation, &mut cur.z, bias, a)
                }
                (None, _, _) => backend.add_bias(&mut cur.z, bias),
            }
            if let (true, Some(v)) = (i == code_layer, ws.vae.as_mut()) {
                self.reparameterize(backend, &cur.z, v);
            }
        }
    }

    /// The backward of layer `i`, given `cur.grad` = `d objective / d output` `[batch, out]`:
    /// turns it in place into `d / d z` (through the activation, TopK's `mask` at a TopK code
    /// layer, or nothing when `folded`: the loss already folded the output's sigmoid in, or a
    /// JumpReLU code's backward ran), writes (or, for
    /// a tied weight read twice, adds) `dW` and `db` into `grads`, and writes
    /// `d / d input = dz W` `[batch, in]` into `input_grad` (none for the first layer). With
    /// `sparse` (the side the TopK code is on and its active columns `[batch, k]`) the products
    /// with the code go over its active columns ([`crate::backend::SparseOps`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn layer_backward(
        &self,
        backend: &B,
        i: usize,
        input: &B::Tensor,
        cur: &mut LayerBuffers<B::Tensor>,
        mask: Option<&B::Tensor>,
        sparse: Option<(SparseSide, &B::Tensor)>,
        folded: bool,
        grads: &mut Gradients<B>,
        input_grad: Option<&mut B::Tensor>,
    ) {
        let plan = self.plans[i];
        // d / d z, and from it the bias gradient (fused with the activation's backward).
        let db = &mut grads.tensors[plan.bias];
        match (cur.a.as_ref(), mask) {
            (Some(_), Some(mask)) => {
                backend.mul_assign(&mut cur.grad, mask);
                backend.bias_grad(&cur.grad, db);
            }
            (Some(a), None) if !folded => {
                backend.activation_bias_backward(plan.spec.activation, &cur.z, a, &mut cur.grad, db)
            }
            _ => backend.bias_grad(&cur.grad, db),
        }
        grads.written[plan.bias] = true;
        let accumulate = grads.written[plan.weight];
        let beta = if accumulate { 1.0 } else { 0.0 };
        let gw = &mut grads.tensors[plan.weight];
        let w = &self.params[plan.weight];
        if let Some((side, idx)) = sparse {
            // A weight stored [out, in] is [m, n] to the sparse ops when the code is its input
            // and [n, m] when the code is its output; a tied (transposed) one the other way.
            match side {
                SparseSide::Output => {
                    let w_t = !plan.transposed;
                    backend.sparse_weight_grad(&cur.grad, idx, input, accumulate, gw, w_t);
                    if let Some(dx) = input_grad {
                        backend.sparse_matmul(&cur.grad, idx, w, w_t, dx);
                    }
                }
                SparseSide::Input => {
                    let w_t = plan.transposed;
                    backend.sparse_weight_grad(input, idx, &cur.grad, accumulate, gw, w_t);
                    if let Some(dx) = input_grad {
                        backend.sparse_input_grad(&cur.grad, idx, w, w_t, dx);
                    }
                }
            }
            grads.written[plan.weight] = true;
            return;
        }
        if plan.transposed {
            // Stored W is [in, out]: dW = inputᵀ dz.
            backend.matmul(input, true, &cur.grad, false, 1.0, beta, gw);
        } else {
            // dW [out, in] = dzᵀ input.
            backend.matmul(&cur.grad, true, input, false, 1.0, beta, gw);
        }
        grads.written[plan.weight] = true;
        if let Some(dx) = input_grad {
            backend.matmul(&cur.grad, false, w, plan.transposed, 1.0, 0.0, dx);
        }
    }
}
