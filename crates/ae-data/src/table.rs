//! Tables as people have them: which columns are the features ([`ColumnSpec`]: `--columns`,
//! `--drop-columns`, by header name or by number counted from 1), which one holds the labels
//! (`--labels-column`), and what an empty cell (or a Parquet null) becomes ([`Impute`]: an error
//! naming the cell, or the column's median). [`open_table`] applies a spec to any file; what it
//! chose is an [`InputColumns`], saved with a model so that inference reads the same columns the
//! same way.

use crate::source::{self, ParquetSource, RowSource};
use crate::Format;
use ae_backend::{Error, Matrix, Result, Rng};
use std::path::{Path, PathBuf};

/// A column of a table: its header name, or its number counted from 1 (as `cut -f` and the
/// `line L, column C` of the error messages count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// Counted from 1.
    Number(usize),
    /// As in the header.
    Name(String),
}

impl std::str::FromStr for Column {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        match s.parse::<usize>() {
            Ok(0) => Err("columns are counted from 1".into()),
            Ok(n) => Ok(Column::Number(n)),
            Err(_) if s.is_empty() => Err("an empty column name".into()),
            Err(_) => Ok(Column::Name(s.to_string())),
        }
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Number(n) => write!(f, "{n}"),
            Column::Name(s) => write!(f, "{s}"),
        }
    }
}

/// What an empty cell of a feature column becomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Impute {
    /// An error naming the cell.
    #[default]
    Refuse,
    /// The column's median over the file's rows (exact up to [`MEDIAN_SAMPLE`] rows, else over
    /// a seeded sample of that many).
    Median,
    /// Given values, one per feature column (the medians saved with a model).
    Values(Vec<f32>),
}

/// Rows whose values an imputed median is taken over (a seeded reservoir sample beyond that).
pub const MEDIAN_SAMPLE: usize = 65_536;

/// Which columns of a table to read, and how.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnSpec {
    /// The feature columns, in this order (`None`: every column not dropped or labels).
    pub columns: Option<Vec<Column>>,
    /// Columns left out.
    pub drop: Vec<Column>,
    /// The column of integer labels (not a feature).
    pub labels: Option<Column>,
    /// Empty cells.
    pub impute: Impute,
}

/// The columns a spec picks out of a table of known width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Feature columns, counted from 0, in output order.
    pub features: Vec<usize>,
    /// The labels column, counted from 0.
    pub labels: Option<usize>,
}

impl ColumnSpec {
    /// Whether the spec reads every column as a feature with no labels (the default).
    pub fn is_whole(&self) -> bool {
        self.columns.is_none() && self.drop.is_empty() && self.labels.is_none()
    }

    /// The columns of a table of `width` columns with `header` (if it has one) that this spec
    /// picks; an unknown name or number is an error naming `path` and listing the header.
    pub fn resolve(
        &self,
        path: &Path,
        header: Option<&[String]>,
        width: usize,
    ) -> Result<Resolved> {
        let find = |c: &Column| -> Result<usize> {
            match c {
                Column::Number(n) if *n <= width => Ok(n - 1),
                Column::Number(n) => Err(Error::format(
                    path,
                    "columns",
                    format!("there is no column {n}: the table has {width} columns"),
                )),
                Column::Name(name) => match header {
                    Some(h) => h.iter().position(|f| f == name).ok_or_else(|| {
                        Error::format(
                            path,
                            "header",
                            format!("no column named {name:?}; the columns are {}", list(h)),
                        )
                    }),
                    None => Err(Error::format(
                        path,
                        "header",
                        format!(
                            "no header to find column {name:?} in; name columns by number \
                             (counted from 1) instead"
                        ),
                    )),
                },
            }
        };
        let labels = self.labels.as_ref().map(find).transpose()?;
        let dropped = self.drop.iter().map(find).collect::<Result<Vec<_>>>()?;
        let features: Vec<usize> = match &self.columns {
            Some(cols) => cols.iter().map(find).collect::<Result<_>>()?,
            None => (0..width).collect(),
        };
        let features: Vec<usize> = features
            .into_iter()
            .filter(|c| !dropped.contains(c) && Some(*c) != labels)
            .collect();
        if let Some(dup) = features
            .iter()
            .enumerate()
            .find(|(i, c)| features[..*i].contains(c))
        {
            return Err(Error::format(
                path,
                "columns",
                format!("column {} is named twice", dup.1 + 1),
            ));
        }
        Ok(Resolved { features, labels })
    }
}

/// `names` for a message: quoted, comma-separated, cut after 20.
fn list(names: &[String]) -> String {
    let mut out: Vec<String> = names.iter().take(20).map(|n| format!("{n:?}")).collect();
    if names.len() > 20 {
        out.push(format!("... ({} in all)", names.len()));
    }
    out.join(", ")
}

/// The columns a model was trained on, as read from its training file: saved in the model's
/// `config.json` so that `ae encode`, `ae score` and the others read a file the same way.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputColumns {
    /// Columns of the training file.
    pub width: usize,
    /// The feature columns of it, counted from 0, in the model's input order.
    pub columns: Vec<usize>,
    /// Their header names, where the file had a header.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// What an empty cell of each feature becomes (the training file's medians), where imputed.
    #[serde(default)]
    pub fill: Option<Vec<f32>>,
}

impl InputColumns {
    /// The spec that reads another file as this one was read: by header names where both
    /// files have them (`header` is the new file's), else by number; saved fill values fill
    /// empty cells.
    pub fn spec(&self, header: Option<&[String]>) -> ColumnSpec {
        let columns = match (&self.names, header) {
            (Some(names), Some(_)) => names.iter().map(|n| Column::Name(n.clone())).collect(),
            _ => self
                .columns
                .iter()
                .map(|&c| Column::Number(c + 1))
                .collect(),
        };
        ColumnSpec {
            columns: Some(columns),
            drop: Vec::new(),
            labels: None,
            impute: self.fill.clone().map_or(Impute::Refuse, Impute::Values),
        }
    }

    /// Whether these are every column of the file in order, with nothing imputed (then there is
    /// nothing to save).
    pub fn is_whole(&self) -> bool {
        self.fill.is_none() && self.columns.iter().copied().eq(0..self.width)
    }
}

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
/// files are parsed column by column ([`crate::csv::CsvSource`]) and Parquet files read by their
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
            let csv = crate::csv::CsvSource::open(path, spec)?;
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
    if !matches!(spec.impute, Impute::Refuse) {
        // Binary arrays have no empty cells; a NaN is an error where it is read.
        if let Impute::Values(v) = &spec.impute {
            check_fill(path, v, resolved.features.len())?;
        }
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
        Some(Format::Csv) => crate::csv::read_header(path)?,
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

/// An error unless `fill` holds one value per feature.
pub(crate) fn check_fill(path: &Path, fill: &[f32], features: usize) -> Result<()> {
    if fill.len() != features {
        return Err(Error::format(
            path,
            "columns",
            format!(
                "the model fills empty cells of {} columns but {features} are read",
                fill.len()
            ),
        ));
    }
    Ok(())
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

/// Medians of columns from a seeded reservoir sample of at most [`MEDIAN_SAMPLE`] values each
/// (every value when there are fewer), ignoring missing ones.
pub(crate) struct Medians {
    samples: Vec<Vec<f32>>,
    seen: Vec<usize>,
    rng: Rng,
}

impl Medians {
    pub(crate) fn new(cols: usize) -> Self {
        Medians {
            samples: vec![Vec::new(); cols],
            seen: vec![0; cols],
            rng: Rng::new(0x6d65_6469),
        }
    }

    /// Adds the value `v` of column `c`.
    pub(crate) fn add(&mut self, c: usize, v: f32) {
        self.seen[c] += 1;
        if self.samples[c].len() < MEDIAN_SAMPLE {
            self.samples[c].push(v);
        } else {
            let j = self.rng.below(self.seen[c]);
            if j < MEDIAN_SAMPLE {
                self.samples[c][j] = v;
            }
        }
    }

    /// Each column's median (the mean of the two middle values for an even count); a column
    /// with no values at all is an error naming it (`name(c)`).
    pub(crate) fn finish(self, path: &PathBuf, name: impl Fn(usize) -> String) -> Result<Vec<f32>> {
        self.samples
            .into_iter()
            .enumerate()
            .map(|(c, mut s)| {
                if s.is_empty() {
                    return Err(Error::format(
                        path,
                        format!("column {}", name(c)),
                        "every cell is empty, so there is no median to fill them with",
                    ));
                }
                s.sort_unstable_by(f32::total_cmp);
                let m = s.len() / 2;
                Ok(match s.len() % 2 {
                    1 => s[m],
                    _ => ((s[m - 1] as f64 + s[m] as f64) / 2.0) as f32,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn specs_resolve_by_name_and_number_and_name_what_is_missing() {
        let p = Path::new("t.csv");
        let h = names(&["id", "a", "b", "label"]);
        let spec = ColumnSpec {
            drop: vec!["id".parse().unwrap()],
            labels: Some("label".parse().unwrap()),
            ..ColumnSpec::default()
        };
        let r = spec.resolve(p, Some(&h), 4).unwrap();
        assert_eq!((r.features, r.labels), (vec![1, 2], Some(3)));
        let spec = ColumnSpec {
            columns: Some(vec!["3".parse().unwrap(), "a".parse().unwrap()]),
            ..ColumnSpec::default()
        };
        assert_eq!(spec.resolve(p, Some(&h), 4).unwrap().features, vec![2, 1]);
        let bad = ColumnSpec {
            drop: vec!["nope".parse().unwrap()],
            ..ColumnSpec::default()
        };
        let err = bad.resolve(p, Some(&h), 4).unwrap_err().to_string();
        assert!(err.contains("t.csv") && err.contains("\"nope\"") && err.contains("\"label\""));
        let err = bad.resolve(p, None, 4).unwrap_err().to_string();
        assert!(err.contains("no header"), "{err}");
        let far = ColumnSpec {
            columns: Some(vec![Column::Number(9)]),
            ..ColumnSpec::default()
        };
        assert!(far
            .resolve(p, None, 4)
            .unwrap_err()
            .to_string()
            .contains("4 columns"));
        assert!("0".parse::<Column>().is_err());
    }

    #[test]
    fn medians_are_exact_for_small_columns() {
        let mut m = Medians::new(2);
        for v in [5.0, 1.0, 3.0] {
            m.add(0, v);
        }
        for v in [4.0, 1.0, 3.0, 2.0] {
            m.add(1, v);
        }
        assert_eq!(
            m.finish(&"x".into(), |c| c.to_string()).unwrap(),
            vec![3.0, 2.5]
        );
        let err = Medians::new(1)
            .finish(&"x".into(), |_| "\"b\"".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column \"b\"") && err.contains("empty"),
            "{err}"
        );
    }

    #[test]
    fn a_saved_selection_reads_a_new_file_by_name_or_number() {
        let saved = InputColumns {
            width: 4,
            columns: vec![1, 2],
            names: Some(names(&["a", "b"])),
            fill: Some(vec![0.5, 1.5]),
        };
        let h = names(&["b", "a"]);
        let spec = saved.spec(Some(&h));
        assert_eq!(
            spec.resolve(Path::new("n.csv"), Some(&h), 2)
                .unwrap()
                .features,
            vec![1, 0]
        );
        assert_eq!(spec.impute, Impute::Values(vec![0.5, 1.5]));
        let by_number = saved.spec(None);
        assert_eq!(
            by_number
                .resolve(Path::new("n.npy"), None, 4)
                .unwrap()
                .features,
            vec![1, 2]
        );
        assert!(!saved.is_whole());
        let whole = InputColumns {
            width: 2,
            columns: vec![0, 1],
            names: None,
            fill: None,
        };
        assert!(whole.is_whole());
    }
}
