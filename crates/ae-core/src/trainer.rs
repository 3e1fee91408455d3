//! The training loop: seeded shuffling, mini-batches gathered from the device-resident dataset,
//! optimiser steps under a learning-rate schedule, per-epoch validation, early stopping, and a
//! stop with the last good weights when the loss stops being finite.

use crate::regularizer::{Regularizer, WeightDecay};
use crate::sparsity::{AuxK, CodeMetrics, CodePenalty, Noise};
use crate::{
    Autoencoder, Backend, Error, Gradients, Loss, LrSchedule, Matrix, Optimizer, OptimizerConfig,
    OptimizerKind, Reconstruction, Reduction, Result, Rng, Workspace,
};
use std::time::Instant;

/// Settings of one training run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Reconstruction loss.
    pub loss: Loss,
    /// How a sample's element losses add up (the reported losses use it too).
    #[serde(default)]
    pub reduction: Reduction,
    /// Optimiser and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Learning rate over the run.
    pub schedule: LrSchedule,
    /// Stop after this many epochs without a better validation loss (needs validation data);
    /// the best weights are restored at the end.
    pub early_stopping_patience: Option<usize>,
    /// A sparsity penalty on the code (L1 or KL): [`train`] checks it against the model, applies
    /// it (see [`TrainConfig::regularizers`]) and reports it.
    #[serde(default)]
    pub penalty: Option<CodePenalty>,
    /// Sparsity warmup: the penalty's coefficient ramps linearly up to its value over this
    /// many steps (`(step + 1) / warmup` at step `step`), so that the code can form before it
    /// is made sparse. 0: no warmup.
    #[serde(default)]
    pub penalty_warmup: usize,
    /// Denoising: the input of each step is corrupted with this seeded noise, the loss compares
    /// against the clean input.
    #[serde(default)]
    pub noise: Option<Noise>,
    /// Measure the code after each epoch (MSE, FVU, L0, dead latents, mean activation) over the
    /// training data.
    #[serde(default)]
    pub code_metrics: bool,
    /// The AuxK loss against dead latents (one-hidden-layer TopK models); its value is reported
    /// as the epoch's penalty.
    #[serde(default)]
    pub auxk: Option<AuxK>,
    /// Keep every column of the decoder weight that reads the code at unit L2 norm: normalised
    /// before training and after every step, and each step's gradient loses its component along
    /// the column first (Gao et al. 2024). Needs an untied model.
    #[serde(default)]
    pub unit_norm_decoder: bool,
    /// After each epoch but the last, re-initialise the code units active on no training
    /// sample (see [`resample_dead`]). Needs a one-hidden-layer, untied model.
    #[serde(default)]
    pub resample_dead: bool,
    /// The dead-latent window of the code metrics: a code unit counts as dead when it was
    /// active on none of the last `dead_window` training samples (as seen in training, noise
    /// included). Units cannot count as dead before that many samples have been seen.
    #[serde(default = "default_dead_window")]
    pub dead_window: usize,
}

fn default_dead_window() -> usize {
    AuxK::DEFAULT_DEAD_WINDOW
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 256,
            seed: 0,
            loss: Loss::Mse,
            reduction: Reduction::Mean,
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::Constant,
            early_stopping_patience: None,
            penalty: None,
            penalty_warmup: 0,
            noise: None,
            code_metrics: false,
            auxk: None,
            unit_norm_decoder: false,
            resample_dead: false,
            dead_window: default_dead_window(),
        }
    }
}

impl TrainConfig {
    /// The penalties this config implies, which [`train`] applies: coupled L2 weight decay for
    /// SGD and Adam (AdamW's is decoupled, inside the optimiser) and the code penalty.
    pub fn regularizers<B: Backend>(&self) -> Vec<Box<dyn Regularizer<B>>> {
        let wd = self.optimizer.weight_decay;
        let mut out: Vec<Box<dyn Regularizer<B>>> = Vec::new();
        if wd > 0.0 && self.optimizer.kind != OptimizerKind::AdamW {
            out.push(Box::new(WeightDecay { lambda: wd }));
        }
        if let Some(penalty) = self.penalty {
            out.push(Box::new(penalty));
        }
        out
    }

    /// Checks the ranges of the settings.
    pub fn validate(&self) -> Result<()> {
        if self.early_stopping_patience == Some(0) {
            return Err(Error::Config(
                "early-stopping patience must be at least 1 epoch".into(),
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::Config(
                "epochs and batch size must be positive".into(),
            ));
        }
        let o = &self.optimizer;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be positive, got {}",
                o.lr
            )));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return Err(Error::Config(format!(
                "weight decay must be non-negative, got {}",
                o.weight_decay
            )));
        }
        if let Some(noise) = self.noise {
            noise.validate()?;
        }
        if self.penalty_warmup > 0 && self.penalty.is_none() {
            return Err(Error::Config(
                "a sparsity warmup needs an l1 or kl penalty (--sparsity l1:... or kl:...)".into(),
            ));
        }
        if self.dead_window == 0 {
            return Err(Error::Config("the dead window must be positive".into()));
        }
        Ok(())
    }
}

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean reconstruction loss over the epoch's training batches.
    pub train_loss: f64,
    /// Reconstruction loss on the validation data after the epoch.
    pub val_loss: Option<f64>,
    /// Learning rate at the epoch's last step.
    pub lr: f32,
    /// Wall time of the epoch (training and validation).
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// Mean code penalty over the epoch's training batches (with a penalty), plus the AuxK
    /// loss (with AuxK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    /// Mean squared error per element on the training data after the epoch (with
    /// `code_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    /// Fraction of variance unexplained (with `code_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fvu: Option<f64>,
    /// Mean active code units per sample (with `code_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l0: Option<f64>,
    /// Code units active on none of the last [`TrainConfig::dead_window`] training samples
    /// (with `code_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_latents: Option<usize>,
    /// Mean over units of each unit's mean activation (with `code_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_activation: Option<f64>,
    /// Code units re-initialised after the epoch, for the next one (with `resample_dead`; none
    /// after the last epoch). The other metrics are of the weights before it; it is set after
    /// the epoch's [`TrainEvent::Epoch`], so only the history carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resampled: Option<usize>,
    /// Largest `|unit mean activation - rho|` (with `code_metrics` and a KL penalty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_abs_rho_error: Option<f64>,
    /// Each code unit's mean activation over the training data, to hold against rho (with
    /// `code_metrics` and a KL penalty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_mean_activation: Option<Vec<f64>>,
}

/// Progress reported to the caller while training.
pub enum TrainEvent<'a, B: Backend> {
    /// A step finished (`step` 1-based within the epoch).
    Step {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// Steps in each epoch.
        steps_per_epoch: usize,
    },
    /// An epoch finished with finite losses.
    Epoch {
        /// Its metrics.
        metrics: &'a EpochMetrics,
        /// The model after the epoch.
        model: &'a Autoencoder<B>,
        /// The validation loss (or, without validation data, the training loss) is the best yet.
        improved: bool,
    },
}

/// The outcome of [`train`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainReport {
    /// One entry per epoch run.
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights the model holds at the end.
    pub best_epoch: usize,
    /// Early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// The training data did not fit on the device and was uploaded batch by batch.
    pub streamed: bool,
}

impl TrainReport {
    /// The last epoch's metrics.
    pub fn last(&self) -> &EpochMetrics {
        self.history
            .last()
            .expect("a report has at least one epoch")
    }
}

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
struct BatchBuffers<B: Backend> {
    x: B::Tensor,
    /// The corrupted input (denoising only).
    noisy: Option<B::Tensor>,
    ws: Workspace<B>,
    /// AuxK's buffers (with AuxK only).
    aux: Option<crate::AuxWorkspace<B>>,
}

fn batch_buffers<B: Backend>(
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

/// Code metrics of `model` over `data` (the code and reconstruction of every row).
pub fn code_metrics<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    data: &Matrix,
) -> Result<CodeMetrics> {
    let (code, recon) = model.code_and_reconstruction(backend, data)?;
    CodeMetrics::compute(data, &code, &recon)
}

fn read_scalar<B: Backend>(backend: &B, t: &mut B::Tensor) -> Result<f64> {
    let v = backend.download_f64(t)?[0];
    backend.fill(t, 0.0);
    Ok(v)
}

fn snapshot<B: Backend>(backend: &B, model: &Autoencoder<B>, into: &mut [B::Tensor]) {
    for (p, s) in model.params().iter().zip(into) {
        backend.copy(p, s);
    }
}

fn restore<B: Backend>(backend: &B, model: &mut Autoencoder<B>, from: &[B::Tensor]) {
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
    train: &Matrix,
) -> Result<Vec<usize>> {
    let (code, recon) = model.code_and_reconstruction(backend, train)?;
    let units = code.cols;
    let dead: Vec<usize> = (0..units)
        .filter(|&j| (0..code.rows).all(|i| code.row(i)[j] <= crate::sparsity::ACTIVE_THRESHOLD))
        .collect();
    if dead.is_empty() || train.rows == 0 {
        return Ok(Vec::new());
    }
    let errors = train.row_squared_errors(&recon)?;
    let mut worst: Vec<usize> = (0..train.rows).collect();
    worst.sort_by(|&a, &b| errors[b].total_cmp(&errors[a]).then(a.cmp(&b)));
    // Encoder weight and bias, decoder weight and bias.
    let (we, be, wd, bd) = (0, 1, 2, 3);
    let d = train.cols;
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
    for (t, &j) in dead.iter().enumerate() {
        let s = worst[t % worst.len()];
        let centred: Vec<f32> = train
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
        let r: Vec<f64> = train
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

/// Trains `model` on `train` (`[n, input_dim]`, already normalised), validating on `val` after
/// each epoch. The objective is the reconstruction loss plus the penalties `config` implies
/// ([`TrainConfig::regularizers`]) plus any `extra` ones the caller adds. `on_event` sees every
/// step and epoch; an error from it stops training.
///
/// When a loss turns non-finite, the model is put back to the last finite epoch's weights and
/// [`Error::Diverged`] is returned. With validation data the model ends holding the weights of
/// the epoch with the best validation loss.
pub fn train<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    train: &Matrix,
    val: Option<&Matrix>,
    config: &TrainConfig,
    extra: &[Box<dyn Regularizer<B>>],
    on_event: &mut dyn FnMut(TrainEvent<'_, B>) -> Result<()>,
) -> Result<TrainReport> {
    config.validate()?;
    let implied = config.regularizers::<B>();
    let regularizers: Vec<&dyn Regularizer<B>> =
        implied.iter().chain(extra).map(|r| r.as_ref()).collect();
    model.check_loss(config.loss)?;
    let objective = Reconstruction {
        loss: config.loss,
        reduction: config.reduction,
    };
    // KL's target rate, which the per-unit metrics are held against.
    let rho = config.penalty.and_then(|p| p.rho());
    let input_dim = model.config().input_dim;
    for (what, m) in std::iter::once(("training", train)).chain(val.map(|v| ("validation", v))) {
        if m.cols != input_dim {
            return Err(Error::Shape(format!(
                "the {what} data has {} columns but the model's input width is {input_dim}",
                m.cols
            )));
        }
    }
    if train.rows == 0 {
        return Err(Error::Config("no training rows".into()));
    }
    if let Some(penalty) = &config.penalty {
        penalty.validate(model.config())?;
    }
    if let Some(aux) = &config.auxk {
        aux.validate(model.config())?;
    }
    if config.resample_dead {
        let m = model.config();
        if m.encoder.len() != 1 || !m.decoder.is_empty() || m.tied {
            return Err(Error::Config(format!(
                "resampling dead units needs a one-hidden-layer, untied autoencoder \
                 (--layers IN,CODE), got encoder {:?}, decoder {:?}{}",
                m.encoder,
                m.decoder,
                if m.tied { ", tied" } else { "" }
            )));
        }
    }
    let unit_norm = match (config.unit_norm_decoder, model.code_decoder_weight()) {
        (false, _) => None,
        (true, Some(w)) => Some(w),
        (true, None) => {
            return Err(Error::Config(
                "a unit-norm decoder needs an untied model (the tied decoder is the encoder's \
                 weight)"
                    .into(),
            ))
        }
    };
    if config.early_stopping_patience.is_some() && val.is_none_or(|v| v.rows == 0) {
        return Err(Error::Config(
            "early stopping needs validation data (a validation split above 0)".into(),
        ));
    }

    let n = train.rows;
    let batch = config.batch_size.min(n);
    let steps_per_epoch = n.div_ceil(batch);
    let total_steps = steps_per_epoch * config.epochs;
    let data = DeviceData::new(backend, train)?;
    let val_data = match val {
        Some(v) if v.rows > 0 => Some(DeviceData::new(backend, v)?),
        _ => None,
    };
    let streamed = matches!(data, DeviceData::Streamed(_));
    let mut full = batch_buffers(backend, model, batch)?;
    let mut tail = match n % batch {
        0 => None,
        r => Some(batch_buffers(backend, model, r)?),
    };
    if config.noise.is_some() {
        for b in std::iter::once(&mut full).chain(tail.as_mut()) {
            b.noisy = Some(backend.zeros(b.ws.rows(), input_dim)?);
        }
    }
    if config.auxk.is_some() {
        for b in std::iter::once(&mut full).chain(tail.as_mut()) {
            b.aux = Some(model.auxk_workspace(backend, b.ws.rows())?);
        }
    }
    // Training samples since each code unit was last active (code metrics and AuxK).
    let mut since = backend.zeros(1, model.config().code_dim())?;
    let track_dead = config.code_metrics || config.auxk.is_some();
    // Each step's noise seed: the run's seed mixed with the step number.
    let noise_seed = |step: usize| {
        crate::sparsity::hash_u32((config.seed as u32) ^ crate::sparsity::hash_u32(step as u32))
    };
    let mut grads: Gradients<B> = model.gradients(backend)?;
    let mut optimizer = Optimizer::new(backend, config.optimizer, model)?;
    let zeros_like = |model: &Autoencoder<B>| -> Result<Vec<B::Tensor>> {
        model
            .param_specs()
            .iter()
            .map(|s| backend.zeros(s.rows, s.cols))
            .collect()
    };
    if let Some(w) = unit_norm {
        backend.normalize_columns(&mut model.params_mut()[w]);
    }
    let mut last_good = zeros_like(model)?;
    let mut best = zeros_like(model)?;
    snapshot(backend, model, &mut last_good);
    snapshot(backend, model, &mut best);

    let mut rng = Rng::new(config.seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut history = Vec::with_capacity(config.epochs);
    let mut best_loss = f64::INFINITY;
    let mut best_epoch = 0;
    let mut stopped_early = false;
    let mut global_step = 0;
    let mut lr = config.optimizer.lr;

    for epoch in 1..=config.epochs {
        let started = Instant::now();
        rng.shuffle(&mut order);
        for (s, rows) in order.chunks(batch).enumerate() {
            let buf = if rows.len() == batch {
                &mut full
            } else {
                tail.as_mut()
                    .expect("tail buffers exist when n % batch != 0")
            };
            data.batch(backend, rows, &mut buf.x)?;
            let input = match (config.noise, buf.noisy.as_mut()) {
                (Some(noise), Some(noisy)) => {
                    backend.corrupt(noise, noise_seed(global_step), &buf.x, noisy);
                    &*noisy
                }
                _ => &buf.x,
            };
            buf.ws.penalty_strength = match config.penalty_warmup {
                0 => 1.0,
                w => ((global_step + 1) as f32 / w as f32).min(1.0),
            };
            model.forward_backward(
                backend,
                objective,
                input,
                &buf.x,
                rows.len() as f32 / n as f32,
                &mut buf.ws,
                &mut grads,
                &regularizers,
            );
            if track_dead {
                backend.track_dead(model.code(&buf.ws), &mut since);
            }
            if let (Some(aux), Some(aw)) = (&config.auxk, buf.aux.as_mut()) {
                model.auxk_backward(
                    backend,
                    aux,
                    input,
                    &buf.x,
                    config.reduction,
                    rows.len() as f32 / n as f32,
                    &since,
                    &mut buf.ws,
                    aw,
                    &mut grads,
                );
            }
            lr = config.optimizer.lr * config.schedule.factor(global_step, total_steps);
            if let Some(w) = unit_norm {
                backend.remove_parallel_component(&model.params()[w], &mut grads.tensors[w]);
            }
            optimizer.step(backend, model, &grads, lr);
            if let Some(w) = unit_norm {
                backend.normalize_columns(&mut model.params_mut()[w]);
            }
            global_step += 1;
            on_event(TrainEvent::Step {
                epoch,
                step: s + 1,
                steps_per_epoch,
            })?;
        }
        let mut train_loss = read_scalar(backend, &mut full.ws.loss_acc)?;
        let mut penalty = read_scalar(backend, &mut full.ws.penalty_acc)?;
        if let Some(t) = tail.as_mut() {
            train_loss += read_scalar(backend, &mut t.ws.loss_acc)?;
            penalty += read_scalar(backend, &mut t.ws.penalty_acc)?;
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let code = if config.code_metrics {
            Some(code_metrics(backend, model, train)?)
        } else {
            None
        };
        let dead_latents = match config.code_metrics {
            true => Some(
                backend
                    .download_f64(&since)?
                    .iter()
                    .filter(|&&s| s >= config.dead_window as f64)
                    .count(),
            ),
            false => None,
        };
        let val_loss = match &val_data {
            Some(v) => Some(evaluate(backend, model, objective, v, batch)?),
            None => None,
        };
        if !train_loss.is_finite() || val_loss.is_some_and(|v| !v.is_finite()) {
            restore(backend, model, &last_good);
            return Err(Error::Diverged(format!(
                "epoch {epoch}: the training loss is {train_loss}{}; the model was put back to \
                 the weights after epoch {} (try a lower --lr)",
                val_loss.map_or(String::new(), |v| format!(", validation loss {v}")),
                epoch - 1
            )));
        }
        snapshot(backend, model, &mut last_good);
        let mut metrics = EpochMetrics {
            epoch,
            train_loss,
            val_loss,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            samples_per_sec: n as f64 / train_seconds,
            penalty: (config.penalty.is_some() || config.auxk.is_some()).then_some(penalty),
            mse: code.as_ref().map(|c| c.mse),
            fvu: code.as_ref().map(|c| c.fvu),
            l0: code.as_ref().map(|c| c.l0),
            dead_latents,
            mean_activation: code.as_ref().map(|c| c.mean_activation),
            resampled: None,
            max_abs_rho_error: code
                .as_ref()
                .zip(rho)
                .map(|(c, rho)| c.max_abs_rho_error(rho as f64)),
            unit_mean_activation: code
                .as_ref()
                .filter(|_| rho.is_some())
                .map(|c| c.unit_means.clone()),
        };
        let monitored = val_loss.unwrap_or(train_loss);
        let improved = monitored < best_loss;
        if improved {
            best_loss = monitored;
            best_epoch = epoch;
            snapshot(backend, model, &mut best);
        }
        on_event(TrainEvent::Epoch {
            metrics: &metrics,
            model,
            improved,
        })?;
        stopped_early = config
            .early_stopping_patience
            .is_some_and(|patience| epoch - best_epoch >= patience && epoch < config.epochs);
        // Resampling prepares the next epoch: the epoch's metrics, checkpoint and snapshots are
        // of the trained weights, and nothing is resampled after the last epoch.
        if config.resample_dead && !stopped_early && epoch < config.epochs {
            let units = resample_dead(backend, model, &mut optimizer, train)?;
            if !units.is_empty() && track_dead {
                // A resampled unit starts afresh.
                let mut counts = backend.download(&since)?;
                units.iter().for_each(|&j| counts.data[j] = 0.0);
                backend.copy(&backend.upload(&counts)?, &mut since);
            }
            metrics.resampled = Some(units.len());
        }
        history.push(metrics);
        if stopped_early {
            break;
        }
    }
    if val_data.is_some() {
        restore(backend, model, &best);
    } else {
        best_epoch = history.len();
    }
    backend.sync()?;
    Ok(TrainReport {
        history,
        best_epoch,
        stopped_early,
        streamed,
    })
}
