//! `ae sample`: draw from a variational model's prior, `z ~ N(0, I)`, and decode: a PNG grid
//! for image data, NPY rows otherwise.

use super::{open_device, print_result, GlobalArgs};
use ae::{picture, workflow, Job, Result};
use ae_core::{data, Backend, Error, Matrix, Rng};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A variational model directory written by `ae train --variational`.
    pub model: PathBuf,
    /// Samples to draw.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Output: a .png grid (ceil(sqrt(N)) images across; models of square images only) or a
    /// .npy file [N, input] in the data's units.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pixels per value in the PNG.
    #[arg(long, default_value_t = 2)]
    pub scale: u32,
}

/// What `ae sample` prints.
#[derive(Debug, serde::Serialize)]
pub struct SampleOutput {
    /// Samples drawn.
    pub samples: usize,
    /// The code width they were drawn in.
    pub code_dim: usize,
    /// The width of each decoded sample.
    pub input_dim: usize,
    /// The file written.
    pub out: PathBuf,
    /// The PNG's width in pixels (NPY output: null).
    pub width: Option<u32>,
    /// The PNG's height in pixels (NPY output: null).
    pub height: Option<u32>,
}

impl fmt::Display for SampleOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drew {} samples from N(0, I) in {} dimensions, decoded to {} values each, into {}",
            self.samples,
            self.code_dim,
            self.input_dim,
            self.out.display()
        )?;
        if let (Some(w), Some(h)) = (self.width, self.height) {
            write!(f, " ({w} x {h} pixels)")?;
        }
        Ok(())
    }
}

/// Samples drawn and decoded at a time: memory stays bounded for any `--n` (a PNG holds its
/// pixels, an NPY file is written as it goes).
const CHUNK: usize = 4096;

struct SampleJob<'a> {
    args: &'a SampleArgs,
}

impl Job for SampleJob<'_> {
    type Output = SampleOutput;

    fn run<B: Backend>(self, backend: &B) -> Result<SampleOutput> {
        let a = self.args;
        let png = match a.out.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => true,
            Some(e) if e.eq_ignore_ascii_case("npy") => false,
            _ => {
                return Err(Error::Config(format!(
                    "--out {}: expected a .png (image grid) or .npy file",
                    a.out.display()
                )))
            }
        };
        if a.n == 0 {
            return Err(Error::Config("--n must be at least 1".into()));
        }
        let (model, saved) = workflow::load_model(backend, &a.model)?;
        let config = model.config();
        if !config.variational {
            return Err(Error::Model {
                path: a.model.join(ae_core::checkpoint::CONFIG_FILE),
                message: "ae sample draws from a variational model's prior, and this model is \
                          not variational (train one with --variational)"
                    .into(),
            });
        }
        let (code, width) = (config.code_dim(), config.input_dim);
        if png && picture::square_side(width).is_none() {
            return Err(Error::Config(format!(
                "the model's inputs have {width} values, not a square image, so its samples \
                 cannot be drawn as a PNG; write them with --out samples.npy"
            )));
        }
        let mut rng = Rng::new(a.seed);
        let across = (a.n as f64).sqrt().ceil() as usize;
        let mut writer = match png {
            true => None,
            false => Some(data::npy::NpyWriter::create(&a.out, a.n, width)?),
        };
        // PNG: the decoded samples, band by band (`across` images a band, the last padded).
        let mut bands: Vec<Matrix> = Vec::new();
        let mut pending: Vec<f32> = Vec::new();
        for start in (0..a.n).step_by(CHUNK) {
            let rows = CHUNK.min(a.n - start);
            let z = (0..rows * code).map(|_| rng.normal() as f32).collect();
            let mut x = model.decode(backend, &Matrix::new(rows, code, z)?)?;
            if let Some(stats) = &saved.normalization {
                stats.invert(&mut x)?;
            }
            match writer.as_mut() {
                Some(w) => w.write(&x)?,
                None => {
                    pending.extend(x.data);
                    while pending.len() >= across * width {
                        let rest = pending.split_off(across * width);
                        bands.push(Matrix::new(
                            across,
                            width,
                            std::mem::replace(&mut pending, rest),
                        )?);
                    }
                }
            }
        }
        let image = match writer {
            Some(w) => {
                w.finish()?;
                None
            }
            None => {
                if !pending.is_empty() {
                    pending.resize(across * width, 0.0);
                    bands.push(Matrix::new(across, width, pending)?);
                }
                let refs: Vec<&Matrix> = bands.iter().collect();
                let img = picture::image_grid(&refs, across, a.scale.max(1))?;
                picture::save_png(&img, &a.out)?;
                Some([img.width(), img.height()])
            }
        };
        Ok(SampleOutput {
            samples: a.n,
            code_dim: code,
            input_dim: width,
            out: a.out.clone(),
            width: image.map(|i| i[0]),
            height: image.map(|i| i[1]),
        })
    }
}

pub fn run(g: &GlobalArgs, args: SampleArgs) -> Result<()> {
    let out = open_device(g)?.run(SampleJob { args: &args })?;
    print_result(g, &out);
    Ok(())
}
