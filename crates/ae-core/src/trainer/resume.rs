//! Resuming a run exactly: after every epoch the trainer can capture what it needs to go on as
//! if it had never stopped ([`TrainState`]: the weights, the optimiser's moments and step count,
//! the dead-latent counters, the best weights so far, the counters and the history), which
//! [`save`] writes into a directory beside the model and [`load`] reads back. The epoch's
//! shuffling is not stored: the order of epoch `e` is replayed from the seed.

use crate::atomic::write_atomic_all;
use crate::checkpoint::{read_safetensors, serialize_named};
use crate::{
    Autoencoder, Backend, EpochMetrics, Error, Matrix, ModelConfig, Optimizer, ParamSpec, Result,
    TrainConfig,
};
use std::path::Path;

/// The file of [`TrainState`]'s counters and history.
pub const STATE_FILE: &str = "state.json";
/// The file of [`TrainState`]'s tensors.
pub const TENSORS_FILE: &str = "state.safetensors";
/// The version of [`STATE_FILE`] this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Everything a run needs to continue after epoch [`TrainState::epochs_done`] as the
/// uninterrupted run would have.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// The counters and history.
    pub progress: Progress,
    /// The model's weights after that epoch, by parameter name.
    pub params: Vec<(String, Matrix)>,
    /// The optimiser's state, in [`crate::Optimizer::state`]'s order.
    pub optimizer: Vec<Matrix>,
    /// The best weights so far (by parameter name).
    pub best: Vec<(String, Matrix)>,
    /// The samples since each code unit last fired, `[1, code_dim]`.
    pub dead_since: Matrix,
}

/// The host-side counters of a run, after an epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The architecture trained (with BatchTopK's threshold as it stood).
    pub model: ModelConfig,
    /// The trainer settings of the run.
    pub train: TrainConfig,
    /// Training rows.
    pub train_rows: usize,
    /// Epochs finished.
    pub epochs_done: usize,
    /// Steps taken.
    pub global_step: usize,
    /// The optimiser's update count.
    pub optimizer_steps: u64,
    /// The best monitored loss so far and its epoch.
    pub best_loss: f64,
    /// The epoch of `best_loss`.
    pub best_epoch: usize,
    /// Every epoch's metrics so far.
    pub history: Vec<EpochMetrics>,
}

/// Writes `state` into `dir` (created if need be): the tensors first, then the counters, each
/// file replaced atomically.
pub fn save(dir: &Path, state: &TrainState) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut named: Vec<(String, Matrix)> = Vec::new();
    let prefixed = |prefix: &str, list: &[(String, Matrix)]| {
        list.iter()
            .map(|(n, m)| (format!("{prefix}/{n}"), m.clone()))
            .collect::<Vec<_>>()
    };
    named.extend(prefixed("param", &state.params));
    named.extend(prefixed("best", &state.best));
    named.extend(
        state
            .optimizer
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("optimizer/{i:04}"), m.clone())),
    );
    named.push(("dead_since".into(), state.dead_since.clone()));
    let tensors = serialize_named(named)?;
    let json = serde_json::to_vec_pretty(&state.progress).expect("progress serialises");
    write_atomic_all(&[
        (&dir.join(TENSORS_FILE), &tensors),
        (&dir.join(STATE_FILE), &json),
    ])
}

/// Reads the state [`save`] wrote into `dir`; an error names the file when it is missing, of
/// another version or incomplete.
pub fn load(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let progress: Progress = serde_json::from_slice(&text).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("not a training state: {e}"),
    })?;
    if progress.version != STATE_VERSION {
        return Err(Error::Model {
            path,
            message: format!(
                "a training state of version {}; this build reads version {STATE_VERSION}",
                progress.version
            ),
        });
    }
    let tensors_path = dir.join(TENSORS_FILE);
    let mut params = Vec::new();
    let mut best = Vec::new();
    let mut optimizer = Vec::new();
    let mut dead_since = None;
    for (name, m) in read_safetensors(&tensors_path)? {
        if let Some(n) = name.strip_prefix("param/") {
            params.push((n.to_string(), m));
        } else if let Some(n) = name.strip_prefix("best/") {
            best.push((n.to_string(), m));
        } else if let Some(i) = name.strip_prefix("optimizer/") {
            optimizer.push((i.to_string(), m));
        } else if name == "dead_since" {
            dead_since = Some(m);
        }
    }
    optimizer.sort_by(|a, b| a.0.cmp(&b.0));
    let dead_since = dead_since.ok_or_else(|| Error::Model {
        path: tensors_path.clone(),
        message: "no tensor 'dead_since'".into(),
    })?;
    if params.is_empty() {
        return Err(Error::Model {
            path: tensors_path,
            message: "no parameters ('param/...')".into(),
        });
    }
    Ok(TrainState {
        progress,
        params,
        optimizer: optimizer.into_iter().map(|(_, m)| m).collect(),
        best,
        dead_since,
    })
}

/// Downloads the run's state after an epoch.
pub(super) fn capture<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    optimizer: &Optimizer<B>,
    dead_since: &B::Tensor,
    best: &[B::Tensor],
    progress: Progress,
) -> Result<TrainState> {
    let names = model.param_specs().iter().map(|s| s.name.clone());
    let best = names
        .zip(best)
        .map(|(n, t)| Ok((n, backend.download(t)?)))
        .collect::<Result<_>>()?;
    Ok(TrainState {
        progress,
        params: model.to_named(backend)?,
        optimizer: optimizer
            .state()
            .map(|t| backend.download(t))
            .collect::<Result<_>>()?,
        best,
        dead_since: backend.download(dead_since)?,
    })
}

/// Sets `model`, `optimizer` and the dead-latent counters from `state`; an architecture other
/// than the captured one is an error naming both.
pub(super) fn apply<B: Backend>(
    backend: &B,
    model: &mut Autoencoder<B>,
    optimizer: &mut Optimizer<B>,
    dead_since: &mut B::Tensor,
    state: &TrainState,
    rows: usize,
) -> Result<()> {
    if state.progress.train_rows != rows {
        return Err(Error::Config(format!(
            "the run to resume trained on {} rows, this one has {rows} (resume with the same data \
             and held-out fraction)",
            state.progress.train_rows
        )));
    }
    let mut saved = state.progress.model.clone();
    saved.code_threshold = model.config().code_threshold;
    if &saved != model.config() {
        return Err(Error::Config(format!(
            "the run to resume trained another architecture: {:?} (this one: {:?})",
            state.progress.model,
            model.config()
        )));
    }
    model.set_code_threshold(state.progress.model.code_threshold);
    let specs = model.param_specs().to_vec();
    write_named(backend, &specs, &state.params, model.params_mut())?;
    optimizer.restore(backend, &state.optimizer, state.progress.optimizer_steps)?;
    if backend.shape(dead_since) != (state.dead_since.rows, state.dead_since.cols) {
        return Err(Error::Shape(format!(
            "the saved dead-latent counters are [{}, {}], the code {:?}",
            state.dead_since.rows,
            state.dead_since.cols,
            backend.shape(dead_since)
        )));
    }
    backend.write(&state.dead_since, dead_since)
}

/// Writes the tensors `named` into `into`, one per parameter of `specs` (found by name, of its
/// shape).
pub(super) fn write_named<B: Backend>(
    backend: &B,
    specs: &[ParamSpec],
    named: &[(String, Matrix)],
    into: &mut [B::Tensor],
) -> Result<()> {
    for (spec, t) in specs.iter().zip(into) {
        let (_, m) = named.iter().find(|(n, _)| n == &spec.name).ok_or_else(|| {
            Error::Shape(format!("the saved state has no tensor '{}'", spec.name))
        })?;
        if (m.rows, m.cols) != (spec.rows, spec.cols) {
            return Err(Error::Shape(format!(
                "the saved '{}' is [{}, {}], the model's [{}, {}]",
                spec.name, m.rows, m.cols, spec.rows, spec.cols
            )));
        }
        backend.write(m, t)?;
    }
    Ok(())
}
