//! Delimited text: one sample per line, one feature per field.
//!
//! The delimiter is read off the first non-blank line: the most frequent of comma, semicolon and
//! tab (comma on a tie); a line with none of them is split on runs of spaces (as `np.savetxt`
//! writes). That first line is a header when any of its fields is not a number. Blank lines are
//! skipped; fields are trimmed and may be quoted (`"1.5"`). Places in errors are
//! `line L, column C`, counted from 1.

use super::{integral, not_finite, read_file};
use ae_backend::{Error, Matrix, Result};
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

/// What separates the fields of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delimiter {
    Char(char),
    Whitespace,
}

impl Delimiter {
    fn detect(line: &str) -> Delimiter {
        let count = |d: char| line.chars().filter(|&c| c == d).count();
        // `max_by_key` keeps the last maximum, so a tie goes to the comma.
        let best = ['\t', ';', ','].into_iter().max_by_key(|&d| count(d));
        match best {
            Some(d) if count(d) > 0 => Delimiter::Char(d),
            _ => Delimiter::Whitespace,
        }
    }

    /// Splits `line` into `out` (cleared first); a delimiter inside double quotes does not split.
    fn split<'t>(self, line: &'t str, out: &mut Vec<&'t str>) {
        out.clear();
        match self {
            Delimiter::Whitespace => out.extend(line.split_whitespace()),
            Delimiter::Char(d) => {
                let (mut start, mut quoted) = (0, false);
                for (i, c) in line.char_indices() {
                    if c == '"' {
                        quoted = !quoted;
                    } else if c == d && !quoted {
                        out.push(&line[start..i]);
                        start = i + c.len_utf8();
                    }
                }
                out.push(&line[start..]);
            }
        }
    }
}

/// Calls `cell(line, column, field)` for every data field, row after row (line and column counted
/// from 1), after skipping blank lines and a header. Returns `(rows, cols)`.
fn for_each_cell(
    path: &Path,
    text: &str,
    mut cell: impl FnMut(usize, usize, &str) -> Result<()>,
) -> Result<(usize, usize)> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Err(Error::format(
            path,
            "line 1",
            "no data rows: the file is empty",
        ));
    };
    let delim = Delimiter::detect(first);
    let mut fields = Vec::new();
    delim.split(first, &mut fields);
    let cols = fields.len();
    let header = fields.iter().any(|f| number(f).is_none());
    let data_lines = (!header)
        .then_some((first_no, first))
        .into_iter()
        .chain(lines);
    let mut rows = 0;
    for (no, line) in data_lines {
        delim.split(line, &mut fields);
        if fields.len() != cols {
            return Err(Error::format(
                path,
                format!("line {no}"),
                format!(
                    "found {} fields, expected {cols} as on line {first_no}",
                    fields.len()
                ),
            ));
        }
        for (c, field) in fields.iter().enumerate() {
            cell(no, c + 1, field)?;
        }
        rows += 1;
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

/// A field without surrounding spaces and double quotes.
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
