"""``aekit sample``: samples drawn from a VAE run's prior, seeded, written as a grid of
images (.png, for image data) or as an array (.npy)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import ConfigError
from ..runs.api import sample
from ..runs.saved import load
from .files import save_array, save_image_grid


def cmd_sample(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ConfigError(f"output must end in .png or .npy, got {out.name!r}")
    model = load(args.run)
    samples = sample(model, args.n, seed=args.seed, mean=not args.draw)
    what = "drawn from p(x | z)" if args.draw else "the decoder's mean"
    if suffix == ".npy":
        save_array(out, samples, suffixes=(".npy",))
        print(
            f"wrote {len(samples)} samples from the prior ({what}, seed {args.seed}) to {out}, "
            f"shaped {samples.shape}"
        )
        return 0
    shape = model.config.image_shape
    if shape is None:
        raise ConfigError(
            f"{args.run} was not trained on images: its samples are rows of "
            f"{samples.shape[1]} features, which a picture cannot show; write them to a "
            ".npy file"
        )
    save_image_grid(out, samples.reshape(len(samples), *shape))
    print(f"wrote {len(samples)} samples from the prior ({what}, seed {args.seed}) to {out}")
    return 0
