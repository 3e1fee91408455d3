//! Every loader (NPY, CSV, IDX, safetensors, Parquet, shards) against thousands of seeded
//! mutations of a valid file of its format (bytes flipped, cut off, inserted; headers that
//! promise more than the file holds): each read must give `Ok` or a clean `Err` naming the file,
//! never a panic (nor a hang). Runs on stable Rust, no fuzzer.

use ae_backend::{Matrix, Rng};
use ae_data::source::{self, NpySource, RowSource};
use std::path::Path;

/// One mutation of `valid`, drawn from `rng`.
fn mutate(valid: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = valid.to_vec();
    match rng.below(5) {
        // Flip a few bytes.
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        // Cut the file short.
        1 => b.truncate(rng.below(b.len())),
        // Insert random bytes.
        2 => {
            let at = rng.below(b.len() + 1);
            let extra: Vec<u8> = (0..1 + rng.below(16))
                .map(|_| rng.below(256) as u8)
                .collect();
            b.splice(at..at, extra);
        }
        // Overwrite a byte in the first 128 (the headers) with any value.
        3 => {
            let i = rng.below(b.len().min(128));
            b[i] = rng.below(256) as u8;
        }
        // Replace a digit in the first 128 bytes by a 9 (a header that promises more).
        _ => {
            let digits: Vec<usize> = (0..b.len().min(128))
                .filter(|&i| b[i].is_ascii_digit())
                .collect();
            if let Some(&i) = digits.get(rng.below(digits.len().max(1))) {
                b[i] = b'9';
                b.insert(i, b'9');
            }
        }
    }
    b
}

/// Runs `read` on `cases` mutations of `valid` written to `path`; a panic fails with the case.
fn fuzz(path: &Path, valid: &[u8], cases: u64, read: impl Fn(&Path) -> Result<(), String>) {
    let mut rng = Rng::new(0xfa22);
    let mut errors = 0;
    for case in 0..cases {
        let bytes = mutate(valid, &mut rng);
        std::fs::write(path, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(path)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => {
                errors += 1;
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    msg.contains(&name),
                    "case {case}: the error does not name the file: {msg}"
                );
            }
            Err(_) => panic!(
                "case {case} of {}: a reader panicked on {bytes:?}",
                path.display()
            ),
        }
    }
    assert!(
        errors > cases / 10,
        "{}: only {errors} of {cases} mutations were refused",
        path.display()
    );
}

fn sample() -> Matrix {
    Matrix::new(6, 5, (0..30).map(|i| (i as f32 * 0.37).sin()).collect()).unwrap()
}

#[test]
fn the_npy_readers_survive_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    ae_data::save_npy(&good, &sample()).unwrap();
    let valid = std::fs::read(&good).unwrap();
    let path = dir.path().join("mutant.npy");
    fuzz(&path, &valid, 3000, |p| {
        ae_data::load_matrix(p).map(drop).map_err(|e| e.to_string())
    });
    fuzz(&path, &valid, 3000, |p| {
        let src = NpySource::open(p).map_err(|e| e.to_string())?;
        src.read(0, src.rows()).map(drop).map_err(|e| e.to_string())
    });
}

#[test]
fn the_csv_reader_survives_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let m = sample();
    let mut text = String::from("a,b,c,d,e\n");
    for r in 0..m.rows {
        let row: Vec<String> = m.row(r).iter().map(|v| format!("{v}")).collect();
        text += &(row.join(",") + "\n");
    }
    let path = dir.path().join("mutant.csv");
    fuzz(&path, text.as_bytes(), 3000, |p| {
        ae_data::load_matrix(p).map(drop).map_err(|e| e.to_string())
    });
}

#[test]
fn the_idx_reader_survives_mutations() {
    let dir = tempfile::tempdir().unwrap();
    // A raw IDX of u8 [6, 5]: magic 0 0 0x08 2, dims big-endian, data.
    let mut valid = vec![0, 0, 0x08, 2, 0, 0, 0, 6, 0, 0, 0, 5];
    valid.extend((0..30).map(|i| (i * 7) as u8));
    let path = dir.path().join("mutant-ubyte");
    fuzz(&path, &valid, 3000, |p| {
        ae_data::load_matrix(p).map(drop).map_err(|e| e.to_string())
    });
    // Gzipped: mutations hit the compressed stream.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &valid).unwrap();
    let path = dir.path().join("mutant-idx.gz");
    fuzz(&path, &gz.finish().unwrap(), 2000, |p| {
        ae_data::load_matrix(p).map(drop).map_err(|e| e.to_string())
    });
}

#[test]
fn the_safetensors_reader_survives_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    let m = sample();
    let bytes: Vec<u8> = m.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![6, 5], &bytes).unwrap();
    safetensors::serialize_to_file(vec![("acts".to_string(), view)], None, &good).unwrap();
    let valid = std::fs::read(&good).unwrap();
    let path = dir.path().join("mutant.safetensors");
    fuzz(&path, &valid, 3000, |p| {
        let src = source::open(p).map_err(|e| e.to_string())?;
        src.read(0, src.rows()).map(drop).map_err(|e| e.to_string())
    });
}

#[test]
fn sharded_sources_survive_a_mutated_shard() {
    let dir = tempfile::tempdir().unwrap();
    ae_data::save_npy(&dir.path().join("a.npy"), &sample()).unwrap();
    let good = dir.path().join("good.npy");
    ae_data::save_npy(&good, &sample()).unwrap();
    let valid = std::fs::read(&good).unwrap();
    std::fs::remove_file(&good).unwrap();
    let path = dir.path().join("b.npy");
    fuzz(&path, &valid, 1000, |p| {
        let src = source::open(&p.parent().unwrap().join("*.npy")).map_err(|e| e.to_string())?;
        src.read(0, src.rows()).map(drop).map_err(|e| e.to_string())
    });
}

/// A small Parquet file made here: two row groups of pages of 2 rows, Snappy, dictionary
/// encoding; numeric columns (one nullable, no nulls) when `list` is false, else a list column;
/// with or without an offset index (a list column is skipped by reading without one).
fn parquet_file(path: &Path, list: bool, offset_index: bool) {
    use parquet::basic::Compression;
    use parquet::data_type::{DoubleType, FloatType, Int32Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let m = sample();
    let schema = match list {
        false => "message t { required float a; optional double b; required int32 c; }",
        true => {
            "message t { optional group v (LIST) { repeated group list { required float e; } } }"
        }
    };
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_data_page_row_count_limit(2)
        .set_write_batch_size(2);
    let props = match offset_index {
        true => props.build(),
        false => props
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
            .set_offset_index_disabled(true)
            .build(),
    };
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    for rows in [0..4, 4..6] {
        let mut rg = w.next_row_group().unwrap();
        let mut i = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            let n = rows.len();
            let values: Vec<f32> = rows.clone().map(|r| m.row(r)[i]).collect();
            match (list, i) {
                (true, _) => {
                    let values: Vec<f32> = rows.clone().flat_map(|r| m.row(r).to_vec()).collect();
                    let rep: Vec<i16> = (0..values.len()).map(|j| (j % 5 > 0) as i16).collect();
                    let def = vec![2i16; values.len()];
                    let t = col.typed::<FloatType>();
                    t.write_batch(&values, Some(&def), Some(&rep)).unwrap();
                }
                (false, 0) => {
                    col.typed::<FloatType>()
                        .write_batch(&values, None, None)
                        .unwrap();
                }
                (false, 1) => {
                    let values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
                    let t = col.typed::<DoubleType>();
                    t.write_batch(&values, Some(&vec![1; n]), None).unwrap();
                }
                _ => {
                    let values: Vec<i32> = values.iter().map(|&v| (v * 100.0) as i32).collect();
                    col.typed::<Int32Type>()
                        .write_batch(&values, None, None)
                        .unwrap();
                }
            }
            col.close().unwrap();
            i += 1;
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
}

#[test]
fn the_parquet_reader_survives_mutations() {
    let dir = tempfile::tempdir().unwrap();
    for (list, offset_index) in [(false, true), (true, true), (true, false)] {
        let good = dir.path().join("good.parquet");
        parquet_file(&good, list, offset_index);
        let src = source::open(&good).unwrap();
        assert_eq!((src.rows(), src.cols()), (6, if list { 5 } else { 3 }));
        let valid = std::fs::read(&good).unwrap();
        let path = dir.path().join("mutant.parquet");
        fuzz(&path, &valid, 3000, |p| {
            let src = source::open(p).map_err(|e| e.to_string())?;
            // In and out of order, straddling the row groups, then the whole file.
            src.read(3, src.rows().min(6) - 3)
                .map_err(|e| e.to_string())?;
            src.gather(&[5, 0, 4])
                .map(drop)
                .map_err(|e| e.to_string())?;
            src.read(0, src.rows()).map(drop).map_err(|e| e.to_string())
        });
        fuzz(&path, &valid, 1000, |p| {
            ae_data::load_matrix(p).map(drop).map_err(|e| e.to_string())
        });
    }
}
