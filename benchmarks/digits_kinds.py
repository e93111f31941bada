"""Every kind of autoencoder on scikit-learn's digits, next to PCA, at the same code size.

Prints one table: test squared error per image (sum over the 64 pixels, values in [0, 1]),
the kind-specific metric, epochs and wall time. Every row is trained here, in this run.

    python benchmarks/digits_kinds.py [--code 8] [--epochs 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

import aekit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--code", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(2)
    data = aekit.load_digits()
    X, X_test = data.train.numpy(), data.test.numpy()

    print(f"digits: {len(X)} train / {len(X_test)} test images, 64 features; code size {args.code}")
    print(f"{'model':<34} {'test sq. err':>12} {'other':>28} {'epochs':>6} {'seconds':>8}")
    t = time.perf_counter()
    pca = PCA(args.code).fit(X)
    err = ((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2).sum(1).mean()
    print(f"{'PCA':<34} {err:>12.3f} {'':>28} {'':>6} {time.perf_counter() - t:>8.2f}")

    rows = [
        ("linear", "linear", {}),
        ("undercomplete", "undercomplete", {}),
        ("undercomplete (deep)", "undercomplete", {"hidden": [args.hidden]}),
        ("sparse (KL rho=0.05, beta=3)", "sparse", {"hidden": [args.hidden]}),
        ("sparse_l1 (lam=0.01)", "sparse_l1", {"hidden": [args.hidden]}),
        (f"topk (k={max(1, args.code // 4)})", "topk", {"hidden": [args.hidden]}),
        ("contractive (lam=0.1)", "contractive", {}),
        ("denoising (masking nu=0.25)", "denoising", {"hidden": [args.hidden]}),
        ("deep (64-32-16-8)", "deep", {}),
    ]
    for label, kind, extra in rows:
        torch.manual_seed(args.seed)
        model = aekit.AutoEncoder.build(kind, input_dim=64, code_dim=args.code, **extra)
        if kind == "deep":
            label = f"deep ({'-'.join(map(str, [64, *model.config.hidden, args.code]))})"
        result = aekit.fit(
            model, X, epochs=args.epochs, seed=args.seed, progress=False, val_fraction=0
        )
        m = aekit.evaluate(model, X_test)
        other = ""
        if "mean_activation" in m:
            other = f"mean act {m['mean_activation']:.3f} L0 {m['l0']:.1f}"
        if "jacobian_frobenius" in m:
            other = f"mean ||J||_F {m['jacobian_frobenius']:.3f}"
        if "psnr_denoised" in m:
            other = f"PSNR {m['psnr_corrupted']:.1f} -> {m['psnr_denoised']:.1f} dB"
        print(
            f"{label:<34} {m['squared_error']:>12.3f} {other:>28} {args.epochs:>6} {result.seconds:>8.2f}"
        )
    print(
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads; seed {args.seed}; "
        f"defaults: Adam lr 3e-3, batch 64; numpy {np.__version__})"
    )


if __name__ == "__main__":
    main()
