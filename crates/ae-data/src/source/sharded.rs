//! Shards of one format as one data set ([`ShardedSource`]): a directory, or a pattern of file
//! names (`dir/*.npy`), its files sorted by name.

use super::{open, out_of_range, runs, RowSource};
use ae_backend::{Error, Matrix, Result};
use std::path::{Path, PathBuf};

/// Shards of one format read as one data set: the rows of each file in turn, files sorted by name.
/// Every shard must have the width of the first; an empty directory, or a shard of another
/// width, is an error naming it.
pub struct ShardedSource {
    path: PathBuf,
    shards: Vec<Box<dyn RowSource>>,
    /// `starts[i]`: the first row of shard `i`; the last entry is the row count.
    starts: Vec<usize>,
    cols: usize,
}

/// Whether `path` names shards: a directory, or a pattern (`*` or `?` in its file name).
pub(crate) fn is_sharded(path: &Path) -> bool {
    path.is_dir()
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(['*', '?']))
}

/// The shards `path` names: the files of a directory, or those matching the pattern in its file
/// name, sorted by name (hidden files left out); none is an error.
pub(crate) fn shard_files(path: &Path) -> Result<Vec<PathBuf>> {
    let (dir, pattern) = if path.is_dir() {
        (path.to_path_buf(), None)
    } else {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let pattern = path.file_name().map(|n| n.to_string_lossy().into_owned());
        (dir, pattern)
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            !name.starts_with('.')
                && pattern
                    .as_deref()
                    .is_none_or(|pat| wildcard_match(pat, &name))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::format(
            path,
            "shards",
            "no data files here; expected one or more .npy, .safetensors, .parquet, .csv or \
                 IDX files",
        ));
    }
    Ok(files)
}

impl ShardedSource {
    /// The files of directory `path`, or those matching the pattern in its file name.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, open)
    }

    /// [`ShardedSource::open`], opening each shard with `open_shard`.
    pub(crate) fn open_with(
        path: &Path,
        mut open_shard: impl FnMut(&Path) -> Result<Box<dyn RowSource>>,
    ) -> Result<Self> {
        let files = shard_files(path)?;
        let mut shards: Vec<Box<dyn RowSource>> = Vec::with_capacity(files.len());
        let mut starts = vec![0];
        for file in &files {
            let shard = open_shard(file)?;
            if let Some(first) = shards.first() {
                if shard.dtype() != first.dtype() {
                    return Err(Error::format(
                        file,
                        "dtype",
                        format!(
                            "a shard of {}; the first shard {} holds {}",
                            shard.dtype().unwrap_or("text"),
                            first.path().display(),
                            first.dtype().unwrap_or("text")
                        ),
                    ));
                }
                if shard.cols() != first.cols() {
                    return Err(Error::format(
                        file,
                        "shape",
                        format!(
                            "a shard of {} columns; the first shard {} has {}",
                            shard.cols(),
                            first.path().display(),
                            first.cols()
                        ),
                    ));
                }
            }
            starts.push(starts.last().copied().unwrap_or(0) + shard.rows());
            shards.push(shard);
        }
        let cols = shards[0].cols();
        Ok(ShardedSource {
            path: path.to_path_buf(),
            shards,
            starts,
            cols,
        })
    }

    /// The shards, in order.
    pub fn shards(&self) -> &[Box<dyn RowSource>] {
        &self.shards
    }

    /// `(shard, row within it)` of row `i`.
    fn locate(&self, i: usize) -> (usize, usize) {
        let shard = self.starts.partition_point(|&s| s <= i) - 1;
        (shard, i - self.starts[shard])
    }
}

impl RowSource for ShardedSource {
    fn path(&self) -> &Path {
        &self.path
    }
    fn rows(&self) -> usize {
        *self.starts.last().expect("at least the 0 start")
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn read(&self, start: usize, count: usize) -> Result<Matrix> {
        if start.checked_add(count).is_none_or(|end| end > self.rows()) {
            return Err(out_of_range(&self.path, start, count, self.rows()));
        }
        let mut data = Vec::with_capacity(count * self.cols);
        let mut row = start;
        while row < start + count {
            let (shard, local) = self.locate(row);
            let take = (self.starts[shard + 1] - row).min(start + count - row);
            data.extend(self.shards[shard].read(local, take)?.data);
            row += take;
        }
        Matrix::new(count, self.cols, data)
    }
    fn gather(&self, indices: &[u32]) -> Result<Matrix> {
        let rows = self.rows();
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for run in runs(indices) {
            if run.end > rows {
                return Err(out_of_range(&self.path, run.start.max(rows), 1, rows));
            }
            data.extend(self.read(run.start, run.len())?.data);
        }
        Matrix::new(indices.len(), self.cols, data)
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters and `?` for one.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Positions of the last `*` seen and of the name when it was seen, for backtracking.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            (i, j) = (i + 1, j + 1);
        } else if i < p.len() && p[i] == '*' {
            (star, mark, i) = (Some(i), j, i + 1);
        } else if let Some(s) = star {
            (i, mark, j) = (s + 1, mark + 1, mark + 1);
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_a_shell_does() {
        for (p, n, yes) in [
            ("*.npy", "a.npy", true),
            ("*.npy", "a.npz", false),
            ("s??.npy", "s01.npy", true),
            ("s??.npy", "s1.npy", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(wildcard_match(p, n), yes, "{p} {n}");
        }
    }
}
