"""Training throughput of two versions of aekit, side by side in one process.

    git worktree add /tmp/base <commit>
    python benchmarks/ab_throughput.py --base /tmp/base/src --data-dir ../shared/data/mnist

For a change to the training path: measures ``aekit.fit`` samples/s of this checkout and of
another (``--base``; its package is imported under the name ``aekit_base``), alternating
A, B, A, B... in short rounds in the same process (the machine's speed drifts within
seconds, and separate processes add their own noise), on the small digits model and the
deep MNIST model. Prints each side's median and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import aekit

ROOT = Path(__file__).resolve().parents[1]


def import_base(src: str) -> Any:
    """The other checkout's aekit, as the package ``aekit_base`` (its imports are relative)."""
    folder = Path(tempfile.mkdtemp())
    shutil.copytree(Path(src) / "aekit", folder / "aekit_base")
    sys.path.insert(0, str(folder))
    return importlib.import_module("aekit_base")


def case_data(case: str, data_dir: str) -> tuple[torch.Tensor, dict[str, Any], int]:
    if case == "digits":
        return aekit.load_digits().train, dict(input_dim=64, hidden=[32], code_dim=8), 64
    deep = dict(
        input_dim=784,
        hidden=[1000, 500, 250],
        code_dim=30,
        activation="elu",
        output_activation="sigmoid",
        loss="bce",
    )
    return aekit.load_mnist(data_dir).train[:6144], deep, 256


# The same work on both sides: defaults may differ between versions (the schedule did).
same = {"schedule": "constant"}


def runner(lib: Any, x: torch.Tensor, settings: dict[str, Any], batch: int) -> Any:
    torch.manual_seed(0)
    model = lib.AutoEncoder.from_config(lib.ModelConfig(**settings))

    def run(epochs: int) -> float:
        start = time.perf_counter()
        lib.fit(model, x, epochs=epochs, batch_size=batch, val_fraction=0, progress=False, **same)
        return epochs * len(x) / (time.perf_counter() - start)

    run(1)  # warm-up
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the src folder of the other checkout")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--cases", default="digits,mnist")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--seconds", type=float, default=1.0, help="length of one side of a round")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    base = import_base(args.base)
    print(f"head {Path(aekit.__file__).parent}\nbase {args.base}")
    print(f"{'case':<8} {'head samples/s':>15} {'base samples/s':>15} {'head/base':>10}  rounds")
    for case in args.cases.split(","):
        x, settings, batch = case_data(case, args.data_dir)
        sides = {
            "head": runner(aekit, x, settings, batch),
            "base": runner(base, x, settings, batch),
        }
        epochs = max(1, round(args.seconds * sides["head"](1) / len(x)))
        rates: dict[str, list[float]] = {"head": [], "base": []}
        for r in range(args.rounds):
            # Alternate which side goes first, so a drift does not favour one side.
            for name in ("head", "base") if r % 2 == 0 else ("base", "head"):
                rates[name].append(sides[name](epochs))
        ratios = [h / b for h, b in zip(rates["head"], rates["base"], strict=True)]
        print(
            f"{case:<8} {statistics.median(rates['head']):>15,.0f} "
            f"{statistics.median(rates['base']):>15,.0f} {statistics.median(ratios):>10.3f}  "
            + " ".join(f"{r:.2f}" for r in ratios)
        )


if __name__ == "__main__":
    main()
