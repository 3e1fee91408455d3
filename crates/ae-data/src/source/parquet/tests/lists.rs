//! Tests of a list column as the row: with and without an offset index, lists of other lengths
//! and null elements.

use super::*;

const ACTS: &str = "message acts {
    required int64 token;
    optional group acts (LIST) {
        repeated group list {
            optional float element;
        }
    }
}";

/// 30 rows of 4 values each, and the token column.
pub(super) fn acts(rows: usize) -> (Vec<Option<Vec<Option<f32>>>>, Matrix) {
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

pub(super) fn write_acts(
    path: &Path,
    lists: Vec<Option<Vec<Option<f32>>>>,
    props: WriterProperties,
) {
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
        err.contains("row 12, column 2 (\"acts\"), element 2") && err.contains("--impute median"),
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
