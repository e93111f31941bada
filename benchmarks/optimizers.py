"""Optimizers side by side on the small data sets: ``aekit.train`` with bare defaults
except the settings each variant names, over several seeds.

    python benchmarks/optimizers.py --data digits --seeds 3 \\
        --variants '{"deep-adam": {"model": {"kind": "deep"}},
                     "deep-muon-60": {"model": {"kind": "deep"},
                                      "training": {"optimizer": "muon", "epochs": 60}}}'

``--data tabular`` is the breast-cancer table of benchmarks/defaults.py. Prints, per
variant, the mean test squared error per sample, the mean wall time of a run, the epochs
and each seed's error.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from defaults import run_kind, tabular

# Adam as every kind trained before the deep kind chose Muon, weight decay and an average.
ADAM = {"optimizer": "adam", "weight_decay": 0.0, "ema": 0.0}
DEFAULT_VARIANTS = {
    "undercomplete-adam": {"model": {"kind": "undercomplete"}},
    "undercomplete-muon": {"model": {"kind": "undercomplete"}, "training": {"optimizer": "muon"}},
    "deep-adam": {"model": {"kind": "deep"}, "training": ADAM},
    "deep-muon": {"model": {"kind": "deep"}, "training": {**ADAM, "optimizer": "muon"}},
    "deep-adam-60": {"model": {"kind": "deep"}, "training": {**ADAM, "epochs": 60}},
    "deep-muon-60": {
        "model": {"kind": "deep"},
        "training": {**ADAM, "optimizer": "muon", "epochs": 60},
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", choices=["digits", "tabular"])
    p.add_argument("--variants", default=json.dumps(DEFAULT_VARIANTS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    data = tabular(tmp) if args.data == "tabular" else {"source": "digits"}
    print(f"data: {args.data}; seeds 0-{args.seeds - 1}; torch {torch.__version__}")
    print(f"{'variant':<22} {'mean err':>8} {'seconds':>8} {'epochs':>6}  per seed")
    for name, v in json.loads(args.variants).items():
        errors, seconds = [], []
        model = dict(v.get("model", {}))
        kind = model.pop("kind", "undercomplete")
        for seed in range(args.seeds):
            training = {**v.get("training", {}), "seed": seed}
            run, took = run_kind(kind, data, tmp / f"{name}-{seed}", model, training)
            seconds.append(took)
            errors.append(run.metrics["squared_error"])
        each = " ".join(f"{e:.3f}" for e in errors)
        print(
            f"{name:<22} {np.mean(errors):>8.3f} {np.mean(seconds):>8.1f} {run.epochs:>6}  {each}",
            flush=True,
        )


if __name__ == "__main__":
    main()
