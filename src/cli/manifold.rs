//! `ae manifold swiss-roll|s-curve`: PCA-2 and a 2-D-code autoencoder on the synthetic manifold,
//! their unrolling and trustworthiness, and one SVG of both codes coloured by the position along
//! the manifold ([`ae::workflow::manifold`]).

use super::values::ActivationArg;
use super::{open_device, print_result, GlobalArgs};
use ae::workflow::manifold::{self, Embedding, ManifoldSettings, Recipe};
use ae::{chart, Job, Result};
use ae_core::{Backend, SynthKind};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ManifoldArgs {
    /// The manifold: swiss-roll or s-curve (the points of `ae synth`, with their position).
    #[arg(value_enum)]
    pub kind: ManifoldKind,
    /// Where to write the figure (SVG): both codes side by side, coloured by the position.
    #[arg(long, default_value = "manifold.svg")]
    pub out: PathBuf,
    /// Points.
    #[arg(long, default_value_t = 2000)]
    pub points: usize,
    /// Seed of the points, the initialisation and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training epochs.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// The encoder's hidden widths (the decoder mirrors them); the code is 2-D.
    #[arg(long, value_delimiter = ',', default_value = "128,128")]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ActivationArg::Gelu)]
    pub activation: ActivationArg,
    /// How the autoencoder is regularised: geometry (the default: the reconstruction loss plus
    /// WEIGHT x the mean squared distance of each code to the point's Isomap embedding, computed
    /// here on the training points with --neighbours and scaled to unit variance per axis; the
    /// geometry-regularised autoencoder of Duque et al. 2020), contractive (--contractive-lambda
    /// times the encoder's mean squared Jacobian norm) or plain (the reconstruction loss alone).
    #[arg(long, value_enum, default_value_t = RecipeArg::Geometry)]
    pub recipe: RecipeArg,
    /// The geometry term's WEIGHT (--recipe geometry).
    #[arg(long, default_value_t = 1.0)]
    pub geometry_weight: f32,
    /// Isomap's neighbours (--recipe geometry).
    #[arg(long, default_value_t = 10)]
    pub neighbours: usize,
    /// The contractive coefficient (--recipe contractive).
    #[arg(long, default_value_t = 0.1)]
    pub contractive_lambda: f32,
}

/// The manifolds `ae manifold` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifoldKind {
    SwissRoll,
    SCurve,
}

/// `--recipe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecipeArg {
    Geometry,
    Contractive,
    Plain,
}

/// What `ae manifold` prints.
#[derive(Debug, serde::Serialize)]
pub struct ManifoldOutput {
    /// swiss-roll or s-curve.
    pub manifold: String,
    /// Points.
    pub points: usize,
    /// The autoencoder's settings.
    pub settings: ManifoldSettings,
    /// PCA-2: the largest |Spearman| of a direction of the code with the position.
    pub pca_unrolling: f64,
    /// PCA-2: trustworthiness at 10 neighbours.
    pub pca_trustworthiness: f64,
    /// The autoencoder's unrolling.
    pub ae_unrolling: f64,
    /// The autoencoder's trustworthiness at 10 neighbours.
    pub ae_trustworthiness: f64,
    /// The last epoch's reconstruction loss (standardised units).
    pub final_train_loss: f64,
    /// Seconds of training (the Isomap target included).
    pub train_seconds: f64,
    /// The figure.
    pub figure: PathBuf,
    /// The backend that trained.
    pub backend: String,
}

impl fmt::Display for ManifoldOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} points)", self.manifold, self.points)?;
        writeln!(
            f,
            "PCA-2:       unrolling {:.3}, trustworthiness {:.3}",
            self.pca_unrolling, self.pca_trustworthiness
        )?;
        writeln!(
            f,
            "autoencoder: unrolling {:.3}, trustworthiness {:.3} (final loss {:.5}, {:.1} s)",
            self.ae_unrolling, self.ae_trustworthiness, self.final_train_loss, self.train_seconds
        )?;
        write!(f, "figure: {}", self.figure.display())
    }
}

struct ManifoldJob<'a> {
    args: &'a ManifoldArgs,
    settings: ManifoldSettings,
}

impl Job for ManifoldJob<'_> {
    type Output = ManifoldOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<ManifoldOutput> {
        let r = manifold::run(backend, &self.settings)?;
        let name = self.settings.kind.name();
        let panel = |who: &str, e: &Embedding| {
            let points: Vec<(f64, f64)> = (0..e.code.rows)
                .map(|i| (e.code.row(i)[0] as f64, e.code.row(i)[1] as f64))
                .collect();
            let colour: Vec<f64> = r.position.iter().map(|&t| t as f64).collect();
            chart::scatter(
                &format!(
                    "{who}: unrolling {:.2}, trustworthiness {:.2}",
                    e.unrolling.correlation, e.trustworthiness
                ),
                "code 1",
                "code 2",
                &points,
                &colour,
                false,
            )
        };
        let figure = chart::side_by_side(
            &format!("{name}: PCA-2 and the autoencoder's 2-D code, coloured by the position"),
            &[panel("PCA-2", &r.pca)?, panel("autoencoder", &r.ae)?],
        )?;
        figure.save(&self.args.out)?;
        Ok(ManifoldOutput {
            manifold: name.to_string(),
            points: self.settings.points,
            pca_unrolling: r.pca.unrolling.correlation,
            pca_trustworthiness: r.pca.trustworthiness,
            ae_unrolling: r.ae.unrolling.correlation,
            ae_trustworthiness: r.ae.trustworthiness,
            final_train_loss: r.final_train_loss,
            train_seconds: r.train_seconds,
            figure: self.args.out.clone(),
            backend: backend.name(),
            settings: self.settings,
        })
    }
}

pub fn run(g: &GlobalArgs, args: ManifoldArgs) -> Result<()> {
    let kind = match args.kind {
        ManifoldKind::SwissRoll => SynthKind::SwissRoll,
        ManifoldKind::SCurve => SynthKind::SCurve,
    };
    for (flag, v) in [
        ("--geometry-weight", args.geometry_weight),
        ("--contractive-lambda", args.contractive_lambda),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ae::Error::Config(format!(
                "{flag} must be finite and >= 0, got {v}"
            )));
        }
    }
    if args.hidden.is_empty() || args.hidden.contains(&0) {
        return Err(ae::Error::Config(format!(
            "--hidden needs positive widths, got {:?}",
            args.hidden
        )));
    }
    let settings = ManifoldSettings {
        points: args.points,
        seed: args.seed,
        hidden: args.hidden.clone(),
        activation: args.activation.into(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        recipe: match args.recipe {
            RecipeArg::Geometry => Recipe::Geometry {
                weight: args.geometry_weight,
                neighbours: args.neighbours,
            },
            RecipeArg::Contractive => Recipe::Contractive {
                lambda: args.contractive_lambda,
            },
            RecipeArg::Plain => Recipe::Plain,
        },
        ..ManifoldSettings::new(kind)
    };
    let device = open_device(g)?;
    let out = device.run(ManifoldJob {
        args: &args,
        settings,
    })?;
    print_result(g, &out);
    Ok(())
}
