//! The trainer's sparse-autoencoder pieces, each apart from the loop: dead-latent counting over a
//! window of samples (the metric and AuxK's dead set), the unit-norm decoder, and resampling of
//! dead units between epochs.

use super::Rows;
use crate::{Autoencoder, Backend, Gradients, Optimizer, Result, Workspace};

/// Training samples since each code unit last fired, `[1, code_dim]` on the device: the
/// dead-latent metric and the AuxK loss's dead set.
pub(super) struct DeadLatents<B: Backend> {
    pub(super) since: B::Tensor,
    window: usize,
}

impl<B: Backend> DeadLatents<B> {
    /// A tracker for `code_dim` units with a window of `window` samples.
    pub(super) fn new(backend: &B, code_dim: usize, window: usize) -> Result<Self> {
        Ok(DeadLatents {
            since: backend.zeros(1, code_dim)?,
            window,
        })
    }

    /// Counts this batch's code `[rows, code_dim]`.
    pub(super) fn track(&mut self, backend: &B, code: &B::Tensor) {
        backend.track_dead(code, &mut self.since);
    }

    /// Units active on none of the last `window` samples.
    pub(super) fn count(&self, backend: &B) -> Result<usize> {
        let window = self.window as f64;
        Ok(backend
            .download_f64(&self.since)?
            .iter()
            .filter(|&&s| s >= window)
            .count())
    }

    /// Starts `units` afresh (after they were resampled).
    pub(super) fn reset(&mut self, backend: &B, units: &[usize]) -> Result<()> {
        let mut counts = backend.download(&self.since)?;
        units.iter().for_each(|&j| counts.data[j] = 0.0);
        backend.copy(&backend.upload(&counts)?, &mut self.since);
        Ok(())
    }
}

/// The unit-norm decoder (Gao et al. 2024): the decoder weight reading the code (parameter
/// `weight`) keeps unit-norm columns; each step's gradient first loses its component along them.
#[derive(Clone, Copy, Debug)]
pub(super) struct UnitNormDecoder {
    pub(super) weight: usize,
}

impl UnitNormDecoder {
    /// Normalises the columns (before training and after every step).
    pub(super) fn normalize<B: Backend>(&self, backend: &B, model: &mut Autoencoder<B>) {
        backend.normalize_columns(&mut model.params_mut()[self.weight]);
    }

    /// Removes from the gradient its component along each column (before the step).
    pub(super) fn project<B: Backend>(
        &self,
        backend: &B,
        model: &Autoencoder<B>,
        grads: &mut Gradients<B>,
    ) {
        let w = self.weight;
        backend.remove_parallel_component(&model.params()[w], &mut grads.tensors[w]);
    }
}

/// Re-initialises the dead code units of a one-hidden-layer, untied model: the units active
/// (above [`crate::sparsity::ACTIVE_THRESHOLD`]) on no row of `train` `[n, d]`. The rows with the
/// highest reconstruction error are taken in turn (highest first); for dead unit `j` and row `s`:
/// encoder row `j` = `x_s / ||x_s||` (`x_s - b_out` with a pre-encoder bias) times 0.2 times
/// the mean L2 norm of the live units' encoder rows (1 when none is live), encoder bias `j` = 0,
/// decoder column `j` = the residual `(x_s - x_hat_s) / ||x_s - x_hat_s||`, and the optimiser's
/// state of all three set to zero.
/// Returns the units re-initialised. Runs on the host, once per epoch.
pub fn resample_dead<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    optimizer: &mut Optimizer<B>,
    train: Rows<'_>,
) -> Result<Vec<usize>> {
    // One pass in chunks: which units fire anywhere, and each row's reconstruction error.
    let units = model.config().code_dim();
    let mut fired = vec![false; units];
    let mut errors = Vec::with_capacity(train.len());
    for chunk in train.chunks() {
        let (_, x) = chunk?;
        let (code, recon) = model.code_and_reconstruction(backend, &x)?;
        for r in 0..code.rows {
            for (f, &v) in fired.iter_mut().zip(code.row(r)) {
                *f |= v > crate::sparsity::ACTIVE_THRESHOLD;
            }
        }
        errors.extend(x.row_squared_errors(&recon)?);
    }
    let dead: Vec<usize> = (0..units).filter(|&j| !fired[j]).collect();
    if dead.is_empty() || train.is_empty() {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.sort_by(|&a, &b| errors[b].total_cmp(&errors[a]).then(a.cmp(&b)));
    // The worst rows, one per dead unit in turn, and their reconstructions.
    let picks: Vec<u32> = (0..dead.len())
        .map(|t| order[t % order.len()] as u32)
        .collect();
    let worst = train.gather(&picks)?;
    let (_, recon) = model.code_and_reconstruction(backend, &worst)?;
    // Encoder weight and bias, decoder weight and bias.
    let (we, be, wd, bd) = (0, 1, 2, 3);
    let d = train.cols();
    let mut enc = backend.download(&model.params()[we])?; // [code, d]
    let mut enc_bias = backend.download(&model.params()[be])?; // [1, code]
    let mut dec = backend.download(&model.params()[wd])?; // [d, code]
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let live: Vec<f64> = (0..units)
        .filter(|j| !dead.contains(j))
        .map(|j| norm(enc.row(j)))
        .collect();
    let scale = 0.2
        * if live.is_empty() {
            1.0
        } else {
            live.iter().sum::<f64>() / live.len() as f64
        };
    // With a pre-encoder bias the encoder reads x - b_out: point the row at that.
    let centre = match model.config().pre_bias {
        true => backend.download(&model.params()[bd])?.data,
        false => vec![0.0; d],
    };
    for (s, &j) in dead.iter().enumerate() {
        let centred: Vec<f32> = worst
            .row(s)
            .iter()
            .zip(&centre)
            .map(|(v, c)| v - c)
            .collect();
        let x = &centred[..];
        let xn = norm(x).max(f64::MIN_POSITIVE);
        for (w, &v) in enc.data[j * d..(j + 1) * d].iter_mut().zip(x) {
            *w = (v as f64 / xn * scale) as f32;
        }
        enc_bias.data[j] = 0.0;
        let r: Vec<f64> = worst
            .row(s)
            .iter()
            .zip(recon.row(s))
            .map(|(a, b)| (*a - *b) as f64)
            .collect();
        let rn = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if rn > 0.0 {
            for (i, v) in r.iter().enumerate() {
                dec.data[i * units + j] = (v / rn) as f32;
            }
        }
    }
    for (i, m) in [(we, &enc), (be, &enc_bias), (wd, &dec)] {
        backend.copy(&backend.upload(m)?, &mut model.params_mut()[i]);
        for state in optimizer.state_of(i) {
            let mut host = backend.download(state)?;
            for &j in &dead {
                match i {
                    0 => host.data[j * d..(j + 1) * d].fill(0.0),
                    1 => host.data[j] = 0.0,
                    _ => (0..d).for_each(|r| host.data[r * units + j] = 0.0),
                }
            }
            backend.copy(&backend.upload(&host)?, state);
        }
    }
    Ok(dead)
}

/// BatchTopK's inference threshold during training: the smallest positive kept code value of
/// each batch, folded into an exponential moving average ([`THRESHOLD_DECAY`]; the first batch
/// sets it) on the device ([`Backend::threshold_average`]), and read into the model's config
/// at the end of each epoch and when training stops.
pub(super) struct BatchThreshold<B: Backend> {
    /// `[1, 1]`: the average, negative while unset.
    average: B::Tensor,
}

impl<B: Backend> BatchThreshold<B> {
    /// The average of a BatchTopK model, starting from its saved threshold (none for others).
    pub(super) fn new(backend: &B, model: &Autoencoder<B>) -> Result<Option<Self>> {
        if !model.config().batch_topk {
            return Ok(None);
        }
        let start = model.config().code_threshold.unwrap_or(-1.0);
        let average = backend.upload(&crate::Matrix::new(1, 1, vec![start])?)?;
        Ok(Some(BatchThreshold { average }))
    }

    /// Folds in the batch whose forward pass `ws` holds.
    pub(super) fn update(&mut self, backend: &B, model: &Autoencoder<B>, ws: &Workspace<B>) {
        backend.threshold_average(model.code(ws), THRESHOLD_DECAY, &mut self.average);
    }

    /// Sets the model's threshold to the average (once a batch has set it).
    pub(super) fn store(&self, backend: &B, model: &mut Autoencoder<B>) -> Result<()> {
        let t = backend.download(&self.average)?.data[0];
        if t >= 0.0 {
            model.set_code_threshold(Some(t));
        }
        Ok(())
    }
}

/// The decay of BatchTopK's threshold average: 0.99, a rate of 0.01 per step, SAELens's
/// default (`topk_threshold_lr`); Bussmann et al.'s own trainer uses 0.999 from step 1,000.
pub const THRESHOLD_DECAY: f32 = 0.99;
