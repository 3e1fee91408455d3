//! Model directories: `model.safetensors` (PyTorch `nn.Linear` layout: `encoder.0.weight`
//! `[out, in]`, `encoder.0.bias` `[out]`, ...) beside `config.json` (architecture, normalisation,
//! training settings and history, anomaly threshold). Both are written atomically; loading checks
//! every tensor's name and shape against the config.

use crate::{Autoencoder, Backend, Error, Matrix, ModelConfig, Result};
use ae_data::atomic::write_atomic_all;
use ae_data::normalize::NormStats;
use safetensors::tensor::{Dtype, TensorView};
use std::path::{Path, PathBuf};

/// Weights file inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Config file inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
const FORMAT: &str = "ae-autoencoder";
const VERSION: u32 = 1;

/// Everything in `config.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedConfig {
    /// Always `ae-autoencoder`.
    pub format: String,
    /// File format version.
    pub version: u32,
    /// The architecture.
    pub model: ModelConfig,
    /// How raw inputs are normalised before the model sees them.
    pub normalization: Option<NormStats>,
    /// Training settings and per-epoch history, as the trainer reported them.
    #[serde(default)]
    pub training: Option<serde_json::Value>,
    /// The columns of the training file the model reads, and the values empty cells were
    /// filled with, where those were not simply every column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::data::table::InputColumns>,
    /// Anomaly-score threshold chosen at training time, if any.
    #[serde(default)]
    pub anomaly_threshold: Option<f64>,
    /// Checksum of the `model.safetensors` written with this config: `crc32:` and 8 hex digits
    /// (CRC-32/IEEE); configs saved before that hold 16 hex digits of 64-bit FNV-1a, which
    /// loading still checks.
    #[serde(default)]
    pub weights_checksum: Option<String>,
}

/// The checksum `save` records for `bytes`: `crc32:` and the CRC-32 (IEEE) as 8 hex digits.
fn checksum(bytes: &[u8]) -> String {
    format!("crc32:{:08x}", crc32fast::hash(bytes))
}

/// Legacy: 64-bit FNV-1a of `bytes`, as 16 hex digits, the checksum that configs saved before
/// the switch to CRC-32 hold. Kept only so that [`load`] can verify those; never written.
fn legacy_fnv1a(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Checks `bytes` against a recorded checksum `want`, in whichever of the two formats it is.
/// `Ok(None)` when they match, `Ok(Some(actual))` with the checksum of `bytes` (in `want`'s
/// format) when they differ, and an error message when `want` is in neither format.
fn verify_checksum(want: &str, bytes: &[u8]) -> std::result::Result<Option<String>, String> {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let actual = match want.strip_prefix("crc32:") {
        Some(digits) if hex(digits, 8) => checksum(bytes),
        None if hex(want, 16) => legacy_fnv1a(bytes),
        _ => {
            return Err(format!(
                "weights_checksum '{want}' is neither 'crc32:' and 8 hex digits nor a legacy \
             16-hex-digit FNV-1a value"
            ))
        }
    };
    Ok((actual != want).then_some(actual))
}

impl SavedConfig {
    /// A config for `model` with nothing else recorded yet.
    pub fn new(model: ModelConfig) -> Self {
        SavedConfig {
            format: FORMAT.into(),
            version: VERSION,
            model,
            normalization: None,
            training: None,
            input: None,
            anomaly_threshold: None,
            weights_checksum: None,
        }
    }
}

/// Writes `model` and `config` (whose `model` field is replaced by the model's own) into `dir`,
/// creating it if needed.
pub fn save<B: Backend>(
    dir: &Path,
    backend: &B,
    model: &Autoencoder<B>,
    config: &SavedConfig,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let blob = serialize_named(model.to_named(backend)?)?;
    let mut config = config.clone();
    config.model = model.config().clone();
    config.weights_checksum = Some(checksum(&blob));
    let json = serde_json::to_vec_pretty(&config).expect("config serialises");
    // Each file is replaced atomically; the checksum in config.json lets a load tell a torn pair
    // (a crash between the two renames) from a matching one.
    write_atomic_all(&[
        (&dir.join(WEIGHTS_FILE), &blob),
        (&dir.join(CONFIG_FILE), &json),
    ])
}

/// Named f32 matrices as safetensors bytes (a `[1, n]` tensor named `*.bias` as `[n]`).
pub(crate) fn serialize_named(named: Vec<(String, Matrix)>) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = named
        .into_iter()
        .map(|(name, m)| {
            let shape = if m.rows == 1 && name.ends_with(".bias") {
                vec![m.cols]
            } else {
                vec![m.rows, m.cols]
            };
            (name, bytemuck::cast_slice(&m.data).to_vec(), shape)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::Backend(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::Backend(format!("safetensors: {e}")))
}

/// Reads `config.json` from a model directory.
pub fn load_config(dir: &Path) -> Result<SavedConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let json_error = |e: serde_json::Error| {
        Error::format(
            &path,
            format!("line {}, column {}", e.line(), e.column()),
            e.to_string(),
        )
    };
    // Format and version first: a file of another version may not have this one's fields.
    #[derive(serde::Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header = serde_json::from_str(&text).map_err(json_error)?;
    if header.format != FORMAT {
        return Err(Error::Model {
            path,
            message: format!("format is '{}', expected '{FORMAT}'", header.format),
        });
    }
    if header.version != VERSION {
        return Err(Error::Model {
            path,
            message: format!(
                "format version {} is not this ae's version {VERSION}: it was written by {} ae",
                header.version,
                if header.version > VERSION {
                    "a newer"
                } else {
                    "an older"
                }
            ),
        });
    }
    let config: SavedConfig = serde_json::from_str(&text).map_err(json_error)?;
    config.model.validate().map_err(|e| Error::Model {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(config)
}

/// Reads every tensor of a safetensors file as an f32 matrix (1-D tensors as `[1, n]`).
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Matrix)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: format!("not a valid safetensors file: {e}"),
    })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let (rows, cols) = match shape.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            other => {
                return Err(Error::Model {
                    path: path.to_path_buf(),
                    message: format!("tensor '{name}' has shape {other:?}, expected 1 or 2 dims"),
                })
            }
        };
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(Error::Model {
                    path: path.to_path_buf(),
                    message: format!(
                        "tensor '{name}' has dtype {other:?}, expected F32, F64, F16 or BF16"
                    ),
                })
            }
        };
        out.push((name, Matrix::new(rows, cols, values)?));
    }
    Ok(out)
}

/// Loads a model directory onto `backend`, checking the weights against the config.
pub fn load<B: Backend>(dir: &Path, backend: &B) -> Result<(Autoencoder<B>, SavedConfig)> {
    let config = load_config(dir)?;
    let weights: PathBuf = dir.join(WEIGHTS_FILE);
    if let Some(want) = &config.weights_checksum {
        let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        let mismatch = verify_checksum(want, &bytes).map_err(|message| Error::Model {
            path: dir.join(CONFIG_FILE),
            message,
        })?;
        if let Some(actual) = mismatch {
            return Err(Error::Model {
                path: weights,
                message: format!(
                    "is not the file {CONFIG_FILE} was saved with (checksum {actual} vs {want}): \
                     a save was interrupted, or one of the two files was replaced"
                ),
            });
        }
    }
    let named = read_safetensors(&weights)?;
    let model = Autoencoder::from_named(backend, config.model.clone(), named).map_err(|e| {
        Error::Model {
            path: weights.clone(),
            message: format!("does not match {CONFIG_FILE}: {e}"),
        }
    })?;
    Ok((model, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_the_published_check_values() {
        // The standard check input of CRC catalogues; CRC-32/IEEE gives cbf43926.
        assert_eq!(checksum(b"123456789"), "crc32:cbf43926");
        assert_eq!(checksum(b""), "crc32:00000000");
        // FNV-1a 64 of "" is its offset basis; of "a", the value in the FNV reference tables.
        assert_eq!(legacy_fnv1a(b""), "cbf29ce484222325");
        assert_eq!(legacy_fnv1a(b"a"), "af63dc4c8601ec8c");
    }

    #[test]
    fn both_checksum_formats_verify_and_catch_other_bytes() {
        let (bytes, other) = (&b"weights"[..], &b"weightz"[..]);
        for want in [checksum(bytes), legacy_fnv1a(bytes)] {
            assert_eq!(verify_checksum(&want, bytes), Ok(None), "{want}");
            let actual = verify_checksum(&want, other).unwrap().expect("a mismatch");
            assert_eq!(actual.len(), want.len(), "reported in the recorded format");
            assert_ne!(actual, want);
        }
        for bad in [
            "",
            "crc32:",
            "crc32:cbf4392",
            "cbf29ce48422232",
            "xyz29ce484222325",
            "md5:00",
        ] {
            let err = verify_checksum(bad, bytes).unwrap_err();
            assert!(err.contains("neither"), "{bad}: {err}");
        }
    }
}
