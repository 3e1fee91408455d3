//! The matmul autotuner: per adapter and [`ShapeClass`], time every [`MatmulVariant`] the device
//! can run (timestamp queries where the adapter has `TIMESTAMP_QUERY`, else wall time with a
//! wait after each dispatch) and keep the fastest, in memory and in a small JSON file
//! (`matmul-<hash>.json` under [`cache_dir`]; the f16 variants allowed or not make another
//! file). A file that does not parse, has another format
//! version or names another adapter or driver is ignored with a warning and its classes are
//! timed again; an entry naming an unknown variant is dropped with a warning.

use crate::adapter::AdapterReport;
use crate::kernels::{Kernel, Pipeline};
use crate::variants::{MatmulVariant, ShapeClass};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The cache file's format version; a file with another is ignored.
pub const CACHE_FORMAT: u32 = 2;

pub use crate::variants::Tuning;

/// The directory of the tuning cache: `$AE_CACHE_DIR`, else `$XDG_CACHE_HOME/ae`, else
/// `$HOME/.cache/ae`; `None` when none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("AE_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("ae")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("ae")))
}

/// One timed class: every candidate's seconds per call and the one kept.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TuneResult {
    /// The class, as its cache key (e.g. `m256 k1024 n512 nt`).
    pub class: String,
    /// The product timed: `[m, k] x [k, n]`.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of the output.
    pub n: usize,
    /// `timestamp` (queries) or `wall` (wall time with a wait per call).
    pub timer: String,
    /// Each candidate's name and median seconds per call, in [`MatmulVariant::ALL`]'s order.
    pub times: Vec<(String, f64)>,
    /// The fastest.
    pub chosen: String,
}

/// A class's entry in the cache file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    variant: String,
    seconds: f64,
}

/// The cache file: one adapter's choices.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CacheFile {
    format: u32,
    adapter: String,
    driver: String,
    backend: String,
    classes: BTreeMap<String, CacheEntry>,
}

/// What the backend keeps for `matmul`: the tuning mode, the choices, the built pipelines.
pub(crate) struct MatmulState {
    pub(crate) tuning: Tuning,
    /// The f16 variants are candidates (opted in, and the device has `SHADER_F16`).
    pub(crate) f16: bool,
    /// The subgroup variant is a candidate (the device has `SUBGROUP`).
    pub(crate) subgroup: bool,
    software: bool,
    adapter: (String, String, String),
    /// The cache file (none with `Tuning::Fixed` or no cache directory).
    pub(crate) file: Option<PathBuf>,
    /// Timed or cached choices, by class.
    chosen: BTreeMap<ShapeClass, CacheEntry>,
    /// Classes that could not be timed: the default, not stored.
    fallback: HashMap<ShapeClass, MatmulVariant>,
    /// Pipelines of the variants built so far, by name and entry point (`matmul` or
    /// `matmul_bias_activation`).
    pub(crate) pipelines: HashMap<(&'static str, Kernel), Arc<Pipeline>>,
    pub(crate) warnings: Vec<String>,
}

impl MatmulState {
    /// The state for `tuning` on `adapter`, with the cache file in `dir` read (with `Fixed`,
    /// nothing is read).
    pub(crate) fn new(
        tuning: Tuning,
        f16: bool,
        adapter: &AdapterReport,
        dir: Option<&Path>,
    ) -> Self {
        let key = (
            adapter.name.clone(),
            adapter.driver.clone(),
            adapter.backend.clone(),
        );
        let file = match tuning {
            Tuning::Fixed(_) => None,
            _ => dir.map(|d| d.join(cache_file_name(&key, f16))),
        };
        let mut state = MatmulState {
            tuning,
            f16,
            subgroup: false,
            software: adapter.is_software,
            adapter: key,
            file,
            chosen: BTreeMap::new(),
            fallback: HashMap::new(),
            pipelines: HashMap::new(),
            warnings: Vec::new(),
        };
        state.load();
        state
    }

    pub(crate) fn warn(&mut self, message: String) {
        eprintln!("warning: {message}");
        self.warnings.push(message);
    }

    fn load(&mut self) {
        let Some(file) = self.file.clone() else {
            return;
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                return self.warn(format!(
                    "ignoring the matmul tuning cache {}: {e}; retuning",
                    file.display()
                ))
            }
        };
        let ignore = |why: String| {
            format!(
                "ignoring the matmul tuning cache {}: {why}; retuning",
                file.display()
            )
        };
        let parsed: CacheFile = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => return self.warn(ignore(format!("not a cache file ({e})"))),
        };
        if parsed.format != CACHE_FORMAT {
            let why = format!("format {} (this build reads {CACHE_FORMAT})", parsed.format);
            return self.warn(ignore(why));
        }
        let (name, driver, backend) = &self.adapter;
        if (&parsed.adapter, &parsed.driver, &parsed.backend) != (name, driver, backend) {
            let why = format!(
                "it is for '{}' ({}, {}), not '{name}' ({driver}, {backend})",
                parsed.adapter, parsed.driver, parsed.backend
            );
            return self.warn(ignore(why));
        }
        for (key, entry) in parsed.classes {
            let variant = MatmulVariant::by_name(&entry.variant).filter(|v| self.candidate(v));
            match (ShapeClass::parse(&key), variant) {
                (Some(class), Some(_)) => {
                    self.chosen.insert(class, entry);
                }
                _ => self.warn(format!(
                    "matmul tuning cache {}: dropping the entry '{key}' -> '{}' (unknown class \
                     or variant, or an f16 one without --matmul-f16)",
                    file.display(),
                    entry.variant
                )),
            }
        }
    }

    /// Writes every choice to the cache file (a temporary file renamed into place); a failure
    /// is a warning, the choices stay in memory.
    fn save(&mut self) {
        let Some(file) = self.file.clone() else {
            return;
        };
        let (adapter, driver, backend) = self.adapter.clone();
        let contents = CacheFile {
            format: CACHE_FORMAT,
            adapter,
            driver,
            backend,
            classes: self
                .chosen
                .iter()
                .map(|(c, e)| (c.key(), e.clone()))
                .collect(),
        };
        let json = serde_json::to_string_pretty(&contents).expect("the cache serialises");
        let tmp = file.with_extension(format!("json.tmp{}", std::process::id()));
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, json + "\n"))
            .and_then(|()| std::fs::rename(&tmp, &file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            self.warn(format!(
                "cannot write the matmul tuning cache {}: {e}",
                file.display()
            ));
        }
    }

    /// The stored choice for `class`, if any (cached, timed, or fallen back to the default).
    pub(crate) fn stored(&self, class: &ShapeClass) -> Option<MatmulVariant> {
        if let Tuning::Fixed(v) = self.tuning {
            return Some(v);
        }
        self.chosen
            .get(class)
            .and_then(|e| MatmulVariant::by_name(&e.variant))
            .or_else(|| self.fallback.get(class).copied())
    }

    /// Whether `v` may be chosen: not an f16 variant, unless they are allowed, nor the subgroup
    /// one, unless the device has `SUBGROUP`.
    pub(crate) fn candidate(&self, v: &MatmulVariant) -> bool {
        (!v.f16 || self.f16) && (!v.subgroup || self.subgroup)
    }

    /// Whether a class without a stored choice is timed now (else it takes the default).
    pub(crate) fn times_on_miss(&self) -> bool {
        match self.tuning {
            Tuning::Fixed(_) => false,
            Tuning::Auto => !self.software,
            Tuning::Always => true,
        }
    }

    /// Keeps `result`'s choice for `class` and writes the cache.
    pub(crate) fn record(&mut self, class: ShapeClass, result: &TuneResult) {
        let seconds = result
            .times
            .iter()
            .find(|(n, _)| *n == result.chosen)
            .map_or(0.0, |t| t.1);
        let entry = CacheEntry {
            variant: result.chosen.clone(),
            seconds,
        };
        self.chosen.insert(class, entry);
        self.fallback.remove(&class);
        self.save();
    }

    /// Uses the default for `class` from now on (it could not be timed).
    pub(crate) fn fall_back(&mut self, class: ShapeClass) -> MatmulVariant {
        self.fallback.insert(class, MatmulVariant::DEFAULT);
        MatmulVariant::DEFAULT
    }
}

/// `matmul-` and a 64-bit FNV-1a hash of the adapter's name, driver and API, in hex; `-f16`
/// after it where the f16 variants are allowed.
fn cache_file_name(key: &(String, String, String), f16: bool) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [&key.0, &key.1, &key.2] {
        for byte in part.bytes().chain([0]) {
            h = (h ^ byte as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let suffix = if f16 { "-f16" } else { "" };
    format!("matmul-{h:016x}{suffix}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_names_differ_by_adapter_and_driver() {
        let k = |a: &str, d: &str| (a.to_string(), d.to_string(), "Vulkan".to_string());
        let a = cache_file_name(&k("llvmpipe", "Mesa 22.3.6"), false);
        assert_eq!(a, cache_file_name(&k("llvmpipe", "Mesa 22.3.6"), false));
        assert_ne!(a, cache_file_name(&k("llvmpipe", "Mesa 23.0"), false));
        assert_ne!(a, cache_file_name(&k("NVIDIA H200", "Mesa 22.3.6"), false));
        assert!(a.starts_with("matmul-") && a.ends_with(".json") && a.len() == 28);
        let h = cache_file_name(&k("llvmpipe", "Mesa 22.3.6"), true);
        assert_eq!(h, a.replace(".json", "-f16.json"));
    }
}
