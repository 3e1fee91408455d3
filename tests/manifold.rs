//! `ae manifold` end to end on a small swiss roll and S-curve: the default recipe unrolls both
//! (unrolling and trustworthiness in range, beside PCA's lower unrolling) and writes the figure.

mod common;
use common::{ae, json, stderr};

#[test]
fn the_default_recipe_unrolls_both_manifolds_and_writes_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, min_unrolling) in [("swiss-roll", 0.9), ("s-curve", 0.95)] {
        let figure = dir.path().join(format!("{kind}.svg"));
        let out = ae(&[
            "manifold",
            kind,
            "--points",
            "1000",
            "--epochs",
            "60",
            "--out",
            figure.to_str().unwrap(),
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json(&out);
        let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}: {v}"));
        assert!(num("ae_unrolling") >= min_unrolling, "{kind}: {v}");
        assert!(num("ae_trustworthiness") >= 0.95, "{kind}: {v}");
        assert!(num("ae_unrolling") > num("pca_unrolling"), "{kind}: {v}");
        for k in ["pca_unrolling", "pca_trustworthiness"] {
            assert!((0.0..=1.0).contains(&num(k)), "{k}: {v}");
        }
        let svg = std::fs::read_to_string(&figure).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.matches("<circle").count() >= 2 * 1000,
            "{kind}"
        );
        assert!(svg.contains("unrolling") && svg.contains("trustworthiness"));
    }
}

#[test]
fn bad_flags_are_refused() {
    let out = ae(&["manifold", "swiss-roll", "--points", "10"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--points"), "{}", stderr(&out));
    let out = ae(&["manifold", "s-curve", "--geometry-weight=-1"]);
    assert!(
        stderr(&out).contains("--geometry-weight"),
        "{}",
        stderr(&out)
    );
}
