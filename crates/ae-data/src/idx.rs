//! IDX files, the format of MNIST, raw or gzipped.
//!
//! Layout: two zero bytes, a type byte (`0x08` u8, `0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32,
//! `0x0E` f64) and a dimension count `ndim`; then `ndim` big-endian u32 sizes; then the elements,
//! big-endian, row-major. The first dimension is the rows, the product of the others the columns
//! (`[10000, 28, 28]` images are `[10000, 784]`, 1-D labels `[n, 1]`). A file starting with the
//! gzip magic `1f 8b` is decompressed first, whatever its name.

use crate::{byte_len, read_file, Dtype, RawArray};
use ae_backend::{Error, Matrix, Result};
use std::io::Read;
use std::path::Path;

/// Reads an IDX file as a `[d0, d1 * d2 * ...]` matrix. `u8` pixels are divided by 255, so they
/// come out in `[0, 1]`; other types keep their values. Errors on NaN or infinity.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    read(path)?.into_matrix(path)
}

/// Reads a 1-D IDX file (or `[n, 1]`) as `[n]` integer labels, unscaled.
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    read(path)?.into_labels(path)
}

/// Reads and checks the whole file, decompressing gzip.
fn read(path: &Path) -> Result<RawArray> {
    let bytes = read_file(path)?;
    let mut bytes = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| gzip_error(path, e))?;
        out
    } else {
        bytes
    };
    let h = header(path, &bytes)?;
    h.check_data_len(path, (bytes.len() - h.len) as u64)?;
    bytes.drain(..h.len);
    Ok(RawArray {
        dtype: h.dtype,
        big_endian: true,
        shape: h.shape,
        bytes,
    })
}

/// The two bytes every gzip stream starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

pub(crate) fn gzip_error(path: &Path, e: std::io::Error) -> Error {
    Error::format(path, "gzip stream", format!("cannot decompress: {e}"))
}

/// An IDX header: the element type, the sizes, its own length in bytes and the data's.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    /// Bytes of the header: `4 + 4 * ndim`.
    pub(crate) len: usize,
    /// Bytes of the data the sizes promise.
    pub(crate) data_len: usize,
}

impl Header {
    /// Rows (the first size) and columns (the product of the others).
    pub(crate) fn rows_cols(&self) -> (usize, usize) {
        (self.shape[0], self.shape[1..].iter().product())
    }

    /// An error unless `found` bytes follow the header, exactly as many as the sizes promise.
    pub(crate) fn check_data_len(&self, path: &Path, found: u64) -> Result<()> {
        if found == self.data_len as u64 {
            return Ok(());
        }
        Err(Error::format(
            path,
            "data",
            format!(
                "expected {} bytes for {:?} {}, found {found}",
                self.data_len,
                self.shape,
                self.dtype.name()
            ),
        ))
    }
}

/// Parses the header at the start of `bytes` (decompressed; at least the header, maybe more).
pub(crate) fn header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            "header",
            format!("expected at least 4 bytes, found {}", bytes.len()),
        ));
    }
    if bytes[..2] != [0, 0] {
        let found: Vec<String> = bytes[..4].iter().map(|b| format!("{b:02x}")).collect();
        return Err(Error::format(
            path,
            "magic",
            format!(
                "expected 00 00 <type> <ndim>, found bytes {} (not an IDX file)",
                found.join(" ")
            ),
        ));
    }
    let dtype = match bytes[2] {
        0x08 => Dtype::U8,
        0x09 => Dtype::I8,
        0x0B => Dtype::I16,
        0x0C => Dtype::I32,
        0x0D => Dtype::F32,
        0x0E => Dtype::F64,
        t => {
            return Err(Error::format(
                path,
                "magic",
                format!(
                    "unknown type byte 0x{t:02x}; expected 0x08 (u8), 0x09 (i8), 0x0b (i16), \
                     0x0c (i32), 0x0d (f32) or 0x0e (f64)"
                ),
            ))
        }
    };
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(Error::format(
            path,
            "header",
            "0 dimensions; an IDX array needs at least one",
        ));
    }
    let len = 4 + 4 * ndim;
    if bytes.len() < len {
        return Err(Error::format(
            path,
            "header",
            format!(
                "expected {len} bytes for {ndim} dimensions, found {}",
                bytes.len()
            ),
        ));
    }
    let shape: Vec<usize> = bytes[4..len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let (_, data_len) = byte_len(&shape, dtype)
        .ok_or_else(|| Error::format(path, "header", format!("shape {shape:?} is too large")))?;
    Ok(Header {
        dtype,
        shape,
        len,
        data_len,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// An IDX file of type byte `ty`, sizes `dims` and raw big-endian `data`.
    pub(crate) fn idx_bytes(ty: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, ty, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn err_of(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad-idx3-ubyte");
        std::fs::write(&p, bytes).unwrap();
        let err = read_matrix(&p).unwrap_err().to_string();
        assert!(err.contains("bad-idx3-ubyte"), "{err}");
        err
    }

    #[test]
    fn u8_raw_and_gzipped_round_trip_scaled() {
        let pixels: Vec<u8> = (0..12).map(|i| (i * 20) as u8).collect();
        let raw = idx_bytes(0x08, &[2, 2, 3], &pixels);
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("a-idx3-ubyte", raw.clone()), ("a.gz", gzip(&raw))] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let m = read_matrix(&p).unwrap();
            assert_eq!((m.rows, m.cols), (2, 6), "{name}");
            let want: Vec<f32> = pixels.iter().map(|&v| v as f32 / 255.0).collect();
            assert_eq!(m.data, want, "{name}");
        }
    }

    #[test]
    fn f32_raw_and_gzipped_round_trip() {
        let values = [1.5f32, -2.25, 0.0, 1e6, -3e-5, 7.0];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let raw = idx_bytes(0x0D, &[3, 2], &data);
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("f.idx", raw.clone()), ("f.idx.gz", gzip(&raw))] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let m = read_matrix(&p).unwrap();
            assert_eq!((m.rows, m.cols), (3, 2));
            assert_eq!(m.data, values);
        }
    }

    #[test]
    fn other_types_decode_big_endian() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.idx");
        let data: Vec<u8> = [-2.5f64, 4.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        std::fs::write(&p, idx_bytes(0x0E, &[2], &data)).unwrap();
        assert_eq!(read_matrix(&p).unwrap().data, vec![-2.5, 4.0]);
        let data: Vec<u8> = [-300i16, 7].iter().flat_map(|v| v.to_be_bytes()).collect();
        std::fs::write(&p, idx_bytes(0x0B, &[2], &data)).unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![-300, 7]);
        std::fs::write(&p, idx_bytes(0x09, &[2], &[0xff, 5])).unwrap();
        assert_eq!(read_matrix(&p).unwrap().data, vec![-1.0, 5.0]);
    }

    #[test]
    fn labels_are_raw_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l-idx1-ubyte.gz");
        std::fs::write(&p, gzip(&idx_bytes(0x08, &[4], &[7, 0, 9, 255]))).unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![7, 0, 9, 255]);
        std::fs::write(&p, gzip(&idx_bytes(0x08, &[2, 2], &[1, 2, 3, 4]))).unwrap();
        let err = read_labels(&p).unwrap_err().to_string();
        assert!(err.contains("[2, 2]") && err.contains("1-D"), "{err}");
    }

    #[test]
    fn truncated_data_says_expected_and_found() {
        let err = err_of(&idx_bytes(0x08, &[2, 3, 4], &[0; 20]));
        assert!(
            err.contains("data: expected 24 bytes for [2, 3, 4] u8, found 20"),
            "{err}"
        );
        // Extra bytes are as wrong as missing ones.
        let err = err_of(&idx_bytes(0x0D, &[1], &[0; 5]));
        assert!(
            err.contains("expected 4 bytes") && err.contains("found 5"),
            "{err}"
        );
    }

    #[test]
    fn truncated_header_is_an_error() {
        let err = err_of(&[0, 0, 8, 3, 0, 0, 0, 2]);
        assert!(
            err.contains("expected 16 bytes for 3 dimensions, found 8"),
            "{err}"
        );
        let err = err_of(&[0, 0]);
        assert!(err.contains("at least 4 bytes, found 2"), "{err}");
        let err = err_of(&gzip(&[0, 0, 8]));
        assert!(err.contains("found 3"), "{err}");
    }

    #[test]
    fn bad_magic_names_the_bytes() {
        let err = err_of(b"PK\x03\x04rest");
        assert!(
            err.contains("magic") && err.contains("50 4b 03 04"),
            "{err}"
        );
        let err = err_of(&idx_bytes(0x07, &[1], &[0]));
        assert!(err.contains("type byte 0x07"), "{err}");
        let err = err_of(&[0, 0, 8, 0]);
        assert!(err.contains("0 dimensions"), "{err}");
    }

    #[test]
    fn absurd_dims_are_an_error_not_a_panic() {
        let err = err_of(&idx_bytes(0x0E, &[u32::MAX, u32::MAX, u32::MAX], &[]));
        assert!(err.contains("header") && err.contains("too large"), "{err}");
        let err = err_of(&idx_bytes(0x08, &[u32::MAX, 2], &[1, 2]));
        assert!(err.contains("found 2"), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut z = gzip(&idx_bytes(0x08, &[100], &[3; 100]));
        let n = z.len();
        z.truncate(n - 12);
        let err = err_of(&z);
        assert!(err.contains("gzip"), "{err}");
    }
}
