//! What a table's columns are to a model ([`ColumnSpec`]: `--columns`, `--drop-columns`, by header
//! name or by number counted from 1; the labels column; what an empty cell becomes, [`Impute`])
//! and what was chosen ([`InputColumns`], saved with a model). The readers apply a spec
//! ([`crate::source::CsvSource`], [`crate::source::ParquetSource`], [`crate::table::open_table`]).

use ae_backend::{Error, Result, Rng};
use std::path::{Path, PathBuf};

/// A column of a table: its header name, or its number counted from 1 (as `cut -f` and the
/// `line L, column C` of the error messages count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// Counted from 1.
    Number(usize),
    /// As in the header.
    Name(String),
}

impl std::str::FromStr for Column {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        match s.parse::<usize>() {
            Ok(0) => Err("columns are counted from 1".into()),
            Ok(n) => Ok(Column::Number(n)),
            Err(_) if s.is_empty() => Err("an empty column name".into()),
            Err(_) => Ok(Column::Name(s.to_string())),
        }
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Number(n) => write!(f, "{n}"),
            Column::Name(s) => write!(f, "{s}"),
        }
    }
}

/// What an empty cell of a feature column becomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Impute {
    /// An error naming the cell.
    #[default]
    Refuse,
    /// The column's median over the file's rows (exact up to [`MEDIAN_SAMPLE`] rows, else over
    /// a seeded sample of that many).
    Median,
    /// Given values, one per feature column (the medians saved with a model).
    Values(Vec<f32>),
}

/// Rows whose values an imputed median is taken over (a seeded reservoir sample beyond that).
pub const MEDIAN_SAMPLE: usize = 65_536;

/// Which columns of a table to read, and how.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnSpec {
    /// The feature columns, in this order (`None`: every column not dropped or labels).
    pub columns: Option<Vec<Column>>,
    /// Columns left out.
    pub drop: Vec<Column>,
    /// The column of integer labels (not a feature).
    pub labels: Option<Column>,
    /// Empty cells.
    pub impute: Impute,
}

/// The columns a spec picks out of a table of known width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Feature columns, counted from 0, in output order.
    pub features: Vec<usize>,
    /// The labels column, counted from 0.
    pub labels: Option<usize>,
}

impl ColumnSpec {
    /// Whether the spec reads every column as a feature with no labels (the default).
    pub fn is_whole(&self) -> bool {
        self.columns.is_none() && self.drop.is_empty() && self.labels.is_none()
    }

    /// The columns of a table of `width` columns with `header` (if it has one) that this spec
    /// picks; an unknown name or number is an error naming `path` and listing the header.
    pub fn resolve(
        &self,
        path: &Path,
        header: Option<&[String]>,
        width: usize,
    ) -> Result<Resolved> {
        let find = |c: &Column| -> Result<usize> {
            match c {
                Column::Number(n) if *n <= width => Ok(n - 1),
                Column::Number(n) => Err(Error::format(
                    path,
                    "columns",
                    format!("there is no column {n}: the table has {width} columns"),
                )),
                Column::Name(name) => match header {
                    Some(h) => h.iter().position(|f| f == name).ok_or_else(|| {
                        Error::format(
                            path,
                            "header",
                            format!("no column named {name:?}; the columns are {}", list(h)),
                        )
                    }),
                    None => Err(Error::format(
                        path,
                        "header",
                        format!(
                            "no header to find column {name:?} in; name columns by number \
                             (counted from 1) instead"
                        ),
                    )),
                },
            }
        };
        let labels = self.labels.as_ref().map(find).transpose()?;
        let dropped = self.drop.iter().map(find).collect::<Result<Vec<_>>>()?;
        let features: Vec<usize> = match &self.columns {
            Some(cols) => cols.iter().map(find).collect::<Result<_>>()?,
            None => (0..width).collect(),
        };
        let features: Vec<usize> = features
            .into_iter()
            .filter(|c| !dropped.contains(c) && Some(*c) != labels)
            .collect();
        if let Some(dup) = features
            .iter()
            .enumerate()
            .find(|(i, c)| features[..*i].contains(c))
        {
            return Err(Error::format(
                path,
                "columns",
                format!("column {} is named twice", dup.1 + 1),
            ));
        }
        Ok(Resolved { features, labels })
    }
}

/// `names` for a message: quoted, comma-separated, cut after 20.
fn list(names: &[String]) -> String {
    let mut out: Vec<String> = names.iter().take(20).map(|n| format!("{n:?}")).collect();
    if names.len() > 20 {
        out.push(format!("... ({} in all)", names.len()));
    }
    out.join(", ")
}

/// The columns a model was trained on, as read from its training file: saved in the model's
/// `config.json` so that `ae encode`, `ae score` and the others read a file the same way.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputColumns {
    /// Columns of the training file.
    pub width: usize,
    /// The feature columns of it, counted from 0, in the model's input order.
    pub columns: Vec<usize>,
    /// Their header names, where the file had a header.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// What an empty cell of each feature becomes (the training file's medians), where imputed.
    #[serde(default)]
    pub fill: Option<Vec<f32>>,
}

impl InputColumns {
    /// The spec that reads another file as this one was read: by header names where both
    /// files have them (`header` is the new file's), else by number; saved fill values fill
    /// empty cells.
    pub fn spec(&self, header: Option<&[String]>) -> ColumnSpec {
        let columns = match (&self.names, header) {
            (Some(names), Some(_)) => names.iter().map(|n| Column::Name(n.clone())).collect(),
            _ => self
                .columns
                .iter()
                .map(|&c| Column::Number(c + 1))
                .collect(),
        };
        ColumnSpec {
            columns: Some(columns),
            drop: Vec::new(),
            labels: None,
            impute: self.fill.clone().map_or(Impute::Refuse, Impute::Values),
        }
    }

    /// Whether these are every column of the file in order, with nothing imputed (then there is
    /// nothing to save).
    pub fn is_whole(&self) -> bool {
        self.fill.is_none() && self.columns.iter().copied().eq(0..self.width)
    }
}

/// An error unless `fill` holds one value per feature.
pub(crate) fn check_fill(path: &Path, fill: &[f32], features: usize) -> Result<()> {
    if fill.len() != features {
        return Err(Error::format(
            path,
            "columns",
            format!(
                "the model fills empty cells of {} columns but {features} are read",
                fill.len()
            ),
        ));
    }
    Ok(())
}

/// Medians of columns from a seeded reservoir sample of at most [`MEDIAN_SAMPLE`] values each
/// (every value when there are fewer), ignoring missing ones.
pub(crate) struct Medians {
    samples: Vec<Vec<f32>>,
    seen: Vec<usize>,
    rng: Rng,
}

impl Medians {
    pub(crate) fn new(cols: usize) -> Self {
        Medians {
            samples: vec![Vec::new(); cols],
            seen: vec![0; cols],
            rng: Rng::new(0x6d65_6469),
        }
    }

    /// Adds the value `v` of column `c`.
    pub(crate) fn add(&mut self, c: usize, v: f32) {
        self.seen[c] += 1;
        if self.samples[c].len() < MEDIAN_SAMPLE {
            self.samples[c].push(v);
        } else {
            let j = self.rng.below(self.seen[c]);
            if j < MEDIAN_SAMPLE {
                self.samples[c][j] = v;
            }
        }
    }

    /// Each column's median (the mean of the two middle values for an even count); a column
    /// with no values at all is an error naming it (`name(c)`).
    pub(crate) fn finish(self, path: &PathBuf, name: impl Fn(usize) -> String) -> Result<Vec<f32>> {
        self.samples
            .into_iter()
            .enumerate()
            .map(|(c, mut s)| {
                if s.is_empty() {
                    return Err(Error::format(
                        path,
                        format!("column {}", name(c)),
                        "every cell is empty, so there is no median to fill them with",
                    ));
                }
                s.sort_unstable_by(f32::total_cmp);
                let m = s.len() / 2;
                Ok(match s.len() % 2 {
                    1 => s[m],
                    _ => ((s[m - 1] as f64 + s[m] as f64) / 2.0) as f32,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn specs_resolve_by_name_and_number_and_name_what_is_missing() {
        let p = Path::new("t.csv");
        let h = names(&["id", "a", "b", "label"]);
        let spec = ColumnSpec {
            drop: vec!["id".parse().unwrap()],
            labels: Some("label".parse().unwrap()),
            ..ColumnSpec::default()
        };
        let r = spec.resolve(p, Some(&h), 4).unwrap();
        assert_eq!((r.features, r.labels), (vec![1, 2], Some(3)));
        let spec = ColumnSpec {
            columns: Some(vec!["3".parse().unwrap(), "a".parse().unwrap()]),
            ..ColumnSpec::default()
        };
        assert_eq!(spec.resolve(p, Some(&h), 4).unwrap().features, vec![2, 1]);
        let bad = ColumnSpec {
            drop: vec!["nope".parse().unwrap()],
            ..ColumnSpec::default()
        };
        let err = bad.resolve(p, Some(&h), 4).unwrap_err().to_string();
        assert!(err.contains("t.csv") && err.contains("\"nope\"") && err.contains("\"label\""));
        let err = bad.resolve(p, None, 4).unwrap_err().to_string();
        assert!(err.contains("no header"), "{err}");
        let far = ColumnSpec {
            columns: Some(vec![Column::Number(9)]),
            ..ColumnSpec::default()
        };
        assert!(far
            .resolve(p, None, 4)
            .unwrap_err()
            .to_string()
            .contains("4 columns"));
        assert!("0".parse::<Column>().is_err());
    }

    #[test]
    fn medians_are_exact_for_small_columns() {
        let mut m = Medians::new(2);
        for v in [5.0, 1.0, 3.0] {
            m.add(0, v);
        }
        for v in [4.0, 1.0, 3.0, 2.0] {
            m.add(1, v);
        }
        assert_eq!(
            m.finish(&"x".into(), |c| c.to_string()).unwrap(),
            vec![3.0, 2.5]
        );
        let err = Medians::new(1)
            .finish(&"x".into(), |_| "\"b\"".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column \"b\"") && err.contains("empty"),
            "{err}"
        );
    }

    #[test]
    fn a_saved_selection_reads_a_new_file_by_name_or_number() {
        let saved = InputColumns {
            width: 4,
            columns: vec![1, 2],
            names: Some(names(&["a", "b"])),
            fill: Some(vec![0.5, 1.5]),
        };
        let h = names(&["b", "a"]);
        let spec = saved.spec(Some(&h));
        assert_eq!(
            spec.resolve(Path::new("n.csv"), Some(&h), 2)
                .unwrap()
                .features,
            vec![1, 0]
        );
        assert_eq!(spec.impute, Impute::Values(vec![0.5, 1.5]));
        let by_number = saved.spec(None);
        assert_eq!(
            by_number
                .resolve(Path::new("n.npy"), None, 4)
                .unwrap()
                .features,
            vec![1, 2]
        );
        assert!(!saved.is_whole());
        let whole = InputColumns {
            width: 2,
            columns: vec![0, 1],
            names: None,
            fill: None,
        };
        assert!(whole.is_whole());
    }
}
