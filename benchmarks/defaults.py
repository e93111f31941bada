"""Every kind with bare defaults, as a new user runs it: ``aekit train --kind K`` and no
other flag, beside PCA at the same code size on the same data.

    python benchmarks/defaults.py --data digits
    python benchmarks/defaults.py --data mnist --data-dir ../shared/data/mnist --kinds deep
    python benchmarks/defaults.py --data tabular
    python benchmarks/defaults.py --data mnist --kinds vae   # the VAE beside the kinds above

``tabular`` is scikit-learn's breast-cancer table standardised (30 features, values
outside [0, 1]), split 80/20 with a fixed seed. For each kind: test squared error per
sample, explained variance, PCA at the model's code size and at the plain code size (8 on
digits, 30 on MNIST), training seconds, and the property the kind is for: the sparse
kinds' activation rate and dead units; the contractive kind's mean ||J_f||_F beside a
plain autoencoder of the same shape, trained with the same defaults; a linear probe's
accuracy on the codes where labels exist. The vae kind's test error is that of the
decoder's mean at the posterior mean against the data as it is (grey values, though it
trains on binary draws of them), and its property the bound: minus the importance-weighted
bound (IWAE, k = 100) and the negative ELBO, nats per example, of one seeded binary draw
of the test data, with the KL and the code units in use.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import aekit
from aekit.models.pca import pca_baseline

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["undercomplete", "deep", "denoising", "sparse", "sparse_l1", "topk", "contractive"]


def tabular(folder: Path) -> dict[str, Any]:
    """Breast cancer, standardised with the training split's statistics, as .npy files."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X = load_breast_cancer().data
    train, test = train_test_split(X, test_size=0.2, random_state=0)
    mean, std = train.mean(0), train.std(0)
    np.save(folder / "train.npy", ((train - mean) / std).astype(np.float32))
    np.save(folder / "test.npy", ((test - mean) / std).astype(np.float32))
    return {"source": str(folder / "train.npy"), "test": str(folder / "test.npy")}


def run_kind(
    kind: str,
    data: dict[str, Any],
    out: Path,
    model: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
):
    """``aekit.train`` of ``kind`` with the given settings over the defaults; (run, seconds)."""
    cfg = aekit.RunConfig.from_dict(
        {"model": {"kind": kind, **(model or {})}, "training": training or {}, "data": data}
    )
    start = time.perf_counter()
    run = aekit.train(cfg, out=out, progress=False)
    return run, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", choices=["digits", "mnist", "tabular"])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    data: dict[str, Any] = {"source": args.data}
    if args.data == "mnist":
        data["data_dir"] = args.data_dir
    if args.data == "tabular":
        data = tabular(tmp)
    rows = []
    header = (
        f"{'kind':<14} {'arch':<16} {'test err':>9} {'expl.var':>8} {'PCA same':>9} "
        f"{'PCA plain':>9} {'seconds':>8} {'epochs':>6}  property"
    )
    print(f"data: {args.data}\n{header}")
    for kind in args.kinds.split(","):
        run, seconds = run_kind(kind, data, tmp / kind)
        cfg = run.model.config
        held_out = run.data.test if run.data.test is not None else run.data.train
        plain_code = 8 if cfg.input_dim <= 100 else 30
        pca_plain = pca_baseline(run.data.train, held_out, plain_code)
        m = run.metrics
        prop = []
        if "mean_activation" in m:
            prop.append(
                f"mean act {m['mean_activation']:.3f}, l0 {m['l0']:.1f}/{cfg.code_dim}, "
                f"dead {m['dead_units']}"
            )
        if "jacobian_frobenius" in m:
            plain_model = {
                "code_dim": cfg.code_dim,
                "hidden": cfg.hidden,
                "code_activation": cfg.code_activation,
            }
            plain, _ = run_kind("undercomplete", data, tmp / "plain", plain_model)
            plain_jac = aekit.evaluate(plain.model, held_out.numpy(), jacobian=True)
            prop.append(
                f"||J|| {m['jacobian_frobenius']:.3f} vs plain AE "
                f"{plain_jac['jacobian_frobenius']:.3f} (its error {plain.metrics['squared_error']:.3f})"
            )
        if "psnr_denoised" in m:
            prop.append(f"PSNR {m['psnr_corrupted']:.1f} -> {m['psnr_denoised']:.1f} dB")
        if "iwae_nll" in m:
            prop.append(
                f"NLL bound {m['iwae_nll']:.2f} nats (IWAE k={m['iwae_k']}), -ELBO "
                f"{-m['elbo']:.2f} (KL {m['kl']:.2f}), {m['active_units']}/{cfg.code_dim} units active"
            )
        if "probe_accuracy" in m:
            prop.append(f"probe {m['probe_accuracy']:.3f}")
        row = {
            "kind": kind,
            "arch": cfg.arch,
            "squared_error": m["squared_error"],
            "explained_variance": m["explained_variance"],
            "pca_same_code": m.get("pca_squared_error"),
            "pca_plain_code": pca_plain,
            "seconds": seconds,
            "epochs": run.epochs,
            "property": "; ".join(prop),
        }
        if "iwae_nll" in m:
            row.update({k: m[k] for k in ("iwae_nll", "iwae_k", "elbo", "kl", "active_units")})
        rows.append(row)
        print(
            f"{kind:<14} {cfg.arch:<16} {m['squared_error']:>9.3f} "
            f"{m['explained_variance']:>8.3f} {m.get('pca_squared_error', float('nan')):>9.3f} "
            f"{pca_plain or float('nan'):>9.3f} {seconds:>8.1f} {run.epochs:>6}  {row['property']}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
