//! `ae demo`: the main job. Trains a 784-512-128-32 autoencoder and PCA-32 on the bundled
//! MNIST-10k (first 8,000 digits to train, last 2,000 to test), prints both test MSEs, and writes
//! a PNG of originals over reconstructions and the trained model; then an anomaly run (digit 0
//! normal, the rest anomalies) with the autoencoder's ROC AUC beside PCA's.

use super::progress::TrainProgress;
use super::{open_device, print_result, GlobalArgs};
use ae::workflow::{self, TrainSettings};
use ae::{picture, Job, Matrix, Result};
use ae_core::data::MatrixSource;
use ae_core::{
    data, Activation, Backend, Loss, LrSchedule, ModelConfig, OptimizerConfig, Output, Pca,
    TrainConfig,
};
use clap::Args;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write reconstructions.png and model/.
    #[arg(long, default_value = "ae-demo")]
    pub out: PathBuf,
    /// Training epochs.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// Seed for initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The MNIST images file (default: the bundled data/mnist-10k); the labels are read from
    /// labels-idx1-ubyte.gz beside it.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Rows used for training; the rest are the test set.
const TRAIN_ROWS: usize = 8000;
const CODE: usize = 32;

/// The digit used as the normal class in the demo's anomaly run.
const NORMAL_DIGIT: i64 = 0;

struct DemoJob<'a> {
    args: &'a DemoArgs,
    train: Matrix,
    test: Matrix,
    /// Labels of the training and test digits.
    labels: (Vec<i64>, Vec<i64>),
    json: bool,
}

/// What `ae demo` prints: both test MSEs, the anomaly run's ROC AUCs, where the files went.
#[derive(Debug, serde::Serialize)]
pub struct DemoOutput {
    /// The autoencoder's test MSE.
    pub ae_test_mse: f64,
    /// PCA's test MSE at the same code size.
    pub pca_test_mse: f64,
    /// `ae_test_mse / pca_test_mse`.
    pub ratio: f64,
    /// The code size.
    pub code: usize,
    /// Training epochs.
    pub epochs: usize,
    /// The last epoch's training loss.
    pub final_train_loss: f64,
    /// Wall time of the training.
    pub train_seconds: f64,
    /// Wall time of the whole job (training, PCA, the anomaly run, the picture).
    pub seconds: f64,
    /// Originals over autoencoder over PCA reconstructions.
    pub png: PathBuf,
    /// The digit that is normal in the anomaly run.
    pub anomaly_normal_digit: i64,
    /// The anomaly run's ROC AUC, autoencoder.
    pub anomaly_roc_auc_ae: f64,
    /// The anomaly run's ROC AUC, PCA.
    pub anomaly_roc_auc_pca: f64,
    /// The trained model.
    pub model_dir: PathBuf,
    /// The backend.
    pub backend: String,
}

impl fmt::Display for DemoOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "test MSE at {} dimensions:", self.code)?;
        writeln!(f, "  autoencoder  {:.5}", self.ae_test_mse)?;
        writeln!(f, "  PCA          {:.5}", self.pca_test_mse)?;
        writeln!(f, "  ratio        {:.3} (autoencoder / PCA)", self.ratio)?;
        writeln!(
            f,
            "trained in {:.1} s; originals over autoencoder over PCA reconstructions: {}",
            self.train_seconds,
            self.png.display()
        )?;
        writeln!(f, "model: {}", self.model_dir.display())?;
        writeln!(
            f,
            "anomaly detection, digit {} normal and the rest anomalies (784-128-16 vs PCA-16):",
            self.anomaly_normal_digit
        )?;
        writeln!(f, "  ROC AUC autoencoder {:.4}", self.anomaly_roc_auc_ae)?;
        write!(f, "  ROC AUC PCA         {:.4}", self.anomaly_roc_auc_pca)
    }
}

impl Job for DemoJob<'_> {
    type Output = DemoOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<DemoOutput> {
        let started = Instant::now();
        let model = ModelConfig::mirrored(&[self.train.cols, 512, 128, CODE])?.with_activations(
            Activation::Relu,
            Activation::Identity,
            Activation::Sigmoid,
        )?;
        let train_cfg = TrainConfig {
            epochs: self.args.epochs,
            batch_size: 128,
            seed: self.args.seed,
            loss: Loss::Mse,
            optimizer: OptimizerConfig {
                lr: 2e-3,
                ..OptimizerConfig::default()
            },
            schedule: LrSchedule::WarmupCosine {
                warmup_steps: 200,
                final_fraction: 0.01,
            },
            early_stopping_patience: None,
            ..TrainConfig::default()
        };
        let settings = TrainSettings::new(model, train_cfg);
        let model_dir = self.args.out.join("model");
        let mut progress = TrainProgress::new(&settings.train, self.train.rows, 0.0, self.json);
        let trained = workflow::train_model(
            backend,
            &self.train,
            &settings,
            Some(&model_dir),
            &mut |e| progress.update(e),
        );
        progress.finish();
        let trained = trained?;
        let train_seconds = started.elapsed().as_secs_f64();
        let ae_recon = trained
            .model
            .map_rows(backend, &self.test, Output::Reconstruction)?;
        let ae_mse = self.test.mse(&ae_recon)?;
        let pca = Pca::fit(&self.train, CODE)?;
        let pca_recon = pca.reconstruct(&self.test)?;
        let pca_mse = self.test.mse(&pca_recon)?;
        // Anomaly detection: digit 0 is normal, every other digit an anomaly.
        let one_class_settings = TrainSettings::new(
            ModelConfig::mirrored(&[self.train.cols, 128, 16])?,
            TrainConfig {
                epochs: 100,
                batch_size: 64,
                seed: self.args.seed,
                ..TrainConfig::default()
            },
        );
        let (train, test) = (
            MatrixSource::borrowed("the training digits", &self.train),
            MatrixSource::borrowed("the test digits", &self.test),
        );
        let anomaly = ae::workflow::one_class(
            backend,
            (&train, &self.labels.0),
            (&test, &self.labels.1),
            NORMAL_DIGIT,
            &one_class_settings,
            ae::anomaly::ElboScoring::default(),
        )?;
        let png = self.args.out.join("reconstructions.png");
        let grid = picture::image_grid(&[&self.test, &ae_recon, &pca_recon], 16, 2)?;
        picture::save_png(&grid, &png)?;
        Ok(DemoOutput {
            ae_test_mse: ae_mse,
            pca_test_mse: pca_mse,
            ratio: ae_mse / pca_mse,
            code: CODE,
            epochs: self.args.epochs,
            final_train_loss: trained.report.last().train_loss,
            train_seconds,
            seconds: started.elapsed().as_secs_f64(),
            png,
            anomaly_normal_digit: NORMAL_DIGIT,
            anomaly_roc_auc_ae: anomaly.roc_auc_ae,
            anomaly_roc_auc_pca: anomaly.roc_auc_pca,
            model_dir,
            backend: backend.name(),
        })
    }
}

pub fn run(g: &GlobalArgs, args: DemoArgs) -> Result<()> {
    let path = args
        .data
        .clone()
        .unwrap_or_else(|| workflow::bundled_mnist("images-idx3-ubyte.gz"));
    let images = data::load_matrix(&path)?;
    if images.rows <= TRAIN_ROWS {
        return Err(ae::Error::Shape(format!(
            "{} has {} rows; the demo needs more than {TRAIN_ROWS}",
            path.display(),
            images.rows
        )));
    }
    let labels_path = path.with_file_name("labels-idx1-ubyte.gz");
    let labels = data::load_labels(&labels_path)?;
    if labels.len() != images.rows {
        return Err(ae::Error::Shape(format!(
            "{} has {} labels but {} has {} images",
            labels_path.display(),
            labels.len(),
            path.display(),
            images.rows
        )));
    }
    let labels = (labels[..TRAIN_ROWS].to_vec(), labels[TRAIN_ROWS..].to_vec());
    let train = images.select_rows(&(0..TRAIN_ROWS).collect::<Vec<_>>());
    let test = images.select_rows(&(TRAIN_ROWS..images.rows).collect::<Vec<_>>());
    std::fs::create_dir_all(&args.out).map_err(|e| ae::Error::io(&args.out, e))?;
    if !g.json {
        eprintln!(
            "ae demo: 784-512-128-32 autoencoder vs PCA-32 on {} ({} train / {} test digits)",
            path.display(),
            train.rows,
            test.rows
        );
    }
    let device = open_device(g)?;
    let out = device.run(DemoJob {
        args: &args,
        train,
        test,
        labels,
        json: g.json,
    })?;
    print_result(g, &out);
    Ok(())
}
