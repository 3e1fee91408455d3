//! `ae train --preset anomaly`: the anomaly recipe ([`ae::preset::AnomalyPreset`]) with the
//! flags given on top, trained as an ensemble ([`ae::workflow::ensemble`]).

use super::train_args::{PresetArg, TrainArgs};
use super::{open_device, print_result, GlobalArgs};
use ae::preset::AnomalyPreset;
use ae::workflow::ensemble::{self, DroppedMember, MemberRecord};
use ae::workflow::TrainSettings;
use ae::{Error, Job, Result};
use ae_core::data::RowSource;
use ae_core::{Backend, ModelConfig};
use std::fmt;
use std::path::PathBuf;

/// An error naming the first flag given that the preset's plain autoencoders have no use for:
/// a model or fit flag of `model`/`fit`, or one of `more` (`(given, flag)`).
pub fn refuse_flags(
    model: &super::train_args::ModelArgs,
    fit: &super::train_args::FitArgs,
    more: &[(bool, &str)],
) -> Result<()> {
    let refused = [
        (model.tied, "--tied"),
        (model.pre_bias, "--pre-bias"),
        (model.decoder.is_some(), "--decoder"),
        (model.code_activation.is_some(), "--code-activation"),
        (
            fit.optimizer != super::values::OptimizerArg::Adam,
            "--optimizer",
        ),
        (fit.loss != super::values::LossArg::Mse, "--loss"),
    ];
    match refused.iter().chain(more).find(|(given, _)| *given) {
        Some((_, flag)) => Err(Error::Config(format!(
            "--preset anomaly trains an ensemble of plain autoencoders (Adam, MSE) and does not \
             take {flag}"
        ))),
        None => Ok(()),
    }
}

/// The flags `ae train --preset` and `ae oneclass --preset` share.
pub struct PresetFlags<'a> {
    pub model: &'a super::train_args::ModelArgs,
    pub fit: &'a super::train_args::FitArgs,
    pub members: Option<usize>,
    pub layers: Option<&'a [usize]>,
    pub normalize: Option<super::values::NormalizeArg>,
}

/// The preset for `data` (its table or image recipe: [`AnomalyPreset::for_data`]) with the
/// flags given in place of its choices; an error for a flag it has no use for (`refused`
/// besides [`refuse_flags`]'), no members, or layers that do not start at the data's width.
pub fn preset_with(
    data: &dyn RowSource,
    flags: PresetFlags<'_>,
    refused: &[(bool, &str)],
) -> Result<AnomalyPreset> {
    let PresetFlags {
        model,
        fit,
        members,
        layers,
        normalize,
    } = flags;
    refuse_flags(model, fit, refused)?;
    let mut p = AnomalyPreset::for_data(data)?;
    if let Some(m) = members {
        if m == 0 {
            return Err(Error::Config("--members must be at least 1".into()));
        }
        p.members = m;
    }
    if let Some(layers) = layers {
        let cols = data.cols();
        if layers.first() != Some(&cols) {
            return Err(Error::Shape(format!(
                "{} has {cols} columns but --layers starts with {}",
                data.path().display(),
                layers.first().copied().unwrap_or(0)
            )));
        }
        ModelConfig::mirrored(layers)?;
        p.layers = Some(layers.to_vec());
    }
    p.activation = model.activation.map_or(p.activation, Into::into);
    p.output = model.output_activation.map_or(p.output, Into::into);
    p.normalization = normalize.map_or(p.normalization, Into::into);
    p.epochs = fit.epochs.unwrap_or(p.epochs);
    p.batch_size = fit.batch_size.unwrap_or(p.batch_size);
    p.lr = fit.lr;
    p.weight_decay = fit.weight_decay.unwrap_or(p.weight_decay);
    p.seed = fit.seed;
    Ok(p)
}

/// The preset with the flags of `ae train` that replace its choices.
pub fn recipe(args: &TrainArgs, data: &dyn RowSource) -> Result<AnomalyPreset> {
    let flags = PresetFlags {
        model: &args.model,
        fit: &args.fit,
        members: args.members,
        layers: args.layers.as_deref(),
        normalize: args.normalize,
    };
    let refused = [
        (args.sparsity.is_some(), "--sparsity"),
        (args.resume, "--resume"),
        (args.report.is_some(), "--report"),
        (args.colour_by.is_some(), "--colour-by"),
    ];
    let mut p = preset_with(data, flags, &refused)?;
    p.denoise = args.denoise.or(p.denoise);
    p.val_split = args.val_split.unwrap_or(p.val_split);
    p.patience = args.patience.unwrap_or(p.patience);
    Ok(p)
}

struct EnsembleJob<'a> {
    args: &'a TrainArgs,
    recipe: AnomalyPreset,
    data: Box<dyn RowSource>,
    input: ae_core::data::table::InputColumns,
    json: bool,
}

/// What `ae train --preset anomaly` prints.
#[derive(Debug, serde::Serialize)]
pub struct EnsembleOutput {
    /// `anomaly`.
    pub preset: String,
    /// The recipe in words.
    pub recipe: String,
    /// The members kept, each with its columns, widths and score statistics.
    pub members: Vec<MemberRecord>,
    /// The members left out, and why.
    pub dropped: Vec<DroppedMember>,
    /// The ensemble's directory.
    pub model_dir: PathBuf,
    /// The backend that trained it.
    pub backend: String,
    /// The threshold saved with `--contamination` (null without).
    pub anomaly_threshold: Option<f64>,
}

impl fmt::Display for EnsembleOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--preset {}: {}", self.preset, self.recipe)?;
        for m in &self.members {
            writeln!(
                f,
                "  {}: {} columns, layers {:?}, best epoch {}{}",
                m.dir,
                m.plan.columns.len(),
                m.plan.layers,
                m.best_epoch,
                if m.stopped_early {
                    " (stopped early)"
                } else {
                    ""
                }
            )?;
        }
        for d in &self.dropped {
            writeln!(f, "  member {} left out: {}", d.member, d.reason)?;
        }
        write!(
            f,
            "{} members saved in {}",
            self.members.len(),
            self.model_dir.display()
        )?;
        if let Some(t) = self.anomaly_threshold {
            write!(f, "\nanomaly threshold {t:.6} saved with the ensemble")?;
        }
        Ok(())
    }
}

impl Job for EnsembleJob<'_> {
    type Output = EnsembleOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<EnsembleOutput> {
        let plans = self.recipe.plan(self.data.cols());
        let base = TrainSettings {
            normalization: self.recipe.normalization,
            val_split: self.recipe.val_split,
            contamination: self.args.contamination,
            stream: self.args.stream,
            input: Some(self.input),
            ..TrainSettings::new(
                self.recipe.model_config(&plans[0])?,
                self.recipe.train_config(&plans[0]),
            )
        };
        let quiet = self.json;
        let trained = ensemble::train_ensemble(
            backend,
            self.data.as_ref(),
            &self.recipe,
            &plans,
            &base,
            Some(&self.args.out),
            &mut |w| eprintln!("warning: {w}"),
            &mut |m, n| {
                if !quiet {
                    eprintln!("training member {} of {n}", m + 1);
                }
            },
        )?;
        let config = trained.ensemble.config;
        Ok(EnsembleOutput {
            preset: "anomaly".into(),
            recipe: config.recipe.describe(),
            members: config.members,
            dropped: config.dropped,
            model_dir: self.args.out.clone(),
            backend: backend.name(),
            anomaly_threshold: config.anomaly_threshold,
        })
    }
}

pub fn run(g: &GlobalArgs, args: &TrainArgs, _preset: PresetArg) -> Result<()> {
    let table = args.input.open(&args.data)?;
    let recipe = recipe(args, table.source.as_ref())?;
    let device = open_device(g)?;
    let out = device.run(EnsembleJob {
        args,
        recipe,
        data: table.source,
        input: table.input,
        json: g.json,
    })?;
    print_result(g, &out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ae train --help` states the preset's defaults as the code has them.
    #[test]
    fn the_help_states_the_preset_s_defaults() {
        use clap::CommandFactory;
        let mut cmd = super::super::Cli::command();
        let train = cmd.find_subcommand_mut("train").unwrap();
        let help = train
            .get_arguments()
            .find(|a| a.get_id() == "preset")
            .and_then(|a| a.get_long_help().or(a.get_help()))
            .unwrap()
            .to_string();
        let p = AnomalyPreset::default();
        for said in [
            format!("{} members", p.members),
            format!(
                "{:.0}-{:.0}% of the columns",
                p.feature_fraction.0 * 100.0,
                p.feature_fraction.1 * 100.0
            ),
            format!(
                "{}-{}x its input (at most {})",
                p.hidden_ratio.0, p.hidden_ratio.1, p.max_hidden
            ),
            format!("{} normalisation", p.normalization),
            format!("Adam lr {:e} with weight decay {:e}", p.lr, p.weight_decay),
            format!("batch {}", p.batch_size),
            format!("up to {} epochs", p.epochs),
            format!("after {} without", p.patience),
            format!("{:.0}% held-out", p.val_split * 100.0),
        ] {
            assert!(
                help.contains(&said),
                "--preset's help lacks {said:?}: {help}"
            );
        }
        assert!(help.contains("tanh hidden layers"), "{help}");
        assert!(p.denoise.is_none() && p.activation == ae_core::Activation::Tanh);
    }
}
