//! The matmul autotuner on the wgpu backend: the variant used is the one the cache names; a
//! corrupt or stale cache gives a warning and a retune, never a crash; `--no-tune` reads no
//! cache; `ae tune` runs and writes its cache. Small shapes only (lavapipe is slow).

mod common;
mod gpu;
use ae_core::prelude::*;
use ae_core::{Matrix, Rng};
use ae_cpu::CpuBackend;
use ae_wgpu::{AdapterChoice, MatmulVariant, ShapeClass, Tuning, WgpuBackend};
use std::path::Path;

fn open(tuning: Tuning, dir: &Path) -> Option<WgpuBackend> {
    gpu::gpu_with(&AdapterChoice {
        tuning,
        cache_dir: Some(dir.to_path_buf()),
        ..AdapterChoice::default()
    })
}

/// The names of the variants the tuner times for `class` without f16 (vec4 ones only where the
/// class is aligned), in [`MatmulVariant::ALL`]'s order.
fn candidates(class: &ShapeClass, f16: bool) -> Vec<&'static str> {
    MatmulVariant::ALL
        .iter()
        .filter(|v| (f16 || !v.f16) && (class.aligned || !v.vec4))
        .map(|v| v.name)
        .collect()
}

fn names(r: &ae_wgpu::TuneResult) -> Vec<&str> {
    r.times.iter().map(|t| t.0.as_str()).collect()
}

fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    Matrix::new(
        rows,
        cols,
        (0..rows * cols)
            .map(|_| rng.uniform_in(-1.0, 1.0) as f32)
            .collect(),
    )
    .unwrap()
}

/// `matmul` of `[m, k] x [k, n]ᵀ` through the backend's own choice, against the CPU.
fn assert_matmul_right(gpu: &WgpuBackend, m: usize, k: usize, n: usize) {
    let (a, b) = (random(m, k, 1), random(n, k, 2));
    let cpu = CpuBackend::<f32>::new();
    let mut want = cpu.zeros(m, n).unwrap();
    cpu.matmul(
        &cpu.upload(&a).unwrap(),
        false,
        &cpu.upload(&b).unwrap(),
        true,
        1.0,
        0.0,
        &mut want,
    );
    let mut got = gpu.zeros(m, n).unwrap();
    gpu.matmul(
        &gpu.upload(&a).unwrap(),
        false,
        &gpu.upload(&b).unwrap(),
        true,
        1.0,
        0.0,
        &mut got,
    );
    let (got, want) = (gpu.download(&got).unwrap(), cpu.download(&want).unwrap());
    for (g, w) in got.data.iter().zip(&want.data) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
    }
}

fn cache_json(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn the_variant_used_is_the_one_the_cache_names() {
    let dir = tempfile::tempdir().unwrap();
    let Some(first) = open(Tuning::Always, dir.path()) else {
        return;
    };
    let r = first.tune_matmul(9, 5, 7, false, true).unwrap();
    let unaligned = ShapeClass::of(9, 5, 7, false, true);
    assert_eq!(names(&r), candidates(&unaligned, false));
    assert!(r.times.iter().all(|t| t.1 > 0.0), "{r:?}");
    assert!(!names(&r)
        .iter()
        .any(|n| n.contains("vec4") || n.contains("f16")));
    // A class aligned for vec4 reads times those too; f16 ones only when asked for.
    let r = first.tune_matmul(9, 8, 7, false, true).unwrap();
    let aligned = ShapeClass::of(9, 8, 7, false, true);
    assert_eq!(names(&r), candidates(&aligned, false));
    assert!(names(&r).contains(&"64x64/4x4 vec4"), "{r:?}");
    let file = first.tuning_cache_file().unwrap();
    drop(first);
    // Name two other variants for two classes, by hand.
    let mut json = cache_json(&file);
    let small = ShapeClass::of(9, 5, 7, false, true).key();
    let other = ShapeClass::of(40, 3, 20, false, true).key();
    json["classes"][&small]["variant"] = "16x64/1x4".into();
    json["classes"][&other] = serde_json::json!({"variant": "128x128/8x8", "seconds": 1e-3});
    std::fs::write(&file, json.to_string()).unwrap();
    for tuning in [Tuning::Auto, Tuning::Always] {
        let gpu = open(tuning, dir.path()).unwrap();
        assert_eq!(
            gpu.matmul_variant_for(9, 5, 7, false, true).name,
            "16x64/1x4"
        );
        assert_eq!(
            gpu.matmul_variant_for(33, 3, 17, false, true).name,
            "128x128/8x8"
        );
        assert!(
            gpu.tuning_warnings().is_empty(),
            "{:?}",
            gpu.tuning_warnings()
        );
        assert_matmul_right(&gpu, 40, 3, 20);
    }
    // Nothing was retimed: the file is as written.
    assert_eq!(cache_json(&file), json);
    // A fixed variant reads no cache.
    let fixed = open(Tuning::Fixed(MatmulVariant::ALL[3]), dir.path()).unwrap();
    assert_eq!(
        fixed.matmul_variant_for(9, 5, 7, false, true),
        MatmulVariant::ALL[3]
    );
    assert_eq!(fixed.tuning_cache_file(), None);
}

#[test]
fn a_corrupt_or_stale_cache_is_ignored_with_a_warning_and_retuned() {
    let dir = tempfile::tempdir().unwrap();
    let Some(first) = open(Tuning::Always, dir.path()) else {
        return;
    };
    first.tune_matmul(6, 4, 5, false, true).unwrap();
    let file = first.tuning_cache_file().unwrap();
    let good = cache_json(&file);
    drop(first);
    let mut other_format = good.clone();
    other_format["format"] = 99.into();
    let mut other_adapter = good.clone();
    other_adapter["adapter"] = "NVIDIA H200".into();
    let cases = [
        ("{ not json".to_string(), "not a cache file"),
        (
            String::from_utf8(vec![b'x'; 300]).unwrap(),
            "not a cache file",
        ),
        (other_format.to_string(), "format 99"),
        (other_adapter.to_string(), "'NVIDIA H200'"),
    ];
    for (contents, why) in cases {
        std::fs::write(&file, &contents).unwrap();
        let gpu = open(Tuning::Always, dir.path()).unwrap();
        let warnings = gpu.tuning_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("ignoring") && warnings[0].contains(why),
            "{warnings:?}"
        );
        // The class is timed again and the file rewritten, valid, for this adapter.
        assert_matmul_right(&gpu, 6, 4, 5);
        let json = cache_json(&file);
        assert_eq!(json["format"], ae_wgpu::CACHE_FORMAT);
        assert_eq!(json["adapter"], good["adapter"]);
        let key = ShapeClass::of(6, 4, 5, false, true).key();
        let chosen = json["classes"][&key]["variant"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(MatmulVariant::by_name(&chosen).is_some(), "{chosen}");
    }
    // An entry naming no variant is dropped with a warning; the others are kept.
    let mut bad_entry = good.clone();
    bad_entry["classes"]["m16 k4 n8 nt a1"] =
        serde_json::json!({"variant": "9x9/9x9", "seconds": 1.0});
    std::fs::write(&file, bad_entry.to_string()).unwrap();
    let gpu = open(Tuning::Auto, dir.path()).unwrap();
    let warnings = gpu.tuning_warnings();
    assert!(
        warnings.len() == 1 && warnings[0].contains("9x9/9x9"),
        "{warnings:?}"
    );
    let key = ShapeClass::of(6, 4, 5, false, true).key();
    let kept = good["classes"][&key]["variant"].as_str().unwrap();
    assert_eq!(gpu.matmul_variant_for(6, 4, 5, false, true).name, kept);
}

#[test]
fn ae_tune_writes_its_cache_and_no_tune_reads_none() {
    let dir = tempfile::tempdir().unwrap();
    if gpu::gpu().is_none() {
        return;
    }
    let ae = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ae"))
            .args(args)
            .env("NODEVICE_SELECT", "1")
            .env("AE_CACHE_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = ae(&[
        "tune",
        "--backend",
        "wgpu",
        "--layers",
        "12,5",
        "--batch-size",
        "6",
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let json = common::json(&out);
    let classes = json["classes"].as_array().unwrap();
    // 12-5-12: forward and weight gradient of both layers, the input gradient of the second.
    assert_eq!(classes.len(), 5, "{json}");
    let file = json["cache_file"].as_str().unwrap();
    assert!(file.starts_with(dir.path().to_str().unwrap()), "{file}");
    let cache = cache_json(Path::new(file));
    for c in classes {
        let key = c["class"].as_str().unwrap();
        assert_eq!(cache["classes"][key]["variant"], c["chosen"], "{key}");
        let class = ShapeClass::parse(key).unwrap();
        let timed: Vec<&str> = c["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[0].as_str().unwrap())
            .collect();
        assert_eq!(timed, candidates(&class, false), "{key}");
    }
    // The table, without --json: a row per class naming its variant.
    let text = ae(&[
        "tune",
        "--backend",
        "wgpu",
        "--layers",
        "12,5",
        "--batch-size",
        "6",
    ]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("shape class") && stdout.contains("m8 k16 n8 nt"),
        "{stdout}"
    );

    // A corrupt cache: a warning from `ae train`, none with --no-tune, and training works.
    std::fs::write(file, "garbage").unwrap();
    let data = dir.path().join("x.csv");
    common::write_csv(&data, 40, 12);
    let train = |extra: &[&str]| {
        let model = dir.path().join("m");
        let d = data.to_str().unwrap();
        let m = model.to_str().unwrap();
        let mut args = vec!["train", d, "--out", m, "--layers", "12,5", "--epochs", "2"];
        args.extend_from_slice(&["--backend", "wgpu", "--batch-size", "8"]);
        args.extend_from_slice(extra);
        ae(&args)
    };
    let warned = train(&[]);
    assert!(warned.status.success(), "{}", common::stderr(&warned));
    assert!(common::stderr(&warned).contains("warning: ignoring the matmul tuning cache"));
    let quiet = train(&["--no-tune"]);
    assert!(quiet.status.success(), "{}", common::stderr(&quiet));
    assert!(
        !common::stderr(&quiet).contains("tuning cache"),
        "{}",
        common::stderr(&quiet)
    );
}

#[test]
fn f16_variants_are_candidates_only_when_asked_for_and_in_their_own_cache() {
    let dir = tempfile::tempdir().unwrap();
    let Some(plain) = open(Tuning::Always, dir.path()) else {
        return;
    };
    let Some(f16) = gpu::gpu_with(&AdapterChoice {
        tuning: Tuning::Always,
        cache_dir: Some(dir.path().to_path_buf()),
        f16_matmul: true,
        ..AdapterChoice::default()
    }) else {
        return;
    };
    if !f16.has_f16_matmul() {
        assert_ne!(
            std::env::var("AE_REQUIRE_GPU").as_deref(),
            Ok("1"),
            "{} has no SHADER_F16",
            f16.adapter().name
        );
        eprintln!("SKIPPED: {} has no SHADER_F16", f16.adapter().name);
        return;
    }
    let class = ShapeClass::of(9, 8, 7, false, true);
    let r = f16.tune_matmul(9, 8, 7, false, true).unwrap();
    assert_eq!(names(&r), candidates(&class, true));
    assert!(names(&r).contains(&"128x128/8x8 vec4 f16"), "{r:?}");
    let r = plain.tune_matmul(9, 8, 7, false, true).unwrap();
    assert_eq!(names(&r), candidates(&class, false));
    let (a, b) = (plain.tuning_cache_file(), f16.tuning_cache_file());
    assert_ne!(a, b);
    assert!(b.unwrap().to_str().unwrap().ends_with("-f16.json"));
}
