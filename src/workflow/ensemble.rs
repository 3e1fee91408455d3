//! Ensembles of autoencoders for anomaly detection ([`crate::preset::AnomalyPreset`]): train the
//! members, each on its columns of the same rows ([`train_ensemble`]), save them, load them
//! ([`Ensemble::load`]) and score rows ([`Ensemble::scores`]).
//!
//! On disk an ensemble is a directory whose `config.json` is an [`EnsembleConfig`] (format
//! `ae-ensemble`: the recipe, every member's columns and score statistics, the threshold) and
//! whose `member-K/` folders are ordinary model directories of `ae train`, reading their columns
//! of the input. A member's score is its mean squared reconstruction error; the ensemble's is
//! the mean over members of `(score - mean) / sd`, the mean and sd taken over the training rows.

use super::{train_source, TrainSettings};
use crate::anomaly;
use crate::preset::{AnomalyPreset, MemberPlan};
use ae_core::checkpoint::{self, SavedConfig};
use ae_core::data::table::InputColumns;
use ae_core::data::RowSource;
use ae_core::{Autoencoder, Backend, Error, Matrix, Output, Result};
use std::path::{Path, PathBuf};

/// `config.json`'s `format` in an ensemble's directory.
pub const FORMAT: &str = "ae-ensemble";

/// Rows read and scored at a time.
const CHUNK_ROWS: usize = 4096;

/// What an ensemble's `config.json` holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnsembleConfig {
    /// Always [`FORMAT`].
    pub format: String,
    /// File format version.
    pub version: u32,
    /// Columns of the input rows.
    pub input_dim: usize,
    /// The columns of the training file read, as a single model saves them.
    #[serde(default)]
    pub input: Option<InputColumns>,
    /// Every choice of the recipe.
    pub recipe: AnomalyPreset,
    /// The members kept, in order.
    pub members: Vec<MemberRecord>,
    /// Members that diverged and were left out.
    #[serde(default)]
    pub dropped: Vec<DroppedMember>,
    /// The `--contamination` of the saved threshold.
    #[serde(default)]
    pub contamination: Option<f64>,
    /// Scores above it are anomalies (with `--contamination`).
    #[serde(default)]
    pub anomaly_threshold: Option<f64>,
}

/// One member of an ensemble.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberRecord {
    /// Its model directory, relative to the ensemble's.
    pub dir: String,
    /// What it was trained on.
    pub plan: MemberPlan,
    /// Mean of its scores over the training rows.
    pub score_mean: f64,
    /// Their standard deviation (floored above 0).
    pub score_sd: f64,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Early stopping ended its training.
    pub stopped_early: bool,
}

/// A member left out of an ensemble, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DroppedMember {
    /// Its number in the plan.
    pub member: usize,
    /// The error that dropped it.
    pub reason: String,
}

/// Whether `dir` holds an ensemble (its `config.json` says format [`FORMAT`]).
pub fn is_ensemble(dir: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        format: String,
    }
    std::fs::read_to_string(dir.join(checkpoint::CONFIG_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<Probe>(&text).ok())
        .is_some_and(|p| p.format == FORMAT)
}

/// The columns `columns` of `inner`'s rows: `[n, d] -> [n, columns.len()]`, read as `inner`
/// reads.
struct Columns<'a> {
    inner: &'a dyn RowSource,
    columns: &'a [usize],
}

impl RowSource for Columns<'_> {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn rows(&self) -> usize {
        self.inner.rows()
    }
    fn cols(&self) -> usize {
        self.columns.len()
    }
    fn in_memory(&self) -> bool {
        false
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        Ok(select_columns(
            &self.inner.read(start, count)?,
            self.columns,
        ))
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        Ok(select_columns(&self.inner.gather(indices)?, self.columns))
    }
}

/// `[n, d] -> [n, columns.len()]`.
fn select_columns(m: &Matrix, columns: &[usize]) -> Matrix {
    let data = (0..m.rows)
        .flat_map(|r| columns.iter().map(move |&c| m.data[r * m.cols + c]))
        .collect();
    Matrix::new(m.rows, columns.len(), data).expect("the sizes agree")
}

/// A loaded ensemble: its config and its members on a backend.
pub struct Ensemble<B: Backend> {
    /// What `config.json` holds.
    pub config: EnsembleConfig,
    members: Vec<(Autoencoder<B>, SavedConfig)>,
}

impl<B: Backend> Ensemble<B> {
    /// Loads the ensemble in `dir` and its members onto `backend`.
    pub fn load(backend: &B, dir: &Path) -> Result<Self> {
        let path = dir.join(checkpoint::CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let config: EnsembleConfig = serde_json::from_str(&text).map_err(|e| Error::Model {
            path: path.clone(),
            message: format!("not an ensemble config: {e}"),
        })?;
        if config.members.is_empty() {
            return Err(Error::Model {
                path,
                message: "an ensemble without members".into(),
            });
        }
        let members = config
            .members
            .iter()
            .map(|m| checkpoint::load(&dir.join(&m.dir), backend))
            .collect::<Result<Vec<_>>>()?;
        Ok(Ensemble { config, members })
    }

    /// Scores raw rows `[n, input_dim]`: each member's score standardised by its training
    /// statistics, averaged over members, `[n]`.
    pub fn scores(&self, backend: &B, raw: &Matrix) -> Result<Vec<f64>> {
        if raw.cols != self.config.input_dim {
            return Err(Error::Shape(format!(
                "the ensemble takes rows of {} columns, got {}",
                self.config.input_dim, raw.cols
            )));
        }
        let mut total = vec![0.0; raw.rows];
        for ((model, saved), record) in self.members.iter().zip(&self.config.members) {
            let s = member_scores(backend, model, saved, &record.plan.columns, raw)?;
            for (t, v) in total.iter_mut().zip(s) {
                *t += (v - record.score_mean) / record.score_sd;
            }
        }
        let m = self.members.len() as f64;
        Ok(total.into_iter().map(|t| t / m).collect())
    }
}

impl<B: Backend> Ensemble<B> {
    /// The squared reconstruction error of each column of raw rows `[n, input_dim]`, in
    /// normalised units, by the first member (which reads every column; columns a member
    /// does not read are 0): what each feature adds to its score, `[n, input_dim]`.
    pub fn feature_errors(&self, backend: &B, raw: &Matrix) -> Result<Matrix> {
        let ((model, saved), record) = (&self.members[0], &self.config.members[0]);
        let columns = &record.plan.columns;
        let mut x = select_columns(raw, columns);
        if let Some(stats) = &saved.normalization {
            stats.apply(&mut x)?;
        }
        let recon = model.map_rows(backend, &x, Output::Reconstruction)?;
        let errors = anomaly::feature_errors(&x, &recon)?;
        let mut out = Matrix::zeros(raw.rows, raw.cols);
        for r in 0..x.rows {
            for (j, &c) in columns.iter().enumerate() {
                out.data[r * raw.cols + c] = errors.row(r)[j];
            }
        }
        Ok(out)
    }

    /// The `k` highest of `scores` (one per row of `rows`, raw) with their
    /// [`Ensemble::feature_errors`], highest first; only those rows are read again.
    pub fn top_rows(
        &self,
        backend: &B,
        rows: &dyn RowSource,
        scores: &[f64],
        k: usize,
    ) -> Result<Vec<anomaly::TopRow>> {
        let order = anomaly::highest(scores, k);
        let ids: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let errors = self.feature_errors(backend, &rows.gather(&ids)?)?;
        Ok(anomaly::TopRow::of(&order, scores, &errors))
    }
}

/// A member's scores on raw rows: its columns, its normalisation, its reconstruction error.
fn member_scores<B: Backend>(
    backend: &B,
    model: &Autoencoder<B>,
    saved: &SavedConfig,
    columns: &[usize],
    raw: &Matrix,
) -> Result<Vec<f64>> {
    let mut x = select_columns(raw, columns);
    if let Some(stats) = &saved.normalization {
        stats.apply(&mut x)?;
    }
    let recon = model.map_rows(backend, &x, Output::Reconstruction)?;
    anomaly::row_errors(&x, &recon)
}

/// What [`train_ensemble`] did.
pub struct TrainedEnsemble<B: Backend> {
    /// The ensemble, loaded.
    pub ensemble: Ensemble<B>,
    /// Where it was saved (none: kept in memory only).
    pub dir: Option<PathBuf>,
}

/// A standard deviation floored so that dividing by it stays finite: at least `1e-12` times the
/// mean's magnitude, and above 0.
fn floored_sd(sd: f64, mean: f64) -> f64 {
    sd.max(1e-12 * mean.abs()).max(f64::MIN_POSITIVE)
}

/// Trains one member per plan on `source`'s rows (each reads its columns; `settings` gives
/// everything but the architecture and trainer settings, which come from `recipe`), saves each
/// into `out/member-K/` (with `out`), measures each member's scores on every row of `source`, and writes the
/// ensemble's `config.json` there (with a threshold flagging `contamination` of the training rows).
/// A member whose training diverges or whose scores are not finite is dropped, with `warn`
/// told why; when every member is, the error says so.
#[allow(clippy::too_many_arguments)]
pub fn train_ensemble<B: Backend>(
    backend: &B,
    source: &dyn RowSource,
    recipe: &AnomalyPreset,
    plans: &[MemberPlan],
    base: &TrainSettings,
    out: Option<&Path>,
    warn: &mut dyn FnMut(&str),
    on_member: &mut dyn FnMut(usize, usize),
) -> Result<TrainedEnsemble<B>> {
    if let Some(c) = base.contamination {
        if !(c > 0.0 && c <= 0.5) {
            return Err(Error::Config(format!(
                "contamination must be in (0, 0.5], got {c}"
            )));
        }
    }
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    let mut kept: Vec<(MemberRecord, Autoencoder<B>, SavedConfig)> = Vec::new();
    let mut dropped = Vec::new();
    for (m, plan) in plans.iter().enumerate() {
        on_member(m, plans.len());
        let dir_name = format!("member-{m}");
        let columns = Columns {
            inner: source,
            columns: &plan.columns,
        };
        let settings = TrainSettings {
            model: recipe.model_config(plan)?,
            train: recipe.train_config(plan),
            normalization: recipe.normalization,
            val_split: recipe.val_split,
            contamination: None,
            output_from_data: false,
            jump_init_threshold: None,
            input: None,
            resume: false,
            ..base.clone()
        };
        // Saved once at the end: per-epoch checkpoints and resume state would cost a synced
        // write per epoch per member.
        let trained = train_source(backend, &columns, &settings, None, &mut |_| Ok(()));
        let trained = match trained {
            Err(Error::Diverged(reason)) => {
                warn(&format!("member {m} diverged and is left out: {reason}"));
                dropped.push(DroppedMember { member: m, reason });
                continue;
            }
            other => other?,
        };
        let (mut sum, mut squares, mut finite) = (0.0, 0.0, true);
        for start in (0..source.rows()).step_by(CHUNK_ROWS) {
            let raw = source.read(start, CHUNK_ROWS.min(source.rows() - start))?;
            let s = member_scores(backend, &trained.model, &trained.saved, &plan.columns, &raw)?;
            finite &= s.iter().all(|v| v.is_finite());
            sum += s.iter().sum::<f64>();
            squares += s.iter().map(|v| v * v).sum::<f64>();
        }
        let n = source.rows().max(1) as f64;
        let mean = sum / n;
        let sd = (squares / n - mean * mean).max(0.0).sqrt();
        if !finite || !mean.is_finite() {
            let reason = "its scores on the training rows are not finite".to_string();
            warn(&format!("member {m} is left out: {reason}"));
            dropped.push(DroppedMember { member: m, reason });
            continue;
        }
        if let Some(out) = out {
            checkpoint::save(
                &out.join(&dir_name),
                backend,
                &trained.model,
                &trained.saved,
            )?;
        }
        let record = MemberRecord {
            dir: dir_name,
            plan: plan.clone(),
            score_mean: mean,
            score_sd: floored_sd(sd, mean),
            best_epoch: trained.report.best_epoch,
            stopped_early: trained.report.stopped_early,
        };
        kept.push((record, trained.model, trained.saved));
    }
    if kept.is_empty() {
        return Err(Error::Diverged(format!(
            "every member of the ensemble diverged ({}); try a lower --lr",
            dropped
                .iter()
                .map(|d| format!("member {}: {}", d.member, d.reason))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let (records, members): (Vec<_>, Vec<_>) = kept
        .into_iter()
        .map(|(r, model, saved)| (r, (model, saved)))
        .unzip();
    let mut ensemble = Ensemble {
        config: EnsembleConfig {
            format: FORMAT.into(),
            version: 1,
            input_dim: source.cols(),
            input: base.input.clone().filter(|i| !i.is_whole()),
            recipe: recipe.clone(),
            members: records,
            dropped,
            contamination: base.contamination,
            anomaly_threshold: None,
        },
        members,
    };
    if let Some(c) = base.contamination {
        let mut scores = Vec::with_capacity(source.rows());
        for start in (0..source.rows()).step_by(CHUNK_ROWS) {
            let raw = source.read(start, CHUNK_ROWS.min(source.rows() - start))?;
            scores.extend(ensemble.scores(backend, &raw)?);
        }
        ensemble.config.anomaly_threshold = Some(anomaly::threshold(&scores, c)?);
    }
    if let Some(out) = out {
        let json =
            serde_json::to_vec_pretty(&ensemble.config).expect("an ensemble config serialises");
        ae_core::atomic::write_atomic(&out.join(checkpoint::CONFIG_FILE), &json)?;
    }
    Ok(TrainedEnsemble {
        ensemble,
        dir: out.map(Path::to_path_buf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_core::data::normalize::Normalization;
    use ae_core::data::MatrixSource;
    use ae_core::{ModelConfig, TrainConfig};
    use ae_cpu::CpuBackend;

    /// 300 rows near a line in 6-D (the last column constant), the first 10 far off it.
    fn table() -> Matrix {
        let mut rng = ae_core::rng::Rng::new(3);
        let data = (0..300)
            .flat_map(|i| {
                let t = rng.normal() as f32;
                let off = if i < 10 { 6.0 } else { 0.0 };
                let mut row: Vec<f32> = (0..5)
                    .map(|j| t * (j as f32 + 1.0) + 0.05 * rng.normal() as f32)
                    .collect();
                row[2] += off;
                row.push(7.0);
                row
            })
            .collect();
        Matrix::new(300, 6, data).unwrap()
    }

    fn base() -> TrainSettings {
        TrainSettings {
            normalization: Normalization::Robust,
            val_split: 0.2,
            contamination: Some(0.05),
            ..TrainSettings::new(
                ModelConfig::mirrored(&[6, 2]).unwrap(),
                TrainConfig::default(),
            )
        }
    }

    fn quick() -> AnomalyPreset {
        AnomalyPreset {
            members: 4,
            ..AnomalyPreset::default()
        }
    }

    #[test]
    fn an_ensemble_saves_loads_and_scores_the_planted_rows_highest() {
        let cpu = CpuBackend::<f32>::new();
        let x = table();
        let source = MatrixSource::borrowed("table", &x);
        let dir = tempfile::tempdir().unwrap();
        let recipe = quick();
        let plans = recipe.plan(6);
        let trained = train_ensemble(
            &cpu,
            &source,
            &recipe,
            &plans,
            &base(),
            Some(dir.path()),
            &mut |w| panic!("{w}"),
            &mut |_, _| {},
        )
        .unwrap();
        assert!(is_ensemble(dir.path()));
        assert!(!is_ensemble(&dir.path().join("member-0")));
        let scores = trained.ensemble.scores(&cpu, &x).unwrap();
        // Standardised on the training rows: mean 0 over them.
        let mean = scores.iter().sum::<f64>() / 300.0;
        assert!(mean.abs() < 1e-6, "{mean}");
        let labels: Vec<bool> = (0..300).map(|i| i < 10).collect();
        let auc = ae_core::metrics::roc_auc(&scores, &labels).unwrap();
        assert!(auc > 0.95, "{auc}");
        let loaded = Ensemble::load(&cpu, dir.path()).unwrap();
        // serde_json reads a float back to within an ulp, not always to the bit.
        assert_eq!(loaded.config.members.len(), 4);
        for (a, b) in loaded
            .config
            .members
            .iter()
            .zip(&trained.ensemble.config.members)
        {
            assert_eq!((&a.plan, &a.dir), (&b.plan, &b.dir));
            assert!((a.score_mean - b.score_mean).abs() <= 1e-12 * b.score_mean.abs());
            assert!((a.score_sd - b.score_sd).abs() <= 1e-12 * b.score_sd);
        }
        assert_eq!(loaded.config.recipe, recipe);
        let again = loaded.scores(&cpu, &x).unwrap();
        assert!(again.iter().zip(&scores).all(|(a, b)| (a - b).abs() < 1e-9));
        // The threshold flags about 5% of the training rows.
        let t = loaded.config.anomaly_threshold.unwrap();
        let flagged = scores.iter().filter(|&&s| s > t).count();
        assert!((10..=20).contains(&flagged), "{flagged}");
        // The member's own column subset, and a constant column that divides by nothing.
        assert!(scores.iter().all(|s| s.is_finite()));
        assert!(loaded.scores(&cpu, &Matrix::zeros(2, 5)).is_err());
    }

    #[test]
    fn a_diverging_member_is_dropped_and_all_diverging_is_an_error() {
        let cpu = CpuBackend::<f32>::new();
        // A seventh column of 1e20: its squared error overflows f32, so a member reading it
        // diverges in its first epoch (raw inputs: no normalisation to tame it).
        let t = table();
        let data = (0..t.rows)
            .flat_map(|r| t.row(r).iter().copied().chain([1e20]).collect::<Vec<_>>())
            .collect();
        let x = Matrix::new(t.rows, 7, data).unwrap();
        let source = MatrixSource::borrowed("table", &x);
        let recipe = AnomalyPreset {
            normalization: Normalization::None,
            ..quick()
        };
        let plan = |columns: Vec<usize>, seed| MemberPlan {
            layers: vec![columns.len(), 3, 2],
            columns,
            seed,
        };
        let (good, bad) = (plan((0..6).collect(), 0), plan((0..7).collect(), 1));
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = Vec::new();
        let trained = train_ensemble(
            &cpu,
            &source,
            &recipe,
            &[good.clone(), bad.clone()],
            &base(),
            Some(&dir.path().join("one")),
            &mut |w| warnings.push(w.to_string()),
            &mut |_, _| {},
        )
        .unwrap();
        let config = &trained.ensemble.config;
        assert_eq!(config.members.len(), 1);
        assert_eq!(config.members[0].plan, good);
        assert_eq!(config.dropped.len(), 1);
        assert_eq!(config.dropped[0].member, 1);
        assert!(!dir.path().join("one/member-1").exists());
        assert!(
            warnings.len() == 1 && warnings[0].contains("member 1 diverged and is left out"),
            "{warnings:?}"
        );
        assert!(trained
            .ensemble
            .scores(&cpu, &x)
            .unwrap()
            .iter()
            .all(|s| s.is_finite()));
        let err = train_ensemble(
            &cpu,
            &source,
            &recipe,
            &[bad.clone(), bad],
            &base(),
            Some(&dir.path().join("all")),
            &mut |_| {},
            &mut |_, _| {},
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("every member of the ensemble diverged"),
            "{err}"
        );
        assert!(
            err.contains("member 0") && err.contains("member 1"),
            "{err}"
        );
        assert!(!dir.path().join("all").join("config.json").exists());
    }
}
