//! Delimited text: one sample per record, one feature per field, parsed by the `csv` crate.
//!
//! The delimiter is read off the first non-blank line: the most frequent of comma, semicolon and
//! tab outside double quotes (comma on a tie); a line with none of them is split on runs of
//! spaces and tabs (as `np.savetxt` writes). The first record is a header when any of its fields
//! is not a number. Blank lines are skipped; fields are trimmed and may be quoted (`"1.5"`,
//! `""` for a quote inside), and a quoted field may hold the delimiter or a line break. Places in
//! errors are `line L, column C`, counted from 1, where `L` is the line the record starts on.

use super::{integral, not_finite, read_file};
use ae_backend::{Error, Matrix, Result};
use std::borrow::Cow;
use std::path::Path;

/// Reads a delimited text file as a `[lines, fields]` matrix, skipping a header. Errors on a
/// non-numeric cell, rows of differing length, no data rows, or NaN or infinity.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let text = read_text(path)?;
    let mut data = Vec::new();
    let (rows, cols) = for_each_cell(path, &text, |line, col, field| {
        let v = number(field).ok_or_else(|| not_a_number(path, line, col, field))?;
        if !v.is_finite() {
            return Err(Error::format(path, place(line, col), not_finite(v)));
        }
        data.push(v);
        Ok(())
    })?;
    Matrix::new(rows, cols, data)
}

/// Reads one column of integer labels (`3` or `3.0`), skipping a header: `[n]`, unscaled.
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let text = read_text(path)?;
    let mut labels = Vec::new();
    for_each_cell(path, &text, |line, col, field| {
        if col > 1 {
            return Err(Error::format(
                path,
                place(line, col),
                "labels must be a single column",
            ));
        }
        let label = integer(field).ok_or_else(|| {
            Error::format(
                path,
                place(line, col),
                format!("expected an integer label, found {}", quoted(field)),
            )
        })?;
        labels.push(label);
        Ok(())
    })?;
    Ok(labels)
}

/// The file as UTF-8 text without a byte-order mark.
fn read_text(path: &Path) -> Result<String> {
    let text = String::from_utf8(read_file(path)?).map_err(|e| {
        Error::format(
            path,
            format!("byte {}", e.utf8_error().valid_up_to()),
            "not UTF-8 text",
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// What separates the fields of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delimiter {
    Char(char),
    Whitespace,
}

impl Delimiter {
    /// The delimiter of a file whose first non-blank line is `line`.
    fn detect(line: &str) -> Delimiter {
        const CANDIDATES: [char; 3] = ['\t', ';', ','];
        let mut counts = [0usize; 3];
        let mut quoted = false;
        for c in line.chars() {
            if c == '"' {
                quoted = !quoted;
            } else if let Some(i) = CANDIDATES.iter().position(|&d| d == c && !quoted) {
                counts[i] += 1;
            }
        }
        // `max_by_key` keeps the last maximum, so a tie goes to the comma.
        let best = (0..CANDIDATES.len()).max_by_key(|&i| counts[i]);
        match best {
            Some(i) if counts[i] > 0 => Delimiter::Char(CANDIDATES[i]),
            _ => Delimiter::Whitespace,
        }
    }
}

/// The non-blank records of a text, each with the line it starts on.
struct Records<'t> {
    text: &'t str,
    reader: csv::Reader<&'t [u8]>,
    record: csv::StringRecord,
    /// Split on runs of blanks: empty fields (between two spaces) are not fields.
    whitespace: bool,
    /// The line number at byte `at` of `text`.
    line: usize,
    at: usize,
}

impl<'t> Records<'t> {
    /// `text` must be split on `delim`; for [`Delimiter::Whitespace`] it holds no tabs (they are
    /// turned into spaces first), as the reader splits on single spaces.
    fn new(text: &'t str, delim: Delimiter) -> Self {
        let (byte, whitespace) = match delim {
            Delimiter::Char(c) => (c as u8, false),
            Delimiter::Whitespace => (b' ', true),
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(byte)
            .from_reader(text.as_bytes());
        Records {
            text,
            reader,
            record: csv::StringRecord::new(),
            whitespace,
            line: 1,
            at: 0,
        }
    }

    /// Reads the next non-blank record; returns the line it starts on, or `None` at the end.
    fn advance(&mut self, path: &Path) -> Result<Option<usize>> {
        loop {
            let start = self.reader.position().byte() as usize;
            let more = self.reader.read_record(&mut self.record).map_err(|e| {
                let line = e.position().map_or(self.line, |p| p.line() as usize);
                Error::format(path, format!("line {line}"), e.to_string())
            })?;
            if !more {
                return Ok(None);
            }
            // The reader skips empty lines before a record without reporting them.
            let rest = &self.text[start..];
            let begin = start + rest.len() - rest.trim_start_matches(['\r', '\n']).len();
            self.line += self.text[self.at..begin].matches('\n').count();
            self.at = begin;
            // A line of only spaces is a record to the reader, and blank to us.
            let first_line = self.text[begin..].lines().next().unwrap_or("");
            if !first_line.trim().is_empty() {
                return Ok(Some(self.line));
            }
        }
    }

    /// The fields of the record last read.
    fn fields(&self) -> impl Iterator<Item = &str> + '_ {
        let whitespace = self.whitespace;
        self.record
            .iter()
            .filter(move |f| !(whitespace && f.is_empty()))
    }
}

/// Calls `cell(line, column, field)` for every data field, record after record (line and column
/// counted from 1; the line a record starts on), after skipping blank lines and a header. Returns
/// `(rows, cols)`.
fn for_each_cell(
    path: &Path,
    text: &str,
    mut cell: impl FnMut(usize, usize, &str) -> Result<()>,
) -> Result<(usize, usize)> {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Err(Error::format(
            path,
            "line 1",
            "no data rows: the file is empty",
        ));
    };
    let delim = Delimiter::detect(first);
    let text: Cow<str> = if delim == Delimiter::Whitespace && text.contains('\t') {
        Cow::Owned(text.replace('\t', " "))
    } else {
        Cow::Borrowed(text)
    };
    let mut records = Records::new(&text, delim);
    let Some(first_no) = records.advance(path)? else {
        return Err(Error::format(
            path,
            "line 1",
            "no data rows: the file is empty",
        ));
    };
    let cols = records.fields().count();
    let header = records.fields().any(|f| number(f).is_none());
    let mut rows = 0;
    let mut next = if header {
        records.advance(path)?
    } else {
        Some(first_no)
    };
    while let Some(no) = next {
        let found = records.fields().count();
        if found != cols {
            return Err(Error::format(
                path,
                format!("line {no}"),
                format!("found {found} fields, expected {cols} as on line {first_no}"),
            ));
        }
        for (c, field) in records.fields().enumerate() {
            cell(no, c + 1, field)?;
        }
        rows += 1;
        next = records.advance(path)?;
    }
    if rows == 0 {
        return Err(Error::format(
            path,
            format!("line {first_no}"),
            "a header but no data rows",
        ));
    }
    Ok((rows, cols))
}

/// A field without surrounding spaces and double quotes (the reader takes off the quotes of a
/// field that starts with one; these are quotes after leading spaces, as in ` "1.5" `).
fn clean(field: &str) -> &str {
    let f = field.trim();
    match f.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.trim(),
        None => f,
    }
}

/// The field as a number (`nan` and `inf` included).
fn number(field: &str) -> Option<f32> {
    clean(field).parse().ok()
}

/// The field as an integer: `3`, or an integral float such as `3.0`.
fn integer(field: &str) -> Option<i64> {
    let f = clean(field);
    f.parse().ok().or_else(|| integral(f.parse().ok()?))
}

fn place(line: usize, col: usize) -> String {
    format!("line {line}, column {col}")
}

/// The field in double quotes, escaped and cut to 40 characters.
fn quoted(field: &str) -> String {
    let f = field.trim();
    match f.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}...", &f[..i]),
        None => format!("{f:?}"),
    }
}

fn not_a_number(path: &Path, line: usize, col: usize, field: &str) -> Error {
    Error::format(
        path,
        place(line, col),
        format!("expected a number, found {}", quoted(field)),
    )
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
        assert!(err.contains("byte 4") && err.contains("UTF-8"), "{err}");
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
}
