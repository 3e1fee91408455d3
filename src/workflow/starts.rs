//! Where a training run starts: the state an earlier run saved (`--resume`), the weights of a
//! model (`--init-from`), and what is read before the first step (whether the rows are held in
//! memory, their column means for the pre-encoder bias).

use super::{load_model, TrainSettings, RESIDENT_BYTES, RESUME_DIR};
use ae_core::data::normalize::{NormStats, Normalization};
use ae_core::data::RowSource;
use ae_core::trainer::{self, Rows};
use ae_core::{Autoencoder, Backend, Error, ModelConfig, Result, TrainConfig};
use std::path::Path;

/// The state saved in `dir` by an earlier run of `settings` (all but `epochs`, the step budget and
/// the patience the same): an error names what differs, or says that nothing is there to resume.
pub(super) fn resumable_state(
    dir: &Path,
    settings: &TrainSettings,
) -> Result<trainer::resume::TrainState> {
    let state_dir = dir.join(RESUME_DIR);
    if !state_dir.join(trainer::resume::STATE_FILE).exists() {
        return Err(Error::Config(format!(
            "nothing to resume in {}: no {}/{} (a run saves it after each epoch)",
            dir.display(),
            RESUME_DIR,
            trainer::resume::STATE_FILE
        )));
    }
    let state = trainer::resume::load(&state_dir)?;
    let mut saved = state.progress.model.clone();
    saved.code_threshold = None;
    if saved != settings.model {
        return Err(Error::Config(format!(
            "the run in {} trained another architecture (input {}, encoder {:?}, decoder {:?}{}); \
             resume it with the same --layers and model flags",
            dir.display(),
            saved.input_dim,
            saved.encoder,
            saved.decoder,
            match saved.matryoshka == settings.model.matryoshka {
                true => String::new(),
                false => format!(
                    ", matryoshka prefixes {:?} where this run asks for {:?}",
                    saved.matryoshka, settings.model.matryoshka
                ),
            }
        )));
    }
    {
        let strip = |t: &TrainConfig| {
            let mut v = serde_json::to_value(t).expect("a train config serialises");
            if let Some(m) = v.as_object_mut() {
                for key in ["epochs", "max_steps", "early_stopping_patience"] {
                    m.remove(key);
                }
            }
            v
        };
        let (was, now) = (strip(&state.progress.train), strip(&settings.train));
        if was != now {
            let differ: Vec<&String> = match (was.as_object(), now.as_object()) {
                (Some(a), Some(b)) => a.keys().filter(|k| a.get(*k) != b.get(*k)).collect(),
                _ => Vec::new(),
            };
            return Err(Error::Config(format!(
                "the run in {} was trained with other settings ({}); resume it with the same \
                 flags, only --epochs, --max-steps and --patience may change",
                dir.display(),
                differ
                    .iter()
                    .map(|k| format!("`train.{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(state)
}

/// The model in `dir` and its normalisation, to start training from: an error unless its
/// architecture is the one `settings` asks for, or its normalisation is another kind.
pub(super) fn initial_model<B: Backend>(
    backend: &B,
    dir: &Path,
    settings: &TrainSettings,
) -> Result<(Autoencoder<B>, NormStats)> {
    let (model, saved) = load_model(backend, dir)?;
    let have = model.config();
    let mut want = settings.model.clone();
    // Without --output the output activation is the data's to choose; the model has chosen.
    if let (true, Some(w), Some(&h)) = (
        settings.output_from_data,
        want.activations.last_mut(),
        have.activations.last(),
    ) {
        *w = h;
    }
    let want = &want;
    let describe = |c: &ModelConfig| {
        format!(
            "layers {:?}, activations {:?}, topk {:?}{}{}{}",
            [&[c.input_dim][..], &c.encoder, &c.decoder].concat(),
            c.activations,
            c.code_topk,
            if c.tied { ", tied" } else { "" },
            if c.pre_bias { ", pre-bias" } else { "" },
            match c.matryoshka.is_empty() {
                true => String::new(),
                false => format!(", matryoshka {:?}", c.matryoshka),
            }
        )
    };
    if describe(have) != describe(want) || have.batch_topk != want.batch_topk {
        return Err(Error::Config(format!(
            "the model in {} has {}, but this run asks for {}; start from a model of the same \
             architecture (the same --layers, activations and sparsity flags)",
            dir.display(),
            describe(have),
            describe(want)
        )));
    }
    let stats = match saved.normalization {
        Some(stats) => stats,
        None => NormStats {
            kind: Normalization::None,
            offset: vec![0.0; want.input_dim],
            scale: vec![1.0; want.input_dim],
        },
    };
    if stats.kind != settings.normalization {
        return Err(Error::Config(format!(
            "the model in {} normalises its inputs with {:?}, this run asks for {:?}; training \
             from it keeps its normalisation, so pass --normalize to match",
            dir.display(),
            stats.kind,
            settings.normalization
        )));
    }
    Ok((model, stats))
}

/// Whether [`train_source`] reads `source`'s training rows into memory: when they are there
/// already, or the whole set is at most [`RESIDENT_BYTES`] and `stream` is not asked for.
pub fn read_whole(source: &dyn RowSource, stream: bool) -> bool {
    source.in_memory() || !stream && (source.rows() * source.cols()) as u64 * 4 <= RESIDENT_BYTES
}

/// Each column's mean over `rows`, summed a chunk at a time in row order (so equal to
/// [`Matrix::column_means`] of the same rows).
pub(super) fn column_means(rows: Rows<'_>) -> Result<Vec<f64>> {
    let mut sums = vec![0.0f64; rows.cols()];
    for chunk in rows.chunks() {
        let (_, m) = chunk?;
        for r in 0..m.rows {
            for (s, &v) in sums.iter_mut().zip(m.row(r)) {
                *s += v as f64;
            }
        }
    }
    let n = rows.len().max(1) as f64;
    Ok(sums.into_iter().map(|s| s / n).collect())
}
