//! # ae-data
//!
//! Data loading: matrices of samples (`[rows, cols]`, one sample per row) and integer labels from
//! NPY, CSV, Parquet and IDX (MNIST) files, writing NPY, and per-feature [`normalize`]ation.
//!
//! [`load_matrix`] and [`load_labels`] pick the reader from the file name:
//!
//! | name                                   | format                                 |
//! |----------------------------------------|----------------------------------------|
//! | `*.npy`                                | NumPy array ([`npy`])                  |
//! | `*.csv`, `*.tsv`, `*.txt`              | delimited text ([`csv`])               |
//! | `*.parquet`, `*.pq`                    | Parquet ([`ParquetSource`])            |
//! | `*.gz`, `*.idx`, `*-ubyte*`, `*idx*`   | IDX, raw or gzipped ([`idx`])          |
//!
//! Every reader returns finite data only: a NaN or infinity is an error naming the file and the
//! place (`row 12, column 3` for binary arrays, counted from 0 as in NumPy; `line 13, column 4` for
//! text, counted from 1 as in an editor; `row 12, column 3 ("x")` for Parquet, rows from 0 and
//! columns from 1 as the column flags count them). Bytes (`u8` IDX and NPY data) are scaled to `[0, 1]` by
//! dividing by 255 when read as a matrix; labels are always returned as stored.

pub mod atomic;
pub mod idx;
pub mod normalize;
pub mod npy;
pub mod source;
pub mod spec;
pub mod synth;
pub mod table;

pub use source::csv;
pub use source::{MatrixSource, NpySource, ParquetSource, RowSource, RowSubset, ShardedSource};
pub use synth::{SynthKind, Synthetic};

use ae_backend::{Error, Matrix, Result};
use std::path::Path;

/// The formats [`load_matrix`] and [`load_labels`] understand, as said in their errors.
const SUPPORTED: &str = ".npy (NumPy), .csv/.tsv/.txt (delimited text), \
                         .parquet/.pq (Parquet), .gz/.idx/*-ubyte (IDX, raw or gzipped)";

/// A file format, chosen from a file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Npy,
    Csv,
    Parquet,
    Idx,
}

impl Format {
    fn of(path: &Path) -> Result<Format> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".npy") {
            Ok(Format::Npy)
        } else if [".csv", ".tsv", ".txt"].iter().any(|e| name.ends_with(e)) {
            Ok(Format::Csv)
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            Ok(Format::Parquet)
        } else if name.ends_with(".gz") || name.contains("-ubyte") || name.contains("idx") {
            Ok(Format::Idx)
        } else {
            Err(Error::format(
                path,
                "file name",
                format!("cannot tell the format from the file name; supported: {SUPPORTED}"),
            ))
        }
    }
}

/// Loads a `[rows, cols]` matrix of samples from an NPY, CSV, Parquet or IDX file (chosen by file name,
/// see the [module docs](self)). `u8` data is scaled to `[0, 1]`; 1-D data is `[n, 1]`; an array
/// of more dimensions is `[d0, d1 * d2 * ...]`. Errors on NaN or infinity.
pub fn load_matrix(path: &Path) -> Result<Matrix> {
    match Format::of(path)? {
        Format::Npy => npy::read_matrix(path),
        Format::Csv => csv::read_matrix(path),
        Format::Parquet => source::parquet::read_matrix(path),
        Format::Idx => idx::read_matrix(path),
    }
}

/// Loads `[n]` integer labels from an IDX file (1-D), an NPY file (1-D or `[n, 1]`, integer or
/// integral float values), a CSV file (one column, optional header) or a Parquet file (one
/// integer or integral column). Values are not scaled.
pub fn load_labels(path: &Path) -> Result<Vec<i64>> {
    match Format::of(path)? {
        Format::Npy => npy::read_labels(path),
        Format::Csv => csv::read_labels(path),
        Format::Parquet => source::parquet::read_labels(path),
        Format::Idx => idx::read_labels(path),
    }
}

/// Writes `m` as a 2-D `<f4` NPY file of shape `[rows, cols]`, atomically (temporary file in the
/// same directory, fsync, rename over `path`).
pub fn save_npy(path: &Path, m: &Matrix) -> Result<()> {
    npy::write_f32(path, &[m.rows, m.cols], &m.data)
}

/// Writes `v` as a 1-D `<f4` NPY file of shape `[len]`, atomically like [`save_npy`].
pub fn save_npy_vec(path: &Path, v: &[f32]) -> Result<()> {
    npy::write_f32(path, &[v.len()], v)
}

/// Reads a whole file, naming it in the error.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Errors when `m` holds a NaN or infinity, naming its row and column (counted from 0).
fn check_finite(path: &Path, m: &Matrix) -> Result<()> {
    match m.first_non_finite() {
        Some((row, col, v)) => Err(Error::format(
            path,
            format!("row {row}, column {col}"),
            not_finite(v),
        )),
        None => Ok(()),
    }
}

/// The message for a non-finite value `v`.
fn not_finite(v: f32) -> String {
    format!("{v}; data must be finite (no NaN or infinity)")
}

/// Element type of a binary (IDX or NPY) array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
}

impl Dtype {
    /// Bytes per element.
    fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::I16 | Dtype::F16 => 2,
            Dtype::I32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "u8",
            Dtype::I8 => "i8",
            Dtype::I16 => "i16",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::F16 => "f16",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// The number of elements of an array of `shape` and the bytes they take as `dtype`, or `None`
/// when that does not fit in `usize`.
fn byte_len(shape: &[usize], dtype: Dtype) -> Option<(usize, usize)> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    Some((count, count.checked_mul(dtype.size())?))
}

/// An array read from a binary file: C-order elements of `dtype`, at least one dimension.
struct RawArray {
    dtype: Dtype,
    big_endian: bool,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Decodes `$bytes` as `$t` elements (big- or little-endian) and maps each with `$conv`.
macro_rules! decode {
    ($bytes:expr, $big:expr, $t:ty, |$x:ident| $conv:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        $bytes
            .chunks_exact(N)
            .map(|c| {
                let mut b = [0u8; N];
                b.copy_from_slice(c);
                let $x = if $big {
                    <$t>::from_be_bytes(b)
                } else {
                    <$t>::from_le_bytes(b)
                };
                $conv
            })
            .collect::<Vec<_>>()
    }};
}

impl RawArray {
    /// `[d0, d1 * d2 * ...]`; 1-D arrays are `[n, 1]`.
    fn rows_cols(&self) -> (usize, usize) {
        let rows = self.shape[0];
        let cols = self.shape[1..].iter().product();
        (rows, cols)
    }

    /// The elements as f64 (exact for every dtype but i64 beyond 2^53).
    fn to_f64(&self) -> Vec<f64> {
        let (b, be) = (&self.bytes, self.big_endian);
        match self.dtype {
            Dtype::U8 => b.iter().map(|&x| x as f64).collect(),
            Dtype::I8 => b.iter().map(|&x| x as i8 as f64).collect(),
            Dtype::I16 => decode!(b, be, i16, |x| x as f64),
            Dtype::I32 => decode!(b, be, i32, |x| x as f64),
            Dtype::I64 => decode!(b, be, i64, |x| x as f64),
            Dtype::F16 => decode!(b, be, half::f16, |x| x.to_f64()),
            Dtype::F32 => decode!(b, be, f32, |x| x as f64),
            Dtype::F64 => decode!(b, be, f64, |x| x),
        }
    }

    /// The array as a `[rows, cols]` f32 matrix, `u8` scaled to `[0, 1]`, checked finite.
    fn into_matrix(self, path: &Path) -> Result<Matrix> {
        let m = self.decode()?;
        check_finite(path, &m)?;
        Ok(m)
    }

    /// The array as a `[rows, cols]` f32 matrix, `u8` scaled to `[0, 1]` (not checked finite).
    fn decode(self) -> Result<Matrix> {
        let (rows, cols) = self.rows_cols();
        let (b, be) = (&self.bytes, self.big_endian);
        let data = match self.dtype {
            Dtype::U8 => b.iter().map(|&x| x as f32 / 255.0).collect(),
            Dtype::F16 => decode!(b, be, half::f16, |x| x.to_f32()),
            Dtype::F32 => decode!(b, be, f32, |x| x),
            _ => self.to_f64().into_iter().map(|x| x as f32).collect(),
        };
        Matrix::new(rows, cols, data)
    }

    /// The array as `[n]` integer labels: shape `[n]` or `[n, 1]`, integral values only.
    fn into_labels(self, path: &Path) -> Result<Vec<i64>> {
        if !(self.shape.len() == 1 || self.shape.len() == 2 && self.shape[1] == 1) {
            return Err(Error::format(
                path,
                "header",
                format!("labels must be 1-D or [n, 1], found shape {:?}", self.shape),
            ));
        }
        let (b, be) = (&self.bytes, self.big_endian);
        match self.dtype {
            Dtype::I64 => Ok(decode!(b, be, i64, |x| x)),
            Dtype::F16 | Dtype::F32 | Dtype::F64 => self
                .to_f64()
                .into_iter()
                .enumerate()
                .map(|(i, v)| float_label(path, i, v))
                .collect(),
            // Every other integer type is exact in f64.
            _ => Ok(self.to_f64().into_iter().map(|v| v as i64).collect()),
        }
    }
}

/// `v` as an integer label, or an error naming its row when it is not integral.
fn float_label(path: &Path, row: usize, v: f64) -> Result<i64> {
    integral(v).ok_or_else(|| {
        Error::format(
            path,
            format!("row {row}"),
            format!("label {v} is not an integer"),
        )
    })
}

/// `v` as an i64 when it is a whole number in range (so not NaN or infinite).
fn integral(v: f64) -> Option<i64> {
    // 2^63 is the first f64 beyond i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v)).then_some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn save_npy_then_load_round_trips_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npy");
        let m = Matrix::new(2, 3, vec![1.5, -2.0, 0.0, 3.25, 1e-7, 6e7]).unwrap();
        save_npy(&p, &m).unwrap();
        assert_eq!(load_matrix(&p).unwrap(), m);
        // Overwrite with other contents: the rename replaced the file, no temporaries remain.
        let m2 = Matrix::new(1, 2, vec![7.0, 8.0]).unwrap();
        save_npy(&p, &m2).unwrap();
        assert_eq!(load_matrix(&p).unwrap(), m2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn save_npy_vec_loads_as_column_and_as_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        save_npy_vec(&p, &[3.0, 0.0, 9.0]).unwrap();
        let m = load_matrix(&p).unwrap();
        assert_eq!((m.rows, m.cols), (3, 1));
        assert_eq!(m.data, vec![3.0, 0.0, 9.0]);
        assert_eq!(load_labels(&p).unwrap(), vec![3, 0, 9]);
        save_npy_vec(&p, &[0.5]).unwrap();
        let err = load_labels(&p).unwrap_err().to_string();
        assert!(
            err.contains("row 0") && err.contains("not an integer"),
            "{err}"
        );
    }

    #[test]
    fn save_into_missing_directory_is_an_error() {
        let p = Path::new("/nonexistent-ae-dir/m.npy");
        let err = save_npy(p, &Matrix::zeros(1, 1)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent-ae-dir/m.npy"), "{err}");
    }

    #[test]
    fn format_is_chosen_by_file_name() {
        let f = |s: &str| Format::of(Path::new(s)).ok();
        assert_eq!(f("a/x.NPY"), Some(Format::Npy));
        assert_eq!(f("x.csv"), Some(Format::Csv));
        assert_eq!(f("x.tsv"), Some(Format::Csv));
        assert_eq!(f("x.txt"), Some(Format::Csv));
        assert_eq!(f("train-images-idx3-ubyte.gz"), Some(Format::Idx));
        assert_eq!(f("train-images-idx3-ubyte"), Some(Format::Idx));
        assert_eq!(f("x.idx"), Some(Format::Idx));
        assert_eq!(f("t10k-labels.idx1"), Some(Format::Idx));
        assert_eq!(f("x.parquet"), Some(Format::Parquet));
        assert_eq!(f("part-0.PQ"), Some(Format::Parquet));
        let err = load_matrix(Path::new("data/x.feather"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("data/x.feather") && err.contains(".npy") && err.contains(".parquet"),
            "{err}"
        );
        assert!(load_labels(Path::new("x.json")).is_err());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load_matrix(Path::new("/nonexistent-ae-dir/x.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent-ae-dir/x.csv"), "{err}");
    }

    #[test]
    fn every_loader_rejects_non_finite_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "1,2\n3,inf\n").unwrap();
        let err = load_matrix(&p).unwrap_err().to_string();
        assert!(
            err.contains("line 2, column 2") && err.contains("finite"),
            "{err}"
        );
        let p = dir.path().join("x.npy");
        save_npy(
            &p,
            &Matrix::new(1, 2, vec![0.0, f32::NEG_INFINITY]).unwrap(),
        )
        .unwrap();
        let err = load_matrix(&p).unwrap_err().to_string();
        assert!(err.contains("row 0, column 1: -inf"), "{err}");
    }

    /// The bundled MNIST subset: from ae-core it is `../../data`; the second candidate serves a
    /// scratch crate beside the checkout.
    fn mnist_file(name: &str) -> PathBuf {
        let candidates = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist-10k"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../main/data/mnist-10k"),
        ];
        candidates
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("bundled {name} not found under {candidates:?}"))
    }

    #[test]
    fn loads_bundled_mnist() {
        let images = load_matrix(&mnist_file("images-idx3-ubyte.gz")).unwrap();
        assert_eq!((images.rows, images.cols), (10_000, 784));
        assert!(images.data.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(images.data.contains(&1.0) && images.data.contains(&0.0));
        let labels = load_labels(&mnist_file("labels-idx1-ubyte.gz")).unwrap();
        assert_eq!(labels.len(), 10_000);
        assert!(labels.iter().all(|l| (0..=9).contains(l)));
        // Every digit occurs.
        assert!((0..=9).all(|d| labels.contains(&d)));
    }
}
