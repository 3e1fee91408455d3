//! The table of a sweep: one [`SweepRow`] per finished run, saved as `sweep.json` and
//! `sweep.csv` (atomically), with the runs on the Pareto front of L0 against FVU marked.

use super::{format_value, Grid, GridKey, GridPoint};
use ae_core::atomic::write_atomic;
use ae_core::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file in a run's directory that holds its row: written when the run finished, so a rerun
/// of the sweep skips it.
pub const ROW_FILE: &str = "sweep-row.json";

/// One finished run: its grid values and the code metrics of its saved model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepRow {
    /// The run's name (`k16-n4096`).
    pub name: String,
    /// Its model directory, `run-NAME` in the sweep's directory.
    pub dir: PathBuf,
    /// Its value of each grid key.
    pub values: BTreeMap<String, f64>,
    /// The rows the metrics were measured on: `validation` (held out) where the run held rows
    /// out, else `training`.
    pub split: String,
    /// How many rows those were.
    pub rows: usize,
    /// Code units.
    pub code_dim: usize,
    /// Mean active code units per row.
    pub l0: f64,
    /// Fraction of variance unexplained.
    pub fvu: f64,
    /// Mean squared reconstruction error per element (of the normalised data).
    pub mse: f64,
    /// Fraction of code units active on none of the rows.
    pub dead_fraction: f64,
    /// Fraction of code units active on more than 10% of the rows.
    pub dense_fraction: f64,
    /// Mean cosine between a row and its reconstruction.
    pub cosine_similarity: f64,
    /// The last epoch's training loss.
    pub final_train_loss: f64,
    /// The last epoch's validation loss (null without validation rows).
    pub final_val_loss: Option<f64>,
    /// The epoch whose weights were saved.
    pub best_epoch: usize,
    /// Wall time of the run's epochs.
    pub seconds: f64,
    /// On the Pareto front of L0 against FVU among the table's runs (set by [`SweepTable::new`]).
    #[serde(default)]
    pub pareto: bool,
}

impl SweepRow {
    /// The row saved in `dir`'s [`ROW_FILE`], if the run there finished.
    pub fn read(dir: &Path) -> Result<Option<SweepRow>> {
        let path = dir.join(ROW_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::Config(format!(
                    "{}: not a sweep row ({e}); delete it to run the point again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Saves the row into `dir`'s [`ROW_FILE`], atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("a row serialises");
        write_atomic(&dir.join(ROW_FILE), &json)
    }

    /// The grid values of `point`, keyed by name.
    pub fn values_of(point: &GridPoint) -> BTreeMap<String, f64> {
        point
            .values
            .iter()
            .map(|&(k, v)| (k.name().to_string(), v))
            .collect()
    }
}

/// Which of `points` (`(L0, FVU)`, both lower is better) lie on the Pareto front: those no other
/// point matches or beats on both while beating on one. Points with a non-finite coordinate are
/// never on it and beat none; equal points are both on it.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
    points
        .iter()
        .map(|p| {
            finite(p)
                && !points
                    .iter()
                    .filter(|q| finite(q))
                    .any(|q| q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1))
        })
        .collect()
}

/// The finished runs of a sweep, in grid order, with the Pareto front marked: what
/// `sweep.json` holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SweepTable {
    /// The grid, as `--grid` writes it.
    pub grid: String,
    /// Its keys, in order (the CSV's first columns after the name).
    pub keys: Vec<String>,
    /// Points in the whole grid.
    pub points: usize,
    /// The finished runs.
    pub runs: Vec<SweepRow>,
    /// The names of the runs on the Pareto front, by increasing L0.
    pub pareto: Vec<String>,
}

/// The CSV's columns after the name and the grid keys.
const CSV_COLUMNS: &[&str] = &[
    "split",
    "rows",
    "code_dim",
    "l0",
    "fvu",
    "mse",
    "dead_fraction",
    "dense_fraction",
    "cosine_similarity",
    "final_train_loss",
    "final_val_loss",
    "best_epoch",
    "seconds",
    "pareto",
    "dir",
];

impl SweepTable {
    /// The table of `rows` (in grid order) of `grid`, each marked whether it is on the front.
    pub fn new(grid: &Grid, mut rows: Vec<SweepRow>) -> Self {
        let front = pareto_front(&rows.iter().map(|r| (r.l0, r.fvu)).collect::<Vec<_>>());
        for (r, on) in rows.iter_mut().zip(front) {
            r.pareto = on;
        }
        let mut pareto: Vec<&SweepRow> = rows.iter().filter(|r| r.pareto).collect();
        pareto.sort_by(|a, b| a.l0.total_cmp(&b.l0).then(b.fvu.total_cmp(&a.fvu)));
        SweepTable {
            grid: grid.to_string(),
            keys: grid.keys().iter().map(|k| k.name().to_string()).collect(),
            points: grid.points().len(),
            pareto: pareto.iter().map(|r| r.name.clone()).collect(),
            runs: rows,
        }
    }

    /// The table as CSV: a header, then one line per run (an empty cell for a missing value).
    pub fn csv(&self) -> String {
        let mut out = std::iter::once("name")
            .chain(self.keys.iter().map(|k| k.as_str()))
            .chain(CSV_COLUMNS.iter().copied())
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for r in &self.runs {
            let mut cells = vec![quoted(&r.name)];
            for k in &self.keys {
                let key: Option<GridKey> = k.parse().ok();
                cells.push(match (r.values.get(k), key) {
                    (Some(&v), Some(key)) => format_value(key, v),
                    _ => String::new(),
                });
            }
            cells.extend([
                r.split.clone(),
                r.rows.to_string(),
                r.code_dim.to_string(),
                r.l0.to_string(),
                r.fvu.to_string(),
                r.mse.to_string(),
                r.dead_fraction.to_string(),
                r.dense_fraction.to_string(),
                r.cosine_similarity.to_string(),
                r.final_train_loss.to_string(),
                r.final_val_loss.map_or(String::new(), |v| v.to_string()),
                r.best_epoch.to_string(),
                r.seconds.to_string(),
                r.pareto.to_string(),
                quoted(&r.dir.display().to_string()),
            ]);
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// Writes `sweep.json` and `sweep.csv` into `dir`, each atomically; returns their paths.
    pub fn save(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let (json, csv) = (dir.join("sweep.json"), dir.join("sweep.csv"));
        let text = serde_json::to_vec_pretty(self).expect("a sweep table serialises");
        write_atomic(&json, &text)?;
        write_atomic(&csv, self.csv().as_bytes())?;
        Ok((json, csv))
    }
}

/// A CSV cell, quoted where it holds a comma, a quote or a line break.
fn quoted(s: &str) -> String {
    match s.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_the_points_nothing_beats() {
        let pts = [
            (4.0, 0.5),  // front
            (8.0, 0.3),  // front
            (8.0, 0.4),  // beaten by (8, 0.3)
            (16.0, 0.3), // beaten by (8, 0.3): same FVU, more L0
            (2.0, 0.9),  // front
            (32.0, 0.1), // front
            (4.0, 0.5),  // equal to the first: both on it
            (f64::NAN, 0.0),
            (40.0, 0.05), // front
        ];
        let front = pareto_front(&pts);
        assert_eq!(
            front,
            [true, true, false, false, true, true, true, false, true]
        );
        assert!(pareto_front(&[]).is_empty());
        assert_eq!(pareto_front(&[(1.0, 1.0)]), [true]);
    }

    fn row(name: &str, k: f64, l0: f64, fvu: f64) -> SweepRow {
        SweepRow {
            name: name.into(),
            dir: PathBuf::from(format!("run-{name}")),
            values: [("k".to_string(), k)].into(),
            split: "validation".into(),
            rows: 10,
            code_dim: 16,
            l0,
            fvu,
            mse: 0.1,
            dead_fraction: 0.25,
            dense_fraction: 0.0,
            cosine_similarity: 0.9,
            final_train_loss: 0.2,
            final_val_loss: None,
            best_epoch: 1,
            seconds: 0.5,
            pareto: false,
        }
    }

    #[test]
    fn the_table_marks_the_front_and_writes_csv_and_json() {
        let grid: Grid = "k=2,4,8".parse().unwrap();
        let rows = vec![
            row("k2", 2.0, 2.0, 0.6),
            row("k4", 4.0, 4.0, 0.7),
            row("k8", 8.0, 8.0, 0.2),
        ];
        let t = SweepTable::new(&grid, rows);
        assert_eq!(t.pareto, ["k2", "k8"]);
        assert_eq!(
            t.runs.iter().map(|r| r.pareto).collect::<Vec<_>>(),
            [true, false, true]
        );
        let csv = t.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].starts_with("name,k,split,rows,code_dim,l0,fvu,"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("k2,2,validation,10,16,2,0.6,"),
            "{}",
            lines[1]
        );
        // No validation loss: an empty cell.
        assert!(
            lines[2].contains(",0.2,,1,0.5,false,run-k4"),
            "{}",
            lines[2]
        );
        let dir = tempfile::tempdir().unwrap();
        let (json, csv_path) = t.save(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(csv_path).unwrap(), csv);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 3);
        assert_eq!(v["points"], 3);
        assert_eq!(v["grid"], "k=2,4,8");
    }

    #[test]
    fn a_row_reads_back_and_a_bad_one_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SweepRow::read(dir.path()).unwrap(), None);
        let r = row("k2", 2.0, 2.0, 0.6);
        r.save(dir.path()).unwrap();
        assert_eq!(SweepRow::read(dir.path()).unwrap(), Some(r));
        std::fs::write(dir.path().join(ROW_FILE), "{").unwrap();
        let e = SweepRow::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains(ROW_FILE) && e.contains("not a sweep row"), "{e}");
        assert_eq!(quoted("a,b"), "\"a,b\"");
    }
}
