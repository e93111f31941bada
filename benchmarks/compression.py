"""MNIST compression: Hinton & Salakhutdinov (Science 2006), reproduced.

Trains every row on the 60,000 MNIST training images and prints the average squared
reconstruction error per test image (sum over the 784 pixels in [0, 1], averaged over the
10,000 test images) with epochs and wall time. Reported in the paper: deep autoencoder
3.00, logistic PCA 8.01, PCA 13.87.

    python benchmarks/compression.py --data-dir ../shared/data/mnist
    python benchmarks/compression.py --rows pca,deep --code 8     # a smaller code

The deep recipe (ELU hidden units, linear code, sigmoid output with cross-entropy, Adam
lr 3e-3 with one warm-up epoch and a cosine decay over 30 epochs, batch 256) was chosen by
``benchmarks/mnist_recipes.py``; BENCHMARKS.md lists what was tried.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
from sklearn.decomposition import PCA

import aekit
from aekit.models.config import model_config
from aekit.runs.config import PretrainConfig

TARGET = 3.00
DEEP = dict(hidden=[1000, 500, 250], activation="elu", loss="bce")
FINE_TUNE = dict(lr=3e-3, warmup_epochs=1, schedule="cosine", batch_size=256)
ROWS = ["pca", "linear", "shallow", "deep", "greedy", "sdae"]


def train(
    data: aekit.Dataset,
    config: aekit.ModelConfig,
    epochs: int,
    settings: dict[str, Any],
    pretrain: PretrainConfig | None = None,
    shift: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Train one row; evaluate on the test set after every epoch (outside the timed part)."""
    train_x, test_x = data.train, data.test
    if shift is not None:  # the linear row works on centred data, as PCA does
        train_x, test_x = train_x - shift, test_x - shift
    training = aekit.TrainConfig(epochs=epochs, val_fraction=0, seed=0, **settings)
    start = time.perf_counter()
    pre_seconds = 0.0
    if pretrain is not None:
        model, _ = aekit.pretrain_greedy(
            config, train_x, pretrain, training.replace(schedule="constant"), progress=False
        )
        pre_seconds = time.perf_counter() - start
    else:
        torch.manual_seed(0)
        model = aekit.AutoEncoder.from_config(config)
    curve: list[tuple[int, float, float]] = []

    def on_epoch(trainer: aekit.Trainer, row: dict[str, float]) -> None:
        error = aekit.evaluate(trainer.model, test_x)["squared_error"]
        curve.append((int(row["epoch"]), error, pre_seconds + row["seconds"]))

    result = aekit.fit(model, train_x, progress=False, callbacks=[on_epoch], **training.to_dict())
    reached = next(((e, s) for e, err, s in curve if err <= TARGET), None)
    if pretrain is not None:
        n_layers = len(config.hidden) + 1
        epochs = f"{n_layers}x{pretrain.epochs}+{epochs}"  # type: ignore[assignment]
    return dict(
        error=curve[-1][1],
        epochs=epochs,
        seconds=pre_seconds + result.seconds,
        pretrain_seconds=pre_seconds,
        reached=reached,
        curve=curve,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--code", type=int, default=30)
    p.add_argument(
        "--rows", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}"
    )
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs of the deep rows")
    p.add_argument("--pretrain-epochs", type=int, default=2, help="epochs per pretrained layer")
    p.add_argument(
        "--lr", type=float, default=FINE_TUNE["lr"], help="peak learning rate of the deep rows"
    )
    p.add_argument("--compile", action="store_true", help="train the deep rows with compile=True")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write every row (with its per-epoch curve) to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = aekit.load_mnist(args.data_dir, download=False)
    code = args.code
    fine_tune = {**FINE_TUNE, "lr": args.lr, "compile": args.compile}
    deep = model_config("deep", input_dim=784, code_dim=code, **DEEP)
    arch = "-".join(map(str, [784, *deep.hidden, code]))
    print(
        f"MNIST: 60,000 train / 10,000 test images; code size {code}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"{'row':<48} {'test sq. err':>12} {'epochs':>7} {'seconds':>8} {'<=3.00 at (epoch, s)':>21}"
    )
    results = {}
    for row in args.rows.split(","):
        if row == "pca":
            start = time.perf_counter()
            pca = PCA(code, random_state=0).fit(data.train.numpy())
            x = data.test.numpy()
            error = float(((pca.inverse_transform(pca.transform(x)) - x) ** 2).sum(1).mean())
            res = dict(error=error, epochs=None, seconds=time.perf_counter() - start, reached=None)
            label = f"PCA ({code} components)"
        elif row == "linear":
            cfg = model_config("linear", input_dim=784, code_dim=code)
            shift = data.train.mean(0)
            res = train(
                data, cfg, 10, dict(lr=1e-2, schedule="cosine", batch_size=256), shift=shift
            )
            label = f"linear autoencoder 784-{code}-784 (centred)"
        elif row == "shallow":
            cfg = model_config(input_dim=784, code_dim=code, loss="bce")
            res = train(data, cfg, args.epochs, fine_tune)
            label = f"shallow autoencoder 784-{code}-784"
        elif row == "deep":
            res = train(data, deep, args.epochs, fine_tune)
            label = f"deep {arch}, end to end"
        elif row in ("greedy", "sdae"):
            corruption = aekit.Masking(nu=0.2) if row == "sdae" else None
            pre = PretrainConfig(epochs=args.pretrain_epochs, corruption=corruption)
            res = train(data, deep, args.epochs, fine_tune, pretrain=pre)
            kind = "stacked denoising (masking 0.2)" if row == "sdae" else "greedy"
            label = f"deep, {kind} pretraining + fine-tuning"
        else:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
        results[row] = {"label": label, **res}
        epochs = "" if res["epochs"] is None else str(res["epochs"])
        reached = (
            "" if res["reached"] is None else f"({res['reached'][0]}, {res['reached'][1]:.0f})"
        )
        print(
            f"{label:<48} {res['error']:>12.3f} {epochs:>7} {res['seconds']:>8.1f} {reached:>21}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
