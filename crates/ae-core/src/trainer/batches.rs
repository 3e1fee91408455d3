//! How the trainer feeds the device: the data set resident on the device or streamed batch by
//! batch ([`DeviceData`]), per-batch-size buffers, the held-out split, evaluation over a data set,
//! and weight snapshots.

use crate::{Autoencoder, Backend, Error, Matrix, Reconstruction, Result, Rng, Workspace};

/// Splits `data` into `(train, holdout)` with `holdout_fraction` of the rows, chosen by `seed`.
pub fn split(data: &Matrix, holdout_fraction: f64, seed: u64) -> Result<(Matrix, Matrix)> {
    if !(0.0..1.0).contains(&holdout_fraction) {
        return Err(Error::Config(format!(
            "a held-out fraction must be in [0, 1), got {holdout_fraction}"
        )));
    }
    let order = Rng::new(seed).permutation(data.rows);
    let holdout = (data.rows as f64 * holdout_fraction).round() as usize;
    let (held, kept) = order.split_at(holdout);
    Ok((data.select_rows(kept), data.select_rows(held)))
}

/// Batch buffers for one batch size.
pub(super) struct BatchBuffers<B: Backend> {
    pub(super) x: B::Tensor,
    /// The corrupted input (denoising only).
    pub(super) noisy: Option<B::Tensor>,
    pub(super) ws: Workspace<B>,
    /// AuxK's buffers (with AuxK only).
    pub(super) aux: Option<crate::AuxWorkspace<B>>,
}

pub(super) fn batch_buffers<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    rows: usize,
) -> Result<BatchBuffers<B>> {
    Ok(BatchBuffers {
        x: backend.zeros(rows, model.config().input_dim)?,
        noisy: None,
        ws: model.workspace(backend, rows)?,
        aux: None,
    })
}

pub(super) fn read_scalar<B: Backend>(backend: &B, t: &mut B::Tensor) -> Result<f64> {
    let v = backend.download_f64(t)?[0];
    backend.fill(t, 0.0);
    Ok(v)
}

pub(super) fn snapshot<B: Backend>(backend: &B, model: &Autoencoder<B>, into: &mut [B::Tensor]) {
    for (p, s) in model.params().iter().zip(into) {
        backend.copy(p, s);
    }
}

pub(super) fn restore<B: Backend>(backend: &B, model: &mut Autoencoder<B>, from: &[B::Tensor]) {
    for (s, p) in from.iter().zip(model.params_mut()) {
        backend.copy(s, p);
    }
}

/// A dataset as the trainer reads it: resident on the device when it fits (batches are gathered
/// there), otherwise kept on the host and uploaded one batch at a time.
pub enum DeviceData<'a, B: Backend> {
    /// The whole `[n, d]` matrix on the device.
    Resident(B::Tensor),
    /// Too large for the device: batches are cut on the host and uploaded.
    Streamed(&'a Matrix),
}

impl<'a, B: Backend> DeviceData<'a, B> {
    /// Uploads `m`, or keeps it on the host when the backend cannot hold it.
    pub fn new(backend: &B, m: &'a Matrix) -> Result<Self> {
        match backend.upload(m) {
            Ok(t) => Ok(DeviceData::Resident(t)),
            Err(Error::Backend(_)) => Ok(DeviceData::Streamed(m)),
            Err(e) => Err(e),
        }
    }

    /// Number of rows.
    pub fn rows(&self, backend: &B) -> usize {
        match self {
            DeviceData::Resident(t) => backend.shape(t).0,
            DeviceData::Streamed(m) => m.rows,
        }
    }

    /// `dst = data[rows, :]`: `dst` `[rows.len(), d]`.
    pub fn batch(&self, backend: &B, rows: &[u32], dst: &mut B::Tensor) -> Result<()> {
        match self {
            DeviceData::Resident(t) => backend.gather_rows(t, rows, dst),
            DeviceData::Streamed(m) => {
                let idx: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
                backend.copy(&backend.upload(&m.select_rows(&idx))?, dst);
            }
        }
        Ok(())
    }
}

/// Mean reconstruction loss of `model` over `data`, in batches of `batch_size`.
pub fn evaluate<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    objective: Reconstruction,
    data: &DeviceData<'_, B>,
    batch_size: usize,
) -> Result<f64> {
    let n = data.rows(backend);
    let mut buffers: Option<BatchBuffers<B>> = None;
    let mut total = 0.0;
    for start in (0..n).step_by(batch_size.max(1)) {
        let rows = batch_size.min(n - start);
        if buffers.as_ref().map(|b| b.ws.rows()) != Some(rows) {
            if let Some(b) = buffers.as_mut() {
                total += read_scalar(backend, &mut b.ws.loss_acc)?;
            }
            buffers = Some(batch_buffers(backend, model, rows)?);
        }
        let b = buffers.as_mut().expect("just made");
        let idx: Vec<u32> = (start as u32..(start + rows) as u32).collect();
        data.batch(backend, &idx, &mut b.x)?;
        model.evaluate(
            backend,
            objective,
            &b.x,
            &b.x,
            rows as f32 / n as f32,
            &mut b.ws,
        );
    }
    if let Some(b) = buffers.as_mut() {
        total += read_scalar(backend, &mut b.ws.loss_acc)?;
    }
    Ok(total)
}
