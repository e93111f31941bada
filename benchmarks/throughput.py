"""Training throughput: aekit's trainer against the machine's matmul peak, a plain PyTorch
loop over a DataLoader, and Pythae, all measured in this one run.

    python benchmarks/throughput.py --data-dir ../shared/data/mnist [--pythae] [--compile]

Prints samples/second for each model and ratios. The deep MNIST row also gives the model
FLOP utilisation, 6 x parameters x samples/s over the peak of a large float32 matrix
multiply measured in the same run (before and after, the best of several).
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import aekit
from aekit.presets import model_config


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


def aekit_rate(
    config: aekit.ModelConfig, x: torch.Tensor, batch: int, seconds: float, **train: Any
) -> float:
    """Samples/s of aekit.fit on ``x``, after a warm-up epoch, over about ``seconds``."""
    torch.manual_seed(0)
    model = aekit.AutoEncoder.from_config(config)
    aekit.fit(
        model, x[: batch * 5], epochs=1, batch_size=batch, val_fraction=0, progress=False, **train
    )
    probe = aekit.fit(model, x, epochs=1, batch_size=batch, val_fraction=0, progress=False, **train)
    epochs = max(1, round(seconds / probe.seconds))
    result = aekit.fit(
        model, x, epochs=epochs, batch_size=batch, val_fraction=0, progress=False, **train
    )
    return epochs * len(x) / result.seconds


def plain_rate(config: aekit.ModelConfig, x: torch.Tensor, batch: int, seconds: float) -> float:
    """Samples/s of the loop the tutorials write: DataLoader over a TensorDataset, default
    Adam, the same modules and loss."""
    torch.manual_seed(0)
    model = aekit.AutoEncoder.from_config(config)
    net = nn.Sequential(copy.deepcopy(model.encoder), copy.deepcopy(model.decoder))
    bce = config.loss == "bce"
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)

    def epoch(limit: float) -> tuple[int, float]:
        n, start = 0, time.perf_counter()
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
            if time.perf_counter() - start > limit:
                break
        return n, time.perf_counter() - start

    epoch(0.5)  # warm-up
    n = elapsed = 0.0
    while elapsed < seconds:
        dn, dt = epoch(seconds - elapsed)
        n, elapsed = n + dn, elapsed + dt
    return n / elapsed


def pythae_rate(config: aekit.ModelConfig, x: torch.Tensor, batch: int, epochs: int) -> float:
    """Samples/s of Pythae's AE and BaseTrainer with aekit's encoder and decoder."""
    import tempfile

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

        def forward(self, x: torch.Tensor) -> ModelOutput:
            return ModelOutput(embedding=self.net(x.flatten(1)))

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
        dataset = BaseDataset(x, torch.zeros(len(x)))
        trainer = BaseTrainer(model=ae, train_dataset=dataset, training_config=cfg)
        start = time.perf_counter()
        trainer.train()
        return epochs * len(x) / (time.perf_counter() - start)


def step_time(model: aekit.AutoEncoder, x: torch.Tensor, steps: int = 20) -> float:
    """Seconds per training step (loss, backward, Adam) on batch ``x``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    model.train()

    def step() -> None:
        loss, _ = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def row(label: str, rate: float, extra: str = "") -> None:
    print(f"{label:<52} {rate:>12,.0f} {extra}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--seconds", type=float, default=6.0, help="measuring time per row")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pythae", action="store_true", help="also measure Pythae (pip install pythae)")
    p.add_argument("--compile", action="store_true", help="also measure TrainConfig(compile=True)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    mnist = aekit.load_mnist(args.data_dir, download=False)
    digits = aekit.load_digits()
    x_mnist, x_digits = mnist.train, digits.train
    secs = args.seconds

    peak = matmul_peak()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"peak: float32 4096^3 matmul, best of 5: {peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'model / loop':<52} {'samples/s':>12}")

    # -- deep MNIST model, batch 256 ------------------------------------------------------
    deep = model_config(
        "deep", input_dim=784, hidden=[1000, 500, 250], code_dim=30, activation="elu", loss="bce"
    )
    n_params = sum(p.numel() for p in aekit.AutoEncoder.from_config(deep).parameters())
    a = aekit_rate(deep, x_mnist, 256, secs)
    b = plain_rate(deep, x_mnist, 256, secs)
    mfu = 6 * n_params * a / peak
    row("deep 784-1000-500-250-30, batch 256: aekit", a, f"MFU {mfu:.2f} ({n_params:,} parameters)")
    row("  plain loop (DataLoader, default Adam)", b, f"aekit / plain = {a / b:.2f}x")
    if args.compile:
        c = aekit_rate(deep, x_mnist, 256, secs, compile=True)
        row("  aekit with compile=True", c, f"{c / a:.2f}x of eager")

    # -- small digits model ------------------------------------------------------------------
    small = model_config(input_dim=64, hidden=[32], code_dim=8)
    a_small = aekit_rate(small, x_digits, 64, secs)
    b_small = plain_rate(small, x_digits, 64, secs)
    row("digits 64-32-8, batch 64: aekit", a_small)
    row(
        "  plain loop (DataLoader, default Adam)",
        b_small,
        f"aekit / plain = {a_small / b_small:.2f}x",
    )
    if args.pythae:
        p_small = pythae_rate(small, x_digits, 64, epochs=20)
        row("  Pythae AE + BaseTrainer", p_small, f"aekit / Pythae = {a_small / p_small:.2f}x")
        p_deep = pythae_rate(deep, x_mnist[:10240], 256, epochs=2)
        row("  (deep MNIST) Pythae AE + BaseTrainer", p_deep, f"aekit / Pythae = {a / p_deep:.2f}x")

    # -- convolutional MNIST model ---------------------------------------------------------
    conv = model_config(
        input_dim=784,
        code_dim=30,
        architecture="conv",
        image_shape=(1, 28, 28),
        conv_channels=[32, 64],
        hidden=[256],
        loss="bce",
    )
    a_conv = aekit_rate(conv, x_mnist, 256, secs)
    b_conv = plain_rate(conv, x_mnist, 256, secs)
    row("conv MNIST 32-64 channels, batch 256: aekit", a_conv)
    row(
        "  plain loop (DataLoader, default Adam)", b_conv, f"aekit / plain = {a_conv / b_conv:.2f}x"
    )

    # -- each kind on the digits model ---------------------------------------------------------
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
        rate = aekit_rate(cfg, x_digits, 64, secs / 2)
        row(f"digits 64-32-8 {kind}: aekit", rate, f"{rate / a_small:.2f}x of undercomplete")

    # -- cost of the contractive penalty per step ---------------------------------------------
    print(f"\n{'contractive penalty, one step (batch 256)':<52} {'ms/step':>12}")
    xb = x_mnist[:256]
    measured: dict[str, float] = {}
    for label, sizes, method in [
        ("one-layer sigmoid 784-1000: plain", [], None),
        ("one-layer sigmoid 784-1000: closed form", [], "closed_form"),
        ("deep 784-1000-500-250-30: plain", [1000, 500, 250], None),
        ("deep 784-1000-500-250-30: exact (jacrev)", [1000, 500, 250], "exact"),
        ("deep 784-1000-500-250-30: estimate, 1 projection", [1000, 500, 250], "estimate"),
    ]:
        code = 1000 if not sizes else 30
        penalties = [aekit.Contractive(lam=0.1, method=method)] if method else []
        torch.manual_seed(0)
        model = aekit.AutoEncoder.build(
            input_dim=784,
            hidden=sizes,
            code_dim=code,
            activation="elu",
            code_activation="sigmoid",
            penalties=penalties,
            corruption=None,
        )
        measured[label] = t = step_time(model, xb, steps=5 if method == "exact" else 20)
        base = measured[label.split(":")[0] + ": plain"]
        print(f"{label:<52} {t * 1e3:>12.1f} {t / base:.2f}x of a plain step", flush=True)

    # -- inference ------------------------------------------------------------------------------
    model = aekit.AutoEncoder.from_config(deep)
    start = time.perf_counter()
    model.encode(mnist.test.numpy())
    enc = len(mnist.test) / (time.perf_counter() - start)
    start = time.perf_counter()
    aekit.evaluate(model, mnist.test)
    ev = len(mnist.test) / (time.perf_counter() - start)
    print(f"\n{'deep MNIST encode (inference mode, batch 4096)':<52} {enc:>12,.0f}")
    print(f"{'deep MNIST evaluate (inference mode, batch 4096)':<52} {ev:>12,.0f}")
    peak_after = matmul_peak()
    print(
        f"\npeak again at the end: {peak_after / 1e9:.1f} GFLOP/s "
        f"(MFU against it: {6 * n_params * a / peak_after:.2f})"
    )


if __name__ == "__main__":
    main()
