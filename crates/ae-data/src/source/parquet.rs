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

/// Rows decoded at once where a whole column or row group is read (labels, medians, checks).
const CHUNK_ROWS: usize = 4096;

thread_local! {
    /// Set while this thread runs the `parquet` crate under [`guarded`]; the panic hook then
    /// keeps the panic's place here instead of printing it.
    static GUARDED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`, turning a panic in it into an error naming `path`: the `parquet` crate still
/// unwraps on some damaged files (a page header missing its fields, for one), and a damaged file
/// must be an error, not a crash. The panic is not printed (a panic hook, installed once, passes
/// every other panic to the hook before it); its message and place are in the error.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = GUARDED.with(|g| match g.borrow_mut().as_mut() {
                Some(place) => {
                    *place = info.location().map(|l| l.to_string()).unwrap_or_default();
                    true
                }
                None => false,
            });
            if !quiet {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.with(|g| g.replace(Some(String::new())));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let place = GUARDED.with(|g| std::mem::replace(&mut *g.borrow_mut(), outer));
    outcome.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::format(
            path,
            "data",
            format!(
                "damaged or not Parquet: the decoder gave up ({what}, at {})",
                place
                    .as_deref()
                    .map_or("", |p| p.rsplit_once("/parquet-").map_or(p, |(_, p)| p))
            ),
        ))
    })
}

/// The file as the `parquet` crate reads it: positional reads, so that the readers of several
/// columns (and threads) never share a file offset.
struct Chunks(Arc<PositionalFile>);

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

/// A sequential reader from a byte offset on, by positional reads.
struct At {
    file: Arc<PositionalFile>,
    pos: u64,
}

impl std::io::Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.file.len().saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        self.file.read_exact_at(self.pos, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl ChunkReader for Chunks {
    type T = std::io::BufReader<At>;

    fn get_read(&self, start: u64) -> PqResult<Self::T> {
        Ok(std::io::BufReader::new(At {
            file: Arc::clone(&self.0),
            pos: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> PqResult<bytes::Bytes> {
        // Checked before allocating: a damaged footer may promise any length.
        if start
            .checked_add(length as u64)
            .is_none_or(|end| end > self.0.len())
        {
            return Err(ParquetError::EOF(format!(
                "{length} bytes from byte {start} run past the end of the file ({} bytes)",
                self.0.len()
            )));
        }
        let mut buf = vec![0u8; length];
        self.0
            .read_exact_at(start, &mut buf)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(buf.into())
    }
}

/// How a column's stored values become numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bool,
    I32,
    U32,
    I64,
    U64,
    F16,
    F32,
    F64,
    /// Stored as INT32, with this scale (digits after the point).
    Decimal32(i32),
    /// Stored as INT64, with this scale.
    Decimal64(i32),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::I32 => "i32",
            Kind::U32 => "u32",
            Kind::I64 => "i64",
            Kind::U64 => "u64",
            Kind::F16 => "f16",
            Kind::F32 => "f32",
            Kind::F64 => "f64",
            Kind::Decimal32(_) | Kind::Decimal64(_) => "decimal",
        }
    }
}

/// The kind of a leaf column's values, or what it holds in words when it is not numeric.
fn kind(d: &ColumnDescriptor) -> std::result::Result<Kind, String> {
    let logical = d.logical_type_ref();
    let converted = d.converted_type();
    let what = |s: &str| Err(s.to_string());
    match d.physical_type() {
        Physical::BOOLEAN => Ok(Kind::Bool),
        Physical::INT32 | Physical::INT64 => {
            let wide = d.physical_type() == Physical::INT64;
            match (logical, converted) {
                (Some(LogicalType::Date), _) | (None, ConvertedType::DATE) => return what("dates"),
                (Some(LogicalType::Time(_)), _)
                | (None, ConvertedType::TIME_MILLIS | ConvertedType::TIME_MICROS) => {
                    return what("times of day")
                }
                (Some(LogicalType::Timestamp(_)), _)
                | (None, ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS) => {
                    return what("timestamps")
                }
                (None | Some(LogicalType::Integer(_) | LogicalType::Decimal(_)), _) => {}
                (Some(other), _) => return Err(format!("{other:?} values")),
            }
            let decimal = matches!(logical, Some(LogicalType::Decimal(_)))
                || converted == ConvertedType::DECIMAL;
            let unsigned = match logical {
                Some(LogicalType::Integer(int)) => !int.is_signed,
                _ => matches!(
                    converted,
                    ConvertedType::UINT_8
                        | ConvertedType::UINT_16
                        | ConvertedType::UINT_32
                        | ConvertedType::UINT_64
                ),
            };
            Ok(match (wide, decimal, unsigned) {
                (false, true, _) => Kind::Decimal32(d.type_scale()),
                (true, true, _) => Kind::Decimal64(d.type_scale()),
                (false, false, true) => Kind::U32,
                (false, false, false) => Kind::I32,
                (true, false, true) => Kind::U64,
                (true, false, false) => Kind::I64,
            })
        }
        Physical::FLOAT => Ok(Kind::F32),
        Physical::DOUBLE => Ok(Kind::F64),
        Physical::FIXED_LEN_BYTE_ARRAY
            if matches!(logical, Some(LogicalType::Float16)) && d.type_length() == 2 =>
        {
            Ok(Kind::F16)
        }
        Physical::INT96 => what("INT96 timestamps"),
        Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY => match (logical, converted) {
            (Some(LogicalType::String | LogicalType::Enum | LogicalType::Json), _)
            | (None, ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON) => {
                what("strings")
            }
            (Some(LogicalType::Decimal(_)), _) | (None, ConvertedType::DECIMAL) => {
                what("decimals stored as bytes")
            }
            (Some(LogicalType::Uuid), _) => what("UUIDs"),
            _ => what("binary data"),
        },
    }
}

/// What a top-level column of the file holds.
#[derive(Clone, Debug)]
enum Shape {
    /// One value per row, in leaf column `leaf`.
    Value {
        leaf: usize,
        kind: std::result::Result<Kind, String>,
    },
    /// A list of values per row in leaf column `leaf`: an element exists where the definition
    /// level is at least `element_def` (below it the row's list is empty or null).
    List {
        leaf: usize,
        kind: std::result::Result<Kind, String>,
        element_def: i16,
    },
    /// Anything else, in words.
    Nested(String),
}

/// The names and shapes of the top-level columns of a schema.
fn fields(schema: &SchemaDescPtr) -> (Vec<String>, Vec<Shape>) {
    let top = schema.root_schema().get_fields();
    let mut leaves: Vec<Vec<usize>> = vec![Vec::new(); top.len()];
    for leaf in 0..schema.num_columns() {
        if let Some(l) = leaves.get_mut(schema.get_column_root_idx(leaf)) {
            l.push(leaf);
        }
    }
    let names = top.iter().map(|f| f.name().to_string()).collect();
    let shapes = top
        .iter()
        .zip(&leaves)
        .map(|(field, leaves)| match leaves[..] {
            [leaf] => {
                let d = schema.column(leaf);
                match d.max_rep_level() {
                    0 => Shape::Value {
                        leaf,
                        kind: kind(&d),
                    },
                    1 => Shape::List {
                        leaf,
                        kind: kind(&d),
                        element_def: element_def(field, d.path().parts()),
                    },
                    _ => Shape::Nested("lists of lists".into()),
                }
            }
            [] => Shape::Nested("an empty group".into()),
            _ => Shape::Nested(format!(
                "a group of {} columns (a struct or a map)",
                leaves.len()
            )),
        })
        .collect();
    (names, shapes)
}

/// The definition level of the repeated node on the path from the top-level field `root` to a
/// leaf (`path`: the names from `root` down): levels from it up mean the list has an element.
fn element_def(root: &SchemaType, path: &[String]) -> i16 {
    let mut node = root;
    let mut def = 0;
    let mut below = path.iter().skip(1);
    loop {
        if node.get_basic_info().has_repetition() {
            match node.get_basic_info().repetition() {
                Repetition::OPTIONAL => def += 1,
                Repetition::REPEATED => return def + 1,
                Repetition::REQUIRED => {}
            }
        }
        let next = match below.next() {
            Some(name) if node.is_group() => node.get_fields().iter().find(|f| f.name() == name),
            _ => None,
        };
        match next {
            Some(child) => node = child,
            None => return def,
        }
    }
}

/// A feature (or the labels) column: where its values are and how to read them.
#[derive(Clone, Debug)]
struct Feature {
    /// The top-level column, counted from 0.
    field: usize,
    /// Its leaf column in the schema.
    leaf: usize,
    kind: Kind,
    max_def: i16,
}

/// Column readers positioned at row `next` of row group `group`, one per feature.
struct Cursor {
    group: usize,
    next: usize,
    readers: Vec<ColumnReader>,
}

/// What a null becomes while decoding.
#[derive(Clone, Copy)]
enum Nulls<'a> {
    /// An error naming it.
    Refuse,
    /// The value of its feature.
    Fill(&'a [f32]),
    /// NaN (while sampling medians, which skip it).
    Nan,
}

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

/// A `parquet` crate error as a message (without its "Parquet error: " prefix).
fn message(e: &ParquetError) -> String {
    let text = e.to_string();
    match text.strip_prefix("Parquet error: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
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

    fn feature(&self, field: usize, leaf: usize, kind: Kind) -> Feature {
        Feature {
            field,
            leaf,
            kind,
            max_def: self.schema.column(leaf).max_def_level(),
        }
    }

    /// Column `c` (from 0) as messages name it: `3 ("age")`.
    fn column_name(&self, c: usize) -> String {
        format!("{} ({:?})", c + 1, self.names[c])
    }

    /// How a flag names column `c`: its name when it is a plain one, else its number.
    fn flag_name(&self, c: usize) -> String {
        let name = &self.names[c];
        match name.is_empty() || name.contains([' ', ',', '"']) || name.parse::<usize>().is_ok() {
            true => (c + 1).to_string(),
            false => name.clone(),
        }
    }

    /// Output column `i` as messages name it: its column, and in a list its place.
    fn feature_name(&self, i: usize) -> String {
        match self.list {
            Some(_) => format!("{}, element {i}", self.column_name(self.features[0].field)),
            None => self.column_name(self.features[i].field),
        }
    }

    fn refuse(&self, c: usize, what: &str) -> Error {
        Error::format(
            &self.path,
            format!("column {}", self.column_name(c)),
            format!(
                "holds {what}, not numbers; leave the column out with --drop-columns {}",
                self.flag_name(c)
            ),
        )
    }

    fn not_labels(&self, c: usize, what: &str) -> Error {
        Error::format(
            &self.path,
            format!("column {}", self.column_name(c)),
            format!("holds {what}; a labels column must hold integers"),
        )
    }

    /// An error unless every chunk of `feature`'s column is compressed with a codec this build
    /// reads and counts a value (or null) for each of its rows at least.
    fn check_codec(&self, feature: &Feature) -> Result<()> {
        for (g, rg) in self.meta.row_groups().iter().enumerate() {
            // Every row has a level at least: fewer values than rows is a damaged footer.
            if rg.column(feature.leaf).num_values() < rg.num_rows() {
                return Err(Error::format(
                    &self.path,
                    format!("row group {g}, column {}", self.column_name(feature.field)),
                    format!(
                        "the footer counts {} values for {} rows",
                        rg.column(feature.leaf).num_values(),
                        rg.num_rows()
                    ),
                ));
            }
            let codec = match rg.column(feature.leaf).compression() {
                Compression::UNCOMPRESSED
                | Compression::SNAPPY
                | Compression::GZIP(_)
                | Compression::ZSTD(_) => continue,
                Compression::BROTLI(_) => "Brotli",
                Compression::LZ4 => "LZ4",
                Compression::LZ4_RAW => "LZ4_RAW",
                Compression::LZO => "LZO",
            };
            return Err(Error::format(
                &self.path,
                format!("column {}", self.column_name(feature.field)),
                format!(
                    "compressed with {codec}, which ae does not read (it reads Snappy, gzip, zstd \
                     and uncompressed Parquet); rewrite the file with one of those, e.g. \
                     pyarrow.parquet.write_table(table, path, compression=\"zstd\")"
                ),
            ));
        }
        Ok(())
    }

    /// An error for a row group whose data cannot be decoded.
    fn damaged(&self, group: usize, feature: &Feature, e: ParquetError) -> Error {
        Error::format(
            &self.path,
            format!(
                "row group {group}, column {}",
                self.column_name(feature.field)
            ),
            format!("cannot be decoded ({})", message(&e)),
        )
    }

    /// An error for a column chunk that holds fewer rows than the footer says.
    fn short(&self, group: usize, feature: &Feature) -> Error {
        Error::format(
            &self.path,
            format!(
                "row group {group}, column {}",
                self.column_name(feature.field)
            ),
            format!(
                "holds fewer than the {} rows the footer promises",
                self.starts[group + 1] - self.starts[group]
            ),
        )
    }

    /// The page locations of `feature`'s column chunk in row group `group` from the offset
    /// index, where the file has one that makes sense (first rows rising from 0 within the row
    /// group); a damaged index is left unused, so that pages are found by their headers.
    fn page_locations(&self, group: usize, feature: &Feature) -> Option<Vec<PageLocation>> {
        let pages = self
            .meta
            .offset_index()?
            .get(group)?
            .get(feature.leaf)?
            .page_locations();
        let rows = (self.starts[group + 1] - self.starts[group]) as i64;
        let sane = pages.first().is_some_and(|p| p.first_row_index == 0)
            && pages
                .windows(2)
                .all(|w| w[0].first_row_index < w[1].first_row_index)
            && pages.last().is_some_and(|p| p.first_row_index < rows)
            && pages
                .iter()
                .all(|p| p.offset >= 0 && p.compressed_page_size > 0);
        sane.then(|| pages.clone())
    }

    /// A reader of `feature`'s column in row group `group`, at its first row.
    fn column_reader(&self, group: usize, feature: &Feature) -> Result<ColumnReader> {
        let chunk = self.meta.row_group(group).column(feature.leaf);
        let pages = self.page_locations(group, feature);
        let rows = self.starts[group + 1] - self.starts[group];
        let pages = SerializedPageReader::new(Arc::clone(&self.file), chunk, rows, pages)
            .map_err(|e| self.damaged(group, feature, e))?;
        Ok(get_column_reader(
            self.schema.column(feature.leaf),
            Box::new(pages),
        ))
    }

    /// Moves `cursor` (in row group `group`) forward to row `local` of the group. Numeric
    /// columns skip (whole pages unread where their row counts are known). A list column is
    /// read forward instead, except for whole pages the offset index locates, which a fresh
    /// reader skips unread: the `parquet` crate's skip of a repeated column can loop forever
    /// on a damaged page, its read cannot.
    fn skip_to(&self, cursor: &mut Cursor, group: usize, local: usize) -> Result<()> {
        if self.list.is_none() {
            let gap = local - cursor.next;
            for (reader, f) in cursor.readers.iter_mut().zip(&self.features) {
                let skipped = skip(reader, gap).map_err(|e| self.damaged(group, f, e))?;
                if skipped != gap {
                    return Err(self.short(group, f));
                }
            }
            cursor.next = local;
            return Ok(());
        }
        let f = &self.features[0];
        let page_start = self.page_locations(group, f).and_then(|pages| {
            let at = pages.partition_point(|p| p.first_row_index as usize <= local);
            Some(pages.get(at.checked_sub(1)?)?.first_row_index as usize)
        });
        if let Some(start) = page_start.filter(|&s| s > cursor.next) {
            let mut reader = self.column_reader(group, f)?;
            let skipped = skip(&mut reader, start).map_err(|e| self.damaged(group, f, e))?;
            if skipped != start {
                return Err(self.short(group, f));
            }
            (cursor.readers, cursor.next) = (vec![reader], start);
        }
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        while cursor.next < local {
            let n = (local - cursor.next).min(256);
            def.clear();
            rep.clear();
            values.clear();
            let got = read_leaf(
                &mut cursor.readers[0],
                f.kind,
                n,
                &mut def,
                &mut rep,
                &mut values,
            )
            .map_err(|e| self.damaged(group, f, e))?;
            if got != n {
                return Err(self.short(group, f));
            }
            cursor.next += n;
        }
        Ok(())
    }

    /// The row group that holds row `row` (empty row groups hold none).
    fn group_of(&self, row: usize) -> usize {
        self.starts.partition_point(|&s| s <= row) - 1
    }

    /// The length of the first row's list (every row's must be the same), checked against each
    /// row group's value count; a row group that does not fit is read to name the row that
    /// differs.
    fn list_width(&mut self) -> Result<usize> {
        let feature = self.features[0].clone();
        let element_def = self.list.expect("a list column");
        let group = self.group_of(0);
        let mut reader = self.column_reader(group, &feature)?;
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let got = read_leaf(
            &mut reader,
            feature.kind,
            1,
            &mut def,
            &mut rep,
            &mut values,
        )
        .map_err(|e| self.damaged(group, &feature, e))?;
        if got != 1 {
            return Err(self.short(group, &feature));
        }
        let width = def.iter().filter(|&&d| d >= element_def).count();
        if width == 0 {
            return Err(Error::format(
                &self.path,
                format!("row 0, column {}", self.column_name(feature.field)),
                "an empty or null list: the first row's list sets the width of every row",
            ));
        }
        self.cols = width;
        for g in 0..self.row_groups() {
            let rows = (self.starts[g + 1] - self.starts[g]) as i64;
            let levels = self.meta.row_group(g).column(feature.leaf).num_values();
            if rows.checked_mul(width as i64) != Some(levels) {
                // Decoding the row group finds the row whose list differs.
                for start in (self.starts[g]..self.starts[g + 1]).step_by(CHUNK_ROWS) {
                    let count = CHUNK_ROWS.min(self.starts[g + 1] - start);
                    self.decode(start, count, Nulls::Nan, &mut Vec::new())?;
                }
                return Err(Error::format(
                    &self.path,
                    format!("row group {g}, column {}", self.column_name(feature.field)),
                    format!(
                        "the footer counts {levels} values for {rows} rows of lists of {width}"
                    ),
                ));
            }
        }
        Ok(width)
    }

    /// Medians of the features over at most [`MEDIAN_SAMPLE`] rows: every row of a smaller
    /// file, else runs of 256 rows spread evenly through it. Nulls (and NaN) are left out.
    fn medians(&self) -> Result<Vec<f32>> {
        const RUN: usize = 256;
        let rows = self.rows();
        let runs: Vec<(usize, usize)> = match rows <= MEDIAN_SAMPLE {
            true => (0..rows)
                .step_by(CHUNK_ROWS)
                .map(|s| (s, CHUNK_ROWS.min(rows - s)))
                .collect(),
            false => {
                let n = MEDIAN_SAMPLE / RUN;
                (0..n).map(|k| (k * (rows - RUN) / (n - 1), RUN)).collect()
            }
        };
        let mut medians = Medians::new(self.cols);
        let mut values = Vec::new();
        for (start, count) in runs {
            values.clear();
            self.decode(start, count, Nulls::Nan, &mut values)?;
            for row in values.chunks_exact(self.cols.max(1)) {
                for (c, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        medians.add(c, v);
                    }
                }
            }
        }
        medians.finish(&self.path, |c| self.feature_name(c))
    }

    /// Every row of the labels column, each an integer.
    fn read_labels(&self, feature: &Feature) -> Result<Vec<i64>> {
        // Not more than a million up front: the footer's row count is checked, not proven.
        let mut labels = Vec::with_capacity(self.rows().min(1 << 20));
        let (mut def, mut values) = (Vec::new(), Vec::new());
        for g in 0..self.row_groups() {
            let rows = self.starts[g + 1] - self.starts[g];
            if rows == 0 {
                continue;
            }
            let mut reader = self.column_reader(g, feature)?;
            let mut done = 0;
            while done < rows {
                let n = CHUNK_ROWS.min(rows - done);
                def.clear();
                values.clear();
                let got = read_label_leaf(&mut reader, feature.kind, n, &mut def, &mut values)
                    .map_err(|e| self.damaged(g, feature, e))?;
                if got != n || (feature.max_def > 0 && def.len() != n) {
                    return Err(self.short(g, feature));
                }
                let mut at = values.iter();
                for r in 0..n {
                    let row = self.starts[g] + done + r;
                    let place = || format!("row {row}, column {}", self.column_name(feature.field));
                    if def.get(r).is_some_and(|&d| d < feature.max_def) {
                        return Err(Error::format(&self.path, place(), "a null label"));
                    }
                    let Some(&value) = at.next() else {
                        return Err(self.short(g, feature));
                    };
                    let label = value.map_err(|v| {
                        Error::format(
                            &self.path,
                            place(),
                            format!("expected an integer label, found {v}"),
                        )
                    })?;
                    labels.push(label);
                }
                done += n;
            }
        }
        Ok(labels)
    }

    /// The nulls policy of reads: the fill values, if any.
    fn nulls(&self) -> Nulls<'_> {
        match &self.fill {
            Some(f) => Nulls::Fill(f),
            None => Nulls::Refuse,
        }
    }

    /// Appends the features of rows `start..start + count` to `out` (row-major), from the row
    /// groups that hold them, continuing from where the last read stopped when it can.
    fn decode(&self, start: usize, count: usize, nulls: Nulls, out: &mut Vec<f32>) -> Result<()> {
        let mut slot = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let result = guarded(&self.path, || {
            self.decode_with(&mut slot, start, count, nulls, out)
        });
        if result.is_err() {
            *slot = None;
        }
        result
    }

    fn decode_with(
        &self,
        slot: &mut Option<Cursor>,
        start: usize,
        count: usize,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let end = start + count;
        let mut row = start;
        while row < end {
            let group = self.group_of(row);
            let local = row - self.starts[group];
            let take = (self.starts[group + 1] - row).min(end - row);
            let reuse = matches!(slot, Some(c) if c.group == group && c.next <= local);
            if !reuse {
                let readers = self
                    .features
                    .iter()
                    .map(|f| self.column_reader(group, f))
                    .collect::<Result<_>>()?;
                *slot = Some(Cursor {
                    group,
                    next: 0,
                    readers,
                });
            }
            let cursor = slot.as_mut().expect("positioned above");
            if cursor.next < local {
                self.skip_to(cursor, group, local)?;
            }
            match self.list {
                Some(element_def) => {
                    self.decode_list(cursor, row, take, element_def, nulls, out)?
                }
                None => self.decode_columns(cursor, row, take, nulls, out)?,
            }
            cursor.next += take;
            row += take;
        }
        Ok(())
    }

    /// The value of a null at `row` (in the file) of output column `i`.
    fn null(&self, nulls: Nulls, row: usize, i: usize) -> Result<f32> {
        match nulls {
            Nulls::Fill(fill) => Ok(fill[i]),
            Nulls::Nan => Ok(f32::NAN),
            Nulls::Refuse => {
                let hint = match self.list {
                    Some(_) => String::new(),
                    None => format!(
                        ", or leave the column out with --drop-columns {}",
                        self.flag_name(self.features[i].field)
                    ),
                };
                Err(Error::format(
                    &self.path,
                    format!("row {row}, column {}", self.feature_name(i)),
                    format!("a null value; fill nulls with --impute median{hint}"),
                ))
            }
        }
    }

    /// Rows `row..row + take` (all in the cursor's row group, from its place) of numeric columns.
    fn decode_columns(
        &self,
        cursor: &mut Cursor,
        row: usize,
        take: usize,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (cols, base, group) = (self.cols, out.len(), cursor.group);
        out.resize(base + take * cols, 0.0);
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (reader, f)) in cursor.readers.iter_mut().zip(&self.features).enumerate() {
            def.clear();
            rep.clear();
            values.clear();
            let got = read_leaf(reader, f.kind, take, &mut def, &mut rep, &mut values)
                .map_err(|e| self.damaged(group, f, e))?;
            let defined = match f.max_def {
                0 => take,
                _ => def.iter().filter(|&&d| d == f.max_def).count(),
            };
            if got != take || (f.max_def > 0 && def.len() != take) || values.len() != defined {
                return Err(self.short(group, f));
            }
            let mut at = values.iter();
            for r in 0..take {
                out[base + r * cols + i] = match f.max_def == 0 || def[r] == f.max_def {
                    true => *at.next().ok_or_else(|| self.short(group, f))?,
                    false => self.null(nulls, row + r, i)?,
                };
            }
        }
        Ok(())
    }

    /// Rows `row..row + take` of the list column: each row's list, every one of `self.cols`
    /// values.
    fn decode_list(
        &self,
        cursor: &mut Cursor,
        row: usize,
        take: usize,
        element_def: i16,
        nulls: Nulls,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (w, base, group) = (self.cols, out.len(), cursor.group);
        let f = &self.features[0];
        out.resize(base + take * w, 0.0);
        let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let got = read_leaf(
            &mut cursor.readers[0],
            f.kind,
            take,
            &mut def,
            &mut rep,
            &mut values,
        )
        .map_err(|e| self.damaged(group, f, e))?;
        if got != take || rep.len() != def.len() {
            return Err(self.short(group, f));
        }
        let wrong = |r: usize, len: usize| {
            Error::format(
                &self.path,
                format!("row {}, column {}", row + r, self.column_name(f.field)),
                format!(
                    "a list of {len} values where every row's list must have {w} (as row 0's \
                     has)"
                ),
            )
        };
        let mut at = values.iter();
        // The chunk row being filled and the length of its list so far.
        let (mut r, mut len) = (None::<usize>, 0usize);
        for (&d, &p) in def.iter().zip(&rep) {
            if p == 0 {
                if let Some(prev) = r {
                    if len != w {
                        return Err(wrong(prev, len));
                    }
                }
                r = Some(r.map_or(0, |prev| prev + 1));
                len = 0;
            }
            let Some(cur) = r.filter(|&cur| cur < take) else {
                return Err(self.short(group, f));
            };
            if d < element_def {
                continue;
            }
            let v = match d == f.max_def {
                true => *at.next().ok_or_else(|| self.short(group, f))?,
                false => self.null(nulls, row + cur, len.min(w - 1))?,
            };
            if len < w {
                out[base + cur * w + len] = v;
            }
            len += 1;
        }
        match r {
            Some(last) if last + 1 == take && len == w => Ok(()),
            Some(last) if last + 1 == take => Err(wrong(last, len)),
            _ => Err(self.short(group, f)),
        }
    }
}

/// Skips `n` records of any column reader; returns how many it skipped.
fn skip(reader: &mut ColumnReader, n: usize) -> PqResult<usize> {
    match reader {
        ColumnReader::BoolColumnReader(r) => r.skip_records(n),
        ColumnReader::Int32ColumnReader(r) => r.skip_records(n),
        ColumnReader::Int64ColumnReader(r) => r.skip_records(n),
        ColumnReader::Int96ColumnReader(r) => r.skip_records(n),
        ColumnReader::FloatColumnReader(r) => r.skip_records(n),
        ColumnReader::DoubleColumnReader(r) => r.skip_records(n),
        ColumnReader::ByteArrayColumnReader(r) => r.skip_records(n),
        ColumnReader::FixedLenByteArrayColumnReader(r) => r.skip_records(n),
    }
}

/// A float16 stored as two little-endian bytes (NaN for anything else, refused as not finite).
fn f16_of(x: &FixedLenByteArray) -> f32 {
    match x.data() {
        [a, b] => half::f16::from_le_bytes([*a, *b]).to_f32(),
        _ => f32::NAN,
    }
}

/// Reads `n` records of a numeric column: definition and repetition levels into `def` and
/// `rep` (left empty where the column has none), the values present as f32 into `values`.
/// Returns the records read.
fn read_leaf(
    reader: &mut ColumnReader,
    kind: Kind,
    n: usize,
    def: &mut Vec<i16>,
    rep: &mut Vec<i16>,
    values: &mut Vec<f32>,
) -> PqResult<usize> {
    macro_rules! read {
        ($r:expr, |$x:ident: $t:ty| $conv:expr) => {{
            let mut raw: Vec<$t> = Vec::new();
            let (records, _, _) = $r.read_records(n, Some(&mut *def), Some(&mut *rep), &mut raw)?;
            values.extend(raw.into_iter().map(|$x: $t| $conv));
            records
        }};
    }
    Ok(match (reader, kind) {
        (ColumnReader::BoolColumnReader(r), _) => read!(r, |x: bool| x as u8 as f32),
        (ColumnReader::Int32ColumnReader(r), Kind::U32) => read!(r, |x: i32| x as u32 as f32),
        (ColumnReader::Int32ColumnReader(r), Kind::Decimal32(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i32| (x as f64 / scale) as f32)
        }
        (ColumnReader::Int32ColumnReader(r), _) => read!(r, |x: i32| x as f32),
        (ColumnReader::Int64ColumnReader(r), Kind::U64) => read!(r, |x: i64| x as u64 as f32),
        (ColumnReader::Int64ColumnReader(r), Kind::Decimal64(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i64| (x as f64 / scale) as f32)
        }
        (ColumnReader::Int64ColumnReader(r), _) => read!(r, |x: i64| x as f32),
        (ColumnReader::FloatColumnReader(r), _) => read!(r, |x: f32| x),
        (ColumnReader::DoubleColumnReader(r), _) => read!(r, |x: f64| x as f32),
        (ColumnReader::FixedLenByteArrayColumnReader(r), Kind::F16) => {
            read!(r, |x: FixedLenByteArray| f16_of(&x))
        }
        _ => return Err(ParquetError::General("not a numeric column".into())),
    })
}

/// Reads `n` records of a labels column: definition levels into `def`, each value present as an
/// integer, or `Err(value)` where it is not one.
fn read_label_leaf(
    reader: &mut ColumnReader,
    kind: Kind,
    n: usize,
    def: &mut Vec<i16>,
    values: &mut Vec<std::result::Result<i64, f64>>,
) -> PqResult<usize> {
    let mut rep = Vec::new();
    let whole = |v: f64| crate::integral(v).ok_or(v);
    macro_rules! read {
        ($r:expr, |$x:ident: $t:ty| $conv:expr) => {{
            let mut raw: Vec<$t> = Vec::new();
            let (records, _, _) = $r.read_records(n, Some(&mut *def), Some(&mut rep), &mut raw)?;
            values.extend(raw.into_iter().map(|$x: $t| $conv));
            records
        }};
    }
    Ok(match (reader, kind) {
        (ColumnReader::BoolColumnReader(r), _) => read!(r, |x: bool| Ok(x as i64)),
        (ColumnReader::Int32ColumnReader(r), Kind::U32) => read!(r, |x: i32| Ok(x as u32 as i64)),
        (ColumnReader::Int32ColumnReader(r), Kind::Decimal32(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i32| whole(x as f64 / scale))
        }
        (ColumnReader::Int32ColumnReader(r), _) => read!(r, |x: i32| Ok(x as i64)),
        (ColumnReader::Int64ColumnReader(r), Kind::U64) => {
            read!(r, |x: i64| i64::try_from(x as u64)
                .map_err(|_| x as u64 as f64))
        }
        (ColumnReader::Int64ColumnReader(r), Kind::Decimal64(s)) => {
            let scale = 10f64.powi(s);
            read!(r, |x: i64| whole(x as f64 / scale))
        }
        (ColumnReader::Int64ColumnReader(r), _) => read!(r, |x: i64| Ok(x)),
        (ColumnReader::FloatColumnReader(r), _) => read!(r, |x: f32| whole(x as f64)),
        (ColumnReader::DoubleColumnReader(r), _) => read!(r, |x: f64| whole(x)),
        (ColumnReader::FixedLenByteArrayColumnReader(r), Kind::F16) => {
            read!(r, |x: FixedLenByteArray| whole(f16_of(&x) as f64))
        }
        _ => return Err(ParquetError::General("not a numeric column".into())),
    })
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::table::{open_for_model, open_table};
    use ::parquet::basic::{GzipLevel, ZstdLevel};
    use ::parquet::data_type::{
        BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
    };
    use ::parquet::file::properties::{EnabledStatistics, WriterProperties};
    use ::parquet::file::writer::SerializedFileWriter;
    use ::parquet::schema::parser::parse_message_type;
    use std::ops::Range;

    /// A column of test data, one entry per row (`None`: a null).
    pub(crate) enum Data {
        Str(Vec<String>),
        F64(Vec<Option<f64>>),
        F32(Vec<Option<f32>>),
        I32(Vec<Option<i32>>),
        I64(Vec<Option<i64>>),
        Bool(Vec<bool>),
        /// A three-level `optional group (LIST) { repeated group list { optional float element } }`.
        List(Vec<Option<Vec<Option<f32>>>>),
    }

    /// Small pages (3 rows), so that row groups hold several, and dictionary encoding on.
    pub(crate) fn props(codec: Compression, offset_index: bool) -> WriterProperties {
        let b = WriterProperties::builder()
            .set_compression(codec)
            .set_data_page_row_count_limit(3)
            .set_write_batch_size(3);
        match offset_index {
            true => b.build(),
            false => b
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_offset_index_disabled(true)
                .build(),
        }
    }

    /// Writes `columns` under `schema` (a message type) to `path`, one row group ending at each
    /// of `ends`.
    pub(crate) fn write(
        path: &Path,
        schema: &str,
        columns: &[Data],
        ends: &[usize],
        props: WriterProperties,
    ) {
        fn opt<T: Clone>(v: &[Option<T>], max_def: i16) -> (Vec<T>, Option<Vec<i16>>) {
            let values = v.iter().flatten().cloned().collect();
            let def = (max_def > 0).then(|| v.iter().map(|x| x.is_some() as i16).collect());
            (values, def)
        }
        let schema = Arc::new(parse_message_type(schema).unwrap());
        let top = schema.get_fields().to_vec();
        let file = std::fs::File::create(path).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
        for (k, &end) in ends.iter().enumerate() {
            let g = ends[..k].last().copied().unwrap_or(0)..end;
            let mut rg = writer.next_row_group().unwrap();
            let mut i = 0;
            while let Some(mut col) = rg.next_column().unwrap() {
                let rows = g.clone();
                match &columns[i] {
                    Data::Str(v) => {
                        let values: Vec<ByteArray> =
                            v[rows].iter().map(|s| s.as_str().into()).collect();
                        let w = col.typed::<ByteArrayType>();
                        w.write_batch(&values, None, None).unwrap();
                    }
                    Data::F64(v) => {
                        let w = col.typed::<DoubleType>();
                        let (values, def) = opt(&v[rows], w.get_descriptor().max_def_level());
                        w.write_batch(&values, def.as_deref(), None).unwrap();
                    }
                    Data::F32(v) => {
                        let w = col.typed::<FloatType>();
                        let (values, def) = opt(&v[rows], w.get_descriptor().max_def_level());
                        w.write_batch(&values, def.as_deref(), None).unwrap();
                    }
                    Data::I32(v) => {
                        let w = col.typed::<Int32Type>();
                        let (values, def) = opt(&v[rows], w.get_descriptor().max_def_level());
                        w.write_batch(&values, def.as_deref(), None).unwrap();
                    }
                    Data::I64(v) => {
                        let w = col.typed::<Int64Type>();
                        let (values, def) = opt(&v[rows], w.get_descriptor().max_def_level());
                        w.write_batch(&values, def.as_deref(), None).unwrap();
                    }
                    Data::Bool(v) => {
                        let w = col.typed::<BoolType>();
                        w.write_batch(&v[rows], None, None).unwrap();
                    }
                    Data::List(v) => {
                        let w = col.typed::<FloatType>();
                        let d = w.get_descriptor().clone();
                        let max = d.max_def_level();
                        let elem = element_def(&top[i], d.path().parts());
                        let (mut values, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
                        for row in &v[rows] {
                            match row {
                                None => (def.push(elem - 2), rep.push(0)),
                                Some(l) if l.is_empty() => (def.push(elem - 1), rep.push(0)),
                                Some(l) => {
                                    for (j, x) in l.iter().enumerate() {
                                        rep.push((j > 0) as i16);
                                        def.push(if x.is_some() { max } else { max - 1 });
                                        values.extend(x);
                                    }
                                    ((), ())
                                }
                            };
                        }
                        w.write_batch(&values, Some(&def), Some(&rep)).unwrap();
                    }
                }
                col.close().unwrap();
                i += 1;
            }
            rg.close().unwrap();
        }
        writer.close().unwrap();
    }

    const TABLE: &str = "message t {
        required binary id (STRING);
        optional double x;
        required float y;
        required int32 k (INTEGER(16, true));
        optional int64 n;
        required boolean flag;
        required int32 u (INTEGER(32, false));
        required int32 label;
    }";

    /// 20 rows of [`TABLE`] with nulls at `x_nulls` (in x) and `n_nulls` (in n); the features
    /// (x, y, k, n, flag, u) as f32, nulls as NaN.
    fn table(x_nulls: &[usize], n_nulls: &[usize]) -> (Vec<Data>, Matrix) {
        let rows = 20;
        let x: Vec<Option<f64>> = (0..rows)
            .map(|r| (!x_nulls.contains(&r)).then_some(r as f64 * 0.5 - 3.0))
            .collect();
        let y: Vec<f32> = (0..rows).map(|r| (r as f32 * 0.7).sin()).collect();
        let k: Vec<i32> = (0..rows as i32).map(|r| r - 10).collect();
        let n: Vec<Option<i64>> = (0..rows)
            .map(|r| (!n_nulls.contains(&r)).then_some(r as i64 * 1000))
            .collect();
        let flag: Vec<bool> = (0..rows).map(|r| r % 3 == 0).collect();
        // Unsigned 32-bit values beyond i32::MAX, stored as their bits.
        let u: Vec<u32> = (0..rows as u32)
            .map(|r| 4_000_000_000 - r * 1_000_000)
            .collect();
        let mut want = Vec::new();
        for r in 0..rows {
            want.extend([
                x[r].map_or(f32::NAN, |v| v as f32),
                y[r],
                k[r] as f32,
                n[r].map_or(f32::NAN, |v| v as f32),
                flag[r] as u8 as f32,
                u[r] as f32,
            ]);
        }
        let data = vec![
            Data::Str((0..rows).map(|r| format!("r{r}")).collect()),
            Data::F64(x),
            Data::F32(y.into_iter().map(Some).collect()),
            Data::I32(k.into_iter().map(Some).collect()),
            Data::I64(n),
            Data::Bool(flag),
            Data::I32(u.into_iter().map(|v| Some(v as i32)).collect()),
            Data::I32((0..rows as i32).map(|r| Some(r % 3)).collect()),
        ];
        (data, Matrix::new(rows, 6, want).unwrap())
    }

    /// Row groups of 7, 0, 1 and 12 rows.
    const GROUPS: [usize; 4] = [7, 7, 8, 20];

    fn spec(drop: &[&str], labels: Option<&str>) -> ColumnSpec {
        ColumnSpec {
            drop: drop.iter().map(|d| d.parse().unwrap()).collect(),
            labels: labels.map(|l| l.parse().unwrap()),
            ..ColumnSpec::default()
        }
    }

    fn rows(m: &Matrix, r: Range<usize>) -> Matrix {
        m.select_rows(&r.collect::<Vec<_>>())
    }

    #[test]
    fn numeric_columns_read_by_range_and_by_index_across_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let (data, want) = table(&[], &[]);
        write(
            &path,
            TABLE,
            &data,
            &GROUPS,
            props(Compression::SNAPPY, true),
        );
        let src = ParquetSource::open(&path, &spec(&["id"], Some("label"))).unwrap();
        assert_eq!((src.rows(), src.cols(), src.row_groups()), (20, 6, 4));
        assert_eq!(src.read(0, 20).unwrap(), want);
        // Ranges that straddle row groups (the empty one included), in and out of order.
        for (start, count) in [
            (5, 6),
            (7, 1),
            (6, 2),
            (9, 2),
            (15, 5),
            (1, 2),
            (0, 0),
            (20, 0),
        ] {
            assert_eq!(
                src.read(start, count).unwrap(),
                rows(&want, start..start + count),
                "{start}+{count}"
            );
        }
        let idx: Vec<u32> = vec![19, 0, 7, 7, 8, 3, 12, 6, 13];
        let by_index = want.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
        assert_eq!(src.gather(&idx).unwrap(), by_index);
        let err = src.read(18, 3).unwrap_err().to_string();
        assert!(
            err.contains("t.parquet") && err.contains("rows 18..21"),
            "{err}"
        );
        let err = src.gather(&[3, 20]).unwrap_err().to_string();
        assert!(err.contains("rows 20..21"), "{err}");
        assert_eq!(
            src.labels().unwrap(),
            (0..20).map(|r| r % 3).collect::<Vec<i64>>()
        );
        assert_eq!(src.dtype(), Some("mixed"));
        let input = src.input_columns();
        assert_eq!((input.width, input.columns), (8, vec![1, 2, 3, 4, 5, 6]));
        let names: Vec<String> = ["x", "y", "k", "n", "flag", "u"].map(String::from).into();
        assert_eq!(input.names, Some(names));
        // Columns by name and by number, in the order given.
        let pick = ColumnSpec {
            columns: Some(vec!["y".parse().unwrap(), "2".parse().unwrap()]),
            ..ColumnSpec::default()
        };
        let src = ParquetSource::open(&path, &pick).unwrap();
        let yx: Vec<f32> = (0..20)
            .flat_map(|r| [want.row(r)[1], want.row(r)[0]])
            .collect();
        assert_eq!(src.read(0, 20).unwrap().data, yx);
        assert_eq!(src.dtype(), Some("mixed"));
        // The table layer gives the same, with the labels.
        let t = open_table(&path, None, &spec(&["id"], Some("label"))).unwrap();
        assert_eq!(t.source.read(3, 9).unwrap(), rows(&want, 3..12));
        assert_eq!(t.labels.as_deref().map(<[i64]>::len), Some(20));
    }

    #[test]
    fn a_string_column_is_refused_with_the_flag_that_leaves_it_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let (data, _) = table(&[], &[]);
        write(
            &path,
            TABLE,
            &data,
            &GROUPS,
            props(Compression::UNCOMPRESSED, true),
        );
        let err = ParquetSource::open(&path, &ColumnSpec::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("t.parquet")
                && err.contains("column 1 (\"id\")")
                && err.contains("strings")
                && err.contains("--drop-columns id"),
            "{err}"
        );
        let err = crate::load_matrix(&path).unwrap_err().to_string();
        assert!(err.contains("--drop-columns id"), "{err}");
        let err = ParquetSource::open(&path, &spec(&["nope"], None))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no column named \"nope\"") && err.contains("\"flag\""),
            "{err}"
        );
        // A labels column of strings.
        let err = ParquetSource::open(&path, &spec(&[], Some("id")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("column 1 (\"id\")") && err.contains("integers"),
            "{err}"
        );
    }

    #[test]
    fn nulls_are_refused_naming_row_and_column_or_filled_with_medians() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gaps.parquet");
        let (data, want) = table(&[4, 13], &[7]);
        write(
            &path,
            TABLE,
            &data,
            &GROUPS,
            props(Compression::GZIP(GzipLevel::default()), false),
        );
        let src = ParquetSource::open(&path, &spec(&["id", "label"], None)).unwrap();
        assert_eq!(src.read(8, 5).unwrap(), rows(&want, 8..13));
        let err = src.read(0, 20).unwrap_err().to_string();
        assert!(
            err.contains("row 4, column 2 (\"x\")")
                && err.contains("null")
                && err.contains("--impute median")
                && err.contains("--drop-columns x"),
            "{err}"
        );
        let err = src.read(5, 5).unwrap_err().to_string();
        assert!(err.contains("row 7, column 5 (\"n\")"), "{err}");
        let err = src.gather(&[1, 13]).unwrap_err().to_string();
        assert!(err.contains("row 13, column 2 (\"x\")"), "{err}");
        // The medians of the values present fill the nulls, and are saved.
        let median = |c: usize| {
            let mut v: Vec<f32> = (0..20)
                .map(|r| want.row(r)[c])
                .filter(|v| v.is_finite())
                .collect();
            v.sort_by(f32::total_cmp);
            match v.len() % 2 {
                1 => v[v.len() / 2],
                _ => ((v[v.len() / 2 - 1] as f64 + v[v.len() / 2] as f64) / 2.0) as f32,
            }
        };
        let imputed = ColumnSpec {
            impute: Impute::Median,
            ..spec(&["id", "label"], None)
        };
        let src = ParquetSource::open(&path, &imputed).unwrap();
        let fill: Vec<f32> = (0..6).map(median).collect();
        assert_eq!(src.input_columns().fill.as_ref(), Some(&fill));
        let mut filled = want.clone();
        filled.data.iter_mut().enumerate().for_each(|(i, v)| {
            if v.is_nan() {
                *v = fill[i % 6];
            }
        });
        assert_eq!(src.read(0, 20).unwrap(), filled);
        assert_eq!(
            src.gather(&[13, 4, 7]).unwrap(),
            filled.select_rows(&[13, 4, 7])
        );
        // Saved values fill another file's nulls; a model reads the file by the saved names.
        let saved = src.input_columns();
        let t = open_for_model(&path, None, &ColumnSpec::default(), Some(&saved)).unwrap();
        assert_eq!(t.source.read(0, 20).unwrap(), filled);
        let wrong = ColumnSpec {
            impute: Impute::Values(vec![0.0; 2]),
            ..spec(&["id", "label"], None)
        };
        let err = ParquetSource::open(&path, &wrong)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("2 columns but 6"), "{err}");
    }

    #[test]
    fn labels_must_be_whole_numbers_and_not_null() {
        let dir = tempfile::tempdir().unwrap();
        let schema = "message l { optional double label; }";
        let path = dir.path().join("labels.parquet");
        let labels = |v: &[Option<f64>]| vec![Data::F64(v.to_vec())];
        write(
            &path,
            schema,
            &labels(&[Some(3.0), Some(0.0), Some(-2.0)]),
            &[2, 3],
            props(Compression::SNAPPY, true),
        );
        assert_eq!(crate::load_labels(&path).unwrap(), vec![3, 0, -2]);
        write(
            &path,
            schema,
            &labels(&[Some(1.0), Some(2.5)]),
            &[2],
            props(Compression::SNAPPY, true),
        );
        let err = crate::load_labels(&path).unwrap_err().to_string();
        assert!(
            err.contains("row 1, column 1 (\"label\")") && err.contains("2.5"),
            "{err}"
        );
        write(
            &path,
            schema,
            &labels(&[Some(1.0), None]),
            &[2],
            props(Compression::SNAPPY, true),
        );
        let err = crate::load_labels(&path).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("null label"), "{err}");
        let t = dir.path().join("t.parquet");
        let (data, _) = table(&[], &[]);
        write(&t, TABLE, &data, &GROUPS, props(Compression::SNAPPY, true));
        let err = crate::load_labels(&t).unwrap_err().to_string();
        assert!(err.contains("single column"), "{err}");
    }

    const ACTS: &str = "message acts {
        required int64 token;
        optional group acts (LIST) {
            repeated group list {
                optional float element;
            }
        }
    }";

    /// 30 rows of 4 values each, and the token column.
    fn acts(rows: usize) -> (Vec<Option<Vec<Option<f32>>>>, Matrix) {
        let lists: Vec<Vec<f32>> = (0..rows)
            .map(|r| {
                let r = r as f32;
                vec![r, r + 0.25, -r, r * r]
            })
            .collect();
        let m = Matrix::new(rows, 4, lists.concat()).unwrap();
        let lists = lists
            .into_iter()
            .map(|l| Some(l.into_iter().map(Some).collect()))
            .collect();
        (lists, m)
    }

    fn write_acts(path: &Path, lists: Vec<Option<Vec<Option<f32>>>>, props: WriterProperties) {
        let n = lists.len();
        let tokens = Data::I64((0..n as i64).map(Some).collect());
        write(path, ACTS, &[tokens, Data::List(lists)], &[10, n], props);
    }

    #[test]
    fn a_list_column_is_the_row_with_or_without_an_offset_index() {
        let dir = tempfile::tempdir().unwrap();
        let (lists, want) = acts(30);
        for (codec, index) in [
            (Compression::UNCOMPRESSED, true),
            (Compression::SNAPPY, false),
            (Compression::ZSTD(ZstdLevel::default()), false),
            (Compression::GZIP(GzipLevel::default()), true),
        ] {
            let path = dir.path().join("acts.parquet");
            write_acts(&path, lists.clone(), props(codec, index));
            let name = format!("{codec:?}, offset index {index}");
            let src = ParquetSource::open(&path, &spec(&["token"], None)).unwrap();
            assert_eq!(
                (src.rows(), src.cols(), src.dtype()),
                (30, 4, Some("f32")),
                "{name}"
            );
            assert_eq!(src.read(0, 30).unwrap(), want, "{name}");
            for (start, count) in [(8, 5), (12, 3), (2, 1), (29, 1), (10, 20)] {
                assert_eq!(
                    src.read(start, count).unwrap(),
                    rows(&want, start..start + count),
                    "{name}: {start}+{count}"
                );
            }
            let idx = [29u32, 3, 10, 9, 9, 17];
            let by_index = want.select_rows(&idx.map(|i| i as usize));
            assert_eq!(src.gather(&idx).unwrap(), by_index, "{name}");
            // Picked by name alone, the same; with another feature, refused.
            let alone = ColumnSpec {
                columns: Some(vec!["acts".parse().unwrap()]),
                ..ColumnSpec::default()
            };
            let src = ParquetSource::open(&path, &alone).unwrap();
            assert_eq!(src.read(9, 2).unwrap(), rows(&want, 9..11), "{name}");
            let err = ParquetSource::open(&path, &ColumnSpec::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("column 2 (\"acts\")")
                    && err.contains("only feature column")
                    && err.contains("--columns acts"),
                "{err}"
            );
        }
        // Read through `open` and `load_matrix` when the list is the only column: a list of
        // required elements, and the legacy two-level form (a repeated field).
        for schema in [
            "message m { required group v (LIST) { repeated group list { required float e; } } }",
            "message m { repeated float v; }",
        ] {
            let path = dir.path().join("only.pq");
            write(
                &path,
                schema,
                &[Data::List(lists.clone())],
                &[13, 30],
                props(Compression::SNAPPY, false),
            );
            let src = crate::source::open(&path).unwrap();
            assert_eq!(src.read(0, 30).unwrap(), want, "{schema}");
            assert_eq!(src.read(11, 4).unwrap(), rows(&want, 11..15), "{schema}");
            assert_eq!(crate::load_matrix(&path).unwrap(), want, "{schema}");
        }
    }

    #[test]
    fn lists_of_other_lengths_and_null_elements_name_their_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ragged.parquet");
        let (mut lists, want) = acts(30);
        // Row 17 holds five values: the value count of its row group gives it away at open.
        lists[17].as_mut().unwrap().push(Some(9.0));
        write_acts(&path, lists.clone(), props(Compression::SNAPPY, true));
        let err = ParquetSource::open(&path, &spec(&["token"], None))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("row 17, column 2 (\"acts\")")
                && err.contains("a list of 5 values")
                && err.contains("have 4"),
            "{err}"
        );
        // Row 18 holds three as well: the counts add up, and the read finds the rows.
        lists[18].as_mut().unwrap().pop();
        write_acts(&path, lists.clone(), props(Compression::SNAPPY, false));
        let src = ParquetSource::open(&path, &spec(&["token"], None)).unwrap();
        assert_eq!(src.read(0, 17).unwrap(), rows(&want, 0..17));
        let err = src.read(15, 5).unwrap_err().to_string();
        assert!(
            err.contains("row 17") && err.contains("a list of 5"),
            "{err}"
        );
        let err = src.read(18, 1).unwrap_err().to_string();
        assert!(
            err.contains("row 18") && err.contains("a list of 3"),
            "{err}"
        );
        // An empty list and a null list are lists of 0.
        let (mut lists, want) = acts(30);
        lists[3] = Some(Vec::new());
        lists[4] = None;
        lists[12].as_mut().unwrap()[2] = None;
        write_acts(&path, lists, props(Compression::SNAPPY, true));
        let err = ParquetSource::open(&path, &spec(&["token"], None))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("row 3") && err.contains("a list of 0"),
            "{err}"
        );
        let (mut lists, _) = acts(30);
        lists[12].as_mut().unwrap()[2] = None;
        write_acts(&path, lists, props(Compression::SNAPPY, true));
        let src = ParquetSource::open(&path, &spec(&["token"], None)).unwrap();
        let err = src.read(10, 5).unwrap_err().to_string();
        assert!(
            err.contains("row 12, column 2 (\"acts\"), element 2")
                && err.contains("--impute median"),
            "{err}"
        );
        let imputed = ColumnSpec {
            impute: Impute::Median,
            ..spec(&["token"], None)
        };
        let src = ParquetSource::open(&path, &imputed).unwrap();
        let fill = src.input_columns().fill.unwrap();
        // Element 2 is -r: the median of -r over the 29 rows but 12.
        let mut v: Vec<f32> = (0..30).filter(|&r| r != 12).map(|r| -(r as f32)).collect();
        v.sort_by(f32::total_cmp);
        assert_eq!(fill[2], v[14]);
        let mut row12 = want.row(12).to_vec();
        row12[2] = fill[2];
        assert_eq!(src.read(12, 1).unwrap().data, row12);
    }

    #[test]
    fn non_finite_values_name_their_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.parquet");
        let (mut data, _) = table(&[], &[]);
        if let Data::F32(y) = &mut data[2] {
            y[9] = Some(f32::NAN);
        }
        write(
            &path,
            TABLE,
            &data,
            &GROUPS,
            props(Compression::SNAPPY, true),
        );
        let src = ParquetSource::open(&path, &spec(&["id"], None)).unwrap();
        assert!(src.read(0, 9).is_ok());
        let err = src.read(8, 3).unwrap_err().to_string();
        assert!(
            err.contains("row 9, column 3 (\"y\"): NaN") && err.contains("finite"),
            "{err}"
        );
        let (mut lists, _) = acts(30);
        lists[21].as_mut().unwrap()[1] = Some(f32::INFINITY);
        let path = dir.path().join("inf.parquet");
        write_acts(&path, lists, props(Compression::SNAPPY, true));
        let src = ParquetSource::open(&path, &spec(&["token"], None)).unwrap();
        let err = src.gather(&[0, 21]).unwrap_err().to_string();
        assert!(
            err.contains("row 21, column 2 (\"acts\"), element 1: inf"),
            "{err}"
        );
    }

    #[test]
    fn dates_structs_and_binary_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinds.parquet");
        let schema = "message k {
            required int64 ts (TIMESTAMP(MILLIS, true));
            required group point { required double a; required double b; }
            required binary blob;
            required double z;
        }";
        let n = 3;
        let col = |v: f64| Data::F64(vec![Some(v); n]);
        write(
            &path,
            schema,
            &[
                Data::I64(vec![Some(0); n]),
                col(1.0),
                col(2.0),
                Data::Str(vec!["b".into(); n]),
                col(3.0),
            ],
            &[n],
            props(Compression::SNAPPY, true),
        );
        let open = |drop: &[&str]| {
            ParquetSource::open(&path, &spec(drop, None))
                .err()
                .map(|e| e.to_string())
        };
        let err = open(&[]).unwrap();
        assert!(
            err.contains("(\"ts\")")
                && err.contains("timestamps")
                && err.contains("--drop-columns ts"),
            "{err}"
        );
        let err = open(&["ts"]).unwrap();
        assert!(
            err.contains("(\"point\")")
                && err.contains("struct")
                && err.contains("--drop-columns point"),
            "{err}"
        );
        let err = open(&["ts", "point"]).unwrap();
        assert!(
            err.contains("(\"blob\")") && err.contains("binary data"),
            "{err}"
        );
        assert_eq!(open(&["ts", "point", "blob"]), None);
        let src = ParquetSource::open(&path, &spec(&["1", "2", "3"], None)).unwrap();
        assert_eq!(src.read(0, 3).unwrap().data, vec![3.0; 3]);
    }

    #[test]
    fn shards_of_parquet_are_one_table_read_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (data, want) = table(&[2], &[]);
        let a = dir.path().join("a.parquet");
        write(&a, TABLE, &data, &[20], props(Compression::SNAPPY, true));
        let b = dir.path().join("b.parquet");
        write(
            &b,
            TABLE,
            &data,
            &[5, 20],
            props(Compression::SNAPPY, false),
        );
        let imputed = ColumnSpec {
            impute: Impute::Median,
            ..spec(&["id"], Some("label"))
        };
        for path in [dir.path().to_path_buf(), dir.path().join("*.parquet")] {
            let t = open_table(&path, None, &imputed).unwrap();
            assert_eq!((t.source.rows(), t.source.cols()), (40, 6));
            let fill = t.input.fill.clone().unwrap();
            let m = t.source.read(0, 40).unwrap();
            assert_eq!(m.row(2)[0], fill[0]);
            assert_eq!(
                m.row(22)[0],
                fill[0],
                "the first shard's medians fill the second"
            );
            assert_eq!(rows(&m, 25..40), rows(&want, 5..20));
            assert_eq!(t.labels.as_deref().map(<[i64]>::len), Some(40));
            let saved = t.input.clone();
            let again = open_for_model(&path, None, &ColumnSpec::default(), Some(&saved)).unwrap();
            assert_eq!(again.source.read(0, 40).unwrap(), m);
        }
        std::fs::write(dir.path().join("c.npy"), b"").unwrap();
        let err = open_table(dir.path(), None, &imputed)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("c.npy") && err.contains("not a Parquet file"),
            "{err}"
        );
    }
}
