"""Small models on one CPU thread or on all of them, alone and two runs side by side.

    python benchmarks/threads.py

aekit trains a small fully connected model (under ``aekit.trainer.ONE_THREAD_FLOPS`` of
arithmetic a step) on one intra-op thread. This measures what that gives: each kind's bare
default on the digits, 20 epochs, trained by a fresh process with the rule on and with it
off (the threshold set to 0: PyTorch's default of one thread per core), first one process
alone, then two at once (a sweep started with ``&`` on a two-core machine). Each case runs
``--rounds`` times, the on and off processes alternating; the medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

import torch

CHILD = """
import sys, time
import aekit, aekit.trainer
if sys.argv[2] == "off":
    aekit.trainer.ONE_THREAD_FLOPS = 0
data = aekit.load_digits()
model = aekit.AutoEncoder.build(sys.argv[1], input_dim=64)
started = time.perf_counter()
aekit.fit(model, data.train, epochs=20, progress=False)
print(time.perf_counter() - started)
"""


def run(kind: str, rule: str, copies: int) -> float:
    """Seconds of training of one process, ``copies`` of them started at once."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, rule], stdout=subprocess.PIPE, text=True
        )
        for _ in range(copies)
    ]
    times = [float(p.communicate()[0]) for p in procs]
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default="undercomplete,deep,sparse,contractive,denoising")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default")
    print(f"{'kind':15}{'processes':>10}{'one thread s':>14}{'all threads s':>15}{'ratio':>8}")
    for kind in args.kinds.split(","):
        for copies in (1, 2):
            on, off = [], []
            for _ in range(args.rounds):
                on.append(run(kind, "on", copies))
                off.append(run(kind, "off", copies))
            a, b = statistics.median(on), statistics.median(off)
            print(f"{kind:15}{copies:>10}{a:>14.2f}{b:>15.2f}{b / a:>7.2f}x")


if __name__ == "__main__":
    main()
