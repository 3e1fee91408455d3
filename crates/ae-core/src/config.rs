//! `ModelConfig`: the architecture of a dense autoencoder, as saved in `config.json`.

use crate::{Activation, Error, Result};

/// One dense layer: `[batch, inputs] -> [batch, outputs]`, then `activation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Applied after the affine map.
    pub activation: Activation,
}

/// A dense autoencoder: `input_dim -> encoder[0] -> ... -> code -> decoder[0] -> ... -> input_dim`.
///
/// ```
/// use ae_core::{Activation, ModelConfig};
/// let cfg = ModelConfig::mirrored(&[784, 512, 128, 32]).unwrap();
/// assert_eq!(cfg.code_dim(), 32);
/// assert_eq!(cfg.decoder, vec![128, 512]);
/// assert_eq!(cfg.layers().len(), 6);
/// assert_eq!(cfg.activations[5], Activation::Sigmoid);
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    /// Width of the input (and of the reconstruction).
    pub input_dim: usize,
    /// Encoder widths after the input; the last one is the code size.
    pub encoder: Vec<usize>,
    /// Decoder hidden widths between the code and the output.
    pub decoder: Vec<usize>,
    /// One activation per layer, encoder layers first, then decoder layers (the last is the
    /// output activation: identity or sigmoid).
    pub activations: Vec<Activation>,
    /// Decoder weights are the encoder's, transposed (needs a mirrored decoder).
    pub tied: bool,
    /// TopK code: keep the `k` largest code pre-activations of each sample (ReLU on them, zero
    /// elsewhere). Needs a ReLU code activation and `1 <= k <= code_dim`.
    #[serde(default)]
    pub code_topk: Option<usize>,
    /// Pre-encoder bias (Gao et al. 2024): the encoder reads `x - b_out`, where `b_out` is the
    /// output layer's bias, so that the data's mean (where `b_out` starts, see
    /// [`crate::Autoencoder::init_pre_bias`]) does not push the same code units up for every
    /// sample. Needs an identity output.
    #[serde(default)]
    pub pre_bias: bool,
    /// BatchTopK (Bussmann et al. 2024), with `code_topk` K: in training keep the `K * rows`
    /// largest code pre-activations of the whole batch (so a sample may keep more or fewer than
    /// K); the trainer learns [`ModelConfig::code_threshold`] as it goes, and a model that has
    /// one is a JumpReLU with that threshold outside training (each unit on where its
    /// pre-activation exceeds it).
    #[serde(default)]
    pub batch_topk: bool,
    /// BatchTopK's inference threshold: an exponential moving average (decay 0.99) of the
    /// smallest kept pre-activation of each training batch. Set by training.
    #[serde(default)]
    pub code_threshold: Option<f32>,
    /// JumpReLU code (Rajamanoharan et al. 2024): each code unit `j` has a trained threshold
    /// `theta_j = exp(l_j)`, the parameter `encoder.{2d-1}.log_threshold` `[1, code]` (`d` the
    /// encoder depth: the code layer's activation module), started at
    /// [`ModelConfig::JUMP_INIT_THRESHOLD`]; `h = z` where `z > theta`, else 0. Trained through
    /// the straight-through estimator of [`crate::JumpReluTraining`]. Needs a ReLU code
    /// activation and no TopK.
    #[serde(default)]
    pub jump_relu: bool,
    /// Matryoshka SAE (Bussmann et al. 2025, Nabeshima 2024): the ends `m_1 < ... < m_S` of
    /// nested code prefixes, the last the code width. Training sums the reconstruction loss of
    /// every prefix, `x` from `h[:, :m] W_dec[:, :m]ᵀ + b_dec`, so the first units learn the
    /// coarse features (see [`crate::Autoencoder::forward_backward`]). Empty (the default, and
    /// what older `config.json` files read as): one loss, of the whole code. Needs a TopK or
    /// BatchTopK code and a one-hidden-layer, untied model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matryoshka: Vec<usize>,
    /// Variational autoencoder (Kingma & Welling 2014): the code layer outputs `2 * code`
    /// units, the mean `mu` (columns `0..code`) and the raw log-variance (columns
    /// `code..2 code`) of a Gaussian code; the decoder reads a sample `z = mu + exp(logvar / 2)
    /// eps` in training and `mu` at inference (see [`crate::model::variational`]). Needs an
    /// identity code activation, a dense code (no TopK, JumpReLU or Matryoshka) and an untied
    /// model. `false` (the default, and what older `config.json` files read as) is left out of
    /// the JSON.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub variational: bool,
}

impl ModelConfig {
    /// Where a JumpReLU code's thresholds start (SAELens's `jumprelu_init_threshold`).
    pub const JUMP_INIT_THRESHOLD: f32 = 0.01;

    /// `layers` = `[input, hidden..., code]`, decoder mirrored; ReLU hidden layers, a linear code
    /// layer and a sigmoid output (inputs in [0, 1]). Change fields or call the `with_` methods.
    pub fn mirrored(layers: &[usize]) -> Result<Self> {
        if layers.len() < 2 {
            return Err(Error::Config(format!(
                "layers must list the input width and at least a code width, got {layers:?}"
            )));
        }
        let encoder = layers[1..].to_vec();
        let decoder: Vec<usize> = layers[1..layers.len() - 1].iter().rev().copied().collect();
        let cfg = ModelConfig {
            input_dim: layers[0],
            activations: Vec::new(),
            encoder,
            decoder,
            tied: false,
            code_topk: None,
            pre_bias: false,
            batch_topk: false,
            code_threshold: None,
            jump_relu: false,
            matryoshka: Vec::new(),
            variational: false,
        };
        cfg.with_activations(Activation::Relu, Activation::Identity, Activation::Sigmoid)
    }

    /// Replaces the decoder's hidden widths (the output width stays `input_dim`).
    pub fn with_decoder(mut self, decoder: Vec<usize>) -> Result<Self> {
        let hidden = self
            .activations
            .first()
            .copied()
            .unwrap_or(Activation::Relu);
        let code = self.activations[self.encoder.len() - 1];
        let output = *self.activations.last().unwrap_or(&Activation::Sigmoid);
        self.decoder = decoder;
        self.with_activations(hidden, code, output)
    }

    /// Sets every hidden layer's activation, the code layer's and the output's.
    pub fn with_activations(
        mut self,
        hidden: Activation,
        code: Activation,
        output: Activation,
    ) -> Result<Self> {
        let n = self.encoder.len() + self.decoder.len() + 1;
        self.activations = (0..n)
            .map(|i| {
                if i + 1 == n {
                    output
                } else if i + 1 == self.encoder.len() {
                    code
                } else {
                    hidden
                }
            })
            .collect();
        self.validate()?;
        Ok(self)
    }

    /// Ties the decoder's weights to the encoder's.
    pub fn with_tied(mut self, tied: bool) -> Result<Self> {
        self.tied = tied;
        self.validate()?;
        Ok(self)
    }

    /// Makes the code a TopK code keeping `k` units per sample (`None`: a dense code).
    pub fn with_topk(mut self, k: Option<usize>) -> Result<Self> {
        self.code_topk = k;
        self.validate()?;
        Ok(self)
    }

    /// Turns the pre-encoder bias on or off.
    pub fn with_pre_bias(mut self, pre_bias: bool) -> Result<Self> {
        self.pre_bias = pre_bias;
        self.validate()?;
        Ok(self)
    }

    /// Makes the model a variational autoencoder ([`ModelConfig::variational`]) or not.
    pub fn with_variational(mut self, variational: bool) -> Result<Self> {
        self.variational = variational;
        self.validate()?;
        Ok(self)
    }

    /// Checks a variational model: an identity code, dense and untied.
    fn validate_variational(&self) -> Result<()> {
        if !self.variational {
            return Ok(());
        }
        let act = self.activations[self.encoder.len() - 1];
        if act != Activation::Identity {
            return Err(Error::Config(format!(
                "a variational model's code layer outputs a mean and a log-variance and needs \
                 `model.code_activation` identity, got {act}"
            )));
        }
        if self.code_topk.is_some() || self.jump_relu || !self.matryoshka.is_empty() {
            return Err(Error::Config(
                "a variational model (`model.variational`) needs a dense Gaussian code: not \
                 TopK, BatchTopK, JumpReLU or Matryoshka"
                    .into(),
            ));
        }
        if self.tied {
            return Err(Error::Config(
                "a variational model (`model.variational`) cannot tie its weights: its code \
                 layer has 2 x code outputs (mean and log-variance), its decoder reads code"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Makes the model a Matryoshka SAE with these ascending prefix ends ([`ModelConfig::matryoshka`]);
    /// the code width is added as the last when not listed. Set TopK (and BatchTopK) first.
    pub fn with_matryoshka(mut self, prefixes: &[usize]) -> Result<Self> {
        self.matryoshka = prefixes.to_vec();
        let code = self.code_dim();
        if !prefixes.is_empty() && prefixes.last() < Some(&code) {
            self.matryoshka.push(code);
        }
        self.validate()?;
        Ok(self)
    }

    /// The Matryoshka prefix ends ([`ModelConfig::matryoshka`]): `[code_dim]` for any other
    /// model.
    pub fn prefixes(&self) -> Vec<usize> {
        match self.matryoshka.is_empty() {
            true => vec![self.code_dim()],
            false => self.matryoshka.clone(),
        }
    }

    /// Checks the Matryoshka prefixes: ascending, positive, ending at the code width, on a
    /// TopK code of a one-hidden-layer, untied model.
    fn validate_matryoshka(&self) -> Result<()> {
        let m = &self.matryoshka;
        if m.is_empty() {
            return Ok(());
        }
        let code = self.code_dim();
        if self.code_topk.is_none() {
            return Err(Error::Config(
                "matryoshka prefixes (`model.matryoshka`) need a topk or batchtopk code \
                 (`model.code_topk`)"
                    .into(),
            ));
        }
        if self.encoder.len() != 1 || !self.decoder.is_empty() || self.tied {
            return Err(Error::Config(format!(
                "matryoshka prefixes (`model.matryoshka`) need a one-hidden-layer, untied \
                 autoencoder (`model.layers` IN,CODE), got encoder {:?}, decoder {:?}{}",
                self.encoder,
                self.decoder,
                if self.tied { ", tied" } else { "" }
            )));
        }
        if m[0] == 0 || m.windows(2).any(|w| w[0] >= w[1]) || m[m.len() - 1] != code {
            return Err(Error::Config(format!(
                "matryoshka prefixes (`model.matryoshka`) must be ascending whole numbers \
                 from 1 up to the code width {code} (which ends the list), got {m:?}"
            )));
        }
        Ok(())
    }

    /// Checks widths, the activation count, the output activation, tying, TopK, the
    /// pre-encoder bias and the Matryoshka prefixes.
    pub fn validate(&self) -> Result<()> {
        if self.input_dim == 0 || self.encoder.is_empty() {
            return Err(Error::Config(
                "a model needs a non-zero input width and at least one encoder layer".into(),
            ));
        }
        if let Some(w) = self.encoder.iter().chain(&self.decoder).find(|&&w| w == 0) {
            return Err(Error::Config(format!("layer width {w} must be positive")));
        }
        let n = self.encoder.len() + self.decoder.len() + 1;
        if self.activations.len() != n {
            return Err(Error::Config(format!(
                "{} activations given for {n} layers",
                self.activations.len()
            )));
        }
        let output = self.activations[n - 1];
        if !matches!(output, Activation::Identity | Activation::Sigmoid) {
            return Err(Error::Config(format!(
                "output activation must be identity or sigmoid, got {output}"
            )));
        }
        if self.pre_bias && output != Activation::Identity {
            return Err(Error::Config(format!(
                "the pre-encoder bias subtracts the output bias from the input and needs an \
                 identity output (`model.output_activation` identity), got {output}"
            )));
        }
        if let Some(k) = self.code_topk {
            let code = self.code_dim();
            if k == 0 || k > code {
                return Err(Error::Config(format!(
                    "topk needs 1 <= k <= the code width {code}, got k = {k}"
                )));
            }
            if self.code_threshold.is_some_and(|t| !t.is_finite()) {
                return Err(Error::Config(format!(
                    "a BatchTopK threshold must be finite, got {:?}",
                    self.code_threshold
                )));
            }
            let act = self.activations[self.encoder.len() - 1];
            if act != Activation::Relu {
                return Err(Error::Config(format!(
                    "a topk code applies ReLU to its kept units and needs `model.code_activation` relu, \
                     got {act}"
                )));
            }
        }
        if self.jump_relu {
            let act = self.activations[self.encoder.len() - 1];
            if self.code_topk.is_some() || act != Activation::Relu {
                return Err(Error::Config(format!(
                    "a JumpReLU code (`model.jump_relu`) needs `model.code_activation` relu and \
                     no TopK, got {act}{}",
                    if self.code_topk.is_some() {
                        " with TopK"
                    } else {
                        ""
                    }
                )));
            }
        }
        if self.batch_topk && self.code_topk.is_none() {
            return Err(Error::Config(
                "BatchTopK (`model.batch_topk`) needs a TopK code (`model.code_topk`)".into(),
            ));
        }
        if self.tied {
            let mirrored: Vec<usize> = self.encoder[..self.encoder.len() - 1]
                .iter()
                .rev()
                .copied()
                .collect();
            if self.decoder != mirrored {
                return Err(Error::Config(format!(
                    "tied weights need a mirrored decoder {mirrored:?}, got {:?}",
                    self.decoder
                )));
            }
        }
        self.validate_matryoshka()?;
        self.validate_variational()
    }

    /// The code (bottleneck) width.
    pub fn code_dim(&self) -> usize {
        *self
            .encoder
            .last()
            .expect("validated config has an encoder")
    }

    /// Number of encoder layers; layer `encoder_depth() - 1` outputs the code.
    pub fn encoder_depth(&self) -> usize {
        self.encoder.len()
    }

    /// All layers in order, encoder then decoder. A variational model's code layer has
    /// `2 * code_dim` outputs (mean and log-variance); the decoder reads `code_dim`.
    pub fn layers(&self) -> Vec<LayerSpec> {
        let widths: Vec<usize> = std::iter::once(self.input_dim)
            .chain(self.encoder.iter().copied())
            .chain(self.decoder.iter().copied())
            .chain(std::iter::once(self.input_dim))
            .collect();
        let code_layer = self.encoder.len() - 1;
        widths
            .windows(2)
            .zip(&self.activations)
            .enumerate()
            .map(|(i, (w, &activation))| LayerSpec {
                inputs: w[0],
                outputs: match self.variational && i == code_layer {
                    true => 2 * w[1],
                    false => w[1],
                },
                activation,
            })
            .collect()
    }

    /// The output activation.
    pub fn output_activation(&self) -> Activation {
        *self.activations.last().expect("validated config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_layers_chain() {
        let cfg = ModelConfig::mirrored(&[10, 6, 3]).unwrap();
        let widths: Vec<(usize, usize)> =
            cfg.layers().iter().map(|l| (l.inputs, l.outputs)).collect();
        assert_eq!(widths, vec![(10, 6), (6, 3), (3, 6), (6, 10)]);
        let acts: Vec<Activation> = cfg.layers().iter().map(|l| l.activation).collect();
        use Activation::*;
        assert_eq!(acts, vec![Relu, Identity, Relu, Sigmoid]);
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(ModelConfig::mirrored(&[10]).is_err());
        assert!(ModelConfig::mirrored(&[10, 0, 3]).is_err());
        let cfg = ModelConfig::mirrored(&[10, 6, 3]).unwrap();
        assert!(cfg
            .clone()
            .with_decoder(vec![4])
            .unwrap()
            .with_tied(true)
            .is_err());
        assert!(cfg.clone().with_tied(true).is_ok());
        let relu_code = cfg
            .clone()
            .with_activations(Activation::Relu, Activation::Relu, Activation::Sigmoid)
            .unwrap();
        assert!(relu_code.clone().with_topk(Some(3)).is_ok());
        for k in [0, 4] {
            let err = relu_code
                .clone()
                .with_topk(Some(k))
                .unwrap_err()
                .to_string();
            assert!(err.contains("1 <= k <= the code width 3"), "{err}");
        }
        let err = cfg.clone().with_topk(Some(2)).unwrap_err().to_string();
        assert!(err.contains("`model.code_activation` relu"), "{err}");
        let bad = cfg.with_activations(Activation::Relu, Activation::Relu, Activation::Tanh);
        assert!(bad.unwrap_err().to_string().contains("output activation"));
    }
}
