"""Outlier detection: aekit's AutoEncoderOutlierDetector against scikit-learn's
detectors, PCA reconstruction error and PyOD's AutoEncoder (when installed), in one run.

    python benchmarks/outliers.py                         # noisy digits, breast cancer
    python benchmarks/outliers.py --data mnist --data-dir ../shared/data/mnist

Data sets: MNIST, one digit class of the training set as inliers and the other classes as
5% outliers, every class in turn (the mean and the worst AUC over the classes); digits
with 5% of them replaced by salt-and-pepper-corrupted digits (30% of pixels); breast
cancer, benign tumours as inliers and malignant ones subsampled to 10%. Each detector fits
on the contaminated data without labels and scores it (unsupervised); ROC AUC and average
precision of the scores against the outlier labels, and wall time. aekit and PCA use the
same code size (8 for digits and the table, 30 for MNIST); tables are standardised for
every detector.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from aekit.sklearn import AutoEncoderOutlierDetector

ROOT = Path(__file__).resolve().parents[1]


def pca_error(X, k):
    pca = PCA(k, random_state=0).fit(X)
    return ((pca.inverse_transform(pca.transform(X)) - X) ** 2).sum(1)


def detectors(code_dim, epochs):
    """name -> function(X) returning outlier scores (higher: more outlying)."""
    out = {
        "aekit": lambda X: (
            -AutoEncoderOutlierDetector(code_dim=code_dim, epochs=epochs, random_state=0)
            .fit(X)
            .score_samples(X)
        ),
        "IsolationForest": lambda X: -IsolationForest(random_state=0).fit(X).score_samples(X),
        "LOF": lambda X: -LocalOutlierFactor().fit(X).negative_outlier_factor_,
        "OneClassSVM": lambda X: -OneClassSVM(nu=0.05).fit(X).score_samples(X),
        "PCA error": lambda X: pca_error(X, code_dim),
    }
    try:
        from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder

        out["PyOD AutoEncoder"] = lambda X: (
            PyODAutoEncoder(contamination=0.05, verbose=0, random_state=0)
            .fit(X)
            .decision_function(X)
        )
    except ImportError:
        pass
    return out


def cases(args):
    from sklearn.datasets import load_breast_cancer, load_digits

    rng = np.random.default_rng(0)
    if args.data == "default":
        X = load_digits().data / 16.0
        n_out = int(0.05 * len(X))
        idx = rng.choice(len(X), n_out, replace=False)
        noisy = X.copy()
        hit = rng.random((n_out, X.shape[1])) < 0.3
        noisy[idx] = np.where(hit, rng.integers(0, 2, hit.shape), X[idx])
        labels = np.zeros(len(X), bool)
        labels[idx] = True
        yield "noisy digits", "", noisy, labels, 8
        X, y = load_breast_cancer(return_X_y=True)
        benign, malignant = X[y == 1], X[y == 0]
        few = malignant[rng.choice(len(malignant), round(0.1 * len(benign)), replace=False)]
        data = StandardScaler().fit_transform(np.vstack([benign, few]))
        yield (
            "breast cancer",
            "",
            data,
            np.r_[np.zeros(len(benign), bool), np.ones(len(few), bool)],
            8,
        )
    else:
        import aekit

        mnist = aekit.load_mnist(args.data_dir)
        X, y = mnist.train.numpy(), mnist.train_labels
        for digit in range(10):
            inliers = X[y == digit]
            others = np.flatnonzero(y != digit)
            n_out = round(0.05 * len(inliers) / 0.95)
            outliers = X[rng.choice(others, n_out, replace=False)]
            data = np.vstack([inliers, outliers]).astype(np.float64)
            labels = np.r_[np.zeros(len(inliers), bool), np.ones(n_out, bool)]
            yield "MNIST", f"inliers {digit}", data, labels, 30


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="default", choices=["default", "mnist"])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--epochs", type=int, default=None, help="aekit's epochs (default: its own)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, case, X, labels, code_dim in cases(args):
        line = f"{name:<14} {case:<10}"
        for label, score in detectors(code_dim, args.epochs).items():
            start = time.perf_counter()
            s = score(X)
            seconds = time.perf_counter() - start
            auc, ap = roc_auc_score(labels, s), average_precision_score(labels, s)
            rows.append(
                {
                    "data": name,
                    "case": case,
                    "detector": label,
                    "auc": auc,
                    "ap": ap,
                    "seconds": seconds,
                }
            )
            line += f"  {label} {auc:.3f}/{ap:.3f} ({seconds:.1f} s)"
        print(line, flush=True)
    if args.data == "mnist":
        for label in dict.fromkeys(r["detector"] for r in rows):
            aucs = [r["auc"] for r in rows if r["detector"] == label]
            aps = [r["ap"] for r in rows if r["detector"] == label]
            print(
                f"{label:<18} mean AUC {np.mean(aucs):.3f}, worst {np.min(aucs):.3f}; mean AP {np.mean(aps):.3f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
