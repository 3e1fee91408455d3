//! Matryoshka SAEs (Bussmann et al. 2025, "Learning Multi-Level Features with Matryoshka
//! SAEs"; Nabeshima 2024): the objective sums the reconstruction loss of every nested code
//! prefix `m_1 < ... < m_S = code` ([`crate::ModelConfig::matryoshka`]),
//! `sum_s L(x, f(h[:, :m_s] W_dec[:, :m_s]ᵀ + b_dec))`.
//!
//! The code splits into segments `[m_{s-1}, m_s)`; with `h_s` `[rows, w_s]` and `W_s` `[d, w_s]`
//! the code's and the decoder's columns of segment `s`, the pre-activations are cumulative,
//! `z_s = z_{s-1} + h_s W_sᵀ` (`z_0 = b_dec`), and since segment `s` is in prefixes `s..S`, its
//! gradients take the suffix sum `G_s = sum_{t >= s} dL_t / dz_t`: `dh_s = G_s W_s`,
//! `dW_s = G_sᵀ h_s`, `db_dec = G_1` summed over rows. Column blocks move by
//! [`crate::backend::DataOps::copy_columns`]; every product is a dense matmul (a Matryoshka model
//! does not take the sparse TopK path). The last prefix is the model's own forward pass.

use super::layer::LayerBuffers;
use super::{Autoencoder, Workspace};
use crate::{Activation, Backend, Error, Gradients, Loss, Matrix, Reconstruction, Result};

/// Buffers of the prefix reconstructions for one batch size ([`Workspace`]'s, for a Matryoshka
/// model; made apart for [`Autoencoder::prefix_reconstructions`]).
pub(super) struct Prefixes<T> {
    /// Segment `s`'s first code column and width; prefix `s` ends where segment `s` does.
    segments: Vec<(usize, usize)>,
    /// Per segment: the code's columns `[rows, w_s]`, the decoder weight's `[d, w_s]`, and
    /// their gradients.
    code: Vec<T>,
    weight: Vec<T>,
    code_grad: Vec<T>,
    weight_grad: Vec<T>,
    /// Per prefix but the last: the output pre-activation `z_s` `[rows, d]`, the output
    /// `f(z_s)` (none for an identity output) and `d L_s / d z_s`.
    z: Vec<T>,
    a: Vec<Option<T>>,
    grad: Vec<T>,
}

impl<T> Prefixes<T> {
    /// Buffers for the ascending prefix ends `prefixes` (the last the code width), batches of
    /// `rows` samples, `d` outputs through `output`.
    pub(super) fn new<B: Backend<Tensor = T>>(
        backend: &B,
        prefixes: &[usize],
        rows: usize,
        d: usize,
        output: Activation,
    ) -> Result<Self> {
        let segments: Vec<(usize, usize)> = prefixes
            .iter()
            .scan(0, |start, &end| {
                let seg = (*start, end - *start);
                *start = end;
                Some(seg)
            })
            .collect();
        let each = |shape: &dyn Fn(usize) -> (usize, usize)| -> Result<Vec<T>> {
            segments
                .iter()
                .map(|&(_, w)| backend.zeros(shape(w).0, shape(w).1))
                .collect()
        };
        let inner = prefixes.len().saturating_sub(1);
        let full = |_: usize| -> Result<T> { backend.zeros(rows, d) };
        Ok(Prefixes {
            code: each(&|w| (rows, w))?,
            weight: each(&|w| (d, w))?,
            code_grad: each(&|w| (rows, w))?,
            weight_grad: each(&|w| (d, w))?,
            z: (0..inner).map(full).collect::<Result<_>>()?,
            a: (0..inner)
                .map(|i| (!output.is_identity()).then(|| full(i)).transpose())
                .collect::<Result<_>>()?,
            grad: (0..inner).map(full).collect::<Result<_>>()?,
            segments,
        })
    }

    /// The output of prefix `s` (not the last).
    fn output(&self, s: usize) -> &T {
        self.a[s].as_ref().unwrap_or(&self.z[s])
    }
}

impl<B: Backend> Autoencoder<B> {
    /// After the forward pass: slices the code `[rows, code]` and the decoder weight
    /// `[d, code]` into segments and runs every prefix but the last, `z_s = z_{s-1} + h_s W_sᵀ`,
    /// `a_s = f(z_s)`.
    pub(super) fn prefix_forward(&self, backend: &B, ws: &mut Workspace<B>) {
        let code_layer = self.config.encoder_depth() - 1;
        let (Some(p), code) = (ws.matryoshka.as_mut(), ws.layers[code_layer].output()) else {
            return;
        };
        let dec = self.plans[code_layer + 1];
        let (w, bias) = (&self.params[dec.weight], &self.params[dec.bias]);
        for (s, &(start, width)) in p.segments.iter().enumerate() {
            backend.copy_columns(code, start, &mut p.code[s], 0, width);
            backend.copy_columns(w, start, &mut p.weight[s], 0, width);
        }
        for s in 0..p.z.len() {
            let (done, rest) = p.z.split_at_mut(s);
            let z = &mut rest[0];
            match done.last() {
                None => {
                    backend.matmul(&p.code[0], false, &p.weight[0], true, 1.0, 0.0, z);
                    backend.add_bias(z, bias);
                }
                Some(prev) => {
                    backend.copy(prev, z);
                    backend.matmul(&p.code[s], false, &p.weight[s], true, 1.0, 1.0, z);
                }
            }
            if let Some(a) = p.a[s].as_mut() {
                backend.activation(dec.spec.activation, z, a);
            }
        }
    }

    /// After [`Autoencoder::prefix_forward`]: `ws.loss_acc += scale * objective` of every
    /// prefix but the last against `target` `[rows, d]`, and with `with_grad` each one's
    /// gradient with respect to its pre-activation `z_s` (BCE's is already).
    pub(super) fn prefix_losses(
        &self,
        backend: &B,
        objective: Reconstruction,
        target: &B::Tensor,
        scale: f32,
        ws: &mut Workspace<B>,
        with_grad: bool,
    ) {
        let Some(p) = ws.matryoshka.as_mut() else {
            return;
        };
        let act = self.config.output_activation();
        let weight = objective.reduction.weight(self.config.input_dim);
        for s in 0..p.z.len() {
            let input = match (objective.loss, p.a[s].as_ref()) {
                (Loss::Mse, Some(a)) => a,
                _ => &p.z[s],
            };
            let grad = with_grad.then_some(&mut p.grad[s]);
            backend.loss(
                objective.loss,
                input,
                target,
                weight,
                scale,
                &mut ws.loss_acc,
                grad,
            );
            if let (true, Loss::Mse, Some(a)) = (with_grad, objective.loss, p.a[s].as_ref()) {
                backend.activation_backward(act, &p.z[s], a, &mut p.grad[s]);
            }
        }
    }

    /// The backward of the decoder layer `cur` of a Matryoshka model, given `cur.grad` =
    /// `d L_S / d output` of the last prefix (folded: already `d / d z`, BCE's) and
    /// [`Autoencoder::prefix_losses`]' gradients: per segment, from the last, the suffix sum
    /// `G_s` in `cur.grad`, `dW_s = G_sᵀ h_s` into the decoder weight's gradient and
    /// `dh_s = G_s W_s` into `code_grad` `[rows, code]`; then `db_dec` = column sums of `G_1`.
    pub(super) fn prefix_decoder_backward(
        &self,
        backend: &B,
        cur: &mut LayerBuffers<B::Tensor>,
        p: &mut Prefixes<B::Tensor>,
        folded: bool,
        code_grad: &mut B::Tensor,
        grads: &mut Gradients<B>,
    ) {
        let dec = self.plans[self.config.encoder_depth()];
        if let (Some(a), false) = (cur.a.as_ref(), folded) {
            backend.activation_backward(dec.spec.activation, &cur.z, a, &mut cur.grad);
        }
        let g = &mut cur.grad;
        for (s, &(start, width)) in p.segments.iter().enumerate().rev() {
            if let Some(prefix_grad) = p.grad.get(s) {
                backend.scale_add(1.0, prefix_grad, g);
            }
            let dw = &mut p.weight_grad[s];
            backend.matmul(g, true, &p.code[s], false, 1.0, 0.0, dw);
            backend.copy_columns(dw, 0, &mut grads.tensors[dec.weight], start, width);
            let dh = &mut p.code_grad[s];
            backend.matmul(g, false, &p.weight[s], false, 1.0, 0.0, dh);
            backend.copy_columns(dh, 0, code_grad, start, width);
        }
        backend.bias_grad(g, &mut grads.tensors[dec.bias]);
        grads.written[dec.weight] = true;
        grads.written[dec.bias] = true;
    }

    /// Reconstructions of `x` `[n, input_dim]` from each code prefix: for every `m` of
    /// `prefixes` (ascending, from 1 up to the code width), `f(h[:, :m] W_dec[:, :m]ᵀ + b_dec)`
    /// `[n, input_dim]`, `h` the model's code. Any one-hidden-layer, untied model (a plain TopK
    /// SAE read through its first `m` units too).
    pub fn prefix_reconstructions(
        &self,
        backend: &B,
        x: &Matrix,
        prefixes: &[usize],
    ) -> Result<Vec<Matrix>> {
        let code = self.config.code_dim();
        if self.plans.len() != 2 || self.config.tied {
            return Err(Error::Config(
                "prefix reconstructions need a one-hidden-layer, untied autoencoder".into(),
            ));
        }
        if prefixes.first() == Some(&0)
            || prefixes.windows(2).any(|w| w[0] >= w[1])
            || prefixes.last() > Some(&code)
        {
            return Err(Error::Config(format!(
                "prefixes must be ascending whole numbers from 1 up to the code width {code}, \
                 got {prefixes:?}"
            )));
        }
        if x.cols != self.config.input_dim {
            return Err(Error::Shape(format!(
                "the data has {} columns but the model's input width is {}",
                x.cols, self.config.input_dim
            )));
        }
        let mut ends = prefixes.to_vec();
        if ends.last() != Some(&code) {
            ends.push(code);
        }
        let (d, act) = (self.config.input_dim, self.config.output_activation());
        let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(x.rows * d); prefixes.len()];
        for start in (0..x.rows).step_by(super::infer::INFERENCE_CHUNK) {
            let end = (start + super::infer::INFERENCE_CHUNK).min(x.rows);
            let chunk = Matrix::new(end - start, d, x.data[start * d..end * d].to_vec())?;
            let mut ws = self.workspace(backend, chunk.rows)?;
            ws.matryoshka = Some(Prefixes::new(backend, &ends, chunk.rows, d, act)?);
            self.forward(backend, &backend.upload(&chunk)?, &mut ws);
            self.prefix_forward(backend, &mut ws);
            let p = ws.matryoshka.as_ref().expect("just set");
            for (s, o) in out.iter_mut().enumerate() {
                let t = match s < p.z.len() {
                    true => p.output(s),
                    false => self.reconstruction(&ws),
                };
                o.extend(backend.download(t)?.data);
            }
        }
        out.into_iter().map(|v| Matrix::new(x.rows, d, v)).collect()
    }
}
