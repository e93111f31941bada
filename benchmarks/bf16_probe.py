"""What aekit's bfloat16 probe measures on this machine, and what it chooses between: the
probe's timings (aekit.training.hardware.measure_bf16, several fresh measurements and the cost of
each), then one Muon + AdamW step of the deep MNIST autoencoder (784-1000-500-250-30,
mirrored; gradients of a batch of 256) with the Newton-Schulz iterations forced into
float32 and into bfloat16, and the forward + backward pass in float32 and under bfloat16
autocast.

    python benchmarks/bf16_probe.py [--threads 2] [--rounds 5] [--repeats 10]

Each step figure is the median over --rounds rounds of the median of --repeats timings,
in milliseconds; the two dtypes alternate within each round.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

import aekit
from aekit.training import hardware
from aekit.training.optim import MuonWithAdam, hidden_matrices


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return " ".join(flag for flag in wanted if flag in flags) or "none of avx2/avx512/amx"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                platform.processor(),
            )
    except OSError:
        return platform.processor()


def load() -> str:
    """The 1, 5 and 15-minute load averages: other work on the machine slows every figure."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"cpu: {cpu_model()}")
    print(f"torch.backends.cpu.get_cpu_capability(): {torch.backends.cpu.get_cpu_capability()}")
    print(f"/proc/cpuinfo flags: {cpu_flags()}")
    print(f"load average at the start: {load()} ({os.cpu_count()} cores)")

    m, k, n = hardware.SHAPE
    print(f"\nthe probe: {m}x{k} @ {k}x{n}, best of {hardware.REPEATS} after a warm-up, 1 thread")
    print(
        f"{'measurement':<12} {'float32 ms':>11} {'bfloat16 ms':>12} {'ratio':>7} {'fast':>5} {'cost ms':>8}"
    )
    costs = []
    for i in range(5):
        start = time.perf_counter()
        speed = hardware.measure_bf16("cpu")
        costs.append((time.perf_counter() - start) * 1e3)
        print(
            f"{i + 1:<12} {speed.float32_ms:>11.3f} {speed.bfloat16_ms:>12.3f} "
            f"{speed.ratio:>7.2f} {speed.fast!s:>5} {costs[-1]:>8.1f}"
        )
    hardware.clear_cache()
    start = time.perf_counter()
    chosen = hardware.bf16_speed("cpu")
    first = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    hardware.bf16_speed("cpu")
    cached = (time.perf_counter() - start) * 1e6
    print(
        f"bf16_speed('cpu'): first call {first:.1f} ms, cached {cached:.0f} us: {chosen.choice()}"
    )

    model = aekit.AutoEncoder.build("deep", input_dim=784, code_dim=30, seed=0)
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(0))
    params = list(model.parameters())
    matrices = hidden_matrices(model, params)
    mine = {id(q) for q in matrices}
    others = [q for q in params if id(q) not in mine]
    shapes = ", ".join("x".join(map(str, q.shape)) for q in matrices)
    print(f"\ndeep MNIST model {model.config.arch}, batch 256; Muon's matrices: {shapes}")
    loss, _ = model(x)
    loss.backward()  # the gradients every step below steps with
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    optimizers = {
        name: MuonWithAdam(matrices, others, 3e-3, 0.02, 0.1, newton_schulz=dtype)
        for name, dtype in dtypes.items()
    }

    def backward(bf16: bool) -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = model(x)
        loss.backward()

    rows: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, optimizer in optimizers.items():
            key = f"Muon + AdamW step, Newton-Schulz in {name}"
            rows.setdefault(key, []).append(median_ms(optimizer.step, args.repeats))
        for bf16 in (False, True):
            key = f"forward + backward, {'bf16 autocast' if bf16 else 'float32'}"
            rows.setdefault(key, []).append(median_ms(lambda b=bf16: backward(b), args.repeats))
    print(f"{'part of a step':<44} {'median ms':>10} {'rounds':>24}")
    for key, values in rows.items():
        spread = " ".join(f"{v:.1f}" for v in values)
        print(f"{key:<44} {statistics.median(values):>10.1f}   {spread}")
    ns = {
        name: statistics.median(rows[f"Muon + AdamW step, Newton-Schulz in {name}"])
        for name in dtypes
    }
    print(f"\nMuon step, bfloat16 / float32 Newton-Schulz: {ns['bfloat16'] / ns['float32']:.2f}")
    print(f"the probe chooses: Newton-Schulz in {chosen.choice()}")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
