//! Where a report's top anomalies' scores come from: a chart of each row's squared error per
//! input column (one line per row) and a table of each row's largest contributions, shared by
//! `ae score --report` and `ae compare-detectors --report`.

use ae::anomaly::TopRow;
use ae::report::Report;
use ae::{chart, Result};

/// Columns named in the table for each row.
const LISTED: usize = 3;

/// Adds `contributions.svg` and the table of `rows` (highest first) to `r`. `model` names what
/// scored them; `names` are the input columns' header names, where the data had a header.
pub fn add(r: &mut Report, model: &str, rows: &[TopRow], names: Option<&[String]>) -> Result<()> {
    let series: Vec<chart::Series> = rows
        .iter()
        .map(|t| chart::Series {
            name: format!("row {} (score {:.3})", t.row + 1, t.score),
            points: (t.feature_errors.iter().enumerate())
                .map(|(j, &e)| ((j + 1) as f64, e))
                .collect(),
        })
        .collect();
    let contributions = chart::line_chart(
        &format!("Per-feature error of the {model}'s top anomalies"),
        "input column",
        "squared reconstruction error",
        &series,
        false,
    )?;
    r.chart(
        "contributions.svg",
        "Where the highest-scoring rows' errors come from: the squared error of each column \
         (normalised units)",
        &contributions,
    )?;
    let table = rows
        .iter()
        .map(|t| {
            vec![
                (t.row + 1).to_string(),
                format!("{:.4}", t.score),
                largest(&t.feature_errors, names),
            ]
        })
        .collect();
    r.table(
        "The highest-scoring rows (counted from 1) and the columns that make most of their \
         reconstruction error (share of the row's squared error)",
        &["row", "score", "largest contributions"],
        table,
    );
    Ok(())
}

/// The [`LISTED`] largest of `errors` as `column (share%)`, largest first: a column by its
/// header name where there is one, else by its number counted from 1.
fn largest(errors: &[f64], names: Option<&[String]>) -> String {
    let total: f64 = errors.iter().sum();
    let order = ae::anomaly::highest(errors, LISTED);
    order
        .iter()
        .map(|&j| {
            let column = match names.and_then(|n| n.get(j)) {
                Some(name) => name.clone(),
                None => format!("column {}", j + 1),
            };
            match total > 0.0 {
                true => format!("{column} ({:.0}%)", 100.0 * errors[j] / total),
                false => column,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_contributions_are_named_with_their_shares() {
        let errors = [1.0, 6.0, 0.0, 3.0];
        assert_eq!(
            largest(&errors, None),
            "column 2 (60%), column 4 (30%), column 1 (10%)"
        );
        let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(largest(&errors, Some(&names)), "b (60%), d (30%), a (10%)");
        assert_eq!(largest(&[0.0, 0.0], None), "column 1, column 2");
    }
}
