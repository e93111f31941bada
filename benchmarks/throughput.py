"""Training throughput: aekit's trainer against the machine's matmul peak, a plain PyTorch
loop over a DataLoader, and Pythae, all measured in this one run.

    python benchmarks/throughput.py --data-dir ../shared/data/mnist [--pythae] [--compile]

This machine's speed drifts while it runs, so every comparison alternates its sides:
A, B, A, B, ... for ``--rounds`` rounds of about ``--seconds`` each, and reports the median
rate of each side and the median of the per-round ratios (each round's two sides ran back
to back). The deep MNIST row also gives the model FLOP utilisation: 6 x parameters x
samples/s over the best float32 4096^3 matrix-multiply rate, measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import aekit
import aekit.training.optim as train_module
from aekit.models.config import model_config

Runner = Callable[[float], float]  # run for about `seconds`, return samples/s


def matmul_peak(n: int = 4096, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n float32 matrix product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def aekit_runner(
    config: aekit.ModelConfig,
    x: torch.Tensor,
    batch: int,
    flat_up_to: int | None = None,
    **train: object,
) -> Runner:
    """aekit.fit (Adam) on a persistent model, on as many samples as fit in the time asked.
    ``flat_up_to`` overrides the trainer's size limit for one flat parameter buffer."""
    torch.manual_seed(0)
    model = aekit.AutoEncoder.from_config(config)
    # Adam as in the loops it is compared with (the deep kind's own training is Muon).
    settings = dict(batch_size=batch, val_fraction=0, progress=False, optimizer="adam", **train)

    def fit(n: int) -> float:
        default = train_module.FLAT_PARAMETERS_UP_TO
        if flat_up_to is not None:
            train_module.FLAT_PARAMETERS_UP_TO = flat_up_to
        try:
            return aekit.fit(model, x[:n], epochs=1, **settings).seconds
        finally:
            train_module.FLAT_PARAMETERS_UP_TO = default

    rate = [20 * batch / max(fit(batch * 20), 1e-9)]  # warm-up (compiles, if asked)

    def run(seconds: float) -> float:
        n = min(len(x), max(batch, int(rate[0] * seconds) // batch * batch))
        rate[0] = n / fit(n)
        return rate[0]

    return run


def plain_runner(
    config: aekit.ModelConfig,
    x: torch.Tensor,
    batch: int,
    fused: bool = False,
    dataloader: bool = True,
) -> Runner:
    """The loop the tutorials write: a DataLoader over a TensorDataset, default Adam, the
    same modules and loss. ``fused`` and ``dataloader=False`` (batches by indexing the
    tensor) give the variants that isolate what each of aekit's choices is worth."""
    torch.manual_seed(0)
    model = aekit.AutoEncoder.from_config(config)
    net = nn.Sequential(copy.deepcopy(model.encoder), copy.deepcopy(model.decoder))
    bce = config.loss == "bce"
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused or None)
    if dataloader:
        loader: object = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)
    else:

        class Indexed:
            def __iter__(self):
                return ((x[i],) for i in torch.randperm(len(x)).split(batch))

        loader = Indexed()

    def run(seconds: float) -> float:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for (xb,) in loader:
                out = net(xb)
                if bce:
                    loss = F.binary_cross_entropy_with_logits(out, xb, reduction="sum") / len(xb)
                else:
                    loss = F.mse_loss(torch.sigmoid(out), xb, reduction="sum") / len(xb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                n += len(xb)
                if time.perf_counter() - start > seconds:
                    break
        return n / (time.perf_counter() - start)

    run(0.3)  # warm-up
    return run


def pythae_runner(config: aekit.ModelConfig, x: torch.Tensor, batch: int) -> Runner:
    """Pythae's AE and BaseTrainer with aekit's encoder and decoder (pythae's AE loss is
    the summed squared error, like aekit's default)."""
    from pythae.data.datasets import BaseDataset
    from pythae.models import AE, AEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(0)
    model = aekit.AutoEncoder.from_config(config)

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = copy.deepcopy(model.encoder)

        def forward(self, inputs: torch.Tensor) -> ModelOutput:
            return ModelOutput(embedding=self.net(inputs.flatten(1)))

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = copy.deepcopy(model.decoder)

        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    ae = AE(
        AEConfig(input_dim=(config.input_dim,), latent_dim=config.code_dim),
        encoder=Encoder(),
        decoder=Decoder(),
    )
    dataset = BaseDataset(x, torch.zeros(len(x)))
    rate = [1000.0]

    def run(seconds: float) -> float:
        epochs = max(1, round(rate[0] * seconds / len(x)))
        with tempfile.TemporaryDirectory() as out:
            cfg = BaseTrainerConfig(
                output_dir=out,
                num_epochs=epochs,
                learning_rate=1e-3,
                per_device_train_batch_size=batch,
                per_device_eval_batch_size=batch,
                steps_saving=None,
                no_cuda=True,
            )
            trainer = BaseTrainer(model=ae, train_dataset=dataset, training_config=cfg)
            start = time.perf_counter()
            trainer.train()
            rate[0] = epochs * len(x) / (time.perf_counter() - start)
        return rate[0]

    run(0.5)  # warm-up, and a first estimate of its rate
    return run


def compare(
    label: str, a: Runner, b: Runner, b_label: str, rounds: int, seconds: float
) -> tuple[float, float]:
    """Alternate a and b; print the medians and the median per-round ratio a/b."""
    rates_a, rates_b, ratios = [], [], []
    for _ in range(rounds):
        ra, rb = a(seconds), b(seconds)
        rates_a.append(ra)
        rates_b.append(rb)
        ratios.append(ra / rb)
    ma, mb, ratio = (
        statistics.median(rates_a),
        statistics.median(rates_b),
        statistics.median(ratios),
    )
    spread = f"(ratios {min(ratios):.2f}-{max(ratios):.2f})"
    print(f"{label:<50} {ma:>11,.0f}")
    print(f"  {b_label:<48} {mb:>11,.0f}   aekit / this = {ratio:.2f}x {spread}", flush=True)
    return ma, ratio


def step_time(model: aekit.AutoEncoder, x: torch.Tensor, steps: int) -> float:
    """Seconds per training step (loss, backward, Adam) on batch ``x``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    model.train()

    def step() -> None:
        loss, _ = model(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--seconds", type=float, default=2.0, help="length of one measuring round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pythae", action="store_true", help="also measure Pythae (pip install pythae)")
    p.add_argument("--compile", action="store_true", help="also measure TrainConfig(compile=True)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    mnist = aekit.load_mnist(args.data_dir, download=False)
    digits = aekit.load_digits()
    x_mnist, x_digits = mnist.train, digits.train
    rounds, secs = args.rounds, args.seconds

    peak = matmul_peak()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {rounds} alternating rounds of "
        f"~{secs:g} s per side"
    )
    print(f"peak: float32 4096^3 matmul, best of 5: {peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'model / loop':<50} {'samples/s':>11}")

    deep = model_config(
        "deep", input_dim=784, hidden=[1000, 500, 250], code_dim=30, activation="elu", loss="bce"
    )
    n_params = sum(p.numel() for p in aekit.AutoEncoder.from_config(deep).parameters())
    deep_aekit = aekit_runner(deep, x_mnist, 256)
    rate, _ = compare(
        "deep 784-1000-500-250-30, batch 256: aekit",
        deep_aekit,
        plain_runner(deep, x_mnist, 256),
        "plain loop (DataLoader, default Adam)",
        rounds,
        secs,
    )
    print(
        f"  model FLOP utilisation: 6 x {n_params:,} x {rate:,.0f} / peak = {6 * n_params * rate / peak:.2f}"
    )
    compare(
        "deep, aekit",
        deep_aekit,
        plain_runner(deep, x_mnist, 256, fused=True, dataloader=False),
        "expert loop (indexed batches, fused Adam)",
        rounds,
        secs,
    )
    compare(
        "deep, aekit precision='bf16' (opt-in)",
        aekit_runner(deep, x_mnist, 256, precision="bf16"),
        plain_runner(deep, x_mnist, 256, fused=True, dataloader=False),
        "expert loop, float32",
        rounds,
        secs,
    )
    if args.compile:
        compare(
            "deep, aekit compile=True",
            aekit_runner(deep, x_mnist, 256, compile=True),
            deep_aekit,
            "aekit eager (the row above)",
            rounds,
            secs,
        )
    if args.pythae:
        compare(
            "deep, aekit",
            deep_aekit,
            pythae_runner(deep, x_mnist[:20480], 256),
            "Pythae AE + BaseTrainer (summed squared error)",
            rounds,
            secs,
        )

    small = model_config(input_dim=64, hidden=[32], code_dim=8)
    small_aekit = aekit_runner(small, x_digits, 64)
    compare(
        "digits 64-32-8, batch 64: aekit",
        small_aekit,
        plain_runner(small, x_digits, 64),
        "plain loop (DataLoader, default Adam)",
        rounds,
        secs,
    )
    if args.pythae:
        compare(
            "digits 64-32-8, aekit",
            small_aekit,
            pythae_runner(small, x_digits, 64),
            "Pythae AE + BaseTrainer",
            rounds,
            secs,
        )

    conv = model_config(
        input_dim=784,
        code_dim=30,
        architecture="conv",
        image_shape=(1, 28, 28),
        conv_channels=[32, 64],
        hidden=[256],
        loss="bce",
    )
    compare(
        "conv MNIST 32-64 channels, batch 256: aekit",
        aekit_runner(conv, x_mnist, 256),
        plain_runner(conv, x_mnist, 256),
        "plain loop (DataLoader, default Adam)",
        rounds,
        secs,
    )

    print()
    for kind, settings in [
        ("sparse", {}),
        (
            "contractive",
            {
                "penalties": [aekit.Contractive(lam=0.1, method="exact")],
                "code_activation": "sigmoid",
            },
        ),
        ("denoising", {}),
    ]:
        cfg = model_config(kind, input_dim=64, hidden=[32], code_dim=8, **settings)
        compare(
            f"digits 64-32-8 {kind}: aekit",
            aekit_runner(cfg, x_digits, 64),
            small_aekit,
            "undercomplete (above)",
            rounds,
            secs / 2,
        )

    print("\nwhat each choice is worth (same loop otherwise):")
    compare(
        "deep: plain loop, fused Adam",
        plain_runner(deep, x_mnist, 256, fused=True),
        plain_runner(deep, x_mnist, 256),
        "plain loop, default (foreach) Adam",
        rounds,
        secs,
    )
    compare(
        "digits: plain loop, batches by indexing",
        plain_runner(small, x_digits, 64, dataloader=False),
        plain_runner(small, x_digits, 64),
        "plain loop, DataLoader",
        rounds,
        secs,
    )
    separate = aekit_runner(small, x_digits, 64, flat_up_to=0)
    compare(
        "digits: aekit, one flat parameter buffer",
        small_aekit,
        separate,
        "aekit, separate parameter tensors",
        rounds,
        secs,
    )

    print(f"\n{'contractive penalty, one step (batch 256)':<50} {'ms/step':>11}")
    xb = x_mnist[:256]
    for label, hidden, code, method in [
        ("one-layer sigmoid 784-1000", [], 1000, "closed_form"),
        ("deep 784-1000-500-250-30", [1000, 500, 250], 30, "exact"),
        ("deep 784-1000-500-250-30", [1000, 500, 250], 30, "estimate"),
    ]:
        times = {}
        for use in (None, method):
            torch.manual_seed(0)
            penalties = [aekit.Contractive(lam=0.1, method=use)] if use else []
            model = aekit.AutoEncoder.build(
                input_dim=784,
                hidden=hidden,
                code_dim=code,
                activation="elu",
                code_activation="sigmoid",
                penalties=penalties,
            )
            times[use] = step_time(model, xb, steps=4 if use == "exact" else 15)
        print(f"{label + ': plain step':<50} {times[None] * 1e3:>11.1f}")
        print(
            f"{label + ': ' + method:<50} {times[method] * 1e3:>11.1f}   {times[method] / times[None]:.2f}x of plain",
            flush=True,
        )

    model = aekit.AutoEncoder.from_config(deep)
    start = time.perf_counter()
    model.encode(mnist.test.numpy())
    enc = len(mnist.test) / (time.perf_counter() - start)
    start = time.perf_counter()
    aekit.evaluate(model, mnist.test)
    ev = len(mnist.test) / (time.perf_counter() - start)
    with torch.no_grad():
        start = time.perf_counter()
        for b in mnist.test.split(256):
            model.reconstruct(b)
        naive = len(mnist.test) / (time.perf_counter() - start)
    print(f"\n{'deep MNIST encode (inference mode, batch 4096)':<50} {enc:>11,.0f}")
    print(f"{'deep MNIST evaluate (inference mode, batch 4096)':<50} {ev:>11,.0f}")
    print(f"{'  for comparison: no_grad forward, batch 256':<50} {naive:>11,.0f}")
    print(f"\npeak again at the end: {matmul_peak() / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
