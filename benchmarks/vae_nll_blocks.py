"""The test NLL of a trained VAE run by the importance-weighted bound, all 10,000 MNIST test
images a block of 1,000 at a time, each block's draws of z seeded by its first row's
number; the test images binarised once, all together, exactly as ``vae_mnist.py`` binarises
them (block 0 gives the figure ``vae_mnist.py`` gives for its first 1,000 images).

    AEKIT_DATA=/path/to/mnist python benchmarks/vae_nll_blocks.py RUN --k 5000 --name NAME

Written when ``vae_mnist.py --judge-only`` on the 2,000-epoch run was killed twice by the
kernel's out-of-memory killer at about 24 GB (not explained; this loop stays at 0.5 GB).
Prints each block as it ends and writes ``benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import aekit
from aekit.evaluation.likelihood import judged_data, log_likelihood

RESULTS = Path(__file__).parent / "results"
BLOCK = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    model = aekit.load(args.run)
    test = judged_data(model, aekit.load_mnist(os.environ.get("AEKIT_DATA")).test)
    sums, start, rows = [], time.perf_counter(), []
    for first in range(0, len(test), BLOCK):
        sums.append(
            float(log_likelihood(model, test[first : first + BLOCK], args.k, seed=first).sum())
        )
        row = {
            "rows": first + BLOCK,
            "nll_so_far": -sum(sums) / (first + BLOCK),
            "block_nll": -sums[-1] / BLOCK,
            "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            "seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    figures = {"run": args.run, "k": args.k, f"test_iwae_{args.k}": -sum(sums) / len(test)}
    figures["blocks"] = rows
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
