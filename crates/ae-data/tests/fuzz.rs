//! Every loader against thousands of seeded mutations of a valid file of its format (bytes
//! flipped, cut off, inserted; headers that promise more than the file holds): each read must
//! give `Ok` or a clean `Err` naming the file, never a panic. Runs on stable Rust, no fuzzer.

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
