//! How the trainer feeds the device: the data set resident on the device or streamed batch by
//! batch ([`DeviceData`]), per-batch-size buffers, the held-out split, evaluation over a data set,
//! and weight snapshots.

use crate::data::normalize::NormStats;
use crate::data::RowSource;
use crate::{Autoencoder, Backend, Error, Matrix, Noise, Reconstruction, Result, Rng, Workspace};

/// Splits `data` into `(train, holdout)` with `holdout_fraction` of the rows, chosen by `seed`
/// (the rows [`split_rows`] picks, in its order).
pub fn split(data: &Matrix, holdout_fraction: f64, seed: u64) -> Result<(Matrix, Matrix)> {
    let (kept, held) = split_rows(data.rows, holdout_fraction, seed)?;
    let rows = |ids: &[u32]| ids.iter().map(|&i| i as usize).collect::<Vec<_>>();
    Ok((
        data.select_rows(&rows(&kept)),
        data.select_rows(&rows(&held)),
    ))
}

/// Which of `n` rows train and which are held out: a seeded permutation of `0..n`, the first
/// `round(n * holdout_fraction)` held out. Returns `(train, holdout)` row numbers.
pub fn split_rows(n: usize, holdout_fraction: f64, seed: u64) -> Result<(Vec<u32>, Vec<u32>)> {
    if !(0.0..1.0).contains(&holdout_fraction) {
        return Err(Error::Config(format!(
            "a held-out fraction must be in [0, 1), got {holdout_fraction}"
        )));
    }
    if n > u32::MAX as usize {
        return Err(Error::Config(format!(
            "{n} rows are more than this split can number (2^32)"
        )));
    }
    let order = Rng::new(seed).permutation(n);
    let holdout = (n as f64 * holdout_fraction).round() as usize;
    let (held, kept) = order.split_at(holdout);
    let ids = |v: &[usize]| v.iter().map(|&i| i as u32).collect();
    Ok((ids(kept), ids(held)))
}

/// Which of `n` rows train and which are held out, decided row by row by a seeded hash (row `i`
/// is held out when its hash, uniform in `[0, 1)`, is below `holdout_fraction`), so that no
/// permutation of all rows is made and both lists come out ascending, in file order, for
/// sequential reads. About `n * holdout_fraction` rows are held out. Returns `(train, holdout)`.
pub fn split_rows_hashed(
    n: usize,
    holdout_fraction: f64,
    seed: u64,
) -> Result<(Vec<u32>, Vec<u32>)> {
    if !(0.0..1.0).contains(&holdout_fraction) {
        return Err(Error::Config(format!(
            "a held-out fraction must be in [0, 1), got {holdout_fraction}"
        )));
    }
    let n = u32::try_from(n).map_err(|_| {
        Error::Config(format!(
            "{n} rows are more than this split can number (2^32)"
        ))
    })?;
    let key = (seed ^ (seed >> 32)) as u32;
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for i in 0..n {
        let u = crate::sparsity::hash_uniform(key, i, HOLDOUT_STREAM) as f64;
        if u < holdout_fraction {
            held.push(i);
        } else {
            kept.push(i);
        }
    }
    Ok((kept, held))
}

/// The hash stream of [`split_rows_hashed`] (apart from the noise streams).
const HOLDOUT_STREAM: u32 = 0x5eed_4011;

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

/// The rows the trainer reads: a host matrix, or chosen rows of a lazily read data set,
/// normalised as they are read, so that a data set larger than memory is held one chunk at a
/// time. Rows are numbered `0..len()` in either case.
#[derive(Clone, Copy)]
pub enum Rows<'a> {
    /// A host matrix `[n, d]`, already normalised.
    Matrix(&'a Matrix),
    /// Rows `rows` of `source` (in that order), each normalised by `stats` when read.
    Source {
        /// The data set.
        source: &'a dyn RowSource,
        /// Which of its rows, as numbered in the source.
        rows: &'a [u32],
        /// The normalisation applied to every chunk read.
        stats: Option<&'a NormStats>,
    },
}

/// Rows per chunk when a pass reads every row (metrics, resampling, evaluation on the host).
pub const CHUNK_ROWS: usize = 1024;

impl<'a> Rows<'a> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Matrix(m) => m.rows,
            Rows::Source { rows, .. } => rows.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per row.
    pub fn cols(&self) -> usize {
        match self {
            Rows::Matrix(m) => m.cols,
            Rows::Source { source, .. } => source.cols(),
        }
    }

    /// The rows `local` (numbered in this set): `[local.len(), d]`, normalised.
    pub fn gather(&self, local: &[u32]) -> Result<Matrix> {
        match self {
            Rows::Matrix(m) => {
                let idx: Vec<usize> = local.iter().map(|&r| r as usize).collect();
                Ok(m.select_rows(&idx))
            }
            Rows::Source {
                source,
                rows,
                stats,
            } => {
                let global: Vec<u32> = local.iter().map(|&r| rows[r as usize]).collect();
                let mut chunk = source.gather(&global)?;
                if let Some(stats) = stats {
                    stats.apply(&mut chunk)?;
                }
                Ok(chunk)
            }
        }
    }

    /// Rows `start..start + count`: `[count, d]`, normalised.
    pub fn chunk(&self, start: usize, count: usize) -> Result<Matrix> {
        let local: Vec<u32> = (start as u32..(start + count) as u32).collect();
        self.gather(&local)
    }

    /// Every row in order, [`CHUNK_ROWS`] at a time, as `(first row, chunk)`.
    pub fn chunks(&self) -> impl Iterator<Item = Result<(usize, Matrix)>> + '_ {
        (0..self.len()).step_by(CHUNK_ROWS).map(move |start| {
            let count = CHUNK_ROWS.min(self.len() - start);
            Ok((start, self.chunk(start, count)?))
        })
    }
}

/// A dataset as the trainer reads it: resident on the device when it is a host matrix that fits
/// (batches are gathered there), otherwise read on the host and uploaded one batch at a time.
pub enum DeviceData<'a, B: Backend> {
    /// The whole `[n, d]` matrix on the device.
    Resident(B::Tensor),
    /// Too large for the device, or read lazily: batches are cut on the host and uploaded.
    Streamed(Rows<'a>),
}

impl<'a, B: Backend> DeviceData<'a, B> {
    /// Uploads a host matrix, or keeps the rows on the host when the backend cannot hold them or
    /// they are read lazily.
    pub fn new(backend: &B, rows: Rows<'a>) -> Result<Self> {
        match rows {
            Rows::Matrix(m) => match backend.upload(m) {
                Ok(t) => Ok(DeviceData::Resident(t)),
                Err(Error::Backend(_)) => Ok(DeviceData::Streamed(rows)),
                Err(e) => Err(e),
            },
            Rows::Source { .. } => Ok(DeviceData::Streamed(rows)),
        }
    }

    /// Number of rows.
    pub fn rows(&self, backend: &B) -> usize {
        match self {
            DeviceData::Resident(t) => backend.shape(t).0,
            DeviceData::Streamed(r) => r.len(),
        }
    }

    /// `dst = data[rows, :]`: `dst` `[rows.len(), d]`.
    pub fn batch(&self, backend: &B, rows: &[u32], dst: &mut B::Tensor) -> Result<()> {
        match self {
            DeviceData::Resident(t) => backend.gather_rows(t, rows, dst),
            DeviceData::Streamed(r) => backend.write(&r.gather(rows)?, dst)?,
        }
        Ok(())
    }

    /// [`DeviceData::batch`] and, for denoising, `noisy` = `dst` corrupted by `(noise, seed)`:
    /// one op on resident data ([`Backend::gather_rows_corrupted`]).
    pub fn noisy_batch(
        &self,
        backend: &B,
        rows: &[u32],
        noise: (Noise, u32),
        dst: &mut B::Tensor,
        noisy: &mut B::Tensor,
    ) -> Result<()> {
        match self {
            DeviceData::Resident(t) => backend.gather_rows_corrupted(t, rows, noise, dst, noisy),
            DeviceData::Streamed(_) => {
                self.batch(backend, rows, dst)?;
                backend.corrupt(noise.0, noise.1, dst, noisy);
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
