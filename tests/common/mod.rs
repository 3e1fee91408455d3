//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `ae` binary with `args` and returns its output.
pub fn ae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .output()
        .expect("the ae binary runs")
}

/// Path to a file of the bundled MNIST subset.
pub fn mnist(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist-10k")
        .join(file)
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout parsed as one JSON object.
pub fn json(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}\nstderr: {}", stderr(o)))
}

/// Writes a CSV of `rows` x `cols` smooth values (a 1-D manifold) into `path`.
pub fn write_csv(path: &Path, rows: usize, cols: usize) {
    let mut s = String::new();
    for i in 0..rows {
        let t = i as f64 / rows as f64;
        let line: Vec<String> = (0..cols)
            .map(|j| format!("{:.5}", 0.5 + 0.4 * (6.0 * t + j as f64).sin()))
            .collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// Asserts a clean failure: non-zero exit, no panic, exactly one `error` line on stderr, and
/// that line contains every needle.
pub fn assert_clean_error(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {err}");
    for n in needles {
        assert!(error_lines[0].contains(n), "error line lacks {n:?}: {err}");
    }
}

/// Reads an NPY file `ae` wrote.
pub fn load_npy(path: &str) -> ae_core::Matrix {
    ae_core::data::load_matrix(Path::new(path)).unwrap()
}
