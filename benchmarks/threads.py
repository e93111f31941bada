"""Small models on one CPU thread or on all of them, alone and two runs side by side;
models of several sizes alone and beside busy processes.

    python benchmarks/threads.py
    python benchmarks/threads.py --busy [--src /tmp/base/src] [--rounds 3]

aekit trains a small fully connected model (under ``aekit.training.speed.ONE_THREAD_FLOPS`` of
arithmetic a step) on one intra-op thread. This measures what that gives: each kind's bare
default on the digits, 20 epochs, trained by a fresh process with the rule on and with it
off (the threshold set to 0: PyTorch's default of one thread per core), first one process
alone, then two at once (a sweep started with ``&`` on a two-core machine). Each case runs
``--rounds`` times, the on and off processes alternating; the medians are printed.

``--busy``: each of ``--models`` (``WIDTHS:BATCH:SAMPLES:EPOCHS`` on uniform random data,
or ``digits``: the bare default 64-16-8 on the digits, batch 32, 20 epochs) trained by a
fresh process with 1 thread, with 2 threads (both forced: aekit's rule bypassed) and with
aekit's own choice (``rule``: the checkout's, or the aekit under ``--src``; ``rule:SRC``:
the aekit under SRC, e.g. an older commit's ``git archive``), first alone,
then beside ``--loops`` busy processes (``python -c "while True: pass"``, started just
before and killed just after; each ends by itself after ``--limit`` + 30 s). Medians of ``--rounds``, the
modes alternating; the 1-minute load average before each case, and the thread count the
run trained with, are printed beside the times. The machine may not be idle: the load
average says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

CHILD = """
import sys, time
import aekit, aekit.training.speed
if sys.argv[2] == "off":
    aekit.training.speed.ONE_THREAD_FLOPS = 0
data = aekit.load_digits()
model = aekit.AutoEncoder.build(sys.argv[1], input_dim=64)
started = time.perf_counter()
aekit.fit(model, data.train, epochs=20, progress=False)
print(time.perf_counter() - started)
"""


BUSY_CHILD = """
import contextlib, json, sys, time
import numpy as np, torch
import aekit, aekit.training.trainer
spec, mode = sys.argv[1], sys.argv[2]
if not mode.startswith("rule"):
    torch.set_num_threads(int(mode))
    aekit.training.trainer.cpu_threads_for = lambda *args, **kwargs: contextlib.nullcontext()
if spec == "digits":
    X = aekit.load_digits().train.numpy()
    model = aekit.AutoEncoder.build(input_dim=64)
    batch, epochs = 32, 20
else:
    widths, batch, samples, epochs = spec.split(":")
    sizes = [int(w) for w in widths.split("-")]
    batch, epochs = int(batch), int(epochs)
    X = np.random.default_rng(0).random((int(samples), sizes[0]), dtype=np.float32)
    model = aekit.AutoEncoder.build(input_dim=sizes[0], hidden=sizes[1:-1], code_dim=sizes[-1])
seen = []
started = time.perf_counter()
aekit.fit(model, X, epochs=epochs, batch_size=batch, progress=False,
          callbacks=[lambda trainer, row: seen.append(torch.get_num_threads())])
print(json.dumps({"seconds": time.perf_counter() - started, "threads": seen[0]}))
"""

# A busy loop that ends by itself after argv[1] seconds, should it outlive the benchmark.
LOOP = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end: pass"


def busy_run(spec: str, mode: str, loops: int, src: str | None, limit: float) -> dict:
    """One training process of ``spec`` in ``mode``, beside ``loops`` busy processes."""
    env = dict(os.environ)
    src = mode.partition(":")[2] or src  # rule:SRC, the rule of the aekit in SRC
    if src:
        env["PYTHONPATH"] = src
    hogs = [subprocess.Popen([sys.executable, "-c", LOOP, str(limit + 30)]) for _ in range(loops)]
    try:
        out = subprocess.run(
            [sys.executable, "-c", BUSY_CHILD, spec, mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "threads": 0}
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.splitlines()[-1])


def busy(args: argparse.Namespace) -> None:
    import platform

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads by default, "
        f"cpu capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{len(os.sched_getaffinity(0))} cores, {platform.processor() or platform.machine()}; "
        f"aekit from {args.src or 'this checkout'}; {args.loops} busy loops; "
        f"medians of {args.rounds} rounds"
    )
    modes = args.modes.split(",")
    label = {m: "before" if m.startswith("rule:") else m for m in modes}
    for m in modes:
        if m.startswith("rule:"):
            print(f"before: the rule of the aekit in {m[5:]}")
    print(f"{'model':34}{'case':>6}{'load':>6}{'mode':>7}{'median s':>10}  runs (s)  threads")
    table = {}
    for spec in args.models.split(","):
        for loops in (0, args.loops):
            times: dict[str, list[float]] = {m: [] for m in modes}
            threads: dict[str, list[int]] = {m: [] for m in modes}
            load = os.getloadavg()[0]
            for _ in range(args.rounds):
                for mode in modes:
                    r = busy_run(spec, mode, loops, args.src, args.limit)
                    times[mode].append(r["seconds"])
                    threads[mode].append(r["threads"])
            case = "busy" if loops else "alone"
            for mode in modes:
                table[spec, loops, mode] = med = statistics.median(times[mode])
                runs = "/".join(f"{t:.1f}" for t in times[mode])
                used = "/".join(map(str, threads[mode]))
                print(
                    f"{spec:34}{case:>6}{load:6.2f}{label[mode]:>7}{med:10.2f}  {runs}  {used}",
                    flush=True,
                )
    print(f"busy / alone, by mode (median times; alone: no loops of ours, {args.loops} in busy):")
    for spec in args.models.split(","):
        ratios = "  ".join(
            f"{label[m]} {table[spec, args.loops, m] / table[spec, 0, m]:.2f}x" for m in modes
        )
        print(f"  {spec:32}{ratios}")


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
    p.add_argument("--busy", action="store_true", help="models of several sizes, busy loops")
    p.add_argument(
        "--models",
        default="625-40-20:16:160:30,784-1000-500-250-30:256:4096:2,digits",
        help="WIDTHS:BATCH:SAMPLES:EPOCHS or digits, comma-separated (--busy)",
    )
    p.add_argument("--loops", type=int, default=2, help="busy processes beside the run")
    p.add_argument(
        "--modes", default="1,2,rule", help="thread counts forced, rule, or rule:SRC (--busy)"
    )
    p.add_argument("--src", help="aekit's source folder for the rule (default: this one)")
    p.add_argument("--limit", type=float, default=240, help="seconds before a run is cut")
    args = p.parse_args()
    if args.busy:
        busy(args)
        return
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
