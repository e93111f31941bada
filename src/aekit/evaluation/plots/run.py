"""A run's figures: :func:`run_figures` draws every figure that fits a model's kind into a
run folder's ``figures/``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .codes import activation_frequencies, code_space, jacobian_spectrum
from .curves import PcaLevel, loss_curves, pretraining_curves
from .filters import filters, first_layer_weights
from .reconstructions import distant_pair, feature_errors_plot, interpolation, reconstruction_grid
from .style import as_image, summed_over


def run_figures(
    model: Any,
    X: np.ndarray,
    folder: str | Path,
    history: Sequence[Mapping[str, float]] = (),
    labels: np.ndarray | None = None,
    layers: Sequence[Sequence[Mapping[str, float]]] = (),
    layer_losses: Sequence[str] = (),
    train_variance: np.ndarray | None = None,
    pca: PcaLevel | None = None,
) -> list[Path]:
    """Every figure that fits ``model``'s kind, drawn on held-out data ``X`` into
    ``folder`` (what ``aekit train`` writes into ``RUN/figures``); ``layers`` and
    ``layer_losses``: the histories and losses of greedily pretrained layers;
    ``train_variance``: the variance of each input feature over the data the model
    trained on (:func:`pixel_variance`), from which the filters' grey mask of the pixels
    the data barely uses is drawn (without it, from ``X``); ``pca``: PCA's held-out error
    for the loss curves to draw beside the validation curve, and whether the model is that
    PCA (:class:`~aekit.evaluation.plots.curves.PcaLevel`). Returns the files."""
    from ..metrics import feature_errors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    shape = cfg.image_shape if cfg is not None else None
    x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    images = as_image(x[0], shape) is not None
    written = []

    def out(name: str) -> Path:
        written.append(folder / name)
        return folder / name

    if images:
        _reconstructions(model, x[:10], out, shape)
    else:
        names = getattr(model, "feature_names", None)
        feature_errors_plot(feature_errors(model, x), out("feature_errors.png"), names)
    if history:
        loss = cfg.loss if cfg is not None else None
        scaling = cfg.scaling if cfg is not None else "none"
        over = summed_over(x.shape[1], shape)
        loss_curves(history, out("curves.png"), loss, over, pca=pca, scaling=scaling)
    codes = np.asarray(model.encode(x[:2000]))
    code_space(codes, out("codes.png"), labels[: len(codes)] if labels is not None else None)
    if images and first_layer_weights(model) is not None:
        filters(model, out("filters.png"), shape, data=x, variance=train_variance)
    if images and len(x) >= 2:
        i, j = distant_pair(codes)
        interpolation(model, x[i], x[j], out("interpolation.png"), shape)
    _penalty_figures(model, x, out)
    if layers:
        pretraining_curves(layers, out("pretraining.png"), layer_losses)
    return written


def _reconstructions(
    model: Any, sample: np.ndarray, out: Callable[[str], Path], shape: Sequence[int] | None
) -> None:
    """Held-out images above their reconstructions, with the corrupted inputs between them
    for a model that corrupts its inputs (corrupted with a fixed seed, the global random
    state left as it was)."""
    corrupted = None
    if model.corruption is not None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            corrupted = model.corruption(torch.as_tensor(sample)).numpy()
    reconstruction_grid(
        sample,
        model.reconstruct(sample),
        out("reconstructions.png"),
        shape,
        corrupted=corrupted,
        title="held-out samples and their reconstructions",
    )


def _penalty_figures(model: Any, x: np.ndarray, out: Callable[[str], Path]) -> None:
    """The figures of what a model's penalty shapes: the code units' activity under a
    sparsity penalty or a top-k code, the encoder's Jacobian under a contractive one."""
    from ...models.penalties import Contractive, KLSparsity, L1Sparsity

    cfg = model.config
    penalties = model.penalties
    if any(isinstance(p, KLSparsity | L1Sparsity) for p in penalties) or (
        cfg is not None and cfg.top_k is not None
    ):
        activation_frequencies(model, x, out("activation_frequencies.png"))
    if any(isinstance(p, Contractive) for p in penalties):
        jacobian_spectrum({"this model": model}, x, out("jacobian_spectrum.png"))
