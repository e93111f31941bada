"""aekit's AutoEncoderTransformer as a scikit-learn feature step: Pipeline([transformer,
LogisticRegression]) against Pipeline([PCA, LogisticRegression]) at the same code size.

    python benchmarks/transformer_probe.py
    python benchmarks/transformer_probe.py --data mnist --data-dir ../shared/data/mnist

Fits on the training split, reports test accuracy, the reconstruction error of the codes
(test squared error per sample) and wall time. aekit runs with its defaults.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aekit
from aekit.sklearn import AutoEncoderTransformer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", choices=["digits", "mnist"])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = aekit.load_digits() if args.data == "digits" else aekit.load_mnist(args.data_dir)
    Xtr, Xte = data.train.numpy().astype(np.float64), data.test.numpy().astype(np.float64)
    ytr, yte = data.train_labels, data.test_labels
    code = 8 if args.data == "digits" else 30
    print(f"{args.data}: code {code}, {len(Xtr)} training and {len(Xte)} test samples")
    for name, step in (
        ("PCA", PCA(code, random_state=0)),
        ("aekit undercomplete", AutoEncoderTransformer(code_dim=code, random_state=0)),
        ("aekit deep", AutoEncoderTransformer("deep", code_dim=code, random_state=0)),
    ):
        pipe = make_pipeline(step, StandardScaler(), LogisticRegression(max_iter=2000))
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        fitted = pipe[0]
        recon = fitted.inverse_transform(fitted.transform(Xte))
        error = float(((recon - Xte) ** 2).sum(1).mean())
        print(
            f"{name:<22} accuracy {pipe.score(Xte, yte):.3f}  squared error {error:.3f}  {seconds:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
