"""What one training step of the deep MNIST autoencoder (784-1000-500-250-30) costs, part
by part: forward and backward in float32 and under bfloat16 autocast, an Adam step, a Muon
step (Newton-Schulz iterations on the hidden matrices, as torch.optim.Muon runs them, in
bfloat16) with 5, 4 and 3 iterations, and the matrix-product rates behind them.

    python benchmarks/muon_cost.py [--threads 2]

Each figure is the median of --repeats timings, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import aekit
from aekit.training.optim import build_optimizer


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    model = aekit.AutoEncoder.build("deep", input_dim=784, code_dim=30, seed=0)
    x = torch.rand(1024, 784)

    def backward(batch: torch.Tensor, bf16: bool) -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = model(batch)
        loss.backward()

    print(f"\n{'part of a step':<44} {'ms':>8}")
    for batch in (256, 512):
        for bf16 in (False, True):
            ms = median_ms(lambda b=x[:batch], f=bf16: backward(b, f), args.repeats)
            name = f"forward + backward, batch {batch}, {'bf16 autocast' if bf16 else 'float32'}"
            print(f"{name:<44} {ms:>8.1f}")
    backward(x[:256], False)  # gradients for the optimizers to step with
    adam = build_optimizer(model, aekit.TrainConfig(optimizer="adam"))
    print(f"{'Adam step (fused)':<44} {median_ms(adam.step, args.repeats):>8.1f}")
    muon = build_optimizer(model, aekit.TrainConfig(optimizer="muon", weight_decay=0.1))
    for steps in (5, 4, 3):
        for group in muon.muon.param_groups:  # type: ignore[attr-defined]
            group["ns_steps"] = steps
        name = f"Muon + AdamW step, {steps} Newton-Schulz iterations"
        print(f"{name:<44} {median_ms(muon.step, args.repeats):>8.1f}")

    print(f"\n{'matrix product':<44} {'GFLOP/s':>8}")
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.randn(500, 1000, dtype=dtype)
        ms = median_ms(lambda g=g: g @ g.T, args.repeats * 2)
        print(
            f"{'500x1000 Gram (Muon), ' + str(dtype)[6:]:<44} {2 * 500 * 500 * 1000 / ms / 1e6:>8.0f}"
        )
        a = torch.randn(2048, 2048, dtype=dtype)
        ms = median_ms(lambda a=a: a @ a, args.repeats)
        print(f"{'2048^3, ' + str(dtype)[6:]:<44} {2 * 2048**3 / ms / 1e6:>8.0f}")


if __name__ == "__main__":
    main()
