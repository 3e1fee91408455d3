//! The files of an SAE directory: checking the directory an export goes into, writing named
//! tensors as safetensors, reading them back by name and shape ([`Tensors`]), and `cfg.json`'s
//! fields ([`Cfg`]).

use super::*;

/// Creates `dir`, or checks that everything in it belongs to an export in `format` (the atomic
/// writes' leftover temporary files included).
pub(super) fn prepare_dir(dir: &Path, format: SaeFormat) -> Result<()> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e));
    }
    if !dir.is_dir() {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message: "is not a directory".into(),
        });
    }
    let ours = [CFG_FILE, format.weights_file()];
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        let leftover = ours
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.")) && name.ends_with(".tmp"));
        if !ours.contains(&name.as_str()) && !leftover {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                message: format!(
                    "holds {name}, so it is not an earlier {format} export: export into a new \
                     or empty directory (an earlier export holds only {} and {})",
                    CFG_FILE,
                    format.weights_file()
                ),
            });
        }
    }
    Ok(())
}

/// A named f32 tensor of a given shape, to be written.
pub(crate) type Tensor = (&'static str, Vec<usize>, Vec<f32>);

/// `tensors` as a safetensors file (little-endian F32).
pub(super) fn safetensors_bytes(tensors: &[Tensor]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (name.to_string(), v))
                .map_err(|e| Error::Backend(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::Backend(format!("safetensors: {e}")))
}

/// The tensors of a weights file by name, each checked for its shape as it is taken; what is
/// left over at the end is an error naming the tensor.
pub(crate) struct Tensors {
    path: PathBuf,
    holds: &'static str,
    tensors: Vec<(String, Matrix)>,
}

impl Tensors {
    /// Reads `path` (any float dtype, as f32); `holds` says what the format expects in it, for
    /// the errors.
    pub(crate) fn read(path: &Path, holds: &'static str) -> Result<Tensors> {
        if !path.is_file() {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!("not found; it should hold {holds}"),
            });
        }
        Ok(Tensors {
            path: path.to_path_buf(),
            holds,
            tensors: crate::checkpoint::read_safetensors(path)?,
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            message,
        }
    }

    /// Removes tensor `name` and checks that it is `[rows, cols]` (`cols == 0`: a vector of
    /// `rows` values, `[rows]` or `[1, rows]`); `why` says where the expected shape comes from.
    pub(crate) fn take(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
        why: &str,
    ) -> Result<Matrix> {
        let Some(at) = self.tensors.iter().position(|(n, _)| n == name) else {
            return Err(self.error(format!(
                "has no tensor '{name}' (it should hold {})",
                self.holds
            )));
        };
        let (_, m) = self.tensors.remove(at);
        let (want, ok) = if cols == 0 {
            (format!("[{rows}]"), m.rows == 1 && m.cols == rows)
        } else {
            (
                format!("[{rows}, {cols}]"),
                m.rows == rows && m.cols == cols,
            )
        };
        if !ok {
            let got = if m.rows == 1 {
                format!("[{}] or [1, {}]", m.cols, m.cols)
            } else {
                format!("[{}, {}]", m.rows, m.cols)
            };
            return Err(self.error(format!("tensor '{name}' is {got}, expected {want} ({why})")));
        }
        if let Some((r, c, v)) = m.first_non_finite() {
            return Err(self.error(format!("tensor '{name}' holds {v} at [{r}, {c}]")));
        }
        Ok(m)
    }

    /// Errors naming a tensor that was not taken.
    pub(crate) fn finish(self, what: &str) -> Result<()> {
        match self.tensors.first() {
            None => Ok(()),
            Some((name, _)) => Err(self.error(format!(
                "holds tensor '{name}', which is not part of {what} (it should hold {})",
                self.holds
            ))),
        }
    }
}

/// `cfg.json` read as a JSON object, with typed, checked access to its keys.
pub(crate) struct Cfg {
    path: PathBuf,
    map: serde_json::Map<String, serde_json::Value>,
}

impl Cfg {
    pub(crate) fn read(dir: &Path) -> Result<Cfg> {
        let path = dir.join(CFG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::format(
                &path,
                format!("line {}, column {}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        match value {
            serde_json::Value::Object(map) => Ok(Cfg { path, map }),
            other => Err(Error::Model {
                path,
                message: format!("is not a JSON object but {other}"),
            }),
        }
    }

    pub(crate) fn error(&self, message: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            message,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A positive integer at `key`, or `default` where it is absent (`None`: required).
    pub(crate) fn count(&self, key: &str, default: Option<usize>, what: &str) -> Result<usize> {
        match self.get(key) {
            None => default.ok_or_else(|| self.error(format!("has no \"{key}\" ({what})"))),
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
                self.error(format!(
                    "\"{key}\" ({what}) is {v}, expected a non-negative integer"
                ))
            }),
        }
    }

    /// A boolean at `key`, or `default` where it is absent.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.error(format!("\"{key}\" is {v}, expected true or false"))),
        }
    }

    /// A string at `key`, or `default` where it is absent.
    pub(crate) fn text<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| self.error(format!("\"{key}\" is {v}, expected a string"))),
        }
    }
}
