"""Training throughput of two versions of aekit, side by side in one run.

    git worktree add /tmp/base <commit>
    python benchmarks/ab_throughput.py --base /tmp/base/src --data-dir ../shared/data/mnist

For a change to the training path: measures ``aekit.fit`` samples/s of this checkout
(``src``) and of another (``--base``), each in a fresh subprocess, alternating A, B, A,
B... for ``--rounds`` rounds (the machine's speed drifts), on the small digits model and
the deep MNIST model. Prints each side's median and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the subprocess: train for about SECONDS after a warm-up, print samples/s.
PROBE = r"""
import json, sys, time, torch, numpy as np
import aekit
torch.set_num_threads({threads})
case, seconds = {case!r}, {seconds}
if case == "digits":
    x = aekit.load_digits().train
    settings = dict(input_dim=64, hidden=[32], code_dim=8)
    batch = 64
else:
    x = aekit.load_mnist({data_dir!r}).train[:20000]
    settings = dict(input_dim=784, hidden=[1000, 500, 250], code_dim=30, activation="elu",
                    output_activation="sigmoid", loss="bce")
    batch = 256
torch.manual_seed(0)
model = aekit.AutoEncoder.from_config(aekit.ModelConfig(**settings))
def fit(epochs):
    start = time.perf_counter()
    aekit.fit(model, x, epochs=epochs, batch_size=batch, val_fraction=0, progress=False)
    return time.perf_counter() - start
first = fit(1)
epochs = max(1, round(seconds / first))
print(json.dumps(epochs * len(x) / fit(epochs)))
"""


def measure(src: str, case: str, args: argparse.Namespace) -> float:
    code = PROBE.format(
        threads=args.threads, case=case, seconds=args.seconds, data_dir=args.data_dir
    )
    env = {**os.environ, "PYTHONPATH": src, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the src folder of the other checkout")
    p.add_argument("--head", default=str(ROOT / "src"), help="this checkout's src folder")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--cases", default="digits,mnist")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    print(f"head {args.head}\nbase {args.base}")
    print(f"{'case':<8} {'head samples/s':>15} {'base samples/s':>15} {'head/base':>10}  rounds")
    for case in args.cases.split(","):
        heads, bases, ratios = [], [], []
        for r in range(args.rounds):
            # Alternate which side goes first, so a drift does not favour one side.
            order = [("head", args.head), ("base", args.base)]
            if r % 2:
                order.reverse()
            got = {name: measure(src, case, args) for name, src in order}
            heads.append(got["head"])
            bases.append(got["base"])
            ratios.append(got["head"] / got["base"])
        print(
            f"{case:<8} {statistics.median(heads):>15,.0f} {statistics.median(bases):>15,.0f} "
            f"{statistics.median(ratios):>10.3f}  " + " ".join(f"{r:.3f}" for r in ratios)
        )


if __name__ == "__main__":
    main()
