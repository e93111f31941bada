"""Recipe search for the deep MNIST autoencoder 784-1000-500-250-30.

Trains each named recipe for a fixed number of epochs (cosine schedule over them),
measures the test squared error per image after every epoch, and prints when each recipe
first reached the target (3.00, Hinton & Salakhutdinov 2006). Recipes run in parallel
worker processes (useful on a GPU; keep --workers 1 on a 2-core CPU).

    python benchmarks/mnist_recipes.py --data-dir ../shared/data/mnist --epochs 60 \\
        --recipes relu-bce,elu-bce --workers 1 --log recipes.jsonl
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import torch

import aekit
from aekit.models.config import model_config
from aekit.runs.config import PretrainConfig

ARCH = dict(input_dim=784, hidden=[1000, 500, 250], code_dim=30)
TARGET = 3.00


def recipe(
    activation: str = "relu",
    loss: str = "bce",
    lr: float = 1e-3,
    batch: int = 256,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    warmup: int = 0,
    schedule: str = "cosine",
    pretrain: dict[str, Any] | None = None,
    muon_lr: float = 0.02,
    precision: str = "fp32",
    ema: float | None = None,
    val: float = 0.0,
) -> dict[str, Any]:
    return dict(
        model=dict(activation=activation, loss=loss),
        train=dict(
            lr=lr,
            muon_lr=muon_lr,
            precision=precision,
            batch_size=batch,
            optimizer=optimizer,
            weight_decay=weight_decay,
            warmup_epochs=warmup,
            schedule=schedule,
            ema=ema,
            val_fraction=val,
        ),
        pretrain=pretrain,
    )


def muon_bf16(
    batch: int = 256, lr: float = 3e-3, muon_lr: float = 0.02, **extra: Any
) -> dict[str, Any]:
    """The Muon recipes: ELU, one warm-up epoch, bfloat16 autocast."""
    return recipe(
        "elu", optimizer="muon", batch=batch, lr=lr, muon_lr=muon_lr, warmup=1,
        precision="bf16", **extra,
    )  # fmt: skip


def bare(ns_steps: int | None = None, **train: Any) -> dict[str, Any]:
    """The deep kind as a new user trains it, with only ``train`` set (and Muon's number
    of Newton-Schulz iterations, ``ns_steps``)."""
    extra = {} if ns_steps is None else {"ns_steps": ns_steps}
    return dict(model={}, train=train, pretrain=None, **extra)


RECIPES: dict[str, dict[str, Any]] = {
    "relu-bce": recipe(),
    "relu-mse": recipe(loss="mse"),
    "elu-bce": recipe("elu"),
    "silu-bce": recipe("silu"),
    "gelu-bce": recipe("gelu"),
    "tanh-bce": recipe("tanh"),
    "sigmoid-bce": recipe("sigmoid"),
    "relu-bce-lr3e-3": recipe(lr=3e-3, warmup=1),
    "elu-bce-lr3e-3": recipe("elu", lr=3e-3, warmup=1),
    "relu-bce-lr5e-4": recipe(lr=5e-4),
    "relu-bce-bs128": recipe(batch=128),
    "relu-bce-bs512-lr2e-3": recipe(batch=512, lr=2e-3, warmup=1),
    "elu-bce-bs128": recipe("elu", batch=128),
    "relu-bce-const": recipe(schedule="constant"),
    "relu-bce-greedy": recipe(pretrain=dict(epochs=2)),
    "sigmoid-bce-greedy": recipe("sigmoid", pretrain=dict(epochs=2)),
    "sigmoid-bce-greedy-lr3e-3": recipe("sigmoid", lr=3e-3, pretrain=dict(epochs=2)),
    "relu-bce-sdae": recipe(pretrain=dict(epochs=2, corruption={"name": "masking", "nu": 0.2})),
    "sigmoid-bce-sdae": recipe(
        "sigmoid", pretrain=dict(epochs=2, corruption={"name": "masking", "nu": 0.2})
    ),
    "elu-bce-greedy": recipe("elu", pretrain=dict(epochs=2)),
    "elu-bce-sdae": recipe(
        "elu", pretrain=dict(epochs=2, corruption={"name": "masking", "nu": 0.2})
    ),
    "elu-mse": recipe("elu", loss="mse"),
    "elu-bce-lr2e-3": recipe("elu", lr=2e-3, warmup=1),
    "elu-bce-lr5e-3": recipe("elu", lr=5e-3, warmup=1),
    "elu-bce-bs512-lr3e-3": recipe("elu", batch=512, lr=3e-3, warmup=1),
    # Muon on the hidden matrices (Adam on the input and output layers and biases).
    "elu-bce-muon": recipe("elu", optimizer="muon", lr=3e-3, warmup=1),
    "elu-bce-muon-bs512": recipe(
        "elu", optimizer="muon", batch=512, lr=5e-3, muon_lr=0.03, warmup=1
    ),
    "elu-bce-muon-bs1024": recipe(
        "elu", optimizer="muon", batch=1024, lr=1e-2, muon_lr=0.03, warmup=1
    ),
    "elu-bce-lr3e-3-bf16": recipe("elu", lr=3e-3, warmup=1, precision="bf16"),
    "elu-bce-muon-bf16": muon_bf16(),
    "elu-bce-muon-bs512-bf16": muon_bf16(512, 5e-3, 0.03),
    "elu-bce-muon-bs1024-bf16": muon_bf16(1024, 1e-2, 0.03),
    # Decoupled weight decay (Muon's matrices and the AdamW rest) and a moving average of
    # the weights (ema); "-val" keeps the best validation epoch (2,000 images held out).
    "elu-bce-muon-bf16-ema": muon_bf16(ema=0.998),
    "elu-bce-muon-bf16-wd": muon_bf16(weight_decay=0.1),
    "elu-bce-muon-bf16-wd-ema": muon_bf16(weight_decay=0.1, ema=0.998),
    "elu-bce-muon-bf16-wd-ema-val": muon_bf16(weight_decay=0.1, ema=0.998, val=2000 / 60000),
    "elu-bce-muon-bs512-bf16-wd-ema": muon_bf16(512, 5e-3, 0.03, weight_decay=0.1, ema=0.99),
    "elu-bce-muon-bs1024-bf16-wd-ema": muon_bf16(1024, 1e-2, 0.03, weight_decay=0.1, ema=0.98),
    "elu-bce-muon-bs1024-bf16-wd-ema-mlr5e-2": muon_bf16(
        1024, 1e-2, 0.05, weight_decay=0.1, ema=0.98
    ),
    # The default deep kind's training (Adam, 2,000 images held out) with a moving average.
    "elu-bce-lr3e-3-ema": recipe("elu", lr=3e-3, warmup=1, ema=0.998, val=2000 / 60000),
    # The deep kind as a new user trains it: every training setting left to aekit (the
    # kind's Muon, decay, average and budget; the data's batch, warm-up and validation).
    "default": bare(),
    "default-bf16": bare(precision="bf16"),
    # Fewer Newton-Schulz iterations in Muon (torch's default, 5, is what aekit runs).
    "default-ns4": bare(ns_steps=4),
    "default-ns3": bare(ns_steps=3),
    "default-bs512": bare(batch_size=512, lr=5e-3, muon_lr=0.03),
    "default-bs512-bf16": bare(batch_size=512, lr=5e-3, muon_lr=0.03, precision="bf16"),
}


def run(name: str, data_dir: str, epochs: int, device: str, threads: int | None) -> dict[str, Any]:
    """Train recipe ``name`` ("relu-bce", or "relu-bce@40" for 40 epochs)."""
    key, _, override = name.partition("@")
    r = RECIPES[key]
    if override:
        epochs = int(override)
    elif key.startswith("default"):
        epochs = None  # a default recipe: the number of epochs is aekit's choice too
    if threads:
        torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 as on the CPU
    torch.backends.cudnn.allow_tf32 = False
    if "ns_steps" in r:  # this recipe's process only (one process per recipe)
        torch.optim.Muon = functools.partial(torch.optim.Muon, ns_steps=r["ns_steps"])
    data = aekit.load_mnist(data_dir, download=False)
    train_cfg = aekit.TrainConfig(epochs=epochs, device=device, seed=0, **r["train"])
    cfg = model_config("deep", **ARCH, **r["model"])
    t0 = time.perf_counter()
    pre_seconds = 0.0
    if r["pretrain"]:
        pre = PretrainConfig.from_dict(r["pretrain"])
        model, _ = aekit.pretrain_greedy(
            cfg, data.train, pre, train_cfg.replace(schedule="constant"), progress=False
        )
        pre_seconds = time.perf_counter() - t0
    else:
        torch.manual_seed(0)
        model = aekit.AutoEncoder.from_config(cfg)
    curve: list[tuple[int, float, float]] = []
    reached: list[Any] = [None]

    def on_epoch(trainer: aekit.Trainer, row: dict[str, float]) -> None:
        err = aekit.evaluate(trainer.model, data.test)["squared_error"]
        seconds = pre_seconds + row["seconds"]
        curve.append((int(row["epoch"]), round(err, 4), round(seconds, 2)))
        if reached[0] is None and err <= TARGET:
            reached[0] = (int(row["epoch"]), round(seconds, 1))

    result = aekit.fit(
        model, data.train, progress=False, callbacks=[on_epoch], **train_cfg.to_dict()
    )
    best = min(c[1] for c in curve)
    # The model as training hands it back: with validation, the best validation epoch's.
    kept = aekit.evaluate(model, data.test)["squared_error"]
    return dict(
        name=name,
        recipe=r,
        final=round(kept, 4),
        last_epoch=curve[-1][1],
        kept_epoch=result.best_epoch or len(curve),
        best=best,
        reached=reached[0],
        pretrain_seconds=round(pre_seconds, 1),
        curve=curve,
        device=device,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.add_argument("--log", default=None, help="append one JSON line per recipe")
    p.add_argument(
        "--summarize", nargs="+", metavar="LOG", help="print the table of earlier logs and exit"
    )
    args = p.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    names = args.recipes.split(",")
    unknown = [n for n in names if n.partition("@")[0] not in RECIPES]
    if unknown:
        sys.exit(f"unknown recipes: {unknown}; known: {list(RECIPES)}")
    jobs = [(n, args.data_dir, args.epochs, args.device, args.threads) for n in names]
    print(f"{'recipe':<28} {'final':>7} {'best':>7} {'<=3.00 at (epoch, s)':>22}", flush=True)
    ctx = mp.get_context("spawn")
    # A fresh process per recipe: a recipe may patch torch (ns_steps), and that must not leak.
    with ctx.Pool(args.workers, maxtasksperchild=1) as pool:
        for res in pool.imap_unordered(_run_star, jobs):
            print(
                f"{res['name']:<28} {res['final']:>7.3f} {res['best']:>7.3f} {res['reached']!s:>22}",
                flush=True,
            )
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps(res) + "\n")


def summarize(logs: list[str]) -> None:
    rows = [json.loads(line) for log in logs for line in Path(log).read_text().splitlines()]
    print(
        f"{'recipe':<28} {'epochs':>6} {'test err':>8} {'<=3.00 at epoch':>15} {'pretrain s':>10}"
    )
    for r in sorted(rows, key=lambda r: r["final"]):
        reached = "" if r["reached"] is None else str(r["reached"][0])
        pre = f"{r['pretrain_seconds']:.0f}" if r["pretrain_seconds"] else ""
        print(f"{r['name']:<28} {len(r['curve']):>6} {r['final']:>8.3f} {reached:>15} {pre:>10}")


def _run_star(job: tuple[Any, ...]) -> dict[str, Any]:
    return run(*job)


if __name__ == "__main__":
    main()
