//! Parquet files as a data set ([`ParquetSource`]), read with the column readers of the
//! `parquet` crate (no Arrow). Opening reads the footer (and the offset index where the file has
//! one, which lets a read skip to the page that holds its first row); rows are decoded from the
//! row groups that hold them, column by column, by positional reads, so memory stays bounded by
//! the rows asked for (a row group at most per read, and a page per column). The reader keeps its
//! place, so rows read in order (`ae encode`, the normalisation passes) are decoded once.
//!
//! The columns are the schema's top-level fields, named as in the file and numbered from 1, for
//! [`ColumnSpec`]. The features are numeric columns (float, double, 8- to 64-bit integers signed
//! or unsigned, decimals stored as integers, float16, booleans as 0/1), or one list column of
//! numbers whose list is the row (activation dumps store a vector per row; every row's list must
//! have the same length). Strings, binary data, dates, times, timestamps and nested columns are
//! refused among the features, naming the flag that leaves them out. A null is an error naming
//! its row and column unless the spec fills it ([`Impute::Median`]: medians over at most
//! [`MEDIAN_SAMPLE`] rows spread through the file; [`Impute::Values`]). Places in errors are
//! `row R, column C ("name")`: rows counted from 0 in the file, columns from 1 as the flags count
//! them. Snappy, gzip, zstd and uncompressed column chunks are read; others are refused at open,
//! naming the codec.

use super::{finite_at, out_of_range, PositionalFile, RowSource};
use crate::spec::{
    check_fill, Column, ColumnSpec, Impute, InputColumns, Medians, Resolved, MEDIAN_SAMPLE,
};
use ::parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as Physical};
use ::parquet::column::reader::{get_column_reader, ColumnReader};
use ::parquet::data_type::FixedLenByteArray;
use ::parquet::errors::{ParquetError, Result as PqResult};
use ::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use ::parquet::file::page_index::offset_index::PageLocation;
use ::parquet::file::reader::{ChunkReader, Length, SerializedPageReader};
use ::parquet::schema::types::{ColumnDescriptor, SchemaDescPtr, Type as SchemaType};
use ae_backend::{Error, Matrix, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

mod decode;
mod io;
mod schema;
#[cfg(test)]
pub(crate) mod tests;

use self::decode::*;
use self::io::*;
use self::schema::*;

/// Rows decoded at once where a whole column or row group is read (labels, medians, checks).
const CHUNK_ROWS: usize = 4096;

/// A Parquet file read as a [`RowSource`] of the columns a [`ColumnSpec`] picks, by the schema's
/// top-level names (or numbers from 1): numeric columns as features (float, double, integers,
/// integer-stored decimals, float16, booleans as 0/1), or one list column of numbers as the row,
/// every row's list of one length. Opening reads the footer; a read decodes only the row groups
/// that hold its rows, continuing from where the last read stopped when it can. Nulls are an
/// error naming row and column unless the spec fills them; NaN and infinity are errors.
pub struct ParquetSource {
    path: PathBuf,
    file: Arc<Chunks>,
    meta: ParquetMetaData,
    schema: SchemaDescPtr,
    /// `starts[g]`: the first row of row group `g`; the last entry is the row count.
    starts: Vec<usize>,
    names: Vec<String>,
    resolved: Resolved,
    /// The feature columns; one list column when `list` is set.
    features: Vec<Feature>,
    /// With a list column: the definition level from which its list has an element.
    list: Option<i16>,
    cols: usize,
    fill: Option<Vec<f32>>,
    labels: Option<Vec<i64>>,
    cursor: Mutex<Option<Cursor>>,
}

/// Reads the footer of `path` (and its offset index, if any).
fn footer(path: &Path) -> Result<(Arc<Chunks>, ParquetMetaData)> {
    let chunks = Chunks(Arc::new(PositionalFile::open(path)?));
    let meta = ParquetMetaDataReader::new()
        .with_offset_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(&chunks)
        .map_err(|e| {
            Error::format(
                path,
                "footer",
                format!("not a readable Parquet file ({})", message(&e)),
            )
        })?;
    Ok((Arc::new(chunks), meta))
}

/// The names of the top-level columns of the Parquet file `path`.
pub(crate) fn read_header(path: &Path) -> Result<Vec<String>> {
    guarded(path, || {
        let (_, meta) = footer(path)?;
        Ok(fields(&meta.file_metadata().schema_descr_ptr()).0)
    })
}

/// Every row of the Parquet file `path` (every column a feature).
pub(crate) fn read_matrix(path: &Path) -> Result<Matrix> {
    let source = ParquetSource::open(path, &ColumnSpec::default())?;
    source.read(0, source.rows())
}

/// The labels of a Parquet file of one integer column.
pub(crate) fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let columns = read_header(path)?.len();
    if columns != 1 {
        return Err(Error::format(
            path,
            "columns",
            format!("labels must be a single column; the file has {columns}"),
        ));
    }
    let spec = ColumnSpec {
        columns: Some(Vec::new()),
        labels: Some(Column::Number(1)),
        ..ColumnSpec::default()
    };
    Ok(ParquetSource::open(path, &spec)?.labels.unwrap_or_default())
}

impl ParquetSource {
    /// Opens `path`, reads its footer and picks the columns `spec` names (by the schema's
    /// top-level names or numbers from 1). With a list column, the first row's list sets the
    /// width, and a row group whose value count does not fit it is searched for the row that
    /// differs. Labels, and medians when imputing, are read here; the features when asked for.
    pub fn open(path: &Path, spec: &ColumnSpec) -> Result<Self> {
        guarded(path, || Self::open_unguarded(path, spec))
    }

    fn open_unguarded(path: &Path, spec: &ColumnSpec) -> Result<Self> {
        let (file, meta) = footer(path)?;
        let schema = meta.file_metadata().schema_descr_ptr();
        let mut starts = vec![0usize];
        for (g, rg) in meta.row_groups().iter().enumerate() {
            if rg.num_columns() != schema.num_columns() {
                return Err(Error::format(
                    path,
                    format!("row group {g}"),
                    format!(
                        "{} column chunks for a schema of {} columns",
                        rg.num_columns(),
                        schema.num_columns()
                    ),
                ));
            }
            let end = usize::try_from(rg.num_rows())
                .ok()
                .and_then(|n| starts[g].checked_add(n))
                .ok_or_else(|| {
                    Error::format(
                        path,
                        format!("row group {g}"),
                        format!("a row count of {}", rg.num_rows()),
                    )
                })?;
            starts.push(end);
        }
        let total = meta.file_metadata().num_rows();
        if usize::try_from(total).ok() != starts.last().copied() {
            return Err(Error::format(
                path,
                "footer",
                format!(
                    "the file counts {total} rows, its row groups {}",
                    starts.last().copied().unwrap_or(0)
                ),
            ));
        }
        let (names, shapes) = fields(&schema);
        let resolved = spec.resolve(path, Some(&names), names.len())?;
        let mut source = ParquetSource {
            path: path.to_path_buf(),
            file,
            meta,
            schema,
            starts,
            names,
            resolved,
            features: Vec::new(),
            list: None,
            cols: 0,
            fill: None,
            labels: None,
            cursor: Mutex::new(None),
        };
        if source.rows() == 0 {
            return Err(Error::format(
                path,
                "footer",
                "no data rows: the file holds a schema and no rows",
            ));
        }
        for &c in &source.resolved.features {
            let feature = match &shapes[c] {
                Shape::Value { leaf, kind: Ok(k) } => source.feature(c, *leaf, *k),
                Shape::List {
                    leaf,
                    kind: Ok(k),
                    element_def,
                } => {
                    let others = source.resolved.features.len() - 1;
                    if others > 0 {
                        return Err(Error::format(
                            path,
                            format!("column {}", source.column_name(c)),
                            format!(
                                "a list per row, which must be the only feature column (there \
                                 are {others} others); read it alone with --columns {}",
                                source.flag_name(c)
                            ),
                        ));
                    }
                    source.list = Some(*element_def);
                    source.feature(c, *leaf, *k)
                }
                Shape::Value {
                    kind: Err(what), ..
                } => return Err(source.refuse(c, what)),
                Shape::List {
                    kind: Err(what), ..
                } => return Err(source.refuse(c, &format!("lists of {what}"))),
                Shape::Nested(what) => return Err(source.refuse(c, what)),
            };
            source.check_codec(&feature)?;
            source.features.push(feature);
        }
        source.cols = match source.list {
            Some(_) => source.list_width()?,
            None => source.features.len(),
        };
        match &spec.impute {
            Impute::Refuse => {}
            Impute::Values(v) => {
                check_fill(path, v, source.cols)?;
                source.fill = Some(v.clone());
            }
            Impute::Median => source.fill = Some(source.medians()?),
        }
        if let Some(c) = source.resolved.labels {
            let feature = match &shapes[c] {
                Shape::Value { leaf, kind: Ok(k) } => source.feature(c, *leaf, *k),
                Shape::Value {
                    kind: Err(what), ..
                }
                | Shape::List {
                    kind: Err(what), ..
                } => return Err(source.not_labels(c, what)),
                Shape::List { .. } => return Err(source.not_labels(c, "a list per row")),
                Shape::Nested(what) => return Err(source.not_labels(c, what)),
            };
            source.check_codec(&feature)?;
            source.labels = Some(source.read_labels(&feature)?);
        }
        Ok(source)
    }

    /// The labels column, where the spec names one: `[rows]`.
    pub fn labels(&self) -> Option<&[i64]> {
        self.labels.as_deref()
    }

    /// The names of the file's top-level columns.
    pub fn header(&self) -> &[String] {
        &self.names
    }

    /// Row groups in the file.
    pub fn row_groups(&self) -> usize {
        self.starts.len() - 1
    }

    /// What was read, to save with a model.
    pub fn input_columns(&self) -> InputColumns {
        InputColumns {
            width: self.names.len(),
            columns: self.resolved.features.clone(),
            names: Some(
                self.resolved
                    .features
                    .iter()
                    .map(|&c| self.names[c].clone())
                    .collect(),
            ),
            fill: self.fill.clone(),
        }
    }
}

impl RowSource for ParquetSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn rows(&self) -> usize {
        *self.starts.last().expect("at least the 0 start")
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn dtype(&self) -> Option<&'static str> {
        let first = self.features.first()?.kind.name();
        match self.features.iter().all(|f| f.kind.name() == first) {
            true => Some(first),
            false => Some("mixed"),
        }
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        if start.checked_add(count).is_none_or(|end| end > self.rows()) {
            return Err(out_of_range(&self.path, start, count, self.rows()));
        }
        let Some(len) = count.checked_mul(self.cols) else {
            return Err(out_of_range(&self.path, start, count, self.rows()));
        };
        let mut data = Vec::with_capacity(len);
        if count > 0 {
            self.decode(start, count, self.nulls(), &mut data)?;
        }
        let m = Matrix::new(count, self.cols, data)?;
        finite_at(&self.path, m, |r, c| {
            format!("row {}, column {}", start + r, self.feature_name(c))
        })
    }
    /// The rows are read in ascending order (each run of consecutive rows in one piece), so
    /// that every row group is decoded forward once.
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let (rows, cols) = (self.rows(), self.cols);
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= rows) {
            return Err(out_of_range(&self.path, bad as usize, 1, rows));
        }
        let mut order: Vec<usize> = (0..indices.len()).collect();
        order.sort_by_key(|&s| indices[s]);
        let mut data = vec![0.0f32; indices.len() * cols];
        let mut i = 0;
        while i < order.len() {
            let first = indices[order[i]] as usize;
            let (mut j, mut last) = (i + 1, first);
            while let Some(&next) = order.get(j).map(|&s| &indices[s]) {
                if next as usize > last + 1 {
                    break;
                }
                (last, j) = (next as usize, j + 1);
            }
            let run = self.read(first, last + 1 - first)?;
            for &slot in &order[i..j] {
                let r = indices[slot] as usize - first;
                data[slot * cols..(slot + 1) * cols].copy_from_slice(run.row(r));
            }
            i = j;
        }
        Matrix::new(indices.len(), cols, data)
    }
}
