//! Tests of the Parquet source: files written in the test by the `parquet` crate's writer.

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

mod lists;
use self::lists::{acts, write_acts};

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
        err.contains("(\"ts\")") && err.contains("timestamps") && err.contains("--drop-columns ts"),
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
