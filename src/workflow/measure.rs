//! The code metrics of a trained model on the rows it held out (`ae sweep`'s table).

use super::{split, TrainSettings, Trained};
use ae_core::data::RowSource;
use ae_core::trainer::{code_metrics, Rows};
use ae_core::{Backend, CodeMetrics, Result};

/// Code metrics of a trained model, and the rows they were measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Held-out rows (true), or the training rows where the run held none out.
    pub held_out: bool,
    /// How many rows (at most 65,536 of them are read).
    pub rows: usize,
    /// The metrics.
    pub metrics: CodeMetrics,
}

/// The code metrics of `trained` (trained on `source` with `settings`) on the validation rows
/// the run held out, normalised as it normalised them; on its training rows where it held out
/// none.
pub fn measure_code<B: Backend>(
    backend: &B,
    source: &dyn RowSource,
    settings: &TrainSettings,
    trained: &Trained<B>,
) -> Result<Measured> {
    let (train_idx, val_idx) = split(source, settings)?;
    let held_out = !val_idx.is_empty();
    let rows = if held_out { &val_idx } else { &train_idx };
    let data = Rows::Source {
        source,
        rows,
        stats: trained.saved.normalization.as_ref(),
    };
    Ok(Measured {
        held_out,
        rows: rows.len(),
        metrics: code_metrics(backend, &trained.model, data)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::train_source;
    use ae_core::data::MatrixSource;
    use ae_core::{Matrix, ModelConfig, TrainConfig};
    use ae_cpu::CpuBackend;

    #[test]
    fn metrics_are_of_the_held_out_rows_else_the_training_rows() {
        let cpu = CpuBackend::<f32>::new();
        let x = Matrix::new(
            50,
            4,
            (0..200).map(|i| ((i * 7 % 11) as f32) / 11.0).collect(),
        )
        .unwrap();
        let source = MatrixSource::borrowed("x", &x);
        let train = TrainConfig {
            epochs: 1,
            batch_size: 10,
            ..TrainConfig::default()
        };
        let model = ModelConfig::mirrored(&[4, 3]).unwrap();
        let mut settings = TrainSettings::new(model, train);
        settings.val_split = 0.2;
        let trained = train_source(&cpu, &source, &settings, None, &mut |_| Ok(())).unwrap();
        let m = measure_code(&cpu, &source, &settings, &trained).unwrap();
        assert!(m.held_out);
        assert_eq!(m.rows, 10);
        // The same numbers as the metrics of the held-out rows themselves.
        let (_, val) = split(&source, &settings).unwrap();
        let own = code_metrics(
            &cpu,
            &trained.model,
            Rows::Matrix(&source.gather(&val).unwrap()),
        );
        assert_eq!(m.metrics, own.unwrap());
        settings.val_split = 0.0;
        let m = measure_code(&cpu, &source, &settings, &trained).unwrap();
        assert!(!m.held_out);
        assert_eq!(m.rows, 50);
    }
}
