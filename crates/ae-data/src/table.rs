//! Tables as people have them: which columns are the features ([`ColumnSpec`]: `--columns`,
//! `--drop-columns`, by header name or by number counted from 1), which one holds the labels
//! (`--labels-column`), and what an empty cell (or a Parquet null) becomes ([`Impute`]: an error
//! naming the cell, or the column's median). [`open_table`] applies a spec to any file; what it
//! chose is an [`InputColumns`], saved with a model so that inference reads the same columns the
//! same way.

use crate::source::csv::CsvSource;
use crate::source::{self, ParquetSource, RowSource};
use crate::spec::check_fill;
pub use crate::spec::{Column, ColumnSpec, Impute, InputColumns, Resolved, MEDIAN_SAMPLE};
use crate::Format;
use ae_backend::{Error, Matrix, Result};
use std::path::Path;

/// A table opened under a [`ColumnSpec`].
pub struct Table {
    /// The feature columns' rows.
    pub source: Box<dyn RowSource>,
    /// The labels column, where the spec names one: `[rows]`.
    pub labels: Option<Vec<i64>>,
    /// What was read, to save with a model.
    pub input: InputColumns,
}

/// The format of a single file (not a directory or a pattern of shards).
fn file_format(path: &Path) -> Option<Format> {
    match source::is_sharded(path) {
        true => None,
        false => Format::of(path).ok(),
    }
}

/// Opens `path` (as [`source::open_tensor`] does) and reads the columns `spec` picks. Text
/// files are parsed column by column ([`CsvSource`]) and Parquet files read by their
/// schema's column names ([`ParquetSource`], shards of them too); binary arrays have no header,
/// so their columns are named by number, and their labels column must hold integers.
pub fn open_table(path: &Path, tensor: Option<&str>, spec: &ColumnSpec) -> Result<Table> {
    let format = file_format(path);
    if tensor.is_some() && matches!(format, Some(Format::Csv | Format::Parquet)) {
        // The error that a tensor name is for safetensors files only.
        source::open_tensor(path, tensor)?;
    }
    match format {
        Some(Format::Csv) => {
            let csv = CsvSource::open(path, spec)?;
            let input = csv.input_columns();
            let labels = csv.labels().map(<[i64]>::to_vec);
            return Ok(Table {
                source: Box::new(csv),
                labels,
                input,
            });
        }
        Some(Format::Parquet) => {
            let parquet = ParquetSource::open(path, spec)?;
            let input = parquet.input_columns();
            let labels = parquet.labels().map(<[i64]>::to_vec);
            return Ok(Table {
                source: Box::new(parquet),
                labels,
                input,
            });
        }
        _ => {}
    }
    if tensor.is_none() && source::is_sharded(path) {
        if let Some(table) = open_parquet_shards(path, spec)? {
            return Ok(table);
        }
    }
    let inner = source::open_tensor(path, tensor)?;
    let width = inner.cols();
    let resolved = spec.resolve(path, None, width)?;
    // Binary arrays have no empty cells (a NaN is an error where it is read); saved fill values
    // must still fit the columns read.
    if let Impute::Values(v) = &spec.impute {
        check_fill(path, v, resolved.features.len())?;
    }
    let labels = match resolved.labels {
        Some(c) => Some(read_label_column(inner.as_ref(), c)?),
        None => None,
    };
    let input = InputColumns {
        width,
        columns: resolved.features.clone(),
        names: None,
        fill: None,
    };
    let source: Box<dyn RowSource> = match input.is_whole() {
        true => inner,
        false => Box::new(SelectColumns {
            inner,
            columns: resolved.features,
        }),
    };
    Ok(Table {
        source,
        labels,
        input,
    })
}

/// Shards that are Parquet files, each read under `spec` ([`ParquetSource`], by column name),
/// as one table; `None` when no shard is a Parquet file. The first shard's medians fill the
/// others' nulls when imputing, so that every shard is filled alike.
fn open_parquet_shards(path: &Path, spec: &ColumnSpec) -> Result<Option<Table>> {
    let parquet = |f: &Path| matches!(Format::of(f), Ok(Format::Parquet));
    let files = source::shard_files(path)?;
    if !files.iter().any(|f| parquet(f)) {
        return Ok(None);
    }
    if let Some(other) = files.iter().find(|f| !parquet(f)) {
        return Err(Error::format(
            other,
            "shards",
            format!(
                "not a Parquet file, among Parquet shards in {}; name the shards with a pattern \
                 such as 'dir/*.parquet'",
                path.display()
            ),
        ));
    }
    let mut spec = spec.clone();
    let (mut labels, mut input) = (Vec::new(), None);
    let sharded = source::ShardedSource::open_with(path, |file| {
        let shard = ParquetSource::open(file, &spec)?;
        labels.extend_from_slice(shard.labels().unwrap_or_default());
        if input.is_none() {
            let first = shard.input_columns();
            if let (Impute::Median, Some(fill)) = (&spec.impute, &first.fill) {
                spec.impute = Impute::Values(fill.clone());
            }
            input = Some(first);
        }
        Ok(Box::new(shard))
    })?;
    Ok(Some(Table {
        source: Box::new(sharded),
        labels: spec.labels.is_some().then_some(labels),
        input: input.expect("at least one shard"),
    }))
}

/// Opens `path` for a model that was trained on the columns `saved` (if it recorded any): the
/// columns `spec` picks where it picks any (a spec that reads the whole file and names no labels
/// column defers to `saved`), else the saved ones, by header name where the file has a header;
/// the saved fill values fill empty cells unless `spec` says otherwise.
pub fn open_for_model(
    path: &Path,
    tensor: Option<&str>,
    spec: &ColumnSpec,
    saved: Option<&InputColumns>,
) -> Result<Table> {
    let Some(saved) = saved.filter(|s| !s.is_whole()) else {
        return open_table(path, tensor, spec);
    };
    let header = match file_format(path) {
        Some(Format::Csv) => source::csv::read_header(path)?,
        Some(Format::Parquet) => Some(source::parquet::read_header(path)?),
        _ if source::is_sharded(path) => {
            let files = source::shard_files(path)?;
            match files.first() {
                Some(f) if matches!(Format::of(f), Ok(Format::Parquet)) => {
                    Some(source::parquet::read_header(f)?)
                }
                _ => None,
            }
        }
        _ => None,
    };
    let mut chosen = match spec.columns.is_none() && spec.drop.is_empty() {
        true => saved.spec(header.as_deref()),
        false => spec.clone(),
    };
    chosen.labels = spec.labels.clone();
    if matches!(spec.impute, Impute::Median) {
        chosen.impute = Impute::Median;
    } else if let Some(fill) = &saved.fill {
        chosen.impute = Impute::Values(fill.clone());
    }
    open_table(path, tensor, &chosen)
}

/// Column `col` of every row of `source`, each an integer.
fn read_label_column(source: &dyn RowSource, col: usize) -> Result<Vec<i64>> {
    let mut labels = Vec::with_capacity(source.rows());
    for start in (0..source.rows()).step_by(4096) {
        let chunk = source.read(start, 4096.min(source.rows() - start))?;
        for r in 0..chunk.rows {
            let v = chunk.row(r)[col];
            let label = crate::integral(v as f64).ok_or_else(|| {
                Error::format(
                    source.path(),
                    format!("row {}, column {col}", start + r),
                    format!("expected an integer label, found {v}"),
                )
            })?;
            labels.push(label);
        }
    }
    Ok(labels)
}

/// Some columns of another source, in a given order.
pub struct SelectColumns {
    inner: Box<dyn RowSource>,
    /// Columns of `inner`, counted from 0.
    columns: Vec<usize>,
}

impl SelectColumns {
    fn pick(&self, m: Matrix) -> Result<Matrix> {
        let mut data = Vec::with_capacity(m.rows * self.columns.len());
        for r in 0..m.rows {
            let row = m.row(r);
            data.extend(self.columns.iter().map(|&c| row[c]));
        }
        Matrix::new(m.rows, self.columns.len(), data)
    }
}

impl RowSource for SelectColumns {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn rows(&self) -> usize {
        self.inner.rows()
    }
    fn cols(&self) -> usize {
        self.columns.len()
    }
    fn dtype(&self) -> Option<&'static str> {
        self.inner.dtype()
    }
    fn in_memory(&self) -> bool {
        self.inner.in_memory()
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        self.pick(self.inner.read(start, count)?)
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        self.pick(self.inner.gather(indices)?)
    }
}
