//! The flags that say how a data file is read, shared by every command that reads one: the
//! tensor of a safetensors file, the columns of a table, its labels column and empty cells.

use ae::{Error, Result};
use ae_core::checkpoint::SavedConfig;
use ae_core::data::table::{self, Column, ColumnSpec, Impute, InputColumns, Table};
use clap::{Args, ValueEnum};
use std::path::Path;

#[derive(Args, Debug, Clone, Default)]
pub struct ColumnArgs {
    /// The tensor to read when the data is a safetensors file holding several.
    #[arg(long)]
    pub tensor: Option<String>,
    /// Read only these columns, in this order: header names or numbers counted from 1,
    /// comma-separated (a model remembers them: inference reads the same columns by itself).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<Column>>,
    /// Leave these columns out (header names or numbers counted from 1, comma-separated), such
    /// as an id or a timestamp column.
    #[arg(long, value_delimiter = ',')]
    pub drop_columns: Vec<Column>,
    /// The column of the data file that holds integer labels (a name or a number counted from
    /// 1); it is not a feature.
    #[arg(long)]
    pub labels_column: Option<Column>,
    /// Empty cells: an error naming the cell (the default), or each column's median over the
    /// file (saved with the model and used for the empty cells met at inference).
    #[arg(long, value_enum)]
    pub impute: Option<ImputeArg>,
}

/// `--impute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImputeArg {
    Median,
}

impl ColumnArgs {
    /// The spec the flags give.
    pub fn spec(&self) -> ColumnSpec {
        ColumnSpec {
            columns: self.columns.clone(),
            drop: self.drop_columns.clone(),
            labels: self.labels_column.clone(),
            impute: match self.impute {
                Some(ImputeArg::Median) => Impute::Median,
                None => Impute::Refuse,
            },
        }
    }

    /// `path` read as the flags say (to train on it).
    pub fn open(&self, path: &Path) -> Result<Table> {
        table::open_table(path, self.tensor.as_deref(), &self.spec())
    }

    /// `path` read for the model saved as `saved`: the columns it was trained on unless the
    /// flags pick others, and its saved fill values.
    pub fn open_for(&self, path: &Path, saved: &SavedConfig) -> Result<Table> {
        self.open_with(path, saved.input.as_ref())
    }

    /// `path` read for a model (or ensemble) that read the columns `input` of its training
    /// file.
    pub fn open_with(&self, path: &Path, input: Option<&InputColumns>) -> Result<Table> {
        table::open_for_model(path, self.tensor.as_deref(), &self.spec(), input)
    }
}

/// The labels of a table read with `--labels-column`, or an error saying where labels come from.
pub fn table_labels(table: &Table, path: &Path) -> Result<Vec<i64>> {
    table.labels.clone().ok_or_else(|| {
        Error::Config(format!(
            "no labels for {}: pass --labels FILE or --labels-column NAME",
            path.display()
        ))
    })
}
