"""The throughput and compression figures on a GPU, in a few minutes, in one run.

    python benchmarks/gpu.py --data-dir ../shared/data/mnist            # on a GPU machine
    python benchmarks/gpu.py --device cpu --epochs 1 --seconds 0.5      # a dry run

Prints the card first (every figure belongs to it). Then, on the deep MNIST model
(784-1000-500-250-30, ELU, cross-entropy, batch 256):

1. Throughput, alternating rounds of --seconds each: ``aekit.fit`` (the data resident on
   the device) against the loop the tutorials write (a DataLoader over CPU tensors, each
   batch copied to the device, default Adam), an expert loop (batches indexed from one
   device tensor, fused Adam), and aekit with bf16 autocast. Samples/s, median of the
   rounds, and the per-round ratios.
2. The shipped recipe (configs/mnist_deep.json, --epochs of it), trained four ways:
   float32 eager, bf16 autocast, torch.compile, both; training seconds (compile time
   included), the test error after each epoch (evaluated outside the timed part), and
   when it first reached 3.00.

``--json FILE`` keeps every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import aekit

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.00
BATCH = 256


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def card(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    return f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads"


def deep_model(seed: int = 0) -> aekit.AutoEncoder:
    """The deep kind's preset at 784 inputs, code 30: 784-1000-500-250-30, ELU, sigmoid
    output with cross-entropy (the recipe's model)."""
    return aekit.AutoEncoder.build("deep", input_dim=784, code_dim=30, seed=seed)


Runner = Callable[[float], float]


def aekit_runner(x: torch.Tensor, device: torch.device, precision: str = "fp32") -> Runner:
    model = deep_model()
    # Adam, as in the loops it is compared with (the deep kind's own training is Muon).
    settings = dict(
        batch_size=BATCH, val_fraction=0, progress=False, device=str(device), precision=precision,
        optimizer="adam",
    )  # fmt: skip

    def run(seconds: float) -> float:
        steps = max(20, int(seconds * run.rate / BATCH))  # type: ignore[attr-defined]
        n = min(len(x), steps * BATCH)
        fit = aekit.fit(model, x[:n], epochs=1, **settings)
        run.rate = n / fit.seconds  # type: ignore[attr-defined]
        return run.rate  # type: ignore[attr-defined]

    run.rate = 20_000.0  # type: ignore[attr-defined]
    run(0.2)  # warm-up
    return run


def loop_runner(x: torch.Tensor, device: torch.device, expert: bool) -> Runner:
    model = deep_model()
    net = nn.Sequential(model.encoder, model.decoder).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True if expert else None)
    if expert:
        resident = x.to(device)

        def batches() -> Any:
            for i in torch.randperm(len(resident), device=device).split(BATCH):
                yield resident[i]

    else:
        loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True)

        def batches() -> Any:
            for (xb,) in loader:
                yield xb.to(device)

    def run(seconds: float) -> float:
        n = 0
        sync(device)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for xb in batches():
                loss = F.binary_cross_entropy_with_logits(net(xb), xb, reduction="sum") / len(xb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n += len(xb)
                if n % (BATCH * 50) == 0 and time.perf_counter() - start > seconds:
                    break
        sync(device)
        return n / (time.perf_counter() - start)

    run(0.2)
    return run


def throughput(
    x: torch.Tensor, device: torch.device, rounds: int, seconds: float
) -> dict[str, Any]:
    runners = {
        "aekit": aekit_runner(x, device),
        "DataLoader loop": loop_runner(x, device, expert=False),
        "expert loop": loop_runner(x, device, expert=True),
        "aekit bf16": aekit_runner(x, device, "bf16"),
    }
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            rates[name].append(run(seconds))
    out: dict[str, Any] = {}
    print(f"\nthroughput, deep MNIST, batch {BATCH} ({rounds} rounds of {seconds:g} s)")
    for name, values in rates.items():
        ratios = [a / b for a, b in zip(rates["aekit"], values, strict=True)]
        out[name] = {"samples_per_s": values, "aekit_ratio": ratios}
        print(
            f"  {name:<16} {statistics.median(values):>12,.0f} samples/s   "
            f"aekit / this {statistics.median(ratios):.2f}x "
            f"({' '.join(f'{r:.2f}' for r in ratios)})"
        )
    return out


def recipe(
    data: aekit.Dataset, device: torch.device, epochs: int, **training: Any
) -> dict[str, Any]:
    cfg = aekit.RunConfig.from_file(ROOT / "configs" / "mnist_deep.json")
    settings = {**cfg.training.to_dict(), "epochs": epochs, "device": str(device), **training}
    settings["warmup_epochs"] = min(settings.get("warmup_epochs") or 0, epochs - 1)
    model = deep_model()
    curve: list[tuple[int, float, float]] = []
    test = data.test.to(device)

    def on_epoch(trainer: aekit.Trainer, row: dict[str, float]) -> None:
        error = aekit.evaluate(trainer.model, test)["squared_error"]
        curve.append((int(row["epoch"]), error, row["seconds"]))

    sync(device)
    fit = aekit.fit(model, data.train, progress=False, callbacks=[on_epoch], **settings)
    sync(device)
    reached = next(((e, s) for e, err, s in curve if err <= TARGET), None)
    return {"error": curve[-1][1], "seconds": fit.seconds, "reached": reached, "curve": curve}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the recipe runs")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument(
        "--skip", default="", help="comma-separated: throughput,fp32,bf16,compile,bf16+compile"
    )
    p.add_argument("--json")
    args = p.parse_args()
    device = torch.device(args.device)
    skip = set(filter(None, args.skip.split(",")))
    print(f"device: {card(device)}; torch {torch.__version__}; aekit {aekit.__version__}")
    data = aekit.load_mnist(args.data_dir, download=False)
    results: dict[str, Any] = {"card": card(device), "torch": torch.__version__}
    if "throughput" not in skip:
        results["throughput"] = throughput(data.train, device, args.rounds, args.seconds)
    print(f"\nthe recipe, {args.epochs} epochs (configs/mnist_deep.json)")
    for name, training in (
        ("fp32", {}),
        ("bf16", {"precision": "bf16"}),
        ("compile", {"compile": True}),
        ("bf16+compile", {"precision": "bf16", "compile": True}),
    ):
        if name in skip:
            continue
        row = recipe(data, device, args.epochs, **training)
        results[name] = row
        reached = (
            f"epoch {row['reached'][0]}, {row['reached'][1]:.1f} s" if row["reached"] else "no"
        )
        print(
            f"  {name:<13} test error {row['error']:.3f}  {row['seconds']:.1f} s  "
            f"<= {TARGET:.2f}: {reached}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
