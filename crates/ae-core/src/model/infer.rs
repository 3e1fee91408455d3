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
