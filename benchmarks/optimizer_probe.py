"""The deep MNIST autoencoder in a plain PyTorch loop (no aekit training code), to check
aekit's optimizer recipes against: Adam, or Muon on the hidden matrices with Adam on the
rest; warm-up + cosine; optional bfloat16 autocast. Prints the test squared error per
image after every epoch and the training seconds (evaluation not counted).

    python benchmarks/optimizer_probe.py --opt muon --bs 256 --bf16 --epochs 30
    python benchmarks/optimizer_probe.py --opt adam --bs 256 --bf16 --epochs 12
    python benchmarks/optimizer_probe.py --opt muon --bs 256 --bf16 --epochs 30 --ema 0.999
    python benchmarks/optimizer_probe.py --opt muon --bs 1024 --seconds 1  # step cost only
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from aekit.data.builtin import load_mnist

DIMS = [784, 1000, 500, 250, 30]


def mlp(dims: list[int], norm: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            if norm == "ln":
                layers.append(nn.LayerNorm(dims[i + 1]))
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--opt", default="adam", choices=["adam", "muon"])
    p.add_argument("--lr", type=float, default=3e-3, help="Adam's rate")
    p.add_argument("--mlr", type=float, default=0.02, help="Muon's rate")
    p.add_argument("--bs", type=int, default=256)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up epochs")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast of the forward")
    p.add_argument("--ns", type=int, default=5, help="Newton-Schulz iterations")
    p.add_argument("--muon-all", action="store_true", help="Muon on the outer layers too")
    p.add_argument("--wd", type=float, default=0.0)
    p.add_argument("--norm", default="", choices=["", "ln"], help="LayerNorm before each ELU")
    p.add_argument(
        "--ema", type=float, nargs="*", default=[], help="also report EMA weights of these decays"
    )
    p.add_argument("--seconds", type=float, default=0, help="only time 20 steps and exit")
    args = p.parse_args()
    torch.manual_seed(0)
    ds = load_mnist(args.data_dir, download=False)
    xtr, xte = ds.train.reshape(-1, 784), ds.test.reshape(-1, 784)
    model = nn.Sequential(mlp(DIMS, args.norm), mlp(DIMS[::-1], args.norm))
    params = list(model.parameters())
    steps_per_epoch = len(xtr) // args.bs
    total, warm = steps_per_epoch * args.epochs, int(args.warmup * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    if args.opt == "adam":
        opts = [torch.optim.Adam(params, lr=args.lr, fused=True, weight_decay=args.wd)]
    else:
        mats = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
        mats = mats if args.muon_all else mats[1:-1]  # not the input and output layers
        ids = {id(p) for p in mats}
        rest = [p for p in params if id(p) not in ids]
        opts = [
            torch.optim.Muon(mats, lr=args.mlr, weight_decay=args.wd, ns_steps=args.ns),
            torch.optim.AdamW(rest, lr=args.lr, fused=True, weight_decay=args.wd),
        ]
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in opts]

    # Exponential moving averages of the weights, updated after every step; evaluated by
    # swapping them into the model (they never feed back into training).
    emas = {d: [q.detach().clone() for q in params] for d in args.ema}

    def test_error(weights: list[torch.Tensor] | None = None) -> float:
        saved = [q.detach().clone() for q in params] if weights else None
        if weights:
            torch._foreach_copy_([q.data for q in params], weights)
        model.eval()
        with torch.no_grad():
            err = sum(((torch.sigmoid(model(x)) - x) ** 2).sum().item() for x in xte.split(2000))
        model.train()
        if saved:
            torch._foreach_copy_([q.data for q in params], saved)
        return err / len(xte)

    seconds, first, err = 0.0, None, float("nan")
    order = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=order)
        for s in range(steps_per_epoch):
            x = xtr[perm[s * args.bs : (s + 1) * args.bs]]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum") / len(x)
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o in opts:
                o.step()
            for sc in schedules:
                sc.step()
            with torch.no_grad():
                for d, avg in emas.items():
                    torch._foreach_lerp_(avg, [q.detach() for q in params], 1 - d)
            if args.seconds and s == 20:
                dt = time.perf_counter() - start
                rate = dict(opt=args.opt, bs=args.bs, ms_per_step=1000 * dt / 21)
                print(json.dumps({**rate, "samples_s": 21 * args.bs / dt}))
                sys.exit()
        seconds += time.perf_counter() - start
        err = test_error()
        if first is None and err <= 3.0:
            first = (epoch + 1, round(seconds, 1))
        ema_errs = {d: round(test_error(avg), 3) for d, avg in emas.items()}
        extra = f" ema {ema_errs}" if emas else ""
        print(f"epoch {epoch + 1} test {err:.3f} train_s {seconds:.1f}{extra}", flush=True)
    print(
        json.dumps(dict(args=vars(args), final=err, ema=ema_errs, first_3=first, seconds=seconds))
    )


if __name__ == "__main__":
    main()
