#!/usr/bin/env python3
"""ae's `--preset anomaly` against PyOD's AutoEncoder, PCA, IForest, KNN and ECOD on the same
train/test files of real tables, one table of ROC AUC (and average precision) per detector.

Run by hand, never by the tests:

    python3 -m venv /tmp/pyod-venv
    /tmp/pyod-venv/bin/pip install pyod torch scikit-learn palmerpenguins statsmodels pandas
    cargo build --release
    /tmp/pyod-venv/bin/python scripts/pyod_compare.py --ae target/release/ae [--seeds 0,1,2]

Protocol (unsupervised): each data set is split at random (seeded) into 60% training rows, which
keep their anomalies unlabelled, and 40% test rows; every detector is fitted on the training
rows and scores the test rows, and ROC AUC / average precision are measured on the test rows.
PyOD's detectors see the rows standardised by the training rows' means and deviations
(scikit-learn's StandardScaler), as ADBench does, without the columns that are constant on the
training rows (PyOD's PCA would divide by their zero variance); ae reads the raw CSV and normalises as its
preset says. `--ae-args` replaces the ae flags (to measure other settings).

The data sets, all offline from installed packages, made ODDS-style (one class, or a
downsample of one class, is the anomaly):

| name          | source (package)                         | licence of the data       | normal          | anomalies                 |
|---------------|------------------------------------------|---------------------------|-----------------|---------------------------|
| breast-cancer | scikit-learn load_breast_cancer          | UCI, CC BY 4.0            | benign          | malignant, 10% of normal  |
| wine          | scikit-learn load_wine                   | UCI, CC BY 4.0            | classes 1, 2    | class 0, 10 rows          |
| optdigits     | scikit-learn load_digits                 | UCI, CC BY 4.0            | digits 1-9      | digit 0, 3% of normal     |
| iris          | scikit-learn load_iris                   | UCI, CC BY 4.0            | setosa, versic. | virginica, 10 rows        |
| penguins      | palmerpenguins load_penguins             | CC0 1.0                   | Adelie, Gentoo  | Chinstrap, 5% of normal   |
| anes96        | statsmodels.datasets.anes96              | public domain             | vote = 0        | vote = 1, 5% of normal    |

Downsampling is seeded (seed 1234) and the same for every split seed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def odds(x, y_class, normal, anomaly, count, rng):
    """Rows of the `normal` classes, plus `count` random rows of the `anomaly` classes."""
    x = np.asarray(x, dtype=np.float64)
    y_class = np.asarray(y_class)
    n_idx = np.flatnonzero(np.isin(y_class, normal))
    a_idx = np.flatnonzero(np.isin(y_class, anomaly))
    a_idx = rng.choice(a_idx, size=min(count, len(a_idx)), replace=False)
    idx = np.concatenate([n_idx, a_idx])
    labels = np.concatenate([np.zeros(len(n_idx)), np.ones(len(a_idx))]).astype(int)
    return x[idx], labels


def datasets():
    from sklearn import datasets as sk

    rng = np.random.default_rng(1234)
    out = {}
    d = sk.load_breast_cancer()
    benign = int((d.target == 1).sum())
    out["breast-cancer"] = odds(d.data, d.target, [1], [0], benign // 10, rng)
    d = sk.load_wine()
    out["wine"] = odds(d.data, d.target, [1, 2], [0], 10, rng)
    d = sk.load_digits()
    normal = int((d.target != 0).sum())
    out["optdigits"] = odds(d.data, d.target, list(range(1, 10)), [0], normal * 3 // 100, rng)
    d = sk.load_iris()
    out["iris"] = odds(d.data, d.target, [0, 1], [2], 10, rng)
    try:
        import palmerpenguins

        p = palmerpenguins.load_penguins()
        cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
        p = p.dropna(subset=cols)
        normal = int(p.species.isin(["Adelie", "Gentoo"]).sum())
        out["penguins"] = odds(
            p[cols].values, p.species.values, ["Adelie", "Gentoo"], ["Chinstrap"], normal // 20, rng
        )
    except ImportError:
        print("palmerpenguins is not installed: no penguins", file=sys.stderr)
    try:
        from statsmodels.datasets import anes96

        a = anes96.load_pandas().data
        features = [c for c in a.columns if c != "vote"]
        normal = int((a.vote == 0).sum())
        out["anes96"] = odds(a[features].values, a.vote.values, [0], [1], normal // 20, rng)
    except ImportError:
        print("statsmodels is not installed: no anes96", file=sys.stderr)
    return out


def split(x, y, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    cut = int(round(0.6 * len(y)))
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def write_csv(path, x):
    header = ",".join(f"f{j}" for j in range(x.shape[1]))
    np.savetxt(path, x, delimiter=",", header=header, comments="", fmt="%.10g")


def pyod_scores(name, xtr, xte, seed):
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.pca import PCA
    from sklearn.preprocessing import StandardScaler

    # Columns constant on the training rows carry nothing, and PyOD's PCA divides by their zero
    # variance (infinite scores): PyOD gets the others.
    keep = xtr.std(axis=0) > 0
    scaler = StandardScaler().fit(xtr[:, keep])
    a, b = scaler.transform(xtr[:, keep]), scaler.transform(xte[:, keep])
    make = {
        "pyod-AutoEncoder": lambda: AutoEncoder(random_state=seed, verbose=0),
        "pyod-PCA": lambda: PCA(random_state=seed),
        "pyod-IForest": lambda: IForest(random_state=seed),
        "pyod-KNN": lambda: KNN(),
        "pyod-ECOD": lambda: ECOD(),
    }
    scores = {}
    for det, f in make.items():
        try:
            m = f()
            m.fit(a)
            scores[det] = m.decision_function(b)
        except Exception as e:  # a detector that fails on a table is reported, not fatal
            print(f"{name}: {det} failed: {e}", file=sys.stderr)
    return scores


def ae_scores(ae, ae_args, xtr, xte, work):
    train, test = os.path.join(work, "train.csv"), os.path.join(work, "test.csv")
    write_csv(train, xtr)
    write_csv(test, xte)
    model, scores = os.path.join(work, "model"), os.path.join(work, "scores.npy")
    subprocess.run(
        [ae, "train", train, "--out", model, *ae_args, "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [ae, "score", model, test, "--out", scores, "--json", "--backend", "cpu"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return np.load(scores).astype(np.float64)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ae", default="target/release/ae", help="the ae binary")
    p.add_argument("--ae-args", default="--preset anomaly --backend cpu",
                   help="flags for ae train (default: %(default)s)")
    p.add_argument("--seeds", default="0", help="split seeds, comma-separated")
    p.add_argument("--no-pyod", action="store_true", help="only ae (to measure its settings)")
    p.add_argument("--only", default=None, help="data sets, comma-separated")
    p.add_argument("--json", default=None, help="also write the table as JSON here")
    args = p.parse_args()
    from sklearn.metrics import average_precision_score, roc_auc_score

    sets = datasets()
    if args.only:
        sets = {k: v for k, v in sets.items() if k in args.only.split(",")}
    seeds = [int(s) for s in args.seeds.split(",")]
    ae_args = args.ae_args.split()
    auc, ap = {}, {}
    for name, (x, y) in sets.items():
        for seed in seeds:
            xtr, ytr, xte, yte = split(x, y, seed)
            found = {}
            if not args.no_pyod:
                found.update(pyod_scores(name, xtr, xte, seed))
            with tempfile.TemporaryDirectory() as work:
                t = time.time()
                found["ae --preset anomaly"] = ae_scores(args.ae, ae_args, xtr, xte, work)
                ae_seconds = time.time() - t
            for det, s in found.items():
                auc.setdefault(det, {}).setdefault(name, []).append(roc_auc_score(yte, s))
                ap.setdefault(det, {}).setdefault(name, []).append(average_precision_score(yte, s))
            print(
                f"{name} seed {seed}: {x.shape[0]} rows x {x.shape[1]}, "
                f"{int(y.sum())} anomalies; ae {ae_seconds:.1f} s; "
                + ", ".join(f"{d} {auc[d][name][-1]:.3f}" for d in found),
                file=sys.stderr,
            )
    names = list(sets)
    dets = list(auc)
    mean = lambda v: float(np.mean(v))
    print("ROC AUC (mean over split seeds " + args.seeds + ")")
    print("| detector | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for d in dets:
        row = [mean(auc[d][n]) for n in names]
        print(f"| {d} | " + " | ".join(f"{v:.3f}" for v in row) + f" | **{np.mean(row):.3f}** |")
    print("\naverage precision")
    print("| detector | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for d in dets:
        row = [mean(ap[d][n]) for n in names]
        print(f"| {d} | " + " | ".join(f"{v:.3f}" for v in row) + f" | **{np.mean(row):.3f}** |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"roc_auc": auc, "average_precision": ap, "seeds": seeds}, f, indent=1)


if __name__ == "__main__":
    main()
