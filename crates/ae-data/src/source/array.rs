//! A typed, C-order array of fixed-size rows, in a file or in memory, read a chunk of rows at a
//! time and decoded to f32 ([`RowArray`]): what the NPY and IDX sources are once their headers
//! are read.

use super::{finite, out_of_range, PositionalFile};
use crate::{Dtype, RawArray};
use ae_backend::{Matrix, Result};
use std::path::{Path, PathBuf};

/// Where the element bytes of a [`RowArray`] are.
pub(crate) enum RowBytes {
    /// In memory (a small decompressed file).
    Memory(Vec<u8>),
    /// In a file, from byte `start`, read by positional reads.
    File { file: PositionalFile, start: usize },
}

/// `rows` rows of `cols` elements of `dtype` (big- or little-endian) at `bytes`; `path` names the
/// file in errors. Rows come back as f32 `[count, cols]`, checked finite, errors naming the row
/// and column in the whole array.
pub(crate) struct RowArray {
    pub(crate) path: PathBuf,
    pub(crate) bytes: RowBytes,
    pub(crate) dtype: Dtype,
    pub(crate) big_endian: bool,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl RowArray {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn row_bytes(&self) -> usize {
        self.cols * self.dtype.size()
    }

    /// Rows `start..start + count`: `[count, cols]`.
    pub(crate) fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        if start.checked_add(count).is_none_or(|end| end > self.rows) {
            return Err(out_of_range(&self.path, start, count, self.rows));
        }
        let rb = self.row_bytes();
        let bytes = match &self.bytes {
            RowBytes::Memory(b) => b[start * rb..(start + count) * rb].to_vec(),
            RowBytes::File { file, start: at } => {
                let mut bytes = vec![0u8; count * rb];
                file.read_at(&self.path, (at + start * rb) as u64, &mut bytes)?;
                bytes
            }
        };
        self.decode(bytes, count, |r| start + r)
    }

    /// The rows at `indices`, in that order: `[indices.len(), cols]` (one read per run of
    /// consecutive rows from a file).
    pub(crate) fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let rb = self.row_bytes();
        let bytes = match &self.bytes {
            RowBytes::Memory(b) => {
                let mut out = Vec::with_capacity(indices.len() * rb);
                for &i in indices {
                    let i = i as usize;
                    if i >= self.rows {
                        return Err(out_of_range(&self.path, i, 1, self.rows));
                    }
                    out.extend_from_slice(&b[i * rb..(i + 1) * rb]);
                }
                out
            }
            RowBytes::File { file, start } => {
                file.gather_rows(&self.path, *start, rb, self.rows, indices)?
            }
        };
        self.decode(bytes, indices.len(), |r| indices[r] as usize)
    }

    /// `count` rows of raw bytes as f32, checked finite; `row_of` numbers a chunk row in the
    /// array.
    fn decode(
        &self,
        bytes: Vec<u8>,
        count: usize,
        row_of: impl Fn(usize) -> usize,
    ) -> Result<Matrix> {
        let raw = RawArray {
            dtype: self.dtype,
            big_endian: self.big_endian,
            shape: vec![count, self.cols],
            bytes,
        };
        finite(&self.path, raw.decode()?, row_of)
    }
}

/// `impl RowSource` for a source type whose field `array` is a [`RowArray`].
macro_rules! row_array_source {
    ($source:ty) => {
        impl $crate::source::RowSource for $source {
            fn path(&self) -> &std::path::Path {
                self.array.path()
            }
            fn dtype(&self) -> Option<&'static str> {
                Some(self.array.dtype.name())
            }
            fn rows(&self) -> usize {
                self.array.rows
            }
            fn cols(&self) -> usize {
                self.array.cols
            }
            fn read(&self, start: usize, count: usize) -> ae_backend::Result<ae_backend::Matrix> {
                self.array.read(start, count)
            }
            fn gather(&self, indices: &[u32]) -> ae_backend::Result<ae_backend::Matrix> {
                self.array.gather(indices)
            }
        }
    };
}
pub(crate) use row_array_source;
