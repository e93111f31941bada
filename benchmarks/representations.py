"""What the codes are worth: a linear probe on MNIST, and the encoder's contraction.

For raw pixels, PCA and one-hidden-layer autoencoders of each kind (undercomplete;
overcomplete without and with regularization: sparse, contractive, denoising), fits a
logistic regression on the codes of the 60,000 training images and reports its accuracy
on the 10,000 test images, with the test reconstruction error and, as Rifai et al. (ICML
2011), the mean Frobenius norm of the encoder's Jacobian on the test images.

    python benchmarks/representations.py --data-dir ../shared/data/mnist [--epochs 10]
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import aekit


def probe(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
) -> float:
    """Test accuracy of a logistic regression fitted on standardized training codes."""
    scaler = StandardScaler().fit(train_codes)
    clf = LogisticRegression(max_iter=300, C=1.0)
    clf.fit(scaler.transform(train_codes), train_labels)
    return float(clf.score(scaler.transform(test_codes), test_labels))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--code", type=int, default=64, help="code size of the undercomplete model and PCA"
    )
    p.add_argument("--wide", type=int, default=1000, help="code size of the overcomplete models")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = aekit.load_mnist(args.data_dir, download=False)
    x_train, x_test = data.train.numpy(), data.test.numpy()
    y_train, y_test = data.train_labels, data.test_labels
    wide = args.wide
    print(
        f"MNIST linear probe: logistic regression on codes of 60,000 train images, accuracy on "
        f"10,000 test images; autoencoders 784-h-784, sigmoid code, cross-entropy, {args.epochs} "
        f"epochs (Adam lr 1e-3, batch 128); torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"{'representation':<44} {'dims':>5} {'probe acc.':>10} {'test sq. err':>12} {'mean ||J||_F':>12} "
        f"{'seconds':>8}"
    )

    start = time.perf_counter()
    acc = probe(x_train, y_train, x_test, y_test)
    print(
        f"{'raw pixels':<44} {784:>5} {acc:>10.4f} {'':>12} {'':>12} {time.perf_counter() - start:>8.1f}",
        flush=True,
    )
    start = time.perf_counter()
    pca = PCA(args.code, random_state=0).fit(x_train)
    err = float(((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2).sum(1).mean())
    acc = probe(pca.transform(x_train), y_train, pca.transform(x_test), y_test)
    # PCA's encoder is linear: its Jacobian is the component matrix, ||J||_F = sqrt(k).
    print(
        f"{f'PCA ({args.code} components)':<44} {args.code:>5} {acc:>10.4f} {err:>12.3f} "
        f"{np.sqrt(args.code):>12.3f} {time.perf_counter() - start:>8.1f}",
        flush=True,
    )

    rows: list[tuple[str, int, dict[str, Any]]] = [
        ("undercomplete AE", args.code, {}),
        ("overcomplete AE, unregularized", wide, {}),
        ("overcomplete AE + weight decay 1e-4", wide, {"weight_decay": 1e-4}),
        (
            "sparse AE (KL rho=0.05, beta=3)",
            wide,
            {"penalties": [aekit.KLSparsity(rho=0.05, beta=3.0)]},
        ),
        ("contractive AE (lam=0.1)", wide, {"penalties": [aekit.Contractive(lam=0.1)]}),
        ("denoising AE (masking nu=0.25)", wide, {"corruption": aekit.Masking(nu=0.25)}),
        ("denoising AE (gaussian sigma=0.3)", wide, {"corruption": aekit.GaussianNoise(sigma=0.3)}),
    ]
    for label, code, parts in rows:
        settings = {k: v for k, v in parts.items() if k != "weight_decay"}
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", UserWarning
            )  # the overcomplete model's identity warning
            model = aekit.AutoEncoder.build(
                input_dim=784, code_dim=code, code_activation="sigmoid", loss="bce", **settings
            )
        start = time.perf_counter()
        aekit.fit(
            model,
            x_train,
            epochs=args.epochs,
            lr=1e-3,
            batch_size=128,
            val_fraction=0,
            seed=0,
            weight_decay=parts.get("weight_decay", 0.0),
            progress=False,
        )
        seconds = time.perf_counter() - start
        m = aekit.evaluate(model, x_test, jacobian=True)
        acc = probe(model.encode(x_train), y_train, model.encode(x_test), y_test)
        print(
            f"{label:<44} {code:>5} {acc:>10.4f} {m['squared_error']:>12.3f} "
            f"{m['jacobian_frobenius']:>12.3f} {seconds:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
