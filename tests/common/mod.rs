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

/// Sparse-ish data: each row a sum of two of 8 random non-negative patterns, in [0, 1].
pub fn sparse_data(rows: usize, cols: usize, seed: u64) -> ae_core::Matrix {
    let mut rng = ae_core::Rng::new(seed);
    let atoms: Vec<f64> = (0..8 * cols).map(|_| rng.uniform()).collect();
    let values = (0..rows)
        .flat_map(|_| {
            let (a, b) = (rng.below(8), rng.below(8));
            let w = rng.uniform();
            (0..cols)
                .map(|j| (0.5 * (w * atoms[a * cols + j] + (1.0 - w) * atoms[b * cols + j])) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    ae_core::Matrix::new(rows, cols, values).unwrap()
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

/// Writes a Parquet file of `rows` rows into `path`, in two row groups (Snappy): a string column
/// `id`, `cols` double columns `x0, x1, ...` of the smooth values [`write_csv`] writes, and an
/// int32 column `label` (every 10th row 1, else 0).
pub fn write_parquet(path: &Path, rows: usize, cols: usize) {
    use parquet::data_type::ByteArray;
    let mut schema = String::from("message t { required binary id (STRING);");
    for j in 0..cols {
        schema += &format!(" required double x{j};");
    }
    schema += " required int32 label; }";
    let columns = 1 + cols + 1;
    write_parquet_with(path, &schema, rows, |col, range| match col {
        0 => {
            let ids: Vec<ByteArray> = range.map(|r| format!("u{r}").as_str().into()).collect();
            Value::Bytes(ids)
        }
        c if c == columns - 1 => Value::I32(range.map(|r| (r % 10 == 0) as i32).collect()),
        c => Value::F64(
            range
                .map(|i| {
                    let t = i as f64 / rows as f64;
                    0.5 + 0.4 * (6.0 * t + (c - 1) as f64).sin()
                })
                .collect(),
        ),
    });
}

/// Writes a Parquet file of `rows` rows into `path`: an int64 column `token` and a list column
/// `acts` of `width` floats per row (smooth values, as [`write_csv`] writes), in two row groups.
pub fn write_parquet_lists(path: &Path, rows: usize, width: usize) {
    let schema = "message acts {
        required int64 token;
        required group acts (LIST) { repeated group list { required float element; } }
    }";
    write_parquet_with(path, schema, rows, |col, range| match col {
        0 => Value::I64(range.map(|r| r as i64).collect()),
        _ => Value::Lists(
            range
                .map(|i| {
                    let t = i as f32 / rows as f32;
                    (0..width)
                        .map(|j| 0.5 + 0.4 * (6.0 * t + j as f32).sin())
                        .collect()
                })
                .collect(),
        ),
    });
}

/// The values of a column of a row group, for [`write_parquet_with`].
pub enum Value {
    Bytes(Vec<parquet::data_type::ByteArray>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    /// Rows of a required list of required floats.
    Lists(Vec<Vec<f32>>),
}

/// Writes `schema` (a Parquet message type) with `rows` rows in two row groups, each column's
/// values of a row range given by `column(index, rows)`.
pub fn write_parquet_with(
    path: &Path,
    schema: &str,
    rows: usize,
    column: impl Fn(usize, std::ops::Range<usize>) -> Value,
) {
    use parquet::data_type::{ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let props = WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    for range in [0..rows / 3, rows / 3..rows] {
        let mut rg = w.next_row_group().unwrap();
        let mut c = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            match column(c, range.clone()) {
                Value::Bytes(v) => col.typed::<ByteArrayType>().write_batch(&v, None, None),
                Value::F64(v) => col.typed::<DoubleType>().write_batch(&v, None, None),
                Value::I32(v) => col.typed::<Int32Type>().write_batch(&v, None, None),
                Value::I64(v) => col.typed::<Int64Type>().write_batch(&v, None, None),
                Value::Lists(v) => {
                    let rep: Vec<i16> = v
                        .iter()
                        .flat_map(|l| (0..l.len()).map(|j| (j > 0) as i16))
                        .collect();
                    let def = vec![1; rep.len()];
                    let values = v.concat();
                    let t = col.typed::<FloatType>();
                    t.write_batch(&values, Some(&def), Some(&rep))
                }
            }
            .unwrap();
            col.close().unwrap();
            c += 1;
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
}

/// Flags for a headless Chromium that reads local files and reaches nothing else.
pub const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--virtual-time-budget=5000",
];

/// The Chromium installed, or `None` (printing why the caller skips) where there is none;
/// panics instead when AE_REQUIRE_CHROMIUM=1 (as .ci/run sets).
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        if std::env::var("AE_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("AE_REQUIRE_CHROMIUM=1 but no chromium is installed");
        }
        eprintln!(
            "SKIPPED: no chromium to render the report (set AE_REQUIRE_CHROMIUM=1 to fail instead)"
        );
    }
    found
}

/// The DOM of the local page `path` after headless Chromium loaded it (its scripts run), with
/// its profile in `profile`; `None` where there is no Chromium ([`chromium`]).
pub fn chromium_dom(path: &Path, profile: &Path) -> Option<String> {
    let dom = Command::new(chromium()?)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", &format!("file://{}", path.display())])
        .output()
        .expect("chromium runs");
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
}

/// `ae train DATA --out OUT --layers 8,32 --sparsity SPARSITY --output identity --pre-bias
/// --epochs 3 --batch-size 32 --backend cpu --json` and then `extra`: a small SAE on an
/// 8-column table.
pub fn train_small_sae(data: &str, out: &str, sparsity: &str, extra: &[&str]) -> Output {
    let base = [
        "train",
        data,
        "--out",
        out,
        "--layers",
        "8,32",
        "--sparsity",
        sparsity,
        "--output",
        "identity",
        "--pre-bias",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--backend",
        "cpu",
        "--json",
    ];
    ae(&[&base[..], extra].concat())
}

/// Each epoch's training loss of a successful `ae train --json`.
pub fn epoch_losses(out: &Output) -> Vec<f64> {
    assert!(out.status.success(), "{}", stderr(out));
    json(out)["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|e| e["train_loss"].as_f64().expect("a train loss"))
        .collect()
}

/// A fresh model of `cfg` (seed 3) trained on `x` by [`fit_model`].
pub fn trained<B: ae_core::Backend>(
    backend: &B,
    cfg: ae_core::ModelConfig,
    x: &ae_core::Matrix,
    tc: &ae_core::TrainConfig,
) -> (ae_core::Autoencoder<B>, ae_core::trainer::TrainReport) {
    let mut model = ae_core::Autoencoder::new(backend, cfg, 3).unwrap();
    let report = fit_model(backend, &mut model, x, tc);
    (model, report)
}

/// Trains `model` on `x` without validation data (the trainer applies `tc`'s penalty itself).
pub fn fit_model<B: ae_core::Backend>(
    backend: &B,
    model: &mut ae_core::Autoencoder<B>,
    x: &ae_core::Matrix,
    tc: &ae_core::TrainConfig,
) -> ae_core::trainer::TrainReport {
    ae_core::trainer::train(
        backend,
        model,
        x,
        None,
        tc,
        &[],
        &mut |_: ae_core::trainer::TrainEvent<'_, B>| Ok(()),
    )
    .unwrap()
}
