"""What ``--compile`` costs and gives a real run, compile time included, and whether a
second run reuses the first one's compiled code (PyTorch's on-disk Inductor cache).

    python benchmarks/compile_cache.py --data-dir ../shared/data/mnist

Three runs of ``aekit train --config configs/mnist_deep.json --epochs N``, each a fresh
process, one after the other: eager; compiled with an empty cache
(TORCHINDUCTOR_CACHE_DIR set to a new folder); compiled again with that same folder.
Printed per run: the whole process's wall time, the training seconds, the first epoch
(which holds the compilation) and the median of the other epochs, and the test error.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(name: str, flags: list[str], env: dict[str, str], out: Path) -> dict[str, float | str]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "aekit", "train", *flags, "--out", str(out / name)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    rows = list(csv.DictReader((out / name / "metrics.csv").read_text().splitlines()))
    ends = [float(r["seconds"]) for r in rows]
    epochs = [b - a for a, b in zip([0.0, *ends], ends, strict=False)]
    metrics = json.loads((out / name / "metrics.json").read_text())
    return {
        "run": name,
        "wall": wall,
        "training": ends[-1],
        "first epoch": epochs[0],
        "later epochs (median)": statistics.median(epochs[1:]) if len(epochs) > 1 else 0.0,
        "test error": metrics["squared_error"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    flags = [
        "--config", str(ROOT / "configs" / "mnist_deep.json"), "--data-dir", args.data_dir,
        "--epochs", str(args.epochs), "--no-report", "--no-progress",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(out / "inductor-cache")}
        results = [
            run("eager", flags, env, out),
            run("compiled, empty cache", [*flags, "--compile"], env, out),
            run("compiled, cache of the run before", [*flags, "--compile"], env, out),
        ]
    import torch

    print(f"torch {torch.__version__}; {args.epochs} epochs of configs/mnist_deep.json")
    keys = list(results[0])
    print(" | ".join(keys))
    for r in results:
        print(" | ".join(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys))


if __name__ == "__main__":
    main()
