//! Data sets read lazily: a [`RowSource`] has a known width and row count and hands out rows by
//! range or by index, so that a consumer holds one chunk at a time and memory stays bounded by the
//! chunk, not the data. [`open`] picks the source from the file name: NPY and safetensors files
//! are read by positional reads ([`NpySource`], [`SafetensorsSource`]: nothing is read until rows
//! are asked for, the header is checked against the file's length first, and the data stays in
//! the page cache, not in the process's memory); Parquet files are decoded from the row groups
//! that hold the rows asked for ([`ParquetSource`]); delimited text is parsed as it is read
//! ([`CsvSource`]); a directory or a pattern of shards is one [`ShardedSource`]; IDX files are
//! read by positional reads when raw, and decompressed once when gzipped as MNIST comes (into
//! memory when small, else into a temporary file: [`IdxSource`]).
//!
//! Rows come back as f32 `[count, cols]`, `u8` data divided by 255, and finite: a NaN or infinity
//! is an error naming the file and the row and column in the whole file (counted from 0).

mod array;
pub mod csv;
mod idx;
pub(crate) mod parquet;
mod safetensors;
mod sharded;

use self::array::{row_array_source, RowArray, RowBytes};
pub use self::csv::CsvSource;
pub use self::idx::{IdxSource, IDX_RESIDENT_BYTES};
pub use self::parquet::ParquetSource;
pub use self::safetensors::SafetensorsSource;
pub use self::sharded::ShardedSource;
pub(crate) use self::sharded::{is_sharded, shard_files};
use crate::npy::{self, Header};
use crate::{not_finite, Format};
use ae_backend::{Error, Matrix, Result};
use std::path::{Path, PathBuf};

/// A data set read lazily, row chunks at a time.
pub trait RowSource: Send + Sync {
    /// The file it reads.
    fn path(&self) -> &Path;
    /// Rows in the data set.
    fn rows(&self) -> usize;
    /// Values per row.
    fn cols(&self) -> usize;
    /// Rows `start..start + count`: `[count, cols]`. Errors when the range runs past the end.
    fn read(&self, start: usize, count: usize) -> Result<Matrix>;

    /// The element type as stored, where the format has one (`f32`, `u8`, ...).
    fn dtype(&self) -> Option<&'static str> {
        None
    }

    /// Whether the rows are already in memory (then reading them all costs no more memory).
    fn in_memory(&self) -> bool {
        false
    }

    /// The rows at `indices`, in that order: `[indices.len(), cols]`. Runs of consecutive
    /// indices are read in one piece.
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let cols = self.cols();
        let mut data = Vec::with_capacity(indices.len() * cols);
        for run in runs(indices) {
            data.extend(self.read(run.start, run.len())?.data);
        }
        Matrix::new(indices.len(), cols, data)
    }
}

/// `indices` cut into runs of consecutive row numbers (`[3, 4, 5, 9, 2]` gives `3..6`, `9..10`,
/// `2..3`), in order, so that sorted or contiguous rows are read in few pieces.
pub fn runs(indices: &[u32]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let first = *indices.get(at)? as usize;
        let mut len = 1;
        while indices
            .get(at + len)
            .is_some_and(|&i| i as usize == first + len)
        {
            len += 1;
        }
        at += len;
        Some(first..first + len)
    })
}

/// Opens `path` as a [`RowSource`]: NPY, safetensors and Parquet files read lazily, CSV streamed,
/// IDX whole, and a directory (or a `dir/*.npy`-style pattern: `*` and `?` in the file name) as
/// its files, sorted by name, one data set ([`ShardedSource`]).
pub fn open(path: &Path) -> Result<Box<dyn RowSource>> {
    open_tensor(path, None)
}

/// [`open`], naming the tensor to read when `path` is a safetensors file that holds several
/// (`tensor` is an error for any other format).
pub fn open_tensor(path: &Path, tensor: Option<&str>) -> Result<Box<dyn RowSource>> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let safetensors = name.as_deref().is_some_and(|n| n.ends_with(".safetensors"));
    if let (Some(t), false) = (tensor, safetensors) {
        return Err(Error::format(
            path,
            "tensor",
            format!("a tensor name ('{t}') is for safetensors files only"),
        ));
    }
    if safetensors {
        return Ok(Box::new(SafetensorsSource::open(path, tensor)?));
    }
    if is_sharded(path) {
        return Ok(Box::new(ShardedSource::open(path)?));
    }
    match Format::of(path)? {
        Format::Npy => Ok(Box::new(NpySource::open(path)?)),
        Format::Csv => Ok(Box::new(csv::CsvSource::open(
            path,
            &crate::spec::ColumnSpec::default(),
        )?)),
        Format::Parquet => Ok(Box::new(ParquetSource::open(
            path,
            &crate::spec::ColumnSpec::default(),
        )?)),
        Format::Idx => Ok(Box::new(IdxSource::open(path)?)),
    }
}

/// An error for rows `start..start + count` of a source of `rows` rows.
pub(crate) fn out_of_range(path: &Path, start: usize, count: usize, rows: usize) -> Error {
    Error::format(
        path,
        format!("rows {start}..{}", start.saturating_add(count)),
        format!("the data set has {rows} rows"),
    )
}

/// A data set held in memory (formats that are not read lazily yet, and data made in code).
pub struct MatrixSource<'a> {
    path: PathBuf,
    matrix: std::borrow::Cow<'a, Matrix>,
}

impl MatrixSource<'static> {
    /// `matrix` as a source; `path` names it in errors.
    pub fn new(path: impl Into<PathBuf>, matrix: Matrix) -> Self {
        MatrixSource {
            path: path.into(),
            matrix: std::borrow::Cow::Owned(matrix),
        }
    }
}

impl<'a> MatrixSource<'a> {
    /// A borrowed `matrix` as a source; `path` names it in errors.
    pub fn borrowed(path: impl Into<PathBuf>, matrix: &'a Matrix) -> Self {
        MatrixSource {
            path: path.into(),
            matrix: std::borrow::Cow::Borrowed(matrix),
        }
    }
}

impl RowSource for MatrixSource<'_> {
    fn path(&self) -> &Path {
        &self.path
    }
    fn in_memory(&self) -> bool {
        true
    }
    fn rows(&self) -> usize {
        self.matrix.rows
    }
    fn cols(&self) -> usize {
        self.matrix.cols
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        let (rows, cols) = (self.matrix.rows, self.matrix.cols);
        if start.checked_add(count).is_none_or(|end| end > rows) {
            return Err(out_of_range(&self.path, start, count, rows));
        }
        let data = self.matrix.data[start * cols..(start + count) * cols].to_vec();
        Matrix::new(count, cols, data)
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= self.matrix.rows) {
            return Err(out_of_range(&self.path, bad as usize, 1, self.matrix.rows));
        }
        let idx: Vec<usize> = indices.iter().map(|&i| i as usize).collect();
        Ok(self.matrix.select_rows(&idx))
    }
}

/// Some rows of a source as a data set of their own: row `i` is `source`'s row `rows[i]` (for
/// the training side of a split, without reading it).
pub struct RowSubset<'a> {
    source: &'a dyn RowSource,
    rows: &'a [u32],
}

impl<'a> RowSubset<'a> {
    /// `source`'s rows `rows`, in that order.
    pub fn new(source: &'a dyn RowSource, rows: &'a [u32]) -> Self {
        RowSubset { source, rows }
    }
}

impl RowSource for RowSubset<'_> {
    fn path(&self) -> &Path {
        self.source.path()
    }
    fn dtype(&self) -> Option<&'static str> {
        self.source.dtype()
    }
    fn in_memory(&self) -> bool {
        self.source.in_memory()
    }
    fn rows(&self) -> usize {
        self.rows.len()
    }
    fn cols(&self) -> usize {
        self.source.cols()
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        match start.checked_add(count) {
            Some(end) if end <= self.rows.len() => self.source.gather(&self.rows[start..end]),
            _ => Err(out_of_range(self.path(), start, count, self.rows.len())),
        }
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let mapped = indices
            .iter()
            .map(|&i| {
                self.rows
                    .get(i as usize)
                    .copied()
                    .ok_or_else(|| out_of_range(self.path(), i as usize, 1, self.rows.len()))
            })
            .collect::<Result<Vec<u32>>>()?;
        self.source.gather(&mapped)
    }
}

/// A file read by positional reads (`pread`): each chunk's bytes are read into a buffer of that
/// chunk, so the data set stays in the operating system's page cache and out of the process's
/// resident memory (a memory map would count every page it touched).
pub(crate) struct PositionalFile {
    file: std::fs::File,
    len: u64,
    #[cfg(not(unix))]
    lock: std::sync::Mutex<()>,
}

impl PositionalFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_file(path, file)
    }

    /// An open `file`; `path` names it in errors.
    pub(crate) fn from_file(path: &Path, file: std::fs::File) -> Result<Self> {
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(PositionalFile {
            file,
            len,
            #[cfg(not(unix))]
            lock: std::sync::Mutex::new(()),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Fills `buf` from byte `offset`.
    pub(crate) fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.read_exact_at(offset, buf)
            .map_err(|e| Error::io(path, e))
    }

    /// Fills `buf` from byte `offset` (the I/O error as it came).
    pub(crate) fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(buf, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Read, Seek, SeekFrom};
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut f = &self.file;
            f.seek(SeekFrom::Start(offset))
                .and_then(|_| f.read_exact(buf))
        }
    }

    /// The rows at `indices` of an array of `rows` rows of `row_bytes` bytes from byte `start`,
    /// in that order, with one read per run of consecutive rows ([`runs`]); an index past the end
    /// is an error naming `path`.
    pub(crate) fn gather_rows(
        &self,
        path: &Path,
        start: usize,
        row_bytes: usize,
        rows: usize,
        indices: &[u32],
    ) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; indices.len() * row_bytes];
        let mut at = 0;
        for run in runs(indices) {
            if run.end > rows {
                return Err(out_of_range(path, run.start.max(rows), 1, rows));
            }
            let len = run.len() * row_bytes;
            let from = start + run.start * row_bytes;
            self.read_at(path, from as u64, &mut bytes[at..at + len])?;
            at += len;
        }
        Ok(bytes)
    }

    /// The first `min(len, n)` bytes.
    pub(crate) fn prefix(&self, path: &Path, n: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n.min(self.len) as usize];
        self.read_at(path, 0, &mut buf)?;
        Ok(buf)
    }
}

/// An NPY file (C order; every readable dtype) read a chunk of rows at a time. Opening reads and
/// checks the header only: the data the shape promises must be exactly what the file holds
/// after it.
pub struct NpySource {
    array: RowArray,
}

impl NpySource {
    /// Maps `path` and checks its header against its length.
    pub fn open(path: &Path) -> Result<Self> {
        let file = PositionalFile::open(path)?;
        let len = file.len() as usize;
        // The header: its length is in the first 12 bytes; read no more than the file holds.
        let mut prefix = file.prefix(path, 4096)?;
        if let Some(needed) = npy::header_end(&prefix) {
            if needed > prefix.len() {
                prefix = file.prefix(path, needed as u64)?;
            }
        }
        let Header {
            dtype,
            fortran,
            shape,
            data_start,
        } = npy::header(path, &prefix, len)?;
        if fortran && shape.len() > 1 && shape[1..].iter().product::<usize>() > 1 {
            return Err(Error::format(
                path,
                "header",
                "a Fortran-order array cannot be read row by row; save it in C order \
                 (numpy.ascontiguousarray)",
            ));
        }
        Ok(NpySource {
            array: RowArray {
                path: path.to_path_buf(),
                bytes: RowBytes::File {
                    file,
                    start: data_start,
                },
                dtype,
                big_endian: false,
                rows: shape[0],
                cols: shape[1..].iter().product(),
            },
        })
    }
}

row_array_source!(NpySource);

/// `m` if every value is finite, else an error naming `path` and the first bad value's row (as
/// `row_of` numbers a row of `m` in the file) and column.
pub(crate) fn finite(path: &Path, m: Matrix, row_of: impl Fn(usize) -> usize) -> Result<Matrix> {
    finite_at(path, m, |r, c| format!("row {}, column {c}", row_of(r)))
}

/// `m` if every value is finite, else an error naming `path` and the first bad value's place as
/// `place(row, column)` of `m` says it.
pub(crate) fn finite_at(
    path: &Path,
    m: Matrix,
    place: impl Fn(usize, usize) -> String,
) -> Result<Matrix> {
    match m.first_non_finite() {
        Some((r, c, v)) => Err(Error::format(path, place(r, c), not_finite(v))),
        None => Ok(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_matrix;

    fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let unpadded = 10 + header.len() + 1;
        header.extend(std::iter::repeat_n(
            ' ',
            unpadded.next_multiple_of(64) - unpadded,
        ));
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn a_row_subset_reads_the_rows_it_names() {
        let m = Matrix::new(10, 2, (0..20).map(|i| i as f32).collect()).unwrap();
        let src = MatrixSource::borrowed("m", &m);
        let rows = [7u32, 2, 3, 9];
        let sub = RowSubset::new(&src, &rows);
        assert_eq!((sub.rows(), sub.cols(), sub.in_memory()), (4, 2, true));
        assert_eq!(sub.read(1, 2).unwrap().data, [4.0, 5.0, 6.0, 7.0]);
        assert_eq!(sub.gather(&[3, 0]).unwrap().data, [18.0, 19.0, 14.0, 15.0]);
        let err = sub.read(3, 2).unwrap_err().to_string();
        assert!(err.contains("rows 3..5") && err.contains("4 rows"), "{err}");
        assert!(sub.gather(&[4]).is_err());
    }

    #[test]
    fn runs_cut_indices_where_they_stop_being_consecutive() {
        let cut: Vec<_> = runs(&[3, 4, 5, 9, 2, 3, 3]).collect();
        assert_eq!(cut, vec![3..6, 9..10, 2..4, 3..4]);
        assert_eq!(runs(&[]).count(), 0);
    }

    #[test]
    fn gathers_of_runs_and_of_scattered_rows_equal_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = Matrix::new(40, 2, (0..80).map(|i| i as f32).collect()).unwrap();
        let path = dir.path().join("x.npy");
        crate::save_npy(&path, &m).unwrap();
        let shards = dir.path().join("shards");
        std::fs::create_dir(&shards).unwrap();
        for (i, range) in [0..13, 13..14, 14..40].into_iter().enumerate() {
            let part = m.select_rows(&range.collect::<Vec<_>>());
            crate::save_npy(&shards.join(format!("{i}.npy")), &part).unwrap();
        }
        let idx: Vec<u32> = vec![10, 11, 12, 13, 14, 15, 39, 0, 1, 20, 20, 7];
        let want = m.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
        for src in [open(&path).unwrap(), open(&shards).unwrap()] {
            assert_eq!(src.gather(&idx).unwrap(), want, "{}", src.path().display());
            let err = src.gather(&[38, 39, 40]).unwrap_err().to_string();
            assert!(err.contains("rows 40..41"), "{err}");
        }
    }

    #[test]
    fn npy_rows_by_range_and_index_equal_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = Matrix::new(7, 3, (0..21).map(|i| i as f32 * 0.5 - 2.0).collect()).unwrap();
        let path = dir.path().join("x.npy");
        crate::save_npy(&path, &m).unwrap();
        let src = open(&path).unwrap();
        assert_eq!((src.rows(), src.cols()), (7, 3));
        assert_eq!(src.read(0, 7).unwrap(), m);
        assert_eq!(src.read(2, 3).unwrap(), m.select_rows(&[2, 3, 4]));
        assert_eq!(src.gather(&[6, 0, 3]).unwrap(), m.select_rows(&[6, 0, 3]));
        let err = src.read(5, 3).unwrap_err().to_string();
        assert!(err.contains("x.npy") && err.contains("rows 5..8") && err.contains("7 rows"));
    }

    #[test]
    fn every_npy_dtype_reads_as_load_matrix_does() {
        let dir = tempfile::tempdir().unwrap();
        let f16: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let f64s: Vec<u8> = [1.5f64, -2.0, 0.25, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        for (name, bytes) in [
            ("f16", npy_bytes("<f2", "(2, 2)", &f16)),
            ("f64", npy_bytes("<f8", "(2, 2)", &f64s)),
            ("u8", npy_bytes("|u1", "(2, 2)", &[0, 51, 255, 102])),
            (
                "i16",
                npy_bytes("<i2", "(2, 2)", &[1, 0, 255, 255, 7, 0, 0, 1]),
            ),
        ] {
            let path = dir.path().join(format!("{name}.npy"));
            std::fs::write(&path, bytes).unwrap();
            let src = NpySource::open(&path).unwrap();
            assert_eq!(
                src.read(0, 2).unwrap(),
                load_matrix(&path).unwrap(),
                "{name}"
            );
            assert_eq!(
                src.read(1, 1).unwrap().data,
                load_matrix(&path).unwrap().row(1),
                "{name}"
            );
        }
    }

    #[test]
    fn a_header_promising_more_than_the_file_holds_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.npy");
        // 10^12 rows of 768 f32 claimed, 16 bytes present: refused before any allocation.
        std::fs::write(&path, npy_bytes("<f4", "(1000000000000, 768)", &[0; 16])).unwrap();
        let err = NpySource::open(&path).err().unwrap().to_string();
        assert!(err.contains("big.npy") && err.contains("expected"), "{err}");
        // A truncated file: one row short.
        let path = dir.path().join("short.npy");
        std::fs::write(&path, npy_bytes("<f4", "(3, 2)", &[0; 20])).unwrap();
        let err = NpySource::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("short.npy") && err.contains("24 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_nan_names_its_row_in_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Matrix::zeros(5, 2);
        m.data[7] = f32::NAN; // row 3, column 1
        let path = dir.path().join("nan.npy");
        crate::save_npy(&path, &m).unwrap();
        let src = NpySource::open(&path).unwrap();
        assert!(src.read(0, 3).is_ok());
        let err = src.read(2, 3).unwrap_err().to_string();
        assert!(err.contains("row 3, column 1"), "{err}");
    }

    #[test]
    fn shards_read_as_one_data_set_and_a_misfit_shard_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let m = Matrix::new(10, 2, (0..20).map(|i| i as f32).collect()).unwrap();
        for (name, rows) in [
            ("b.npy", &[4usize, 5, 6][..]),
            ("a.npy", &[0, 1, 2, 3]),
            ("c.npy", &[7, 8, 9]),
        ] {
            crate::save_npy(&dir.path().join(name), &m.select_rows(rows)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt.bak"), "ignored by the pattern").unwrap();
        let src = open(&dir.path().join("*.npy")).unwrap();
        assert_eq!((src.rows(), src.cols()), (10, 2));
        assert_eq!(src.read(0, 10).unwrap(), m);
        assert_eq!(src.read(3, 5).unwrap(), m.select_rows(&[3, 4, 5, 6, 7]));
        assert_eq!(src.gather(&[9, 0, 4]).unwrap(), m.select_rows(&[9, 0, 4]));
        crate::save_npy(&dir.path().join("d.npy"), &Matrix::zeros(2, 3)).unwrap();
        let err = open(&dir.path().join("*.npy")).err().unwrap().to_string();
        assert!(
            err.contains("d.npy") && err.contains("3 columns") && err.contains("a.npy"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("d.npy")).unwrap();
        std::fs::write(
            dir.path().join("e.npy"),
            npy_bytes("|u1", "(1, 2)", &[1, 2]),
        )
        .unwrap();
        let err = open(&dir.path().join("*.npy")).err().unwrap().to_string();
        assert!(
            err.contains("e.npy") && err.contains("u8") && err.contains("f32"),
            "{err}"
        );
        let empty = tempfile::tempdir().unwrap();
        let err = open(empty.path()).err().unwrap().to_string();
        assert!(err.contains("no data files"), "{err}");
    }
}
