"""Resident memory of `aekit train` on MNIST, phase by phase: the process's resident set
sampled every 0.2 s, and the highest value reached by the end of each phase of the run
(loading, training, evaluation, the PCA baseline, the linear probe, the figures).

    python benchmarks/memory.py --data-dir ../shared/data/mnist [--epochs 1] [--kind deep]

To measure another checkout, put its src first: PYTHONPATH=/tmp/base/src python ...
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from typing import Any

import aekit
import aekit.runs.inputs
import aekit.runs.result
import aekit.runs.run
from aekit.cli import main as cli

# Each phase of `aekit train`, by the run-layer module that calls it.
PHASES = (
    (aekit.runs.inputs, "load_dataset"),
    (aekit.runs.run, "train_in_folder"),
    (aekit.runs.result, "evaluate_model"),
    (aekit.runs.result, "pca_baseline"),
    (aekit.runs.result, "linear_probe"),
    (aekit.runs.result, "run_figures"),
)


def resident_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--kind", default="deep")
    args = p.parse_args()
    peak = [resident_mb()]
    print(f"aekit from {aekit.__file__}; after imports: {peak[0]} MB")

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], resident_mb())
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    ends: list[tuple[str, float, int]] = []
    start = time.perf_counter()

    def timed(name: str, function: Any) -> Any:
        def run(*a: Any, **k: Any) -> Any:
            out = function(*a, **k)
            peak[0] = max(peak[0], resident_mb())
            ends.append((name, time.perf_counter() - start, peak[0]))
            return out

        return run

    for module, name in PHASES:
        setattr(module, name, timed(name, getattr(module, name)))
    with tempfile.TemporaryDirectory() as out:
        flags = ["train", "--kind", args.kind, "--data", "mnist", "--data-dir", args.data_dir]
        flags += ["--epochs", str(args.epochs), "--no-progress", "--out", f"{out}/run"]
        with contextlib.suppress(SystemExit):  # the CLI's exit status: the run is done
            cli(flags)
    print(f"\n{'phase (first end)':<20} {'s':>7} {'peak so far, MB':>16}")
    seen = set()
    for name, seconds, mb in ends:
        if name not in seen:
            seen.add(name)
            print(f"{name:<20} {seconds:>7.1f} {mb:>16,}")
    print(
        f"{'whole run':<20} {time.perf_counter() - start:>7.1f} {max(peak[0], resident_mb()):>16,}"
    )


if __name__ == "__main__":
    main()
