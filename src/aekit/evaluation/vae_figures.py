"""The figures of a VAE's run (what ``aekit train --kind vae`` writes into RUN/figures):
the curves of the training objective's terms (the reconstruction's negative
log-likelihood, the KL, and the warm-up's or free bits' weighting of it), held-out
samples and their reconstructions (image data), and the codes (posterior means) in two
dimensions; drawn with the autoencoders' figure functions (:mod:`.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.vae import VAE
from .plots import code_space, loss_curves, reconstruction_grid, summed_over

# The reconstruction term's name on the curves, by decoder: the Bernoulli decoder's is the
# cross-entropy (nats); the Gaussian's, a negative log-likelihood.
DECODER_LOSS = {"bernoulli": "bce", "gaussian": "Gaussian negative log-likelihood"}


def vae_figures(
    model: VAE,
    X: np.ndarray,
    folder: str | Path,
    history: Sequence[Mapping[str, float]] = (),
    labels: np.ndarray | None = None,
) -> list[Path]:
    """Draw a VAE's figures of held-out data ``X`` into ``folder`` (``history``: the
    per-epoch losses; ``labels``: of ``X``, for the codes' colours); returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    written = []
    if history:
        written.append(folder / "curves.png")
        over = summed_over(x.shape[1], cfg.image_shape)
        loss_curves(history, written[-1], DECODER_LOSS[cfg.decoder], over)
    if cfg.image_shape is not None and len(x):
        written.append(folder / "reconstructions.png")
        sample = x[:10]
        title = "held-out samples and their reconstructions (the decoder's mean)"
        reconstruction_grid(
            sample, model.reconstruct(sample), written[-1], cfg.image_shape, title=title
        )
    if len(x):
        written.append(folder / "codes.png")
        codes: Any = np.asarray(model.encode(x[:2000]))
        code_space(codes, written[-1], labels[: len(codes)] if labels is not None else None)
    return written
