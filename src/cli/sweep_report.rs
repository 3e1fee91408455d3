//! The report of `ae sweep`: OUT/report.html with the L0-against-FVU chart (the Pareto front
//! highlighted) and the table of runs.

use ae::report::Report;
use ae::sweep::{format_value, SweepTable};
use ae::{chart, Result};
use std::path::{Path, PathBuf};

/// Writes `report.html` (and `pareto.svg`) into the sweep's directory `out`; returns its path.
/// `data` is the sweep's data file.
pub fn write(out: &Path, data: &Path, table: &SweepTable) -> Result<PathBuf> {
    let mut r = Report::new(out, "ae sweep")?;
    r.setting("data", data.display());
    r.setting("grid", &table.grid);
    r.setting("points", table.points);
    let split = table.runs.first().map_or("-", |row| row.split.as_str());
    r.metric(
        "finished runs",
        format!("{} of {}", table.runs.len(), table.points),
    );
    r.metric("Pareto front", table.pareto.join(", "));
    r.metric("metrics measured on", format!("{split} rows"));
    let points: Vec<(f64, f64)> = table.runs.iter().map(|row| (row.l0, row.fvu)).collect();
    let front: Vec<bool> = table.runs.iter().map(|row| row.pareto).collect();
    let names: Vec<&str> = table.runs.iter().map(|row| row.name.as_str()).collect();
    let trade_off = chart::pareto_chart(
        "L0 against FVU",
        "L0 (mean active units per row)",
        "FVU (fraction of variance unexplained)",
        &points,
        &front,
        &names,
    )?;
    r.chart(
        "pareto.svg",
        "Each run's L0 and FVU; the Pareto front (no run sparser and better) joined",
        &trade_off,
    )?;
    let mut header: Vec<&str> = vec!["run"];
    header.extend(table.keys.iter().map(|k| k.as_str()));
    header.extend(["L0", "FVU", "MSE", "dead", "dense", "cosine", "front"]);
    let rows = table
        .runs
        .iter()
        .map(|row| {
            let mut cells = vec![row.name.clone()];
            for k in &table.keys {
                cells.push(match (row.values.get(k), k.parse()) {
                    (Some(&v), Ok(key)) => format_value(key, v),
                    _ => "-".into(),
                });
            }
            cells.extend([
                format!("{:.2}", row.l0),
                format!("{:.4}", row.fvu),
                format!("{:.6}", row.mse),
                format!("{:.1}%", 100.0 * row.dead_fraction),
                format!("{:.1}%", 100.0 * row.dense_fraction),
                format!("{:.4}", row.cosine_similarity),
                if row.pareto { "yes" } else { "" }.into(),
            ]);
            cells
        })
        .collect();
    r.table("Runs, in grid order (sweep.csv, sweep.json)", &header, rows);
    r.write_as("report.html")
}
