//! The training loop: seeded shuffling, mini-batches gathered from the device-resident dataset,
//! optimiser steps under a learning-rate schedule, per-epoch validation, early stopping, and a
//! stop with the last good weights when the loss stops being finite. The sparse-autoencoder
//! pieces (dead latents, unit-norm decoder, resampling) are in [`sae`]'s types, the data feeding
//! in [`batches`], the per-epoch record in [`metrics`].

mod batches;
mod config;
mod metrics;
mod plan;
pub mod resume;
mod sae;
pub mod stream;

pub use self::batches::{
    evaluate, split, split_rows, split_rows_hashed, DeviceData, Rows, CHUNK_ROWS,
};
pub use self::config::TrainConfig;
pub use self::metrics::{code_metrics, EpochCodeMetrics, EpochMetrics};
pub use self::plan::{human_bytes, MemoryPlan};
pub use self::sae::resample_dead;

use self::batches::{batch_buffers, read_scalar, restore, snapshot, BatchBuffers};
use self::sae::{BatchThreshold, DeadLatents, UnitNormDecoder};
use crate::regularizer::Regularizer;
use crate::sparsity::hash_u32;
use crate::{
    Autoencoder, Backend, CodeProducts, Error, Gradients, Matrix, Noise, Optimizer, Reconstruction,
    Result, Rng,
};
use std::time::Instant;

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
    /// The epoch's work is done (after any resampling): `state()` captures what a resumed run
    /// needs to continue from here ([`train_resumed`]), downloading the weights and the
    /// optimiser's state.
    EpochEnd {
        /// Captures the run's state.
        state: &'a dyn Fn() -> Result<resume::TrainState>,
    },
}

/// The outcome of [`train`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainReport {
    /// One entry per epoch run.
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights the model holds at the end.
    pub best_epoch: usize,
    /// Early stopping, or the step budget (`max_steps`), ended the run before `epochs`.
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
    let val = val.map(Rows::Matrix);
    train_rows(
        backend,
        model,
        Rows::Matrix(train),
        val,
        config,
        extra,
        on_event,
    )
}

/// [`train`] on rows read as the trainer goes ([`Rows`]): a data set larger than memory is read a
/// batch at a time (and a chunk at a time for the code metrics and resampling), so memory is
/// bounded by the batch and the model, not the data. Host matrices give exactly [`train`]'s run.
pub fn train_rows<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    train: Rows<'_>,
    val: Option<Rows<'_>>,
    config: &TrainConfig,
    extra: &[Box<dyn Regularizer<B>>],
    on_event: &mut dyn FnMut(TrainEvent<'_, B>) -> Result<()>,
) -> Result<TrainReport> {
    train_resumed(backend, model, train, val, config, extra, None, on_event)
}

/// [`train_rows`] continuing the run that `resume` captured after one of its epochs (a
/// [`TrainEvent::EpochEnd`] of a run with the same data and settings, `epochs` and the step
/// budget aside): the model, the optimiser, the dead-latent counters, the best weights, the
/// counters and the history are set from it and the shuffling is replayed from the seed, so the
/// run ends as the uninterrupted one would have (bit for bit on the CPU). The model must have
/// the architecture of the captured one.
#[allow(clippy::too_many_arguments)]
pub fn train_resumed<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    train: Rows<'_>,
    val: Option<Rows<'_>>,
    config: &TrainConfig,
    extra: &[Box<dyn Regularizer<B>>],
    resume: Option<&resume::TrainState>,
    on_event: &mut dyn FnMut(TrainEvent<'_, B>) -> Result<()>,
) -> Result<TrainReport> {
    let unit_norm = check(model, train, val, config)?;
    model.set_code_products(config.code_products);
    let implied = config.regularizers::<B>();
    let regularizers: Vec<&dyn Regularizer<B>> =
        implied.iter().chain(extra).map(|r| r.as_ref()).collect();
    let objective = Reconstruction {
        loss: config.loss,
        reduction: config.reduction,
    };
    let variational = config.variational.unwrap_or_default();
    // KL's target rate, which the per-unit metrics are held against.
    let rho = config.penalty.and_then(|p| p.rho());
    let n = train.len();
    let batch = config.batch_size.min(n);
    let steps_per_epoch = n.div_ceil(batch);
    let total_steps = config
        .max_steps
        .map_or(steps_per_epoch * config.epochs, |m| {
            m.min(steps_per_epoch * config.epochs)
        });
    let data = DeviceData::new(backend, train)?;
    let val_data = match val {
        Some(v) if !v.is_empty() => Some(DeviceData::new(backend, v)?),
        _ => None,
    };
    let streamed = matches!(data, DeviceData::Streamed(_));
    let mut full = step_buffers(backend, model, config, batch)?;
    let mut tail = match n % batch {
        0 => None,
        r => Some(step_buffers(backend, model, config, r)?),
    };
    let mut dead = DeadLatents::new(backend, model.config().code_dim(), config.dead_window)?;
    let track_dead = config.code_metrics || config.auxk.is_some();
    let mut grads: Gradients<B> = model.gradients(backend)?;
    let mut optimizer = Optimizer::new(backend, config.optimizer, model)?;
    if let Some(state) = resume {
        resume::apply(backend, model, &mut optimizer, &mut dead.since, state, n)?;
    } else if let Some(u) = unit_norm {
        u.normalize(backend, model);
    }
    let zeros_like = |model: &Autoencoder<B>| -> Result<Vec<B::Tensor>> {
        model
            .param_specs()
            .iter()
            .map(|s| backend.zeros(s.rows, s.cols))
            .collect()
    };
    let mut threshold = BatchThreshold::new(backend, model)?;
    let mut last_good = zeros_like(model)?;
    let mut best = zeros_like(model)?;
    snapshot(backend, model, &mut last_good);
    snapshot(backend, model, &mut best);
    if let Some(state) = resume.filter(|s| !s.best.is_empty()) {
        resume::write_named(backend, model.param_specs(), &state.best, &mut best)?;
    }

    let mut rng = Rng::new(config.seed);
    // Rows read from a source (not in memory) are shuffled over a window of blocks, so that
    // reads stay sequential; rows in memory get a full permutation.
    let window = match train {
        Rows::Source { source, .. } if !source.in_memory() => {
            Some(stream::Window::new(train.cols(), batch))
        }
        _ => None,
    };
    let mut order = stream::EpochOrder::new(n, window);
    let mut history = Vec::with_capacity(config.epochs);
    let mut best_loss = f64::INFINITY;
    let mut best_epoch = 0;
    let mut stopped_early = false;
    let mut global_step = 0;
    let mut lr = config.optimizer.lr;
    let mut first_epoch = 1;
    if let Some(state) = resume {
        let p = &state.progress;
        (history, best_loss, best_epoch) = (p.history.clone(), p.best_loss, p.best_epoch);
        global_step = p.global_step;
        first_epoch = p.epochs_done + 1;
        // Each epoch shuffles the order the one before left: replay them.
        for _ in 0..p.epochs_done {
            order.shuffle(&mut rng);
        }
        lr = history.last().map_or(lr, |h| h.lr);
    }

    for epoch in first_epoch..=config.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        // Rows this epoch trained on (fewer than n when the step budget ends it).
        let mut seen = 0;
        let batches_left = total_steps - global_step;
        // Streamed rows are read and normalised by a thread of their own, a few batches ahead.
        std::thread::scope(|scope| -> Result<()> {
            let prefetched = match &data {
                DeviceData::Streamed(rows) => {
                    let (tx, rx) = std::sync::mpsc::sync_channel(stream::PREFETCH_BATCHES);
                    let (rows, order) = (*rows, &order);
                    scope.spawn(move || stream::read_batches(rows, order, batch, batches_left, tx));
                    Some(rx)
                }
                DeviceData::Resident(_) => None,
            };
            for (s, rows) in order.rows.chunks(batch).enumerate() {
                if global_step == total_steps {
                    break;
                }
                seen += rows.len();
                let buf = match tail.as_mut() {
                    Some(t) if rows.len() != batch => t,
                    _ => &mut full,
                };
                let noise = step_noise(config, global_step);
                let fed = match (&prefetched, noise.zip(buf.noisy.as_mut())) {
                    (Some(rx), noisy) => rx
                        .recv()
                        .unwrap_or_else(|_| Err(Error::Config("the batch reader stopped".into())))
                        .and_then(|m| backend.write(&m, &mut buf.x))
                        .map(|()| {
                            if let Some(((n, seed), noisy)) = noisy {
                                backend.corrupt(n, seed, &buf.x, noisy);
                            }
                        }),
                    (None, Some((noise, noisy))) => {
                        data.noisy_batch(backend, rows, noise, &mut buf.x, noisy)
                    }
                    (None, None) => data.batch(backend, rows, &mut buf.x),
                };
                // Bad data met mid-epoch (a NaN in a chunk read from a file, a read error): the
                // model goes back to the last finite epoch's weights, as for a divergence.
                if let Err(e) = fed {
                    restore(backend, model, &last_good);
                    return Err(e);
                }
                let input = match (noise, buf.noisy.as_ref()) {
                    (Some(_), Some(noisy)) => noisy,
                    _ => &buf.x,
                };
                buf.ws.penalty_strength = match config.penalty_warmup {
                    0 => 1.0,
                    w => ((global_step + 1) as f32 / w as f32).min(1.0),
                };
                let scale = rows.len() as f32 / n as f32;
                if let Err(e) = regularizers
                    .iter()
                    .try_for_each(|r| r.begin_batch(backend, rows))
                {
                    restore(backend, model, &last_good);
                    return Err(e);
                }
                if let Some(c) = buf.ws.contractive.as_mut() {
                    c.seed = projection_seed(config.seed, global_step);
                }
                if let Some(v) = buf.ws.vae.as_mut() {
                    v.seed = Some(sample_seed(config.seed, global_step));
                    v.beta = variational.beta_at(global_step, steps_per_epoch);
                }
                let (x, ws) = (&buf.x, &mut buf.ws);
                model.forward_backward(
                    backend,
                    objective,
                    input,
                    x,
                    scale,
                    ws,
                    &mut grads,
                    &regularizers,
                );
                if track_dead {
                    dead.track(backend, model.code(ws));
                }
                if let Some(t) = threshold.as_mut() {
                    t.update(backend, model, ws);
                }
                if let (Some(aux), Some(aw)) = (&config.auxk, buf.aux.as_mut()) {
                    let reduction = config.reduction;
                    model.auxk_backward(
                        backend,
                        aux,
                        input,
                        x,
                        reduction,
                        scale,
                        &dead.since,
                        ws,
                        aw,
                        &mut grads,
                    );
                }
                lr = config.optimizer.lr * config.schedule.factor(global_step, total_steps);
                if let Some(u) = unit_norm {
                    u.project(backend, model, &mut grads);
                }
                optimizer.step(backend, model, &grads, lr);
                if let Some(u) = unit_norm {
                    u.normalize(backend, model);
                }
                global_step += 1;
                let event = on_event(TrainEvent::Step {
                    epoch,
                    step: s + 1,
                    steps_per_epoch,
                });
                if let Err(e) = event {
                    // Stopped mid-epoch (Ctrl-C): the model keeps the threshold it has now.
                    if let Some(t) = &threshold {
                        t.store(backend, model)?;
                    }
                    return Err(e);
                }
            }
            Ok(())
        })?;
        if let Some(t) = &threshold {
            t.store(backend, model)?;
        }
        let mut train_loss = read_scalar(backend, &mut full.ws.loss_acc)?;
        let mut penalty = read_scalar(backend, &mut full.ws.penalty_acc)?;
        let mut contractive = contractive_sum(backend, &mut full)?;
        let mut kl = kl_sum(backend, &mut full)?;
        if let Some(t) = tail.as_mut() {
            train_loss += read_scalar(backend, &mut t.ws.loss_acc)?;
            penalty += read_scalar(backend, &mut t.ws.penalty_acc)?;
            contractive += contractive_sum(backend, t)?;
            kl += kl_sum(backend, t)?;
        }
        // Each batch added its share of a mean over n rows; over the rows seen, when fewer.
        if seen < n {
            let rescale = n as f64 / seen.max(1) as f64;
            (train_loss, penalty) = (train_loss * rescale, penalty * rescale);
            contractive *= rescale;
            kl *= rescale;
        }
        let budget_spent = global_step == total_steps && epoch < config.epochs;
        let train_seconds = started.elapsed().as_secs_f64();
        let code = match config.code_metrics {
            true => Some(EpochCodeMetrics::new(
                code_metrics(backend, model, train)?,
                dead.count(backend)?,
                rho,
            )),
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
                 the weights after epoch {} (try a lower `train.optimizer.lr`)",
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
            samples_per_sec: seen as f64 / train_seconds,
            penalty: (config.penalty.is_some()
                || config.auxk.is_some()
                || config.jump_relu.is_some_and(|j| j.l0 > 0.0))
            .then_some(penalty),
            resampled: None,
            contractive: config.contractive.is_some().then_some(contractive),
            kl: model.config().variational.then_some(kl),
            code,
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
        stopped_early = budget_spent
            || config
                .early_stopping_patience
                .is_some_and(|patience| epoch - best_epoch >= patience && epoch < config.epochs);
        // Resampling prepares the next epoch: the epoch's metrics, checkpoint and snapshots are
        // of the trained weights, and nothing is resampled after the last epoch.
        if config.resample_dead && !stopped_early && epoch < config.epochs {
            let units = resample_dead(backend, model, &mut optimizer, train)?;
            if !units.is_empty() && track_dead {
                dead.reset(backend, &units)?;
            }
            metrics.resampled = Some(units.len());
        }
        history.push(metrics);
        let capture = || {
            resume::capture(
                backend,
                model,
                &optimizer,
                &dead.since,
                &best,
                resume::Progress {
                    version: resume::STATE_VERSION,
                    model: model.config().clone(),
                    train: config.clone(),
                    train_rows: n,
                    epochs_done: epoch,
                    global_step,
                    optimizer_steps: optimizer.steps(),
                    best_loss,
                    best_epoch,
                    history: history.clone(),
                },
            )
        };
        on_event(TrainEvent::EpochEnd { state: &capture })?;
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

/// Denoising's noise and its seed at step `step` (the run's seed mixed with the step number);
/// `None` without denoising.
fn step_noise(config: &TrainConfig, step: usize) -> Option<(Noise, u32)> {
    let seed = || hash_u32((config.seed as u32) ^ hash_u32(step as u32));
    config.noise.map(|noise| (noise, seed()))
}

/// The seed of step `step`'s contractive projections: the run's seed mixed with the step
/// number, apart from the denoising noise's.
fn projection_seed(seed: u64, step: usize) -> u32 {
    hash_u32(hash_u32((seed as u32) ^ hash_u32(step as u32)) ^ 0x2545_f491)
}

/// The seed of step `step`'s variational samples `eps`: the run's seed mixed with the step
/// number, apart from the denoising noise's and the contractive projections'.
fn sample_seed(seed: u64, step: usize) -> u32 {
    hash_u32(hash_u32((seed as u32) ^ hash_u32(step as u32)) ^ 0x6a09_e667)
}

/// The KL a batch size's buffers added up since the last read (0 for a model that is not
/// variational); the accumulator is reset.
fn kl_sum<B: Backend>(backend: &B, buf: &mut BatchBuffers<B>) -> Result<f64> {
    match buf.ws.vae.as_mut() {
        Some(v) => read_scalar(backend, &mut v.kl_acc),
        None => Ok(0.0),
    }
}

/// The contractive penalty a batch size's buffers added up since the last read (0 without one);
/// the accumulator is reset.
fn contractive_sum<B: Backend>(backend: &B, buf: &mut BatchBuffers<B>) -> Result<f64> {
    match buf.ws.contractive.as_mut() {
        Some(c) => read_scalar(backend, &mut c.acc),
        None => Ok(0.0),
    }
}

/// The buffers of one batch size, with the denoising, AuxK and contractive ones where `config`
/// needs them.
fn step_buffers<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    config: &TrainConfig,
    rows: usize,
) -> Result<BatchBuffers<B>> {
    let mut b = batch_buffers(backend, model, rows)?;
    b.ws.training = true;
    b.ws.jump = config.jump_relu.unwrap_or_default();
    if config.noise.is_some() {
        b.noisy = Some(backend.zeros(rows, model.config().input_dim)?);
    }
    if config.auxk.is_some() {
        b.aux = Some(model.auxk_workspace(backend, rows)?);
    }
    if let Some(c) = config.contractive {
        b.ws.contractive = Some(model.contractive_workspace(backend, rows, c)?);
    }
    Ok(b)
}

/// Checks `config` against the model and the data before anything is allocated; returns the
/// unit-norm decoder when the config asks for one.
fn check<B: Backend>(
    model: &Autoencoder<B>,
    train: Rows<'_>,
    val: Option<Rows<'_>>,
    config: &TrainConfig,
) -> Result<Option<UnitNormDecoder>> {
    config.validate()?;
    model.check_loss(config.loss)?;
    if config.code_products == CodeProducts::Sparse && model.config().batch_topk {
        return Err(Error::Config(
            "sparse code products (`train.code_products` sparse) need a per-sample TopK code; \
             a BatchTopK sample may keep more than k units"
                .into(),
        ));
    }
    if config.code_products == CodeProducts::Sparse && !model.config().matryoshka.is_empty() {
        return Err(Error::Config(
            "sparse code products (`train.code_products` sparse) are not used for matryoshka \
             prefixes (`model.matryoshka`): their products go over column blocks, densely"
                .into(),
        ));
    }
    let input_dim = model.config().input_dim;
    for (what, m) in std::iter::once(("training", train)).chain(val.map(|v| ("validation", v))) {
        if m.cols() != input_dim {
            return Err(Error::Shape(format!(
                "the {what} data has {} columns but the model's input width is {input_dim}",
                m.cols()
            )));
        }
    }
    if train.is_empty() {
        return Err(Error::Config("no training rows".into()));
    }
    if let Some(penalty) = &config.penalty {
        penalty.validate(model.config())?;
    }
    if let Some(aux) = &config.auxk {
        aux.validate(model.config())?;
    }
    if let Some(jump) = &config.jump_relu {
        jump.validate(model.config())?;
    }
    if let Some(c) = &config.contractive {
        c.validate(model.config())?;
    }
    if let Some(v) = &config.variational {
        v.validate(model.config())?;
    }
    if model.config().variational {
        let clash = [
            (
                config.penalty.is_some(),
                "a sparsity penalty (`train.penalty`)",
            ),
            (config.auxk.is_some(), "AuxK (`train.auxk`)"),
            (
                config.contractive.is_some(),
                "the contractive penalty (`train.contractive`)",
            ),
            (
                config.resample_dead,
                "resampling dead units (`train.resample_dead`)",
            ),
        ];
        if let Some((_, what)) = clash.iter().find(|c| c.0) {
            return Err(Error::Config(format!(
                "a variational model (`model.variational`) does not train with {what}: its \
                 code is a Gaussian sample, held to the prior by the KL term"
            )));
        }
    }
    if config.resample_dead {
        let m = model.config();
        if m.encoder.len() != 1 || !m.decoder.is_empty() || m.tied {
            return Err(Error::Config(format!(
                "resampling dead units needs a one-hidden-layer, untied autoencoder \
                 (`model.layers` IN,CODE), got encoder {:?}, decoder {:?}{}",
                m.encoder,
                m.decoder,
                if m.tied { ", tied" } else { "" }
            )));
        }
    }
    let unit_norm = match (config.unit_norm_decoder, model.code_decoder_weight()) {
        (false, _) => None,
        (true, Some(weight)) => Some(UnitNormDecoder { weight }),
        (true, None) => {
            return Err(Error::Config(
                "a unit-norm decoder needs an untied model (the tied decoder is the encoder's \
                 weight)"
                    .into(),
            ))
        }
    };
    if config.early_stopping_patience.is_some() && val.is_none_or(|v| v.is_empty()) {
        return Err(Error::Config(
            "early stopping (`train.early_stopping_patience`) needs validation data".into(),
        ));
    }
    Ok(unit_norm)
}
