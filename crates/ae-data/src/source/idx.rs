//! IDX files as a data set read a chunk of rows at a time ([`IdxSource`]); the format and its
//! header are in [`crate::idx`].

use super::array::{row_array_source, RowArray, RowBytes};
use super::PositionalFile;
use crate::idx::{gzip_error, header, Header, GZIP_MAGIC};
use ae_backend::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Decompressed IDX data up to this size is held in memory by [`IdxSource`]; larger data is
/// decompressed once into an unnamed temporary file and read from there.
pub const IDX_RESIDENT_BYTES: usize = 256 << 20;

/// An IDX file (raw or gzipped) read a chunk of rows at a time. A raw file is read by positional
/// reads, its header checked against its length at open; a gzipped one is decompressed once at
/// open (it cannot be read at an offset) into memory when small, else into a temporary file, so
/// memory stays bounded either way. Rows are `[count, d1 * d2 * ...]`, `u8` divided by 255.
///
/// The bytes are in memory, in the IDX file itself (raw), or in an unnamed temporary file
/// (removed when closed) when gzipped and larger than [`IDX_RESIDENT_BYTES`].
pub struct IdxSource {
    array: RowArray,
}

impl IdxSource {
    /// Opens `path` and checks its header against the data that follows it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_holding(path, IDX_RESIDENT_BYTES)
    }

    /// [`IdxSource::open`], gzipped data of at most `resident` bytes held in memory.
    fn open_holding(path: &Path, resident: usize) -> Result<Self> {
        let file = PositionalFile::open(path)?;
        let magic = file.prefix(path, 2)?;
        let (h, data) = if magic == GZIP_MAGIC {
            let raw = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let mut gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(raw));
            Self::decompress(path, &mut gz, resident)?
        } else {
            let h = header(path, &file.prefix(path, 4 + 4 * 255)?)?;
            h.check_data_len(path, file.len().saturating_sub(h.len as u64))?;
            let start = h.len;
            (h, RowBytes::File { file, start })
        };
        let (rows, cols) = h.rows_cols();
        Ok(IdxSource {
            array: RowArray {
                path: path.to_path_buf(),
                bytes: data,
                dtype: h.dtype,
                big_endian: true,
                rows,
                cols,
            },
        })
    }

    /// The header and data of the decompressed stream `gz`: in memory up to
    /// `resident` bytes, else copied into an unnamed temporary file.
    fn decompress(path: &Path, gz: &mut impl Read, resident: usize) -> Result<(Header, RowBytes)> {
        let mut prefix = vec![0u8; 4];
        let got = read_up_to(gz, &mut prefix).map_err(|e| gzip_error(path, e))?;
        prefix.truncate(got);
        if got == 4 {
            let len = 4 + 4 * prefix[3] as usize;
            prefix.resize(len, 0);
            let got = read_up_to(gz, &mut prefix[4..]).map_err(|e| gzip_error(path, e))?;
            prefix.truncate(4 + got);
        }
        let h = header(path, &prefix)?;
        if h.data_len <= resident {
            let mut bytes = Vec::with_capacity(h.data_len);
            gz.take(h.data_len as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| gzip_error(path, e))?;
            h.check_data_len(path, bytes.len() as u64 + trailing(gz, path)?)?;
            return Ok((h, RowBytes::Memory(bytes)));
        }
        let mut tmp = tempfile::tempfile().map_err(|e| {
            Error::io(
                path,
                std::io::Error::new(
                    e.kind(),
                    format!("a temporary file to decompress into: {e}"),
                ),
            )
        })?;
        let copied = std::io::copy(&mut gz.take(h.data_len as u64), &mut tmp).map_err(|e| {
            match e.kind() {
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                    gzip_error(path, e)
                }
                _ => Error::io(
                    path,
                    std::io::Error::new(
                        e.kind(),
                        format!("decompressing into a temporary file (it needs {} bytes of the temporary directory): {e}", h.data_len),
                    ),
                ),
            }
        })?;
        h.check_data_len(path, copied + trailing(gz, path)?)?;
        let file = PositionalFile::from_file(path, tmp)?;
        Ok((h, RowBytes::File { file, start: 0 }))
    }
}

/// Fills as much of `buf` as `r` holds: the bytes read (fewer than `buf.len()` at its end).
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// How many bytes are left in `r` (counted, not kept): extra data after what the header promised.
fn trailing(r: &mut impl Read, path: &Path) -> Result<u64> {
    std::io::copy(r, &mut std::io::sink()).map_err(|e| gzip_error(path, e))
}

row_array_source!(IdxSource);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::read_matrix;
    use crate::idx::tests::{gzip, idx_bytes};
    use crate::source::RowSource;
    use std::path::PathBuf;

    /// `bytes` written as `name` in `dir`.
    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn the_source_reads_what_the_whole_file_reader_reads_raw_gzipped_and_spilled() {
        let pixels: Vec<u8> = (0..7 * 6).map(|i| (i * 37 % 256) as u8).collect();
        let raw = idx_bytes(0x08, &[7, 2, 3], &pixels);
        let dir = tempfile::tempdir().unwrap();
        let paths = [
            file(&dir, "r-idx3-ubyte", &raw),
            file(&dir, "g.gz", &gzip(&raw)),
        ];
        let whole = read_matrix(&paths[0]).unwrap();
        assert_eq!(whole, read_matrix(&paths[1]).unwrap());
        // Held in memory (small), read from the file itself (raw), spilled to a temporary file.
        let sources = [
            IdxSource::open(&paths[0]).unwrap(),
            IdxSource::open(&paths[1]).unwrap(),
            IdxSource::open_holding(&paths[1], 0).unwrap(),
        ];
        assert!(matches!(
            sources[0].array.bytes,
            RowBytes::File { start: 16, .. }
        ));
        assert!(matches!(sources[1].array.bytes, RowBytes::Memory(_)));
        assert!(matches!(
            sources[2].array.bytes,
            RowBytes::File { start: 0, .. }
        ));
        for s in &sources {
            assert_eq!((s.rows(), s.cols(), s.dtype()), (7, 6, Some("u8")));
            assert_eq!(s.read(0, 7).unwrap(), whole);
            assert_eq!(s.read(2, 3).unwrap().data, whole.data[12..30]);
            let idx = [6u32, 0, 1, 2, 4, 4];
            let want = whole.select_rows(&idx.iter().map(|&i| i as usize).collect::<Vec<_>>());
            assert_eq!(s.gather(&idx).unwrap(), want);
            let err = s.read(5, 3).unwrap_err().to_string();
            assert!(err.contains("rows 5..8") && err.contains("7 rows"), "{err}");
            assert!(s.gather(&[1, 7]).is_err());
        }
    }

    #[test]
    fn the_source_checks_the_length_at_open_raw_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        for (short, resident) in [
            (true, usize::MAX),
            (false, usize::MAX),
            (true, 0),
            (false, 0),
        ] {
            let data = vec![1u8; if short { 20 } else { 25 }];
            let raw = idx_bytes(0x08, &[2, 3, 4], &data);
            for (name, bytes) in [("x-idx3-ubyte", raw.clone()), ("x.gz", gzip(&raw))] {
                let p = file(&dir, name, &bytes);
                let err = match IdxSource::open_holding(&p, resident) {
                    Ok(_) => panic!("{name}: {} data bytes opened", data.len()),
                    Err(e) => e.to_string(),
                };
                let want = format!(
                    "data: expected 24 bytes for [2, 3, 4] u8, found {}",
                    data.len()
                );
                assert!(err.contains(&want) && err.contains(name), "{name}: {err}");
            }
        }
        let mut z = gzip(&idx_bytes(0x08, &[100], &[3; 100]));
        z.truncate(z.len() - 12);
        let p = file(&dir, "cut.gz", &z);
        for resident in [usize::MAX, 0] {
            let err = IdxSource::open_holding(&p, resident)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("gzip") && err.contains("cut.gz"), "{err}");
        }
        let p = file(&dir, "h.gz", &gzip(&[0, 0, 8, 3, 0, 0]));
        let err = IdxSource::open(&p).err().unwrap().to_string();
        assert!(
            err.contains("expected 16 bytes for 3 dimensions, found 6"),
            "{err}"
        );
    }

    #[test]
    fn the_source_names_the_row_and_column_of_a_nan() {
        let values = [1.0f32, 2.0, 3.0, f32::NAN, 5.0, 6.0];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, "n.idx", &idx_bytes(0x0D, &[3, 2], &data));
        let s = IdxSource::open(&p).unwrap();
        assert_eq!(s.read(0, 1).unwrap().data, [1.0, 2.0]);
        let err = s.read(1, 2).unwrap_err().to_string();
        assert!(
            err.contains("row 1, column 1") && err.contains("n.idx"),
            "{err}"
        );
        let err = s.gather(&[2, 1]).unwrap_err().to_string();
        assert!(err.contains("row 1, column 1"), "{err}");
    }
}
