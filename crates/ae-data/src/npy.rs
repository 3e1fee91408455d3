//! NumPy `.npy` files, versions 1.0, 2.0 and 3.0.
//!
//! Readable dtypes (little-endian): `<f4`, `<f8`, `<f2`, `|u1` (`<u1`), `|i1` (`<i1`), `<i2`,
//! `<i4`, `<i8`, in C or Fortran order (Fortran arrays are transposed into row-major). Shapes: `()`
//! is rejected, `[n]` is `[n, 1]`, `[r, c]` is itself and `[d0, d1, ...]` is `[d0, d1 * ...]`.
//! Written files are version 1.0, `<f4`, C order.

use super::{byte_len, read_file, Dtype, RawArray};
use crate::atomic::AtomicFile;
use ae_backend::{Error, Matrix, Result};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The readable dtypes, as said in errors.
const SUPPORTED: &str = "<f4, <f8, <f2, |u1, |i1, <i2, <i4, <i8";

/// Reads an NPY array as a `[d0, d1 * d2 * ...]` matrix. `u8` (`|u1`) data is divided by 255, so
/// it comes out in `[0, 1]`; every other dtype keeps its values. Errors on NaN or infinity.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    read(path)?.into_matrix(path)
}

/// Reads an NPY array of shape `[n]` or `[n, 1]` as `[n]` integer labels, unscaled; float dtypes
/// must hold integral values.
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    read(path)?.into_labels(path)
}

/// Writes `data` (row-major) as an `<f4` NPY array of `shape`, atomically (temporary file in the
/// same directory, fsync, rename over `path`). Errors when `data` does not have `shape`'s size.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    if byte_len(shape, Dtype::F32).map(|(n, _)| n) != Some(data.len()) {
        return Err(Error::Shape(format!(
            "{} values cannot form an array of shape {shape:?}",
            data.len()
        )));
    }
    crate::atomic::write_atomic(path, &encode_f32(shape, data)?)
}

/// The bytes of a version 1.0 `<f4` NPY file: magic, header padded to a multiple of 64, data.
fn encode_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    let mut out = header_f32(shape)?;
    out.reserve(4 * data.len());
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    Ok(out)
}

/// The header of a version 1.0 `<f4` C-order NPY file of `shape`: magic, version, length and
/// the dict, padded so that the data starts at a multiple of 64 bytes.
fn header_f32(shape: &[usize]) -> Result<Vec<u8>> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6), version (2), header length (2), header, newline: a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let header_len = u16::try_from(header.len())
        .map_err(|_| Error::Shape(format!("{} dimensions are too many", dims.len())))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    Ok(out)
}

/// Writes an `<f4` `[rows, cols]` NPY file chunk by chunk, so that memory holds one chunk: the
/// header with the final shape goes first, into a temporary file beside the target
/// ([`AtomicFile`]); [`NpyWriter::finish`] checks that every row was written and puts the file in
/// place. Dropped before that (an error, a full disk), it leaves nothing at the target.
pub struct NpyWriter {
    file: AtomicFile,
    path: std::path::PathBuf,
    rows: usize,
    cols: usize,
    written: usize,
}

impl NpyWriter {
    /// Starts `path`, an array of `rows` rows of `cols` values.
    pub fn create(path: &Path, rows: usize, cols: usize) -> Result<Self> {
        let mut file = AtomicFile::create(path)?;
        file.write_all(&header_f32(&[rows, cols])?)?;
        Ok(NpyWriter {
            file,
            path: path.to_path_buf(),
            rows,
            cols,
            written: 0,
        })
    }

    /// Appends the rows of `chunk` `[k, cols]`.
    pub fn write(&mut self, chunk: &Matrix) -> Result<()> {
        if chunk.cols != self.cols || self.written + chunk.rows > self.rows {
            return Err(Error::Shape(format!(
                "{}: a [{}, {}] chunk after {} of [{}, {}] rows",
                self.path.display(),
                chunk.rows,
                chunk.cols,
                self.written,
                self.rows,
                self.cols
            )));
        }
        let bytes: Vec<u8> = chunk.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.file.write_all(&bytes)?;
        self.written += chunk.rows;
        Ok(())
    }

    /// Checks that all rows were written and puts the file in place atomically.
    pub fn finish(self) -> Result<()> {
        if self.written != self.rows {
            return Err(Error::Shape(format!(
                "{}: {} of {} rows written",
                self.path.display(),
                self.written,
                self.rows
            )));
        }
        self.file.commit()
    }
}

/// Reads and checks the whole file; the array comes back in C order.
fn read(path: &Path) -> Result<RawArray> {
    parse(path, read_file(path)?)
}

/// What an NPY file's header says, checked against the file: its dtype, order, shape and where
/// its data starts. `bytes` holds at least the header (the whole file, or a memory map of it);
/// `file_len` is the file's length, which must be the header plus exactly the data the shape
/// promises, so a header claiming more rows than the file holds is refused before anything is
/// allocated.
pub(crate) fn header(path: &Path, bytes: &[u8], file_len: usize) -> Result<Header> {
    let header_err = |message: String| Error::format(path, "header", message);
    if !bytes.starts_with(MAGIC) {
        let found: Vec<String> = bytes.iter().take(6).map(|b| format!("{b:02x}")).collect();
        return Err(Error::format(
            path,
            "magic",
            format!(
                "expected \\x93NUMPY, found bytes {} (not an NPY file)",
                found.join(" ")
            ),
        ));
    }
    let too_short = |wanted: usize| {
        header_err(format!(
            "expected at least {wanted} bytes, found {}",
            bytes.len()
        ))
    };
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => return Err(too_short(8)),
    };
    let start = match major {
        1 => 10,
        2 | 3 => 12,
        _ => {
            return Err(Error::format(
                path,
                "version",
                format!("unsupported NPY version {major}.{minor}; expected 1.0, 2.0 or 3.0"),
            ))
        }
    };
    let header_len = match bytes.get(8..start) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]) as usize,
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => return Err(too_short(start)),
    };
    let data_start = start + header_len;
    let Some(header) = bytes.get(start..data_start) else {
        return Err(too_short(data_start));
    };
    let header = String::from_utf8_lossy(header);

    let descr = dict_value(&header, "descr")
        .ok_or_else(|| header_err("no 'descr' (dtype) in the header".into()))?;
    let dtype = match descr {
        "<f4" => Dtype::F32,
        "<f8" => Dtype::F64,
        "<f2" => Dtype::F16,
        "|u1" | "<u1" => Dtype::U8,
        "|i1" | "<i1" => Dtype::I8,
        "<i2" => Dtype::I16,
        "<i4" => Dtype::I32,
        "<i8" => Dtype::I64,
        _ => {
            return Err(header_err(format!(
                "unsupported dtype {descr:?}; supported: {SUPPORTED}"
            )))
        }
    };
    let fortran = match dict_value(&header, "fortran_order") {
        Some("True") => true,
        Some("False") => false,
        other => {
            return Err(header_err(format!(
                "expected 'fortran_order': True or False, found {other:?}"
            )))
        }
    };
    let shape_text = dict_value(&header, "shape")
        .ok_or_else(|| header_err("no 'shape' in the header".into()))?;
    let shape = parse_shape(shape_text)
        .ok_or_else(|| header_err(format!("cannot read shape {shape_text:?}")))?;
    if shape.is_empty() {
        return Err(header_err(
            "shape () is a scalar; expected an array of at least one dimension".into(),
        ));
    }
    let (_, data_len) = byte_len(&shape, dtype)
        .ok_or_else(|| header_err(format!("shape {shape:?} is too large")))?;
    let found = file_len - data_start;
    if found != data_len {
        return Err(Error::format(
            path,
            "data",
            format!("expected {data_len} bytes for {shape:?} {descr}, found {found}"),
        ));
    }
    Ok(Header {
        dtype,
        fortran,
        shape,
        data_start,
    })
}

/// Where an NPY file's header ends (the data starts), from its first 12 bytes; `None` when they
/// are not an NPY preamble (then [`header`] says what is wrong).
pub(crate) fn header_end(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(MAGIC) {
        return None;
    }
    match bytes.get(6)? {
        1 => Some(10 + u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize),
        2 | 3 => {
            let b = bytes.get(8..12)?;
            Some(12 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        _ => None,
    }
}

/// An NPY header, checked ([`header`]).
pub(crate) struct Header {
    pub(crate) dtype: Dtype,
    pub(crate) fortran: bool,
    pub(crate) shape: Vec<usize>,
    pub(crate) data_start: usize,
}

fn parse(path: &Path, mut bytes: Vec<u8>) -> Result<RawArray> {
    let Header {
        dtype,
        fortran,
        shape,
        data_start,
    } = header(path, &bytes, bytes.len())?;
    bytes.drain(..data_start);
    if fortran && shape.len() > 1 {
        bytes = fortran_to_c(&bytes, dtype.size(), &shape);
    }
    Ok(RawArray {
        dtype,
        big_endian: false,
        shape,
        bytes,
    })
}

/// The value of `key` in the header's Python dict literal: a string without its quotes, a
/// `(...)` or `[...]` group with its brackets, or a bare word such as `True`.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let (pos, quoted_len) = ['\'', '"'].iter().find_map(|q| {
        header
            .find(&format!("{q}{key}{q}"))
            .map(|p| (p, key.len() + 2))
    })?;
    let rest = header[pos + quoted_len..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    match rest.chars().next()? {
        q @ ('\'' | '"') => rest[1..].find(q).map(|end| &rest[1..1 + end]),
        '(' | '[' => {
            let mut depth = 0usize;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' | '[' => depth += 1,
                    ')' | ']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(&rest[..=i]);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        _ => rest.split([',', '}']).next().map(str::trim),
    }
}

/// `(3, 4)`, `(3,)` or `()` as sizes; `None` when malformed.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        // Python 2 wrote longs as `3L`.
        .map(|d| d.trim_end_matches('L').parse().ok())
        .collect()
}

/// Reorders the `size`-byte elements of a Fortran-order (first index fastest) array of `shape`
/// into C order (last index fastest).
fn fortran_to_c(bytes: &[u8], size: usize, shape: &[usize]) -> Vec<u8> {
    // Fortran-order element strides; their product is the checked element count.
    let strides: Vec<usize> = shape
        .iter()
        .scan(1, |s, &d| {
            let stride = *s;
            *s *= d;
            Some(stride)
        })
        .collect();
    let mut index = vec![0; shape.len()];
    let mut offset = 0;
    let mut out = Vec::with_capacity(bytes.len());
    for _ in 0..bytes.len() / size {
        out.extend_from_slice(&bytes[offset * size..(offset + 1) * size]);
        // Step the C-order index, last axis first.
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            offset += strides[k];
            if index[k] < shape[k] {
                break;
            }
            offset -= strides[k] * shape[k];
            index[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An NPY file of `version` with header dict entries `descr`, `fortran` and `shape`.
    fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        npy_with_header(version, &dict, data)
    }

    /// An NPY file of `version` with the header `dict` (padded here) and `data`.
    fn npy_with_header(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        let prefix = if version == 1 { 10 } else { 12 };
        let unpadded = prefix + header.len() + 1;
        header.extend(std::iter::repeat_n(
            ' ',
            unpadded.next_multiple_of(64) - unpadded,
        ));
        header.push('\n');
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[version, 0]);
        if version == 1 {
            b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    fn le<T: bytemuck::Pod>(values: &[T]) -> Vec<u8> {
        // The tests run on little-endian hosts, where native bytes are `<`.
        bytemuck::cast_slice(values).to_vec()
    }

    /// Writes `bytes` to `x.npy` in a new temporary directory and applies `f` to its path.
    fn with_file<T>(bytes: &[u8], f: impl FnOnce(&Path) -> T) -> T {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        std::fs::write(&p, bytes).unwrap();
        f(&p)
    }

    fn matrix(bytes: &[u8]) -> Result<Matrix> {
        with_file(bytes, read_matrix)
    }

    fn err(bytes: &[u8]) -> String {
        let e = matrix(bytes).unwrap_err().to_string();
        assert!(e.contains("x.npy"), "{e}");
        e
    }

    #[test]
    fn writes_a_padded_version_1_header() {
        let bytes = encode_f32(&[2, 3], &[0.0; 6]).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with(" \n"));
        let one_d = encode_f32(&[4], &[0.0; 4]).unwrap();
        assert!(String::from_utf8_lossy(&one_d).contains("'shape': (4,)"));
    }

    #[test]
    fn write_f32_checks_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.npy");
        assert!(matches!(
            write_f32(&p, &[2, 2], &[1.0; 3]),
            Err(Error::Shape(_))
        ));
        assert!(!p.exists());
        write_f32(&p, &[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let m = read_matrix(&p).unwrap();
        assert_eq!((m.rows, m.cols, m.data), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
    }

    #[test]
    fn reads_f32_f64_f16_and_u8() {
        let f32s = [1.5f32, -2.0, 3.25, 0.0, 1e-3, 7.0];
        let m = matrix(&npy(1, "<f4", false, "(2, 3)", &le(&f32s))).unwrap();
        assert_eq!((m.rows, m.cols, m.data), (2, 3, f32s.to_vec()));

        let f64s = [0.1f64, -1e10, 2.5];
        let m = matrix(&npy(1, "<f8", false, "(3,)", &le(&f64s))).unwrap();
        assert_eq!((m.rows, m.cols), (3, 1));
        assert_eq!(m.data, vec![0.1f32, -1e10, 2.5]);

        let f16s: Vec<u16> = [0.5f32, -3.0, 65504.0]
            .iter()
            .map(|&v| half::f16::from_f32(v).to_bits())
            .collect();
        let m = matrix(&npy(1, "<f2", false, "(1, 3)", &le(&f16s))).unwrap();
        assert_eq!(m.data, vec![0.5, -3.0, 65504.0]);

        for descr in ["|u1", "<u1"] {
            let m = matrix(&npy(1, descr, false, "(2, 2)", &[0, 51, 255, 102])).unwrap();
            assert_eq!(m.data, vec![0.0, 0.2, 1.0, 0.4], "{descr}");
        }
    }

    #[test]
    fn reads_versions_2_and_3_and_higher_dims() {
        let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
        for version in [2, 3] {
            let m = matrix(&npy(version, "<f4", false, "(2, 3, 2)", &le(&v))).unwrap();
            assert_eq!((m.rows, m.cols), (2, 6), "version {version}");
            assert_eq!(m.data, v);
        }
        let m = matrix(&npy(1, "<f4", false, "(0, 5)", &[])).unwrap();
        assert_eq!((m.rows, m.cols), (0, 5));
    }

    #[test]
    fn fortran_order_is_transposed_to_row_major() {
        // [[1, 2, 3], [4, 5, 6]] stored column after column.
        let f = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        let m = matrix(&npy(1, "<f8", true, "(2, 3)", &le(&f))).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

        // v[i][j][k] = 100i + 10j + k, shape (2, 3, 2), first index fastest on disk.
        let mut stored = Vec::new();
        for k in 0..2 {
            for j in 0..3 {
                for i in 0..2 {
                    stored.push((100 * i + 10 * j + k) as f32);
                }
            }
        }
        let m = matrix(&npy(1, "<f4", true, "(2, 3, 2)", &le(&stored))).unwrap();
        let want: Vec<f32> = (0..2)
            .flat_map(|i| {
                (0..3).flat_map(move |j| (0..2).map(move |k| (100 * i + 10 * j + k) as f32))
            })
            .collect();
        assert_eq!((m.rows, m.cols), (2, 6));
        assert_eq!(m.data, want);
    }

    #[test]
    fn integer_labels() {
        let read = |bytes: Vec<u8>| with_file(&bytes, read_labels);
        assert_eq!(
            read(npy(1, "<i8", false, "(3,)", &le(&[5i64, -1, 1 << 40]))).unwrap(),
            vec![5, -1, 1 << 40]
        );
        assert_eq!(
            read(npy(1, "<i4", false, "(2, 1)", &le(&[7i32, 9]))).unwrap(),
            vec![7, 9]
        );
        assert_eq!(
            read(npy(1, "|i1", false, "(2,)", &[0xfe, 3])).unwrap(),
            vec![-2, 3]
        );
        // u8 labels are not scaled.
        assert_eq!(
            read(npy(1, "|u1", false, "(2,)", &[200, 3])).unwrap(),
            vec![200, 3]
        );
        assert_eq!(
            read(npy(1, "<f8", false, "(2,)", &le(&[3.0f64, 0.0]))).unwrap(),
            vec![3, 0]
        );
        let e = read(npy(1, "<f4", false, "(2,)", &le(&[1.0f32, f32::NAN])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1") && e.contains("not an integer"), "{e}");
        let e = read(npy(1, "<i4", false, "(1, 2)", &le(&[1i32, 2])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[1, 2]"), "{e}");
    }

    #[test]
    fn unsupported_dtypes_are_named() {
        for descr in ["<c8", ">f4", "<U3", "|b1"] {
            let e = err(&npy(1, descr, false, "(1,)", &[0; 8]));
            assert!(
                e.contains("header") && e.contains(&format!("{descr:?}")),
                "{e}"
            );
            assert!(e.contains("<f4, <f8"), "{e}");
        }
        let structured = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, \
                          'shape': (1,), }";
        let e = err(&npy_with_header(1, structured, &[0; 8]));
        assert!(e.contains("[('a', '<f4'), ('b', '<i4')]"), "{e}");
    }

    #[test]
    fn truncated_data_says_expected_and_found() {
        let e = err(&npy(1, "<f4", false, "(2, 3)", &[0; 20]));
        assert!(
            e.contains("data: expected 24 bytes for [2, 3] <f4, found 20"),
            "{e}"
        );
    }

    #[test]
    fn broken_headers_are_errors() {
        let good = npy(1, "<f4", false, "(1,)", &[0; 4]);
        assert!(err(&good[..9]).contains("at least 10 bytes, found 9"));
        assert!(err(&good[..40]).contains("found 40"));
        let e = err(b"PK\x03\x04\x00\x00\x00\x00");
        assert!(e.contains("magic") && e.contains("50 4b 03 04"), "{e}");
        let mut v4 = good.clone();
        v4[6] = 4;
        assert!(err(&v4).contains("version 4.0"));
        let e = err(&npy(1, "<f4", false, "()", &[0; 4]));
        assert!(e.contains("shape ()"), "{e}");
        let e = err(&npy(1, "<f4", false, "(a, 2)", &[]));
        assert!(e.contains("cannot read shape \"(a, 2)\""), "{e}");
        let huge = format!("({0}, {0}, {0})", usize::MAX / 2);
        assert!(err(&npy(1, "<f8", false, &huge, &[])).contains("too large"));
        let e = err(&npy_with_header(
            1,
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
            &[0; 4],
        ));
        assert!(e.contains("fortran_order") && e.contains("\"0\""), "{e}");
        let e = err(&npy_with_header(
            1,
            "{'fortran_order': False, 'shape': (1,), }",
            &[],
        ));
        assert!(e.contains("no 'descr'"), "{e}");
    }

    #[test]
    fn nan_names_row_and_column() {
        let v = [0.0f32, 1.0, 2.0, 3.0, 4.0, f32::NAN];
        let e = err(&npy(1, "<f4", false, "(2, 3)", &le(&v)));
        assert!(
            e.contains("row 1, column 2: NaN") && e.contains("finite"),
            "{e}"
        );
        // An f64 beyond f32's range is infinite once converted.
        let e = err(&npy(1, "<f8", false, "(1,)", &le(&[1e300f64])));
        assert!(e.contains("row 0, column 0: inf"), "{e}");
    }

    #[test]
    fn the_chunked_writer_writes_what_write_f32_writes_and_nothing_when_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let m = Matrix::new(5, 3, (0..15).map(|i| i as f32 / 3.0).collect()).unwrap();
        let (whole, chunked) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
        write_f32(&whole, &[5, 3], &m.data).unwrap();
        let mut w = NpyWriter::create(&chunked, 5, 3).unwrap();
        w.write(&m.select_rows(&[0, 1])).unwrap();
        w.write(&m.select_rows(&[2, 3, 4])).unwrap();
        assert!(
            w.write(&m.select_rows(&[0])).is_err(),
            "past the promised rows"
        );
        w.finish().unwrap();
        assert_eq!(
            std::fs::read(&whole).unwrap(),
            std::fs::read(&chunked).unwrap()
        );
        // Unfinished (short, or dropped on an error): nothing at the target, no temporary.
        let short = dir.path().join("c.npy");
        let mut w = NpyWriter::create(&short, 5, 3).unwrap();
        w.write(&m.select_rows(&[0])).unwrap();
        assert!(w.finish().unwrap_err().to_string().contains("1 of 5 rows"));
        let dropped = dir.path().join("d.npy");
        drop(NpyWriter::create(&dropped, 5, 3).unwrap());
        assert!(!short.exists() && !dropped.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
