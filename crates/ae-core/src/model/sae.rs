//! The sparse-autoencoder pieces of the model: the pre-encoder bias (Gao et al. 2024: the
//! encoder reads `x - b_out`), the encoder started as the decoder's transpose, and the AuxK loss
//! against dead latents. The trainer's side (dead-latent counts, resampling) is in
//! `crate::trainer`.

use super::layer::encoder_input;
use super::{Autoencoder, Workspace};
use crate::{Backend, Error, Gradients, Loss, Matrix, Result};

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
    /// The residual's column sums and their negated means `[1, d]`, the residual centred on them
    /// `[rows, d]`, its variance and the auxiliary MSE before it is divided by it `[1, 1]`.
    col_sums: B::Tensor,
    neg_means: B::Tensor,
    centred: B::Tensor,
    variance: B::Tensor,
    aux_mse: B::Tensor,
}

impl<B: Backend> Autoencoder<B> {
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
            col_sums: backend.zeros(1, d)?,
            neg_means: backend.zeros(1, d)?,
            centred: backend.zeros(rows, d)?,
            variance: backend.zeros(1, 1)?,
            aux_mse: backend.zeros(1, 1)?,
        })
    }

    /// The AuxK loss ([`crate::AuxK`]) after [`Autoencoder::forward_backward`] on the same
    /// batch, with `since` `[1, code]` the samples since each unit last fired, already updated
    /// with this batch ([`Backend::track_dead`] on [`Autoencoder::code`]): adds
    /// `scale * aux.coef * mean((e_hat - e)^2) / mean((e - mean_rows(e))^2)` (the batch's
    /// residual variance; 0 when it is 0) to `ws.penalty_acc` and its gradient to `grads`
    /// (decoder weight, encoder weight and bias, and with a pre-encoder bias the output bias).
    /// The `reduction`'s weight multiplies both means and so cancels. `x` is the model's input
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
        debug_assert!(ws.code_mask.is_some(), "AuxK needs a TopK model");
        backend.mask_dead(
            &ws.layers[0].z,
            since,
            aux.dead_window as f32,
            &mut aw.z_dead,
        );
        backend.topk(&aw.z_dead, aux.k, &mut aw.code, &mut aw.mask);
        backend.copy(target, &mut aw.residual);
        backend.scale_add(-1.0, ws.layers[1].output(), &mut aw.residual);
        // The residual's variance over the batch: the MSE of e - mean_rows(e) against zeros
        // (`grad_recon`, zeroed, stands in for them before it holds the gradient).
        let weight = reduction.weight(self.config.input_dim);
        backend.bias_grad(&aw.residual, &mut aw.col_sums);
        backend.fill(&mut aw.neg_means, 0.0);
        backend.scale_add(
            -1.0 / aw.rows.max(1) as f32,
            &aw.col_sums,
            &mut aw.neg_means,
        );
        backend.copy(&aw.residual, &mut aw.centred);
        backend.add_bias(&mut aw.centred, &aw.neg_means);
        backend.fill(&mut aw.grad_recon, 0.0);
        backend.fill(&mut aw.variance, 0.0);
        let (centred, zeros) = (&aw.centred, &aw.grad_recon);
        backend.loss(
            Loss::Mse,
            centred,
            zeros,
            weight,
            1.0,
            &mut aw.variance,
            None,
        );
        let w_dec = &self.params[dec.weight];
        backend.matmul(&aw.code, false, w_dec, true, 1.0, 0.0, &mut aw.recon);
        backend.fill(&mut aw.aux_mse, 0.0);
        backend.loss(
            Loss::Mse,
            &aw.recon,
            &aw.residual,
            weight,
            scale * aux.coef,
            &mut aw.aux_mse,
            Some(&mut aw.grad_recon),
        );
        // Normalised as Gao et al. do: value and gradient over the variance.
        backend.divide_by(&mut aw.aux_mse, &aw.variance);
        backend.scale_add(1.0, &aw.aux_mse, &mut ws.penalty_acc);
        backend.divide_by(&mut aw.grad_recon, &aw.variance);
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

    /// `d b_out -= db_0 W_0`: what a gradient `db_0` `[1, enc_0]` of the first encoder layer's
    /// pre-activation sums contributes to the output bias through the pre-encoder bias.
    /// `later` holds the gradients after the first encoder bias (the output bias among them).
    pub(super) fn add_pre_bias_gradient(
        &self,
        backend: &B,
        db_0: &B::Tensor,
        later: &mut [B::Tensor],
    ) {
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
        self.init_pre_bias_to(backend, &data.column_means())
    }

    /// Starts the pre-encoder bias at `means` `[input_dim]` (the training data's column means,
    /// worked out by the caller, for example a chunk at a time).
    pub fn init_pre_bias_to(&mut self, backend: &B, means: &[f64]) -> Result<()> {
        let d = self.config.input_dim;
        if means.len() != d {
            return Err(Error::Shape(format!(
                "the pre-encoder bias needs {d} means, got {}",
                means.len()
            )));
        }
        let mean = Matrix::new(1, d, means.iter().map(|&m| m as f32).collect())?;
        let out_bias = self.plans[self.plans.len() - 1].bias;
        backend.write(&mean, &mut self.params[out_bias])?;
        Ok(())
    }

    /// Scales every column of the decoder weight that reads the code (code unit `j`'s direction)
    /// to L2 norm `norm` (Gao et al. 2024 and SAELens start it small, at 0.1); a zero column stays
    /// zero. Needs an untied model.
    pub fn set_decoder_column_norms(&mut self, backend: &B, norm: f32) -> Result<()> {
        let Some(w) = self.code_decoder_weight() else {
            return Err(Error::Config(
                "a decoder initial norm needs an untied model (a tied decoder is the encoder)"
                    .into(),
            ));
        };
        if !(norm.is_finite() && norm > 0.0) {
            return Err(Error::Config(format!(
                "the decoder's initial column norm must be positive, got {norm}"
            )));
        }
        let mut m = backend.download(&self.params[w])?; // [out, code]
        let (rows, cols) = (m.rows, m.cols);
        for c in 0..cols {
            let len = (0..rows)
                .map(|r| (m.data[r * cols + c] as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            if len > 0.0 {
                let f = norm as f64 / len;
                for r in 0..rows {
                    m.data[r * cols + c] = (m.data[r * cols + c] as f64 * f) as f32;
                }
            }
        }
        backend.write(&m, &mut self.params[w])?;
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
            backend.write(&t, &mut self.params[enc.weight])?;
        }
        Ok(())
    }
}
