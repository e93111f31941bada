"""Denoising autoencoders against the noise they were trained for, on faces and digits.

    pip install scikit-image          # for skimage.data.lfw_subset(), the faces
    python benchmarks/denoising.py
    python benchmarks/denoising.py --data faces --settings "default,code=100,hidden=1000"

Each setting is ``aekit.train`` of the denoising kind with some model fields over the kind's
defaults, as ``aekit train --kind denoising ...`` runs it (epochs, batch and validation
share chosen from the data size). For each run, on the test split:

- ``clean``: PSNR of the reconstruction of the clean input: what the model loses on data
  with no noise at all (its bottleneck error); a denoiser cannot end above this;
- ``noisy -> out``: PSNR of the input corrupted with the model's own corruption, and of its
  reconstruction (aekit's ``psnr_corrupted`` and ``psnr_denoised``);
- ``gauss in -> out``: the same for Gaussian noise of sigma ``--sigma`` (the noise a user
  may have wanted removed, whatever the model was trained for);
- ``blur``: the best Gaussian blur of those noisy images (sigma of the blur chosen on the
  test images themselves: a generous baseline), for images only.

The faces are ``skimage.data.lfw_subset()`` (200 images 25x25 in [0, 1]: 100 faces, 100
non-faces), shuffled with seed 0 and split 160 train / 40 test.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import aekit
from aekit.core.config import describe


def faces() -> aekit.Dataset:
    from skimage.data import lfw_subset

    x = lfw_subset().astype(np.float32).reshape(200, -1)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = torch.from_numpy(x[order[:160]]), torch.from_numpy(x[order[160:]])
    return aekit.Dataset("faces", train, test, (1, 25, 25))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def best_blur(noisy: np.ndarray, clean: np.ndarray, shape: tuple[int, int, int]) -> float:
    from scipy.ndimage import gaussian_filter

    images = noisy.reshape(-1, *shape[1:])
    best = -math.inf
    for s in (0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5):
        blurred = gaussian_filter(images, sigma=(0, s, s)).reshape(noisy.shape)
        best = max(best, psnr(blurred, clean))
    return best


def parse_setting(text: str, input_dim: int) -> dict[str, Any]:
    """``default`` or ``key=value`` pairs joined by '+': ``code=100+hidden=1000,500``,
    ``corruption=gaussian:sigma=0.1``, ``epochs=100``; ``code=x1.5`` is 1.5 times the
    input's size (``hidden=x1`` likewise), ``hidden=`` no hidden layer."""
    model: dict[str, Any] = {}
    training: dict[str, Any] = {}
    if text == "default":
        return {"model": model, "training": training}
    for item in text.split("+"):
        key, _, value = item.partition("=")
        if key == "code":
            model["code_dim"] = size(value, input_dim)
        elif key == "hidden":
            model["hidden"] = [size(v, input_dim) for v in value.split(",") if v]
        elif key == "corruption":
            model["corruption"] = value
        elif key in ("epochs", "batch_size", "seed"):
            training[key] = int(value)
        elif key == "lr":
            training[key] = float(value)
        else:
            model[key] = value
    return {"model": model, "training": training}


def size(text: str, input_dim: int) -> int:
    return round(float(text[1:]) * input_dim) if text.startswith("x") else int(text)


def one(
    dataset: aekit.Dataset, setting: str, sigma: float, out: Path, threads: int
) -> dict[str, Any]:
    parts = parse_setting(setting, dataset.input_dim)
    cfg = aekit.RunConfig.from_dict(
        {"model": {"kind": "denoising", **parts["model"]}, "training": parts["training"]}
    )
    start = time.perf_counter()
    run = aekit.train(cfg, data=dataset, out=out, progress=False)
    seconds = time.perf_counter() - start
    model = run.model
    clean = dataset.test.numpy()
    gen = torch.Generator().manual_seed(1)
    noisy = clean + sigma * torch.randn(clean.shape, generator=gen).numpy()
    out_noisy = model.reconstruct(noisy.astype(np.float32))
    assert model.config is not None
    m = run.metrics
    return {
        "data": dataset.name,
        "setting": setting,
        "arch": model.config.arch,
        "corruption": describe(model.config.corruption),
        "epochs": len(run.fit.history),
        "clean": m["psnr"],
        "noisy": m.get("psnr_corrupted", float("nan")),
        "out": m.get("psnr_denoised", float("nan")),
        "gauss_in": psnr(noisy, clean),
        "gauss_out": psnr(out_noisy, clean),
        "blur": best_blur(noisy, clean, dataset.image_shape) if dataset.image_shape else None,
        "seconds": seconds,
        "threads": threads,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="faces,digits")
    p.add_argument(
        "--settings",
        default="default;corruption=gaussian:sigma=0.1",
        help="settings separated by ';' (see parse_setting)",
    )
    p.add_argument("--sigma", type=float, default=0.1, help="the Gaussian noise to remove")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); PSNR in dB on the test split"
    )
    print(
        f"{'data':7}{'setting':44}{'arch':16}{'ep':>5}{'clean':>7}{'noisy':>7}{'out':>7}"
        f"{'gauss in':>9}{'out':>7}{'blur':>7}{'s':>6}"
    )
    for name in args.data.split(","):
        dataset = faces() if name == "faces" else aekit.load_digits()
        for i, setting in enumerate(args.settings.split(";")):
            r = one(dataset, setting, args.sigma, tmp / f"{name}-{i}", args.threads)
            blur = f"{r['blur']:7.2f}" if r["blur"] is not None else f"{'-':>7}"
            print(
                f"{r['data']:7}{r['setting'][:43]:44}{r['arch']:16}{r['epochs']:>5}"
                f"{r['clean']:7.2f}{r['noisy']:7.2f}{r['out']:7.2f}"
                f"{r['gauss_in']:9.2f}{r['gauss_out']:7.2f}{blur}{r['seconds']:6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
