"""What checkpointing costs a default run: training time into a run folder with a
checkpoint every epoch (the old default), with the default time cadence (at most every
``checkpoint_seconds``, and at the end), and with the end checkpoint only.

    python benchmarks/checkpoint_overhead.py --data-dir ../shared/data/mnist

Each setting trains the same model from the same seed; the settings alternate over
``--rounds`` rounds (the machine's speed drifts). The table gives the median training
seconds, the seconds spent writing checkpoints (timed around each write, so the share does
not depend on the machine's drift between runs) and their share of the training time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import aekit
from aekit.runs.folder import RunFolder

WRITING = [0.0]  # seconds spent in RunFolder.save (checkpoint + metrics.csv)
_save = RunFolder.save


def _timed_save(self: RunFolder, state: dict[str, Any], history: list[dict[str, float]]) -> None:
    start = time.perf_counter()
    _save(self, state, history)
    WRITING[0] += time.perf_counter() - start


RunFolder.save = _timed_save  # type: ignore[method-assign]

ROOT = Path(__file__).resolve().parents[1]
CADENCES: dict[str, dict[str, Any]] = {
    "every epoch (old default)": {"checkpoint_every": 1, "checkpoint_seconds": None},
    "default (time cadence)": {},
    "end only": {"checkpoint_every": None, "checkpoint_seconds": None},
}


def cases(data_dir: str) -> list[tuple[str, dict[str, Any]]]:
    digits = {"training": {}}  # the bare default: undercomplete 64-8, default epochs
    mnist = aekit.RunConfig.from_file(ROOT / "configs" / "mnist_deep.json").to_dict()
    mnist["data"] = {"source": "mnist", "data_dir": data_dir, "limit": 10000}
    mnist["training"]["epochs"] = 5
    return [("digits, default run", digits), ("MNIST deep, 10k images, 5 epochs", mnist)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'run':<34} {'checkpoints':<26} {'train s':>8} {'writing s':>9} {'share':>7}")
    for name, settings in cases(args.data_dir):
        seconds: dict[str, list[float]] = {c: [] for c in CADENCES}
        writing: dict[str, list[float]] = {c: [] for c in CADENCES}
        for r in range(args.rounds):
            order = list(CADENCES) if r % 2 == 0 else list(CADENCES)[::-1]
            for cadence in order:
                cfg = aekit.RunConfig.from_dict(settings)
                cfg = cfg.replace(training=cfg.training.replace(**CADENCES[cadence]))
                WRITING[0] = 0.0
                with tempfile.TemporaryDirectory() as tmp:
                    run = aekit.train(cfg, out=Path(tmp) / "run", progress=False)
                seconds[cadence].append(run.fit.seconds)
                writing[cadence].append(WRITING[0])
        for cadence, values in seconds.items():
            t, w = statistics.median(values), statistics.median(writing[cadence])
            print(f"{name:<34} {cadence:<26} {t:>8.2f} {w:>9.2f} {w / t:>7.1%}")


if __name__ == "__main__":
    main()
