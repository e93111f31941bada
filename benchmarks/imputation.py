"""Imputation: aekit's AutoEncoderImputer against scikit-learn's imputers, in one run.

    python benchmarks/imputation.py                       # digits and breast cancer
    python benchmarks/imputation.py --data mnist --data-dir ../shared/data/mnist

Each data set loses entries completely at random (20%, 50%, 80%) or in blocks (images:
one square patch of half its side per image; the breast-cancer table: in half
the rows one of its three feature groups, the means, the standard errors or the worst
values, all missing). Every imputer fits on the incomplete data and fills it (as
scikit-learn's imputers are used); the figure is the RMSE over the missing entries (for
the table, in units of each feature's standard deviation) and the wall time. aekit runs
with its defaults (MNIST: --mnist-epochs, to bound the time).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

from aekit.sklearn import AutoEncoderImputer

ROOT = Path(__file__).resolve().parents[1]


def data_sets(args):
    from sklearn.datasets import load_breast_cancer, load_digits

    if args.data in ("default", "digits"):
        yield "digits", load_digits().data / 16.0, (8, 8), None
    if args.data in ("default", "cancer"):
        yield (
            "breast cancer",
            load_breast_cancer().data,
            None,
            [range(0, 10), range(10, 20), range(20, 30)],
        )
    if args.data == "mnist":
        import aekit

        train = aekit.load_mnist(args.data_dir).train.numpy()
        rng = np.random.default_rng(0)
        yield (
            "MNIST 10k",
            train[rng.choice(len(train), 10_000, replace=False)].astype(np.float64),
            (28, 28),
            None,
        )


def masks(X, image, groups, rng):
    n = len(X)
    for rate in (0.2, 0.5, 0.8):
        yield f"{int(rate * 100)}% at random", rng.random(X.shape) < rate
    mask = np.zeros(X.shape, bool)
    if image is not None:
        h, w = image
        side = h // 2
        for i in range(n):
            r, c = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            block = np.zeros(image, bool)
            block[r : r + side, c : c + side] = True
            mask[i] = block.ravel()
        yield f"a {side}x{side} patch per image", mask
    else:
        rows = rng.random(n) < 0.5
        for i in np.flatnonzero(rows):
            mask[i, list(groups[rng.integers(len(groups))])] = True
        yield "one feature group in half the rows", mask


def imputers(name, args):
    out = {"mean": lambda: SimpleImputer(), "KNN (k=5)": lambda: KNNImputer()}
    if name != "MNIST 10k":
        out["iterative"] = lambda: IterativeImputer(max_iter=10, random_state=0)
    epochs = args.mnist_epochs if name == "MNIST 10k" else None
    out["aekit"] = lambda: AutoEncoderImputer(random_state=0, epochs=epochs)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="default", choices=["default", "digits", "cancer", "mnist"])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--mnist-epochs", type=int, default=20)
    p.add_argument("--only", help="run only the patterns whose name contains this, e.g. 80%%")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, X, image, groups in data_sets(args):
        rng = np.random.default_rng(0)
        std = X.std(0)
        std[std == 0] = 1.0
        scale = std if image is None else np.ones_like(std)
        for pattern, mask in masks(X, image, groups, rng):
            if args.only and not any(part in pattern for part in args.only.split(",")):
                continue
            holes = np.where(mask, np.nan, X)
            line = f"{name:<14} {pattern:<36}"
            for label, make in imputers(name, args).items():
                start = time.perf_counter()
                filled = make().fit_transform(holes)
                seconds = time.perf_counter() - start
                if filled.shape != X.shape:  # a column never observed was dropped
                    rmse = float("nan")
                else:
                    rmse = float(np.sqrt((((filled - X) / scale)[mask] ** 2).mean()))
                rows.append(
                    {
                        "data": name,
                        "missing": pattern,
                        "imputer": label,
                        "rmse": rmse,
                        "seconds": seconds,
                    }
                )
                line += f"  {label} {rmse:.4f} ({seconds:.1f} s)"
            print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
