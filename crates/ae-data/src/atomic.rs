//! Atomic file writes: a temporary file in the same directory (through `tempfile`), flushed to
//! disk, then renamed over the target, and on unix the directory flushed too, so a crash never
//! leaves a half-written file where a good one was, and the rename itself survives a power cut.

use ae_backend::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in `path`'s directory, `sync_all`,
/// renamed over `path`, then (on unix) the directory synced. The file gets the permissions
/// `File::create` would give it (0o666 less the umask on unix), not `tempfile`'s private 0o600.
/// Every error names `path`; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Writes several files atomically and together: every one is written to its temporary file and
/// flushed to disk before any is renamed over its target, so a write that fails (a full disk)
/// leaves every target as it was. Only a crash between the renames can leave some replaced and
/// some not (checkpoints carry a checksum that tells such a pair apart).
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> Result<()> {
    let mut written = Vec::with_capacity(files.len());
    for &(path, bytes) in files {
        let mut file = AtomicFile::create(path)?;
        file.write_all(bytes)?;
        written.push(file.flushed()?);
    }
    written.into_iter().try_for_each(Flushed::commit)
}

/// A file written in pieces that appears at its path only when [`AtomicFile::commit`] succeeds:
/// until then it is a temporary file beside the target, removed when dropped (an error, a full
/// disk, Ctrl-C), so nothing half-written is ever left at `path`.
pub struct AtomicFile {
    path: PathBuf,
    dir: PathBuf,
    tmp: std::io::BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    /// A temporary file in `path`'s directory, with `File::create`'s permissions.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| Error::Config(format!("{} is not a file path", path.display())))?;
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            tmp: std::io::BufWriter::with_capacity(1 << 20, tmp),
        })
    }

    /// Appends `bytes`; an error (a full disk) names the target.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.tmp
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, unwrapped(e)))
    }

    /// Flushes to disk and renames over the target, then (on unix) syncs the directory.
    pub fn commit(self) -> Result<()> {
        self.flushed()?.commit()
    }

    /// Flushes the temporary file to disk (where a full disk shows at the latest), not yet
    /// renamed.
    fn flushed(self) -> Result<Flushed> {
        let path = self.path;
        let flush = || {
            let tmp = self.tmp.into_inner().map_err(|e| e.into_error())?;
            tmp.as_file().sync_all()?;
            Ok(tmp)
        };
        match flush() {
            Ok(tmp) => Ok(Flushed {
                path,
                dir: self.dir,
                tmp,
            }),
            Err(e) => Err(Error::io(&path, unwrapped(e))),
        }
    }
}

/// An error of the temporary file without the temporary path `tempfile` appends to it (`... at
/// path "dir/.name.XXXX.tmp"`, a file gone by the time the error is read; the message names the
/// target instead).
fn unwrapped(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.rsplit_once(" at path \"") {
        Some((message, _)) if e.get_ref().is_some() => std::io::Error::new(e.kind(), message),
        _ => e,
    }
}

/// An [`AtomicFile`] on disk in full under its temporary name, to be renamed over its target.
struct Flushed {
    path: PathBuf,
    dir: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl Flushed {
    /// Renames over the target, then (on unix) syncs the directory.
    fn commit(self) -> Result<()> {
        let path = self.path;
        let result = (|| {
            self.tmp.persist(&path).map_err(|e| e.error)?;
            #[cfg(unix)]
            std::fs::File::open(&self.dir)?.sync_all()?;
            Ok(())
        })();
        result.map_err(|e: std::io::Error| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_bare_file_name_writes_in_the_current_directory() {
        // Only checks that an empty parent is read as "."; the name is unique to this process.
        let name = format!("ae-atomic-test-{}.bin", std::process::id());
        write_atomic(Path::new(&name), b"x").unwrap();
        assert_eq!(std::fs::read(&name).unwrap(), b"x");
        std::fs::remove_file(&name).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let err = write_atomic(Path::new("/nonexistent-dir/x.bin"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.bin"));
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_naming_it_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"keep").unwrap();
        let err = write_atomic(&target, b"x").unwrap_err();
        assert!(err.to_string().contains("taken"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }

    #[test]
    fn files_written_together_replace_none_when_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.bin"), dir.path().join("sub/b"));
        write_atomic(&a, b"old").unwrap();
        // The second file cannot be written (its directory is missing), so the first keeps its
        // old contents although its own new bytes were written in full.
        let err = write_atomic_all(&[(&a, b"new"), (&b, b"x")]).unwrap_err();
        assert!(err.to_string().contains("sub/b"), "{err}");
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporaries left"
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write_atomic_all(&[(&a, b"new"), (&b, b"x")]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        assert_eq!(std::fs::read(&b).unwrap(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_gets_the_permissions_file_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let atomic = dir.path().join("atomic");
        write_atomic(&atomic, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }
}
