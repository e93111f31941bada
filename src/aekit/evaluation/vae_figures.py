"""The figures of a VAE's run (what ``aekit train --kind vae`` writes into RUN/figures):
the ELBO's terms per epoch (the reconstruction's negative log-likelihood and the KL, in
nats), held-out samples and their reconstructions, samples from the prior and decodings
along the line between two held-out samples' posterior means (image data), each code
unit's KL with the collapsed units marked, and the codes (posterior means) in two
dimensions; drawn with the figure functions of :mod:`.plots`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.vae import VAE
from .likelihood import kl_per_unit
from .plots import (
    code_space,
    distant_pair,
    elbo_curves,
    interpolation,
    kl_per_unit_plot,
    prior_samples,
    reconstruction_grid,
    summed_over,
)

PRIOR_SAMPLES = 64  # images in the grid of samples from the prior (8 x 8)
PRIOR_SEED = 0  # the seed of those samples: the same run, the same figure


def vae_figures(
    model: VAE,
    X: np.ndarray,
    folder: str | Path,
    history: Sequence[Mapping[str, float]] = (),
    labels: np.ndarray | None = None,
) -> list[Path]:
    """Draw a VAE's figures of held-out data ``X`` into ``folder`` (``history``: the
    per-epoch losses; ``labels``: of ``X``, for the codes' colours); returns the files.
    Image data (the model's ``image_shape``) gets the pictures of samples besides the
    figures every VAE gets (the curves, the KL per unit, the codes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    shape = cfg.image_shape
    x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    written = []

    def out(name: str) -> Path:
        written.append(folder / name)
        return folder / name

    if history:
        over = summed_over(x.shape[1], shape)
        elbo_curves(history, out("elbo_curves.png"), cfg.decoder, over, cfg.code_dim)
    if shape is not None and len(x):
        title = "held-out samples and their reconstructions (the decoder's mean)"
        sample = x[:10]
        reconstruction_grid(
            sample, model.reconstruct(sample), out("reconstructions.png"), shape, title=title
        )
    if shape is not None:
        prior_samples(model, out("prior_samples.png"), shape, PRIOR_SAMPLES, PRIOR_SEED)
    if shape is not None and len(x) >= 2:
        # Two held-out samples' posterior means (encode), decoded to the decoder's mean:
        # the two of the first 200 whose means lie farthest apart.
        i, j = distant_pair(np.asarray(model.encode(x[:200])))
        interpolation(model, x[i], x[j], out("interpolation.png"), shape)
    if len(x):
        # The KL of the data the run was judged on, as its metrics' active_units count it.
        kl = kl_per_unit(model, torch.from_numpy(x))
        kl_per_unit_plot(kl, out("kl_per_unit.png"), samples=len(x))
        codes: Any = np.asarray(model.encode(x[:2000]))
        code_space(codes, out("codes.png"), labels[: len(codes)] if labels is not None else None)
    return written
