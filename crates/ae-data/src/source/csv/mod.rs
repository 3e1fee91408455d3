//! Delimited text: one sample per record, one feature per field, parsed by the `csv` crate and
//! streamed from the file ([`CsvSource`]: one pass at open checks every cell and notes where each
//! block of records starts, so that rows are later read by seeking, never holding the file).
//!
//! The delimiter is read off the first non-blank line: the most frequent of comma, semicolon and
//! tab outside double quotes (comma on a tie); a line with none of them is split on runs of
//! spaces and tabs (as `np.savetxt` writes). The first record is a header when any of its fields
//! is not a number. Blank lines are skipped; fields are trimmed and may be quoted (`"1.5"`,
//! `""` for a quote inside), and a quoted field may hold the delimiter or a line break. Places in
//! errors are `line L, column C`, counted from 1, where `L` is the line the record starts on.
//! Which columns are read, the labels column and empty cells follow a [`ColumnSpec`].

mod records;

use self::records::*;
use super::{out_of_range, RowSource};
use crate::spec::{check_fill, Column, ColumnSpec, Impute, InputColumns, Medians, Resolved};
use crate::{integral, not_finite};
use ae_backend::{Error, Matrix, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Reads a delimited text file as a `[lines, fields]` matrix, skipping a header. Errors on a
/// non-numeric or empty cell, rows of differing length, no data rows, or NaN or infinity.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let source = CsvSource::open(path, &ColumnSpec::default())?;
    source.read(0, source.rows())
}

/// Reads one column of integer labels (`3` or `3.0`), skipping a header: `[n]`, unscaled.
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let spec = ColumnSpec {
        columns: Some(Vec::new()),
        labels: Some(Column::Number(1)),
        ..ColumnSpec::default()
    };
    let source = CsvSource::open(path, &spec)?;
    if source.width != 1 {
        return Err(Error::format(
            path,
            place(source.first_line, 2),
            "labels must be a single column",
        ));
    }
    Ok(source.labels.unwrap_or_default())
}

/// The header of a delimited text file, if its first record is one (any field not a number).
pub fn read_header(path: &Path) -> Result<Option<Vec<String>>> {
    let mut records = Records::open(path, Delimiter::detect(&first_line(path)?))?;
    let Some(first) = records.next(path)? else {
        return Ok(None);
    };
    let fields = records.fields(path, first.line)?;
    Ok(fields
        .iter()
        .any(|f| number(f).is_none())
        .then(|| fields.iter().map(|f| clean(f).to_string()).collect()))
}

/// Records between marks in the index of a [`CsvSource`].
const BLOCK: usize = 1024;

/// A delimited text file read as a [`RowSource`] of the columns a [`ColumnSpec`] picks. Opening
/// parses every cell once (so bad data is refused up front, naming its line and column) and keeps
/// the position of every [`BLOCK`]-th record and the labels column, if any; rows are then read
/// by seeking to the nearest mark and parsing forward.
pub struct CsvSource {
    path: PathBuf,
    delim: Delimiter,
    header: Option<Vec<String>>,
    /// Fields per record.
    width: usize,
    /// Line of the first record (header or data).
    first_line: usize,
    resolved: Resolved,
    /// The value of an empty cell, per feature (imputing only).
    fill: Option<Vec<f32>>,
    rows: usize,
    /// Where records `0, BLOCK, 2 * BLOCK, ...` start (or the blank lines before them).
    marks: Vec<csv::Position>,
    labels: Option<Vec<i64>>,
}

impl CsvSource {
    /// Opens `path` and checks every cell of the columns `spec` picks.
    pub fn open(path: &Path, spec: &ColumnSpec) -> Result<Self> {
        let delim = Delimiter::detect(&first_line(path)?);
        let mut records = Records::open(path, delim)?;
        let Some(first) = records.next(path)? else {
            return Err(Error::format(
                path,
                "line 1",
                "no data rows: the file is empty",
            ));
        };
        let fields = records.fields(path, first.line)?;
        let width = fields.len();
        let is_header = fields.iter().any(|f| number(f).is_none());
        let header = is_header.then(|| fields.iter().map(|f| clean(f).to_string()).collect());
        let resolved = spec.resolve(path, header.as_deref(), width)?;
        let mut source = CsvSource {
            path: path.to_path_buf(),
            delim,
            header,
            width,
            first_line: first.line,
            resolved,
            fill: None,
            rows: 0,
            marks: Vec::new(),
            labels: None,
        };
        if let Impute::Values(v) = &spec.impute {
            check_fill(path, v, source.resolved.features.len())?;
            source.fill = Some(v.clone());
        }
        let mut medians = matches!(spec.impute, Impute::Median)
            .then(|| Medians::new(source.resolved.features.len()));
        let mut labels = source.resolved.labels.map(|_| Vec::new());
        let mut row = Vec::with_capacity(source.resolved.features.len());
        let mut at = match is_header {
            true => None,
            false => Some(first),
        };
        while let Some(rec) = match at.take() {
            Some(r) => Some(r),
            None => records.next(path)?,
        } {
            if source.rows.is_multiple_of(BLOCK) {
                source.marks.push(rec.start.clone());
            }
            row.clear();
            let label = source.parse(&records, rec.line, &mut row, medians.as_mut())?;
            if let (Some(l), Some(v)) = (labels.as_mut(), label) {
                l.push(v);
            }
            source.rows += 1;
        }
        if source.rows == 0 {
            return Err(Error::format(
                path,
                format!("line {}", source.first_line),
                "a header but no data rows",
            ));
        }
        if let Some(m) = medians {
            let names = |c: usize| source.column_name(source.resolved.features[c]);
            source.fill = Some(m.finish(&source.path, names)?);
        }
        source.labels = labels;
        Ok(source)
    }

    /// The labels column, where the spec names one: `[rows]`.
    pub fn labels(&self) -> Option<&[i64]> {
        self.labels.as_deref()
    }

    /// The header's names, if the file has a header.
    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// What was read, to save with a model.
    pub fn input_columns(&self) -> InputColumns {
        InputColumns {
            width: self.width,
            columns: self.resolved.features.clone(),
            names: self.header.as_ref().map(|h| {
                let names = self.resolved.features.iter().map(|&c| h[c].clone());
                names.collect()
            }),
            fill: self.fill.clone(),
        }
    }

    /// Column `c` (from 0) as messages name it: `3 ("age")`, or `3` without a header.
    fn column_name(&self, c: usize) -> String {
        match &self.header {
            Some(h) => format!("{} ({:?})", c + 1, h[c]),
            None => (c + 1).to_string(),
        }
    }

    /// Parses the features of the record last read (starting on `line`) into `row`, and
    /// returns its label (with a labels column). Medians, when imputing, see every value.
    fn parse(
        &self,
        records: &Records,
        line: usize,
        row: &mut Vec<f32>,
        mut medians: Option<&mut Medians>,
    ) -> Result<Option<i64>> {
        let fields = records.fields(&self.path, line)?;
        if fields.len() != self.width {
            return Err(Error::format(
                &self.path,
                format!("line {line}"),
                format!(
                    "found {} fields, expected {} as on line {}",
                    fields.len(),
                    self.width,
                    self.first_line
                ),
            ));
        }
        for (i, &c) in self.resolved.features.iter().enumerate() {
            let field = clean(fields[c]);
            let v = match number(field) {
                Some(v) if v.is_finite() => v,
                Some(v) => {
                    return Err(Error::format(&self.path, place(line, c + 1), not_finite(v)))
                }
                None if field.is_empty() => match (&self.fill, medians.is_some()) {
                    (Some(fill), _) => fill[i],
                    (None, true) => {
                        row.push(f32::NAN);
                        continue;
                    }
                    (None, false) => return Err(self.empty_cell(line, c)),
                },
                None => return Err(self.not_a_number(line, c, field)),
            };
            if let Some(m) = medians.as_deref_mut() {
                m.add(i, v);
            }
            row.push(v);
        }
        let Some(c) = self.resolved.labels else {
            return Ok(None);
        };
        let field = clean(fields[c]);
        let label = integer(field).ok_or_else(|| {
            Error::format(
                &self.path,
                place(line, c + 1),
                format!("expected an integer label, found {}", quoted(field)),
            )
        })?;
        Ok(Some(label))
    }

    fn empty_cell(&self, line: usize, c: usize) -> Error {
        Error::format(
            &self.path,
            place(line, c + 1),
            format!(
                "an empty cell in column {}; fill empty cells with --impute median, or leave \
                 the column out with --drop-columns {}",
                self.column_name(c),
                self.flag_name(c)
            ),
        )
    }

    fn not_a_number(&self, line: usize, c: usize, field: &str) -> Error {
        let hint = match self.resolved.features.len() {
            1 if self.width == 1 => String::new(),
            _ => format!(
                " in column {}; leave it out with --drop-columns {}",
                self.column_name(c),
                self.flag_name(c)
            ),
        };
        Error::format(
            &self.path,
            place(line, c + 1),
            format!("expected a number, found {}{hint}", quoted(field)),
        )
    }

    /// How a flag names column `c`: its header name when it has a plain one, else its number.
    fn flag_name(&self, c: usize) -> String {
        match &self.header {
            Some(h) if !h[c].is_empty() && !h[c].contains([' ', ',', '"']) => h[c].clone(),
            _ => (c + 1).to_string(),
        }
    }

    /// Records positioned at the mark before row `row`, and the row the next record is.
    fn seek(&self, row: usize) -> Result<(Records, usize)> {
        let block = row / BLOCK;
        let mut records = Records::open(&self.path, self.delim)?;
        records.seek(&self.path, self.marks[block].clone())?;
        Ok((records, block * BLOCK))
    }

    /// Parses data records until the one of row `row` (`next` is the row of the next record).
    fn parse_row(
        &self,
        records: &mut Records,
        next: &mut usize,
        row: usize,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        loop {
            let rec = records.next(&self.path)?.ok_or_else(|| {
                Error::format(
                    &self.path,
                    format!("row {row}"),
                    "the file ended early: it changed since it was opened",
                )
            })?;
            *next += 1;
            if *next - 1 == row {
                self.parse(records, rec.line, out, None)?;
                return Ok(());
            }
        }
    }
}

impl RowSource for CsvSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.resolved.features.len()
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        if start.checked_add(count).is_none_or(|end| end > self.rows) {
            return Err(out_of_range(&self.path, start, count, self.rows));
        }
        let mut data = Vec::with_capacity(count * self.cols());
        if count > 0 {
            let (mut records, mut next) = self.seek(start)?;
            for r in start..start + count {
                self.parse_row(&mut records, &mut next, r, &mut data)?;
            }
        }
        Matrix::new(count, self.cols(), data)
    }
    /// Rows in ascending order are parsed in one forward pass, seeking past blocks none of
    /// them is in.
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let cols = self.cols();
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= self.rows) {
            return Err(out_of_range(&self.path, bad as usize, 1, self.rows));
        }
        let mut slots: Vec<usize> = (0..indices.len()).collect();
        slots.sort_by_key(|&s| indices[s]);
        let mut data = vec![0.0f32; indices.len() * cols];
        let mut cursor: Option<(Records, usize)> = None;
        let mut last: Option<(usize, usize)> = None;
        let mut row_buf = Vec::with_capacity(cols);
        for &slot in &slots {
            let row = indices[slot] as usize;
            if let Some((r, from)) = last.filter(|&(r, _)| r == row) {
                data.copy_within(from * cols..(from + 1) * cols, slot * cols);
                last = Some((r, slot));
                continue;
            }
            let far = cursor
                .as_ref()
                .is_none_or(|(_, next)| row / BLOCK > next / BLOCK + 1 || row < *next);
            if far {
                cursor = Some(self.seek(row)?);
            }
            let (records, next) = cursor.as_mut().expect("just positioned");
            row_buf.clear();
            self.parse_row(records, next, row, &mut row_buf)?;
            data[slot * cols..(slot + 1) * cols].copy_from_slice(&row_buf);
            last = Some((row, slot));
        }
        Matrix::new(indices.len(), cols, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` to `name` in a new temporary directory and reads it as a matrix.
    fn load(name: &str, text: &str) -> Result<Matrix> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        read_matrix(&p)
    }

    fn load_err(name: &str, text: &str) -> String {
        let err = load(name, text).unwrap_err().to_string();
        assert!(err.contains(name), "{err} does not name {name}");
        err
    }

    #[test]
    fn reads_without_header() {
        let m = load("a.csv", "1,2,3\n4.5,-5,6e2\n").unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.5, -5.0, 600.0]);
    }

    #[test]
    fn reads_with_header_blank_lines_crlf_and_quotes() {
        let text = "\u{feff}\n\"x\",y\r\n\r\n \"1.5\" , 2\r\n\n3,\" 4 \"\r\n\n";
        let m = load("h.csv", text).unwrap();
        assert_eq!((m.rows, m.cols), (2, 2));
        assert_eq!(m.data, vec![1.5, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn quoted_fields_may_hold_the_delimiter_a_quote_and_line_breaks() {
        // Line 1-2: a header whose fields hold a comma, an escaped quote and a line break; line
        // 3-4: a number whose quoted field runs onto the next line.
        let text = "\"x, first\",\"y \"\"2\"\"\nsecond\"\n\"1.5\",\"2\n\"\n3,\"4\"\n";
        let m = load("quoted.csv", text).unwrap();
        assert_eq!((m.rows, m.cols, m.data), (2, 2, vec![1.5, 2.0, 3.0, 4.0]));
        // Lines still count from the file: records that span lines take all of theirs.
        let err = load_err("quoted2.csv", &format!("{text}5,x\n"));
        assert!(err.contains("line 6, column 2"), "{err}");
        let err = load_err("quoted3.csv", &format!("{text}5\n"));
        assert!(
            err.contains("line 6") && err.contains("expected 2 as on line 1"),
            "{err}"
        );
        // A delimiter inside quotes neither splits the field nor counts towards detection.
        let m = load("semi.csv", "\"a;b\",\"c;d\"\n1,2\n").unwrap();
        assert_eq!((m.rows, m.cols, m.data), (1, 2, vec![1.0, 2.0]));
        // A delimiter inside a quoted number is still not a number.
        let err = load_err("comma.csv", "a,b\n1,\"2,5\"\n");
        assert!(
            err.contains(r#"line 2, column 2: expected a number, found "2,5""#),
            "{err}"
        );
    }

    #[test]
    fn space_separated_fields_may_be_quoted_and_tabbed() {
        let m = load("q.txt", "\"1\"  \"2\"\n  3\t 4  \n").unwrap();
        assert_eq!((m.rows, m.cols, m.data), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
    }

    #[test]
    fn detects_tab_semicolon_and_space_delimiters() {
        let tab = load("t.tsv", "a\tb\n1\t2\n3\t4\n").unwrap();
        assert_eq!(
            (tab.rows, tab.cols, tab.data),
            (2, 2, vec![1.0, 2.0, 3.0, 4.0])
        );
        let semi = load("s.csv", "1;2;3\n4;5;6\n").unwrap();
        assert_eq!((semi.rows, semi.cols), (2, 3));
        let space = load("x.txt", "1.0e+00 2.0e+00\n3  4\n").unwrap();
        assert_eq!(
            (space.rows, space.cols, space.data),
            (2, 2, vec![1.0, 2.0, 3.0, 4.0])
        );
        let single = load("one.csv", "label\n7\n8\n").unwrap();
        assert_eq!(
            (single.rows, single.cols, single.data),
            (2, 1, vec![7.0, 8.0])
        );
    }

    #[test]
    fn non_numeric_cell_names_line_and_column() {
        let err = load_err("bad.csv", "a,b\n1,2\n3,abc\n");
        assert!(err.contains("line 3, column 2"), "{err}");
        assert!(err.contains(r#"expected a number, found "abc""#), "{err}");
        // A blank line still counts in the numbering.
        let err = load_err("bad2.csv", "1,2\n\n3,x\n");
        assert!(err.contains("line 3, column 2"), "{err}");
    }

    #[test]
    fn ragged_rows_name_line_and_counts() {
        let err = load_err("ragged.csv", "1,2,3\n4,5,6\n7,8\n");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("found 2 fields, expected 3"), "{err}");
        let err = load_err("ragged2.csv", "a,b\n1,2,3\n");
        assert!(err.contains("line 2") && err.contains("found 3 fields, expected 2"));
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        let err = load_err("empty.csv", "");
        assert!(err.contains("no data rows"), "{err}");
        let err = load_err("blank.csv", "\n  \n");
        assert!(err.contains("no data rows"), "{err}");
        let err = load_err("header.csv", "a,b\n");
        assert!(err.contains("no data rows"), "{err}");
    }

    #[test]
    fn nan_and_inf_name_the_place() {
        let err = load_err("nan.csv", "x,y\n1,2\n3,4\n5,nan\n");
        assert!(err.contains("line 4, column 2: NaN"), "{err}");
        assert!(err.contains("finite"), "{err}");
        let err = load_err("inf.csv", "-inf,1\n");
        assert!(err.contains("line 1, column 1: -inf"), "{err}");
    }

    #[test]
    fn not_utf8_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("latin1.csv");
        std::fs::write(&p, b"1,2\n\xe9,3\n").unwrap();
        let err = read_matrix(&p).unwrap_err().to_string();
        assert!(
            err.contains("line 2, column 1") && err.contains("UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn labels_one_column_with_optional_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.csv");
        std::fs::write(&p, "label\n3\n0\n\n9.0\n").unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![3, 0, 9]);
        std::fs::write(&p, "1\n-2\n").unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![1, -2]);
        std::fs::write(&p, "1\n2.5\n").unwrap();
        let err = read_labels(&p).unwrap_err().to_string();
        assert!(
            err.contains("line 2, column 1") && err.contains("\"2.5\""),
            "{err}"
        );
        std::fs::write(&p, "1,2\n3,4\n").unwrap();
        let err = read_labels(&p).unwrap_err().to_string();
        assert!(err.contains("single column"), "{err}");
    }

    #[test]
    fn long_fields_are_cut_in_messages() {
        let long = "x".repeat(1000);
        let err = load_err("long.csv", &format!("1\n{long}\n"));
        assert!(err.len() < 200 && err.contains("..."), "{err}");
    }

    fn open_with(
        name: &str,
        text: &str,
        spec: &ColumnSpec,
    ) -> (tempfile::TempDir, Result<CsvSource>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let source = CsvSource::open(&p, spec);
        (dir, source)
    }

    #[test]
    fn rows_read_by_seeking_equal_the_whole_file_across_blocks() {
        // 3000 rows over three blocks, with blank lines and a record that spans two lines.
        let mut text = String::from("a,b\n");
        for r in 0..3000 {
            match r {
                1500 => text.push_str(&format!("\"{r}\n\",{}\n\n", -r)),
                _ => text.push_str(&format!("{r},{}\n", -r)),
            }
            if r % 700 == 0 {
                text.push_str("  \n");
            }
        }
        let (_dir, source) = open_with("big.csv", &text, &ColumnSpec::default());
        let source = source.unwrap();
        assert_eq!((source.rows(), source.cols()), (3000, 2));
        let whole = source.read(0, 3000).unwrap();
        for r in [0, 1023, 1024, 1500, 2999] {
            assert_eq!(whole.row(r), &[r as f32, -(r as f32)]);
        }
        assert_eq!(
            source.read(1020, 10).unwrap(),
            whole.select_rows(&(1020..1030).collect::<Vec<_>>())
        );
        let idx: Vec<u32> = vec![2999, 5, 1500, 5, 2048, 0, 1024, 1023];
        let want = whole.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
        assert_eq!(source.gather(&idx).unwrap(), want);
        let err = source.read(2999, 2).unwrap_err().to_string();
        assert!(err.contains("3000 rows"), "{err}");
        // Lines are still those of the file, past blank lines and the two-line record.
        let bad = text.replace("2500,-2500", "2500,oops");
        let (_dir, err) = open_with("bad.csv", &bad, &ColumnSpec::default());
        let line = 1 + bad.lines().position(|l| l == "2500,oops").unwrap();
        let err = err.err().unwrap().to_string();
        assert!(err.contains(&format!("line {line}, column 2")), "{err}");
    }

    #[test]
    fn a_string_column_is_named_with_the_flag_that_leaves_it_out() {
        let text = "id,x,y\nu1,1,2\nu2,3,4\n";
        let (_dir, err) = open_with("ids.csv", text, &ColumnSpec::default());
        let err = err.err().unwrap().to_string();
        assert!(
            err.contains("line 2, column 1")
                && err.contains("\"u1\"")
                && err.contains("--drop-columns id"),
            "{err}"
        );
        let spec = ColumnSpec {
            drop: vec!["id".parse().unwrap()],
            ..ColumnSpec::default()
        };
        let (_dir, source) = open_with("ids.csv", text, &spec);
        let source = source.unwrap();
        assert_eq!(source.read(0, 2).unwrap().data, vec![1.0, 2.0, 3.0, 4.0]);
        let input = source.input_columns();
        assert_eq!((input.width, input.columns), (3, vec![1, 2]));
        assert_eq!(input.names, Some(vec!["x".to_string(), "y".to_string()]));
    }

    #[test]
    fn empty_cells_are_refused_or_filled_with_the_median() {
        let text = "x,y,label\n1,,0\n2,5,1\n,7,0\n4,9,1\n";
        let (_dir, err) = open_with("gaps.csv", text, &ColumnSpec::default());
        let err = err.err().unwrap().to_string();
        assert!(
            err.contains("line 2, column 2") && err.contains("--impute median"),
            "{err}"
        );
        let spec = ColumnSpec {
            labels: Some("label".parse().unwrap()),
            impute: Impute::Median,
            ..ColumnSpec::default()
        };
        let (_dir, source) = open_with("gaps.csv", text, &spec);
        let source = source.unwrap();
        // x: median of 1, 2, 4 = 2; y: median of 5, 7, 9 = 7.
        assert_eq!(source.input_columns().fill, Some(vec![2.0, 7.0]));
        let m = source.read(0, 4).unwrap();
        assert_eq!(m.data, vec![1.0, 7.0, 2.0, 5.0, 2.0, 7.0, 4.0, 9.0]);
        assert_eq!(source.labels(), Some(&[0, 1, 0, 1][..]));
        // At inference the saved medians fill the cells of another file.
        let spec = ColumnSpec {
            columns: Some(vec!["x".parse().unwrap(), "y".parse().unwrap()]),
            impute: Impute::Values(vec![2.0, 7.0]),
            ..ColumnSpec::default()
        };
        let (_dir, source) = open_with("new.csv", "x,y,label\n,1,0\n", &spec);
        assert_eq!(source.unwrap().read(0, 1).unwrap().data, vec![2.0, 1.0]);
        let (_dir, err) = open_with(
            "lab.csv",
            "x,label\n1,a\n",
            &ColumnSpec {
                labels: Some("label".parse().unwrap()),
                ..ColumnSpec::default()
            },
        );
        let err = err.err().unwrap().to_string();
        assert!(
            err.contains("line 2, column 2") && err.contains("integer label"),
            "{err}"
        );
    }
}
