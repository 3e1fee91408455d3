//! Hyperparameter sweeps of sparse autoencoders (`ae sweep`): a [`Grid`] of training settings
//! (`k=16,32 n=4096,16384`), its points in order ([`Grid::points`]), a [`Shard`] of them for one
//! machine, and the table of finished runs with its Pareto front ([`table`]).
//!
//! Each point is an independent run into its own model directory, so a sweep can be split over
//! processes or machines by shard and resumed: a run that finished is never run again.

pub mod table;

pub use table::{pareto_front, SweepRow, SweepTable};

use ae_core::{Error, Result};
use std::str::FromStr;

/// A training setting a grid varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GridKey {
    /// `k`: the K of a TopK or BatchTopK code (units kept per sample).
    K,
    /// `n`: the code width (the last of the layer widths).
    N,
    /// `lr`: the peak learning rate.
    Lr,
    /// `coef`: the sparsity coefficient (l1's LAMBDA, kl's BETA, jumprelu's COEF).
    Coef,
    /// `seed`: the seed of initialisation, shuffling and the split.
    Seed,
}

impl GridKey {
    /// Every key, in the order `--help` lists them.
    pub const ALL: [GridKey; 5] = [
        GridKey::K,
        GridKey::N,
        GridKey::Lr,
        GridKey::Coef,
        GridKey::Seed,
    ];

    /// The key as written in a grid.
    pub fn name(self) -> &'static str {
        match self {
            GridKey::K => "k",
            GridKey::N => "n",
            GridKey::Lr => "lr",
            GridKey::Coef => "coef",
            GridKey::Seed => "seed",
        }
    }

    /// Whether its values are whole numbers.
    pub fn whole(self) -> bool {
        matches!(self, GridKey::K | GridKey::N | GridKey::Seed)
    }

    /// One value of the key, or an error naming the key and saying what it takes.
    fn value(self, text: &str) -> Result<f64> {
        let bad =
            |what: &str| Error::Config(format!("--grid: {}={text} is not {what}", self.name()));
        let v: f64 = text.parse().map_err(|_| bad("a number"))?;
        let ok = match self {
            GridKey::K | GridKey::N => v.fract() == 0.0 && (1.0..=1e9).contains(&v),
            GridKey::Seed => v.fract() == 0.0 && (0.0..=9e15).contains(&v),
            GridKey::Lr => v.is_finite() && v > 0.0,
            GridKey::Coef => v.is_finite() && v >= 0.0,
        };
        if !ok {
            return Err(bad(match self {
                GridKey::K | GridKey::N => "a whole number of at least 1",
                GridKey::Seed => "a whole number of at least 0",
                GridKey::Lr => "a positive number",
                GridKey::Coef => "a number of at least 0",
            }));
        }
        Ok(v)
    }
}

impl FromStr for GridKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        GridKey::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = GridKey::ALL.iter().map(|k| k.name()).collect();
                Error::Config(format!(
                    "--grid: unknown key `{s}` (the keys are {})",
                    names.join(", ")
                ))
            })
    }
}

/// The settings a sweep runs: each key with its values, in the order written
/// (`k=16,32 n=4096,16384`: keys separated by spaces, values by commas).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Each key and its values (none repeated), in the order given.
    pub axes: Vec<(GridKey, Vec<f64>)>,
}

impl FromStr for Grid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let mut axes: Vec<(GridKey, Vec<f64>)> = Vec::new();
        for part in s.split_whitespace() {
            let (key, values) = part.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "--grid: `{part}` is not KEY=V1,V2,... (such as k=16,32)"
                ))
            })?;
            let key: GridKey = key.parse()?;
            if axes.iter().any(|(k, _)| *k == key) {
                return Err(Error::Config(format!(
                    "--grid: key `{}` given twice",
                    key.name()
                )));
            }
            let values = values
                .split(',')
                .map(|v| match v.trim() {
                    "" => Err(Error::Config(format!(
                        "--grid: {}= has an empty value in `{values}`",
                        key.name()
                    ))),
                    v => key.value(v),
                })
                .collect::<Result<Vec<f64>>>()?;
            if let Some(v) = values
                .iter()
                .enumerate()
                .find(|(i, v)| values[..*i].contains(v))
            {
                return Err(Error::Config(format!(
                    "--grid: {}= lists {} twice",
                    key.name(),
                    format_value(key, *v.1)
                )));
            }
            axes.push((key, values));
        }
        if axes.is_empty() {
            return Err(Error::Config(
                "--grid is empty; give KEY=V1,V2,... such as 'k=16,32 n=4096,16384'".into(),
            ));
        }
        Ok(Grid { axes })
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .axes
            .iter()
            .map(|(k, vs)| {
                let vs: Vec<String> = vs.iter().map(|&v| format_value(*k, v)).collect();
                format!("{}={}", k.name(), vs.join(","))
            })
            .collect();
        write!(f, "{}", parts.join(" "))
    }
}

/// A value as a grid and a run's name write it (`16`, `0.001`).
pub fn format_value(key: GridKey, v: f64) -> String {
    match key.whole() {
        true => format!("{}", v as u64),
        false => format!("{v}"),
    }
}

/// One run of a sweep: its place in the grid's order and its value of every key.
#[derive(Clone, Debug, PartialEq)]
pub struct GridPoint {
    /// Its position among all the grid's points (the first key varying slowest).
    pub index: usize,
    /// The value of each key, in the grid's key order.
    pub values: Vec<(GridKey, f64)>,
}

impl GridPoint {
    /// The run's name, keys and values in order: `k16-n4096` (its directory is `run-NAME`).
    pub fn name(&self) -> String {
        self.values
            .iter()
            .map(|&(k, v)| format!("{}{}", k.name(), format_value(k, v)))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The value of `key`, if the grid has it.
    pub fn get(&self, key: GridKey) -> Option<f64> {
        self.values.iter().find(|(k, _)| *k == key).map(|p| p.1)
    }
}

impl Grid {
    /// The keys, in order.
    pub fn keys(&self) -> Vec<GridKey> {
        self.axes.iter().map(|a| a.0).collect()
    }

    /// Every point of the grid, the first key varying slowest and the last fastest.
    pub fn points(&self) -> Vec<GridPoint> {
        let mut points: Vec<Vec<(GridKey, f64)>> = vec![Vec::new()];
        for (key, values) in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |&v| {
                        let mut p = p.clone();
                        p.push((*key, v));
                        p
                    })
                })
                .collect();
        }
        points
            .into_iter()
            .enumerate()
            .map(|(index, values)| GridPoint { index, values })
            .collect()
    }
}

/// `--shard I/N`: the points whose index is I modulo N (I counted from 0), so that N processes
/// given 0/N, ..., (N-1)/N run every point once between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, in `0..count`.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the point at `index` is this shard's.
    pub fn takes(self, index: usize) -> bool {
        index % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "--shard {s}: expected I/N with 0 <= I < N (such as 0/4)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        s.parse::<Grid>().unwrap_err().to_string()
    }

    #[test]
    fn a_grid_runs_every_combination_last_key_fastest() {
        let g: Grid = "k=16,32  n=4096,16384".parse().unwrap();
        assert_eq!(g.keys(), vec![GridKey::K, GridKey::N]);
        let names: Vec<String> = g.points().iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["k16-n4096", "k16-n16384", "k32-n4096", "k32-n16384"]
        );
        assert_eq!(g.points()[2].index, 2);
        assert_eq!(g.points()[2].get(GridKey::N), Some(4096.0));
        assert_eq!(g.points()[2].get(GridKey::Lr), None);
        assert_eq!(g.to_string(), "k=16,32 n=4096,16384");
    }

    #[test]
    fn fractional_keys_keep_their_value_in_names() {
        let g: Grid = "lr=1e-3,3e-4 coef=0.5 seed=0,1".parse().unwrap();
        assert_eq!(g.points().len(), 4);
        assert_eq!(g.points()[1].name(), "lr0.001-coef0.5-seed1");
        assert_eq!(g.points()[2].get(GridKey::Lr), Some(3e-4));
    }

    #[test]
    fn bad_grids_name_the_key_and_what_it_takes() {
        assert!(err("x=1,2").contains("unknown key `x`"), "{}", err("x=1,2"));
        assert!(err("x=1").contains("k, n, lr, coef, seed"));
        assert!(err("k=16,abc").contains("k=abc is not a number"));
        assert!(err("k=16 n=4.5").contains("n=4.5 is not a whole number"));
        assert!(err("k=0").contains("k=0 is not a whole number of at least 1"));
        assert!(err("lr=0").contains("lr=0 is not a positive number"));
        assert!(err("coef=-1").contains("coef=-1 is not a number of at least 0"));
        assert!(err("k=16 k=32").contains("key `k` given twice"));
        assert!(err("k=16,,32").contains("k= has an empty value"));
        assert!(err("k=16,16").contains("k= lists 16 twice"));
        assert!(err("k16").contains("`k16` is not KEY=V1,V2"));
        assert!(err("  ").contains("--grid is empty"));
    }

    #[test]
    fn shards_split_the_points_between_them() {
        let s: Shard = "1/3".parse().unwrap();
        let taken: Vec<usize> = (0..8).filter(|&i| s.takes(i)).collect();
        assert_eq!(taken, [1, 4, 7]);
        assert!((0..8).all(|i| Shard::ALL.takes(i)));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(&format!("--shard {bad}: expected I/N")), "{e}");
        }
        assert_eq!(s.to_string(), "1/3");
    }
}
