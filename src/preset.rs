//! `--preset anomaly`: a recipe for anomaly detection on a table of any width, without tuning.
//! An ensemble of small autoencoders (after RandNet, Chen et al. 2017): each member sees a
//! random subset of the columns, has its own seed and width, a 2-unit bottleneck (1 for a
//! member of 2 columns: never as wide as its input), identity output, standardised inputs, and stops early on held-out
//! training rows; the members' scores are standardised on the training rows and averaged
//! ([`crate::workflow::ensemble`]).
//!
//! ```
//! use ae::preset::AnomalyPreset;
//! let preset = AnomalyPreset::default();
//! let plans = preset.plan(30);
//! assert_eq!(plans.len(), preset.members);
//! assert_eq!(plans[0].columns.len(), 30); // the first member sees every column
//! assert!(plans.iter().all(|p| p.layers.last() < p.layers.first()));
//! ```

use ae_core::data::normalize::{NormStats, Normalization};
use ae_core::data::RowSource;
use ae_core::rng::Rng;
use ae_core::{
    Activation, LrSchedule, ModelConfig, Noise, OptimizerConfig, OptimizerKind, Result, TrainConfig,
};

/// Every choice of the recipe; saved in the ensemble's `config.json`. Explicit `ae train` flags
/// replace the fields they name.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalyPreset {
    /// Autoencoders in the ensemble.
    pub members: usize,
    /// Each member but the first sees a random subset of this fraction of the columns, drawn
    /// uniformly from the range (the first sees them all).
    pub feature_fraction: (f64, f64),
    /// A member's hidden width is this multiple of its input width, drawn uniformly from the
    /// range (the first member: the range's middle), at most [`max_hidden`](Self::max_hidden).
    pub hidden_ratio: (f64, f64),
    /// The widest hidden layer.
    pub max_hidden: usize,
    /// A member's code units, at most its input width less one. 2, by measurement: on the six
    /// tables of `scripts/pyod_compare.py` it gave a mean ROC AUC of 0.816 against 0.781 for
    /// `round(sqrt(input))`, 0.797 for 1 and 0.789 for 3 (split seeds 0-2), and 0.835 against
    /// 0.809 for `round(sqrt(input))` on split seeds 3-5, which chose nothing. `None` (a preset
    /// saved before it was a choice): `round(sqrt(input))` ([`code_width`]).
    #[serde(default)]
    pub code: Option<usize>,
    /// Fixed widths `[input, hidden..., code]` for every member instead (`--layers`): then
    /// every member sees every column.
    pub layers: Option<Vec<usize>>,
    /// Input normalisation, fitted on each member's training rows. Standard, by measurement:
    /// on the six tables of `scripts/pyod_compare.py` (3 splits each) robust normalisation gave
    /// a mean ROC AUC of 0.761 against standard's 0.781 (tanh hidden layers).
    pub normalization: Normalization,
    /// Hidden activation (tanh: 0.781 against ReLU's 0.740 there, standardised).
    pub activation: Activation,
    /// Output activation: identity for standardised tables; sigmoid where the data already lie
    /// in [0, 1] ([`AnomalyPreset::fit_to_unit_range`]).
    #[serde(default = "identity")]
    pub output: Activation,
    /// Most epochs; early stopping usually ends a member first.
    pub epochs: usize,
    /// Epochs without a better held-out loss before a member stops (its best weights kept).
    pub patience: usize,
    /// Fraction of the training rows held out for early stopping.
    pub val_split: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// Denoising corruption of the inputs, if any.
    pub denoise: Option<Noise>,
    /// Seed of the first member (member `m` uses `seed + m`) and of the subsets.
    pub seed: u64,
}

impl Default for AnomalyPreset {
    fn default() -> Self {
        AnomalyPreset {
            members: 10,
            feature_fraction: (0.5, 1.0),
            hidden_ratio: (0.5, 1.0),
            max_hidden: 64,
            code: Some(2),
            layers: None,
            normalization: Normalization::Standard,
            activation: Activation::Tanh,
            output: Activation::Identity,
            epochs: 200,
            patience: 10,
            val_split: 0.2,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 1e-4,
            denoise: None,
            seed: 0,
        }
    }
}

/// The output activation of a preset saved before it was a choice.
fn identity() -> Activation {
    Activation::Identity
}

/// What one member trains on: the columns it reads (of the table's, in order) and its widths.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberPlan {
    /// Columns of the input, counted from 0, ascending.
    pub columns: Vec<usize>,
    /// `[columns.len(), hidden, code]` (or the fixed `--layers`).
    pub layers: Vec<usize>,
    /// Its initialisation and shuffling seed.
    pub seed: u64,
}

/// The bottleneck of a member reading `d` columns: `round(sqrt(d))`, at least 1 and, above one
/// column, narrower than `d`.
pub fn code_width(d: usize) -> usize {
    let c = (d as f64).sqrt().round() as usize;
    c.clamp(1, d.saturating_sub(1).max(1))
}

/// Columns from which data in [0, 1] are taken for images ([`AnomalyPreset::for_data`]).
pub const UNIT_RANGE_MIN_COLUMNS: usize = 100;

/// Whether every value of `source` lies in [0, 1] (one pass over its rows, a chunk at a time).
pub fn lies_in_unit_range(source: &dyn RowSource) -> Result<bool> {
    let all: Vec<u32> = (0..source.rows() as u32).collect();
    let (stats, range) = NormStats::fit_source_with_range(Normalization::None, source, &all)?;
    let (lo, hi) = stats.normalised_bounds(&range);
    Ok(lo >= 0.0 && hi <= 1.0)
}

impl AnomalyPreset {
    /// The recipe for `data`: the image recipe ([`AnomalyPreset::fit_to_unit_range`]) where it
    /// has at least [`UNIT_RANGE_MIN_COLUMNS`] columns and every value lies in [0, 1] (one pass
    /// over the rows, only for data that wide), else the table recipe (the default).
    pub fn for_data(data: &dyn RowSource) -> Result<Self> {
        let mut p = AnomalyPreset::default();
        if data.cols() >= UNIT_RANGE_MIN_COLUMNS && lies_in_unit_range(data)? {
            p.fit_to_unit_range(data.cols());
        }
        Ok(p)
    }

    /// The recipe for wide data that already lie in [0, 1] (images' pixels), measured on MNIST
    /// one-class (`docs/anomaly-tables.md`): no normalisation (standardising gives a rarely lit
    /// pixel the weight of the others), a sigmoid output, ReLU hidden layers, and 5 members that
    /// differ by seed only, each `[d, min(512, d), min(16, round(sqrt d))]` on every column.
    pub fn fit_to_unit_range(&mut self, d: usize) {
        self.members = 5;
        self.normalization = Normalization::None;
        self.output = Activation::Sigmoid;
        self.activation = Activation::Relu;
        self.layers = Some(vec![d, d.min(512), code_width(d).min(16)]);
    }

    /// The members' plans for a table of `d` columns: seeded, so the same preset gives the same
    /// plans.
    pub fn plan(&self, d: usize) -> Vec<MemberPlan> {
        let mut rng = Rng::new(self.seed ^ 0x0072_616e_646e_6574);
        (0..self.members)
            .map(|m| {
                let seed = self.seed + m as u64;
                if let Some(layers) = &self.layers {
                    return MemberPlan {
                        columns: (0..d).collect(),
                        layers: layers.clone(),
                        seed,
                    };
                }
                let (f, r) = match m {
                    0 => (1.0, (self.hidden_ratio.0 + self.hidden_ratio.1) / 2.0),
                    _ => (
                        rng.uniform_in(self.feature_fraction.0, self.feature_fraction.1),
                        rng.uniform_in(self.hidden_ratio.0, self.hidden_ratio.1),
                    ),
                };
                let count = ((f * d as f64).round() as usize).clamp(d.min(2), d);
                let mut columns = rng.permutation(d);
                columns.truncate(count);
                columns.sort_unstable();
                let code = self.member_code(count);
                let hidden =
                    ((r * count as f64).ceil() as usize).clamp(code, self.max_hidden.max(code));
                MemberPlan {
                    columns,
                    layers: vec![count, hidden, code],
                    seed,
                }
            })
            .collect()
    }

    /// The code units of a member reading `count` columns: [`AnomalyPreset::code`] (or
    /// [`code_width`] without one), at least 1 and, above one column, below `count`.
    pub fn member_code(&self, count: usize) -> usize {
        match self.code {
            Some(c) => c.clamp(1, count.saturating_sub(1).max(1)),
            None => code_width(count),
        }
    }

    /// The architecture of a member: mirrored, the hidden activation, identity code, the output
    /// activation.
    pub fn model_config(&self, plan: &MemberPlan) -> Result<ModelConfig> {
        ModelConfig::mirrored(&plan.layers)?.with_activations(
            self.activation,
            Activation::Identity,
            self.output,
        )
    }

    /// The trainer settings of a member.
    pub fn train_config(&self, plan: &MemberPlan) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: plan.seed,
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Adam,
                lr: self.lr,
                weight_decay: self.weight_decay,
                ..OptimizerConfig::default()
            },
            schedule: LrSchedule::Constant,
            early_stopping_patience: Some(self.patience),
            noise: self.denoise,
            ..TrainConfig::default()
        }
    }

    /// The recipe in one line, for `--help` and the run's output.
    pub fn describe(&self) -> String {
        let members = match &self.layers {
            Some(layers) => format!(
                "{} members of layers {layers:?} on every column, differing by seed",
                self.members
            ),
            None => format!(
                "{} members; each but the first on a random {:.0}-{:.0}% of the columns; hidden \
                 width {}-{}x the input (at most {}), {}",
                self.members,
                self.feature_fraction.0 * 100.0,
                self.feature_fraction.1 * 100.0,
                self.hidden_ratio.0,
                self.hidden_ratio.1,
                self.max_hidden,
                match self.code {
                    Some(c) => format!("code {c} (narrower than the input)"),
                    None => "code round(sqrt(input))".to_string(),
                },
            ),
        };
        format!(
            "{members}; {} normalisation; {} hidden, identity code, {} output; Adam lr {}, weight \
             decay {}{}; batch {}; up to {} epochs, stopping after {} without a better loss on \
             {:.0}% held-out rows; scores standardised on the training rows and averaged",
            self.normalization,
            self.activation.name(),
            self.output.name(),
            self.lr,
            self.weight_decay,
            self.denoise
                .map_or(String::new(), |n| format!(", denoising {n}")),
            self.batch_size,
            self.epochs,
            self.patience,
            self.val_split * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_core::data::MatrixSource;
    use ae_core::Matrix;

    #[test]
    fn wide_data_in_the_unit_range_take_the_image_recipe() {
        let pixels = Matrix::new(2, 3, vec![0.0, 0.5, 1.0, 0.25, 0.0, 1.0]).unwrap();
        assert!(lies_in_unit_range(&MatrixSource::new("pixels", pixels)).unwrap());
        let table = Matrix::new(2, 3, vec![0.0, 0.5, 1.0, -0.25, 0.0, 1.0]).unwrap();
        assert!(!lies_in_unit_range(&MatrixSource::new("table", table)).unwrap());
        let wide = Matrix::new(1, 2, vec![0.0, 1.5]).unwrap();
        assert!(!lies_in_unit_range(&MatrixSource::new("wide", wide)).unwrap());

        let mut images = AnomalyPreset::default();
        images.fit_to_unit_range(784);
        assert_eq!(images.layers, Some(vec![784, 512, 16]));
        assert_eq!(
            (
                images.normalization,
                images.output,
                images.activation,
                images.members
            ),
            (
                Normalization::None,
                Activation::Sigmoid,
                Activation::Relu,
                5
            )
        );
        let plans = images.plan(784);
        assert!(plans
            .iter()
            .all(|p| p.columns.len() == 784 && p.layers == [784, 512, 16]));
        let config = images.model_config(&plans[0]).unwrap();
        assert_eq!(config.activations.last(), Some(&Activation::Sigmoid));
        assert!(images.describe().contains("[784, 512, 16] on every column"));
        assert!(images.describe().contains("sigmoid output"));
        // Wide data in [0, 1] take it; a narrow table in [0, 1], or wide data outside, do not.
        let source = |cols: usize, value: f32| {
            MatrixSource::new("x", Matrix::new(2, cols, vec![value; 2 * cols]).unwrap())
        };
        let wide_pixels = AnomalyPreset::for_data(&source(UNIT_RANGE_MIN_COLUMNS, 0.5)).unwrap();
        assert_eq!(
            wide_pixels.layers.as_ref().map(|l| l[0]),
            Some(UNIT_RANGE_MIN_COLUMNS)
        );
        for (cols, value) in [
            (UNIT_RANGE_MIN_COLUMNS - 1, 0.5),
            (UNIT_RANGE_MIN_COLUMNS, 2.0),
        ] {
            let p = AnomalyPreset::for_data(&source(cols, value)).unwrap();
            assert_eq!(p, AnomalyPreset::default(), "{cols} columns of {value}");
        }
    }

    #[test]
    fn the_code_is_narrower_than_the_input_at_every_width() {
        assert_eq!(code_width(1), 1);
        assert_eq!(code_width(2), 1);
        assert_eq!(code_width(4), 2);
        assert_eq!(code_width(30), 5);
        assert_eq!(code_width(784), 28);
        for d in 2..200 {
            assert!(code_width(d) < d, "{d}");
        }
    }

    #[test]
    fn members_have_the_presets_code_below_their_width() {
        let preset = AnomalyPreset::default();
        assert_eq!(preset.code, Some(2));
        assert_eq!([1, 2, 3, 64].map(|d| preset.member_code(d)), [1, 1, 2, 2]);
        assert!(preset.plan(64).iter().all(|p| p.layers[2] == 2));
        assert!(preset.describe().contains("code 2"));
        // A preset saved without the field keeps round(sqrt(input)).
        let mut json = serde_json::to_value(&preset).unwrap();
        json.as_object_mut().unwrap().remove("code");
        let old: AnomalyPreset = serde_json::from_value(json).unwrap();
        assert_eq!((old.code, old.member_code(64)), (None, 8));
    }

    #[test]
    fn plans_are_seeded_subsets_with_narrow_codes() {
        let preset = AnomalyPreset::default();
        for d in [1, 2, 3, 6, 30, 784] {
            let plans = preset.plan(d);
            assert_eq!(plans, preset.plan(d));
            assert_eq!(plans[0].columns, (0..d).collect::<Vec<_>>());
            for p in &plans {
                assert_eq!(p.layers[0], p.columns.len());
                assert!(
                    p.columns.windows(2).all(|w| w[0] < w[1]) && p.columns.iter().all(|&c| c < d)
                );
                assert!(p.columns.len() * 2 >= d, "{d}: {p:?}");
                assert!(
                    p.layers[2] <= p.layers[1] && p.layers[1] <= preset.max_hidden.max(p.layers[2])
                );
                assert!(d == 1 || p.layers[2] < p.layers[0], "{d}: {p:?}");
                preset.model_config(p).unwrap();
            }
            let seeds: Vec<u64> = plans.iter().map(|p| p.seed).collect();
            assert_eq!(seeds, (0..10).collect::<Vec<_>>());
        }
        // Different members see different columns.
        let plans = preset.plan(30);
        assert!(plans[1..].iter().any(|p| p.columns != plans[1].columns));
        // Fixed widths: every member sees every column.
        let fixed = AnomalyPreset {
            layers: Some(vec![30, 8, 3]),
            ..AnomalyPreset::default()
        };
        assert!(fixed
            .plan(30)
            .iter()
            .all(|p| p.layers == [30, 8, 3] && p.columns.len() == 30));
    }
}
