//! A safetensors file as a data set: one 2-D (or 1-D) tensor of the file, rows read by
//! positional reads and decoded as they are read. F32, F16, BF16 and F64 are read (F16/BF16
//! through `half`).

use super::{finite, out_of_range, PositionalFile, RowSource};
use ae_backend::{Error, Matrix, Result};
use safetensors::tensor::{Dtype, Metadata};
use std::path::{Path, PathBuf};

/// The largest header read (the `safetensors` crate's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// One tensor of a safetensors file, read by rows: `[d0, d1 * d2 * ...]`.
pub struct SafetensorsSource {
    path: PathBuf,
    file: PositionalFile,
    dtype: Dtype,
    /// Byte offset of the tensor's first element in the file.
    start: usize,
    rows: usize,
    cols: usize,
}

impl SafetensorsSource {
    /// Opens `path` and picks `tensor` (by name), or the file's only tensor when `None`. The
    /// header (parsed by the `safetensors` crate) is checked against the file's length before any
    /// row is read.
    pub fn open(path: &Path, tensor: Option<&str>) -> Result<Self> {
        let file = PositionalFile::open(path)?;
        let header_err = |m: String| Error::format(path, "header", m);
        let first = file.prefix(path, 8)?;
        let Ok(first) = <[u8; 8]>::try_from(first.as_slice()) else {
            return Err(header_err(format!(
                "{} bytes; expected at least 8",
                first.len()
            )));
        };
        let header_len = u64::from_le_bytes(first);
        if header_len > MAX_HEADER || 8 + header_len > file.len() {
            return Err(header_err(format!(
                "a header of {header_len} bytes in a file of {} bytes",
                file.len()
            )));
        }
        let mut text = vec![0u8; header_len as usize];
        file.read_at(path, 8, &mut text)?;
        let text = std::str::from_utf8(&text).map_err(|e| header_err(e.to_string()))?;
        let metadata: Metadata =
            serde_json::from_str(text).map_err(|e| header_err(e.to_string()))?;
        let data_len = file.len() - 8 - header_len;
        if metadata.data_len() as u64 != data_len {
            return Err(Error::format(
                path,
                "data",
                format!(
                    "the header promises {} bytes of tensors, the file holds {data_len}",
                    metadata.data_len()
                ),
            ));
        }
        let header_len = header_len as usize;
        let mut names: Vec<String> = metadata.tensors().keys().cloned().collect();
        names.sort();
        let name = match (tensor, names.as_slice()) {
            (Some(t), _) => t.to_string(),
            (None, [only]) => only.clone(),
            (None, _) => {
                return Err(Error::format(
                    path,
                    "tensors",
                    format!(
                        "the file holds {} tensors ({}); name one with --tensor",
                        names.len(),
                        names.join(", ")
                    ),
                ))
            }
        };
        let info = metadata.info(&name).ok_or_else(|| {
            Error::format(
                path,
                "tensors",
                format!("no tensor '{name}'; the file holds {}", names.join(", ")),
            )
        })?;
        if !matches!(
            info.dtype,
            Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64
        ) {
            return Err(Error::format(
                path,
                format!("tensor '{name}'"),
                format!("dtype {:?}; expected F32, F16, BF16 or F64", info.dtype),
            ));
        }
        if info.shape.is_empty() {
            return Err(Error::format(
                path,
                format!("tensor '{name}'"),
                "a scalar; expected an array of at least one dimension",
            ));
        }
        let rows = info.shape[0];
        let cols: usize = info.shape[1..].iter().product();
        let (begin, end) = info.data_offsets;
        let bytes = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(info.dtype.bitsize() / 8));
        if begin > end || Some(end - begin) != bytes {
            return Err(Error::format(
                path,
                format!("tensor '{name}'"),
                format!(
                    "offsets {begin}..{end} do not hold a {:?} {:?}",
                    info.dtype, info.shape
                ),
            ));
        }
        Ok(SafetensorsSource {
            path: path.to_path_buf(),
            start: 8 + header_len + begin,
            dtype: info.dtype,
            file,
            rows,
            cols,
        })
    }

    fn row_bytes(&self) -> usize {
        self.cols * self.dtype.bitsize() / 8
    }

    /// Decodes the raw bytes of `count` rows; `row_of` numbers a chunk row in the tensor.
    fn decode(
        &self,
        bytes: &[u8],
        count: usize,
        row_of: impl Fn(usize) -> usize,
    ) -> Result<Matrix> {
        let data: Vec<f32> = match self.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            _ => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        };
        finite(&self.path, Matrix::new(count, self.cols, data)?, row_of)
    }
}

impl RowSource for SafetensorsSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn dtype(&self) -> Option<&'static str> {
        Some(match self.dtype {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::F16 => "f16",
            _ => "bf16",
        })
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        if start.checked_add(count).is_none_or(|end| end > self.rows) {
            return Err(out_of_range(&self.path, start, count, self.rows));
        }
        let from = self.start + start * self.row_bytes();
        let mut bytes = vec![0u8; count * self.row_bytes()];
        self.file.read_at(&self.path, from as u64, &mut bytes)?;
        self.decode(&bytes, count, |r| start + r)
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let bytes =
            self.file
                .gather_rows(&self.path, self.start, self.row_bytes(), self.rows, indices)?;
        self.decode(&bytes, indices.len(), |r| indices[r] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn write(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, path).unwrap();
    }

    #[test]
    fn rows_of_every_float_dtype_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let values = [1.5f32, -2.0, 0.25, 8.0, 3.0, -0.5];
        let path = dir.path().join("acts.safetensors");
        write(
            &path,
            &[
                (
                    "f32",
                    Dtype::F32,
                    vec![3, 2],
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
                (
                    "f16",
                    Dtype::F16,
                    vec![3, 2],
                    values
                        .iter()
                        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                        .collect(),
                ),
                (
                    "bf16",
                    Dtype::BF16,
                    vec![3, 2],
                    values
                        .iter()
                        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
                        .collect(),
                ),
            ],
        );
        for name in ["f32", "f16", "bf16"] {
            let src = SafetensorsSource::open(&path, Some(name)).unwrap();
            assert_eq!((src.rows(), src.cols()), (3, 2));
            assert_eq!(src.read(0, 3).unwrap().data, values, "{name}");
            assert_eq!(
                src.gather(&[2, 0]).unwrap().data,
                [3.0, -0.5, 1.5, -2.0],
                "{name}"
            );
        }
        let err = SafetensorsSource::open(&path, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("3 tensors") && err.contains("--tensor") && err.contains("bf16"),
            "{err}"
        );
        let err = SafetensorsSource::open(&path, Some("nope"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no tensor 'nope'"), "{err}");
    }

    #[test]
    fn a_truncated_file_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        write(&path, &[("x", Dtype::F32, vec![4, 2], vec![0; 32])]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        let err = SafetensorsSource::open(&path, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("x.safetensors") && err.contains("header"),
            "{err}"
        );
    }
}
