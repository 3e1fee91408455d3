//! Inference over host matrices: codes and reconstructions of any number of rows, in chunks of
//! [`INFERENCE_CHUNK`] rows so that device memory stays bounded.

use super::{Autoencoder, Workspace};
use crate::{Backend, Error, Matrix, Result};

/// Which output [`Autoencoder::map_rows`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The code: `[n, code_dim]`.
    Code,
    /// The reconstruction: `[n, input_dim]`.
    Reconstruction,
}

/// Rows per forward pass of inference.
pub(super) const INFERENCE_CHUNK: usize = 1024;

impl<B: Backend> Autoencoder<B> {
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
        self.check_input_width(x)?;
        let depth = self.config.encoder_depth();
        let upto = if want_recon { self.plans.len() } else { depth };
        let mut codes = Vec::with_capacity(if want_code {
            x.rows * self.config.code_dim()
        } else {
            0
        });
        let mut recons = Vec::with_capacity(if want_recon { x.rows * x.cols } else { 0 });
        self.for_each_chunk(backend, x, |ws, _, xt, _| {
            self.forward_layers(backend, xt, ws, upto);
            if want_code {
                codes.extend(backend.download(self.code(ws))?.data);
            }
            if want_recon {
                recons.extend(backend.download(ws.layers[upto - 1].output())?.data);
            }
            Ok(())
        })?;
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

impl<B: Backend> Autoencoder<B> {
    /// The decoder on codes `z` `[n, code_dim]` -> `[n, input_dim]`, in chunks (a variational
    /// model's samples from the prior, or any model's codes).
    pub fn decode(&self, backend: &B, z: &Matrix) -> Result<Matrix> {
        let code = self.config.code_dim();
        if z.cols != code {
            return Err(Error::Shape(format!(
                "the codes have {} columns but the model's code width is {code}",
                z.cols
            )));
        }
        let depth = self.config.encoder_depth();
        let mut out = Vec::with_capacity(z.rows * self.config.input_dim);
        self.for_each_chunk(backend, z, |ws, _, zt, _| {
            for i in depth..self.plans.len() {
                let plan = &self.plans[i];
                let (before, rest) = ws.layers.split_at_mut(i);
                let cur = &mut rest[0];
                let input = match i == depth {
                    true => zt,
                    false => before[i - 1].output(),
                };
                let (w, bias) = (&self.params[plan.weight], &self.params[plan.bias]);
                match cur.a.as_mut() {
                    Some(a) => {
                        let act = plan.spec.activation;
                        backend.linear_activation(
                            act,
                            input,
                            w,
                            !plan.transposed,
                            bias,
                            &mut cur.z,
                            a,
                        )
                    }
                    None => {
                        backend.matmul(input, false, w, !plan.transposed, 1.0, 0.0, &mut cur.z);
                        backend.add_bias(&mut cur.z, bias);
                    }
                }
            }
            let last = ws.layers.last().expect("a model has layers");
            out.extend(backend.download(last.output())?.data);
            Ok(())
        })?;
        Matrix::new(z.rows, self.config.input_dim, out)
    }

    /// A variational model's negative ELBO of each row of `x` `[n, input_dim]` -> `[n]`: the
    /// reconstruction loss `objective` of the row (as in training: its element losses reduced
    /// as `objective.reduction` says) averaged over `samples` draws `z ~ q(z | x)` (seeded by
    /// `seed`), plus `KL(q(z | x) || N(0, I))`, in f64 on the host.
    pub fn negative_elbo(
        &self,
        backend: &B,
        x: &Matrix,
        objective: crate::Reconstruction,
        samples: usize,
        seed: u32,
    ) -> Result<Vec<f64>> {
        self.variational_scores(backend, x, objective, (samples, seed), true)
    }

    /// A variational model's negative log reconstruction probability of each row of `x`
    /// (An & Cho 2015), `[n, input_dim]` -> `[n]`: the reconstruction loss `objective` averaged
    /// over `samples` draws `z ~ q(z | x)` (seeded by `seed`), which is `-log p(x | z)` up to a
    /// constant for the decoder's distribution the loss implies (a unit-variance Gaussian for
    /// MSE, a Bernoulli for BCE): [`Autoencoder::negative_elbo`] without its KL term. Draws for
    /// the same `seed` are the negative ELBO's.
    pub fn expected_reconstruction_loss(
        &self,
        backend: &B,
        x: &Matrix,
        objective: crate::Reconstruction,
        samples: usize,
        seed: u32,
    ) -> Result<Vec<f64>> {
        self.variational_scores(backend, x, objective, (samples, seed), false)
    }

    /// [`Autoencoder::negative_elbo`] (`with_kl`) or
    /// [`Autoencoder::expected_reconstruction_loss`].
    fn variational_scores(
        &self,
        backend: &B,
        x: &Matrix,
        objective: crate::Reconstruction,
        (samples, seed): (usize, u32),
        with_kl: bool,
    ) -> Result<Vec<f64>> {
        if !self.config.variational {
            return Err(Error::Config(
                "a variational score needs a variational model (`model.variational`)".into(),
            ));
        }
        if samples == 0 {
            return Err(Error::Config(
                "a variational score needs at least one sample".into(),
            ));
        }
        self.check_input_width(x)?;
        let weight = objective.reduction.weight(x.cols) as f64 / x.cols.max(1) as f64;
        let mut scores = Vec::with_capacity(x.rows);
        self.for_each_chunk(backend, x, |ws, chunk, xt, start| {
            let mut row = vec![0.0f64; chunk.rows];
            for l in 0..samples {
                let s = crate::sparsity::hash_u32(
                    seed ^ crate::sparsity::hash_u32(start as u32 ^ (l as u32).rotate_left(16)),
                );
                ws.vae.as_mut().expect("a variational workspace").seed = Some(s);
                self.forward(backend, xt, ws);
                let last = ws.layers.last().expect("a model has layers");
                let input = match objective.loss {
                    crate::Loss::Mse => backend.download(last.output())?,
                    crate::Loss::Bce => backend.download(&last.z)?,
                };
                for (r, acc) in row.iter_mut().enumerate() {
                    let (p, t) = (
                        &input.data[r * x.cols..][..x.cols],
                        &chunk.data[r * x.cols..],
                    );
                    let sum: f64 = p
                        .iter()
                        .zip(t)
                        .map(|(&p, &t)| objective.loss.value(p as f64, t as f64))
                        .sum();
                    *acc += weight * sum / samples as f64;
                }
            }
            if with_kl {
                let v = ws.vae.as_ref().expect("a variational workspace");
                let (mu, logvar) = (backend.download(v.mu())?, backend.download(v.logvar())?);
                let code = mu.cols;
                for (r, acc) in row.iter_mut().enumerate() {
                    let (m, lv) = (
                        &mu.data[r * code..][..code],
                        &logvar.data[r * code..][..code],
                    );
                    *acc += m
                        .iter()
                        .zip(lv)
                        .map(|(&m, &lv)| {
                            let (m, lv) = (m as f64, lv as f64);
                            0.5 * (m * m + lv.exp() - 1.0 - lv)
                        })
                        .sum::<f64>();
                }
            }
            ws.vae.as_mut().expect("a variational workspace").seed = None;
            scores.extend(row);
            Ok(())
        })?;
        Ok(scores)
    }

    /// An error unless `x` has the model's input width.
    fn check_input_width(&self, x: &Matrix) -> Result<()> {
        if x.cols != self.config.input_dim {
            return Err(Error::Shape(format!(
                "the data has {} columns but the model's input width is {}",
                x.cols, self.config.input_dim
            )));
        }
        Ok(())
    }

    /// Calls `f(ws, chunk, uploaded chunk, first row)` on each run of at most
    /// [`INFERENCE_CHUNK`] rows of `x` `[n, cols]`, with a workspace of the chunk's rows (made
    /// again only when that count changes).
    fn for_each_chunk(
        &self,
        backend: &B,
        x: &Matrix,
        mut f: impl FnMut(&mut Workspace<B>, &Matrix, &B::Tensor, usize) -> Result<()>,
    ) -> Result<()> {
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
            f(ws, &chunk, &xt, start)?;
        }
        Ok(())
    }
}
