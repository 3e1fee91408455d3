//! The record reader under [`super::CsvSource`]: the delimiter read off the first line, tabs
//! turned into spaces for whitespace-separated files, blank lines skipped, and the field helpers
//! (numbers, integers, places and quotes for errors).

use super::*;

/// The first non-blank line of the file (of its first 1 MiB), without a byte-order mark.
pub(super) fn first_line(path: &Path) -> Result<String> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| Error::io(path, e))?
        .take(1 << 20)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8_lossy(&head);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string())
}

/// What separates the fields of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Delimiter {
    Char(char),
    Whitespace,
}

impl Delimiter {
    /// The delimiter of a file whose first non-blank line is `line`.
    pub(super) fn detect(line: &str) -> Delimiter {
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

/// A file read with tabs turned into spaces when `active` (the whitespace delimiter splits on
/// single spaces).
pub(super) struct TabsAsSpaces<R> {
    pub(super) inner: R,
    pub(super) active: bool,
}

impl<R: Read> Read for TabsAsSpaces<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.active {
            buf[..n]
                .iter_mut()
                .filter(|b| **b == b'\t')
                .for_each(|b| *b = b' ');
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for TabsAsSpaces<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A record read: the line it starts on, and where the reader was before it (at the record, or
/// at blank lines before it).
pub(super) struct Record {
    pub(super) line: usize,
    pub(super) start: csv::Position,
}

/// The non-blank records of a file, read as bytes.
pub(super) struct Records {
    pub(super) reader: csv::Reader<TabsAsSpaces<std::fs::File>>,
    pub(super) record: csv::ByteRecord,
    /// Split on runs of blanks: empty fields (between two spaces) are not fields.
    pub(super) whitespace: bool,
    /// The file's length, and whether its last byte is a line break.
    pub(super) len: u64,
    pub(super) ends_with_newline: bool,
}

impl Records {
    pub(super) fn open(path: &Path, delim: Delimiter) -> Result<Self> {
        let (byte, whitespace) = match delim {
            Delimiter::Char(c) => (c as u8, false),
            Delimiter::Whitespace => (b' ', true),
        };
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut last = [0u8];
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .and_then(|_| file.rewind())
                .map_err(|e| Error::io(path, e))?;
        }
        // Tabs become spaces only where the delimiter is whitespace (a tab may be a delimiter,
        // or sit inside a quoted field).
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(byte)
            .from_reader(TabsAsSpaces {
                inner: file,
                active: whitespace,
            });
        Ok(Records {
            reader,
            record: csv::ByteRecord::new(),
            whitespace,
            len,
            ends_with_newline: last[0] == b'\n',
        })
    }

    /// Where the reader is: the start of the next record, or of blank lines before it.
    pub(super) fn position(&self) -> csv::Position {
        self.reader.position().clone()
    }

    pub(super) fn seek(&mut self, path: &Path, pos: csv::Position) -> Result<()> {
        self.reader.seek(pos).map_err(|e| Error::io(path, e.into()))
    }

    /// Reads the next non-blank record, or `None` at the end. The reader numbers a record by
    /// where it started looking (before any blank lines it skipped), so the line a record
    /// starts on is counted back from where it ends instead.
    pub(super) fn next(&mut self, path: &Path) -> Result<Option<Record>> {
        loop {
            let start = self.position();
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    Error::format(path, format!("line {line}"), e.to_string())
                })?;
            if !more {
                return Ok(None);
            }
            let blank = match self.whitespace {
                true => self.record.iter().all(|f| f.is_empty()),
                false => self.record.len() == 1 && self.record[0].trim_ascii().is_empty(),
            };
            if !blank {
                let end = self.reader.position();
                let inside: usize = self
                    .record
                    .iter()
                    .map(|f| f.iter().filter(|&&b| b == b'\n').count())
                    .sum();
                let terminated = end.byte() < self.len || self.ends_with_newline;
                let line = (end.line() as usize).saturating_sub(inside + terminated as usize);
                return Ok(Some(Record {
                    line: line.max(1),
                    start,
                }));
            }
        }
    }

    /// The fields of the record last read (starting on `line`), as text.
    pub(super) fn fields(&self, path: &Path, line: usize) -> Result<Vec<&str>> {
        self.record
            .iter()
            .filter(|f| !(self.whitespace && f.is_empty()))
            .enumerate()
            .map(|(c, f)| {
                std::str::from_utf8(f)
                    .map_err(|_| Error::format(path, place(line, c + 1), "not UTF-8 text"))
            })
            .collect()
    }
}

/// A field without surrounding spaces and double quotes (the reader takes off the quotes of a
/// field that starts with one; these are quotes after leading spaces, as in ` "1.5" `).
pub(super) fn clean(field: &str) -> &str {
    let f = field.trim();
    match f.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.trim(),
        None => f,
    }
}

/// The field as a number (`nan` and `inf` included).
pub(super) fn number(field: &str) -> Option<f32> {
    clean(field).parse().ok()
}

/// The field as an integer: `3`, or an integral float such as `3.0`.
pub(super) fn integer(field: &str) -> Option<i64> {
    let f = clean(field);
    f.parse().ok().or_else(|| integral(f.parse().ok()?))
}

pub(super) fn place(line: usize, col: usize) -> String {
    format!("line {line}, column {col}")
}

/// The field in double quotes, escaped and cut to 40 characters.
pub(super) fn quoted(field: &str) -> String {
    let f = field.trim();
    match f.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}...", &f[..i]),
        None => format!("{f:?}"),
    }
}
