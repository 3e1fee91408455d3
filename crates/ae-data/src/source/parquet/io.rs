//! Reading a Parquet file for the `parquet` crate: positional reads behind its `ChunkReader`, its
//! errors as messages, and the guard that turns its panics on damaged files into errors.

use super::*;

thread_local! {
    /// Set while this thread runs the `parquet` crate under [`guarded`]; the panic hook then
    /// keeps the panic's place here instead of printing it.
    static GUARDED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`, turning a panic in it into an error naming `path`: the `parquet` crate still
/// unwraps on some damaged files (a page header missing its fields, for one), and a damaged file
/// must be an error, not a crash. The panic is not printed (a panic hook, installed once, passes
/// every other panic to the hook before it); its message and place are in the error.
pub(super) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
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
pub(super) struct Chunks(pub(super) Arc<PositionalFile>);

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

/// A sequential reader from a byte offset on, by positional reads.
pub(super) struct At {
    pub(super) file: Arc<PositionalFile>,
    pub(super) pos: u64,
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

/// A `parquet` crate error as a message (without its "Parquet error: " prefix).
pub(super) fn message(e: &ParquetError) -> String {
    let text = e.to_string();
    match text.strip_prefix("Parquet error: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}
