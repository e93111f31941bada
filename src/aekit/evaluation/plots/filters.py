"""The first layer's units as images (the filters), on one colour scale centred at 0, the
pixels the data barely uses drawn grey."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .style import as_image, plain_text, pyplot, save


def first_layer_weights(model: Any) -> np.ndarray | None:
    """The encoder's first dense layer weights, one row per unit (None for a
    convolutional encoder); PCA's components for a model that fell back to PCA."""
    if getattr(model, "is_pca", False):
        return model.pca_components.T.detach().cpu().numpy()
    for module in model.encoder.modules():
        if isinstance(module, torch.nn.Linear):
            return module.weight.detach().cpu().numpy()
        if isinstance(module, torch.nn.Conv2d):
            return None
    return None


UNUSED_SHARE = 0.03  # a pixel varying less than this share of the busiest one's: unused


def unused_pixels(data: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Which pixels of images of ``image_shape`` the samples ``data`` (one a row) barely
    use: those whose variance over the samples (the mean over channels) is below
    :data:`UNUSED_SHARE` of the busiest pixel's, as a boolean H x W array. A weight on
    such a pixel hardly changes what the unit computes (the digits' left column is never
    inked, a dozen border pixels almost never)."""
    c, h, w = image_shape
    variance = np.asarray(data, dtype=np.float64).reshape(len(data), c, h, w).var(0).mean(0)
    return variance < UNUSED_SHARE * variance.max() if variance.max() > 0 else variance < 0


def _filter_images(
    weights: np.ndarray, image_shape: Sequence[int] | None, data: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Each unit's weights as an image (a row where they are no image), the pixels that
    ``data`` barely uses masked; and that mask (None without data)."""
    images = []
    for w in weights:
        img = as_image(w, image_shape)
        if img is None:
            img = w.reshape(1, -1)
        images.append(img.mean(-1) if img.ndim == 3 else img)
    if data is None or image_shape is None or images[0].shape != tuple(image_shape[1:]):
        return images, None
    unused = unused_pixels(data, image_shape)
    return [np.ma.masked_array(img, mask=unused) for img in images], unused


def _weight_scale(images: Sequence[np.ndarray]) -> tuple[float, str]:
    """One colour scale for all the images, from -lim to lim, lim at the 99th percentile
    of the sizes of their unmasked values (a handful of large weights do not wash the rest
    out: those beyond take the bar's end colours, ``extend``)."""
    sizes = np.abs(
        np.concatenate(
            [np.ma.compressed(img) if np.ma.isMaskedArray(img) else np.ravel(img) for img in images]
        )
    )
    lim = float(np.percentile(sizes, 99)) if sizes.size else 0.0
    lim = lim or float(sizes.max(initial=0.0)) or 1.0
    return lim, "both" if sizes.size and sizes.max() > lim else "neither"


@plain_text
def filters(
    model: Any,
    path: str | Path | None = None,
    image_shape: Sequence[int] | None = None,
    n: int = 100,
    data: np.ndarray | None = None,
) -> Any:
    """The first layer's units as images: each unit's input weights (what the unit
    responds to, as in the sparse and denoising papers), every unit on one colour scale
    centred at 0, with its colour bar: a faint unit has small weights. Each is titled by
    its unit's number, the units with the largest weights first (PCA's components in
    their order). With ``data`` (samples of the inputs), the pixels the data barely uses
    (:func:`unused_pixels`) are drawn grey: their weights are noise the data never shows
    the unit. The scale ends at the 99th percentile of the weights' sizes; larger ones
    take its end colours."""
    from matplotlib.patches import Patch

    plt = pyplot()
    weights = first_layer_weights(model)
    if weights is None:
        raise ValueError("the encoder has no dense first layer to draw")
    images, unused = _filter_images(weights[:n], image_shape, data)
    lim, extend = _weight_scale(images)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.55")
    cols = min(10, len(images))
    rows = math.ceil(len(images) / cols)
    size = (1.0 * cols + 1.6, 1.0 * rows + 0.9)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    pca = getattr(model, "is_pca", False)
    # Strongest units first (PCA's components keep their order, by variance): the units
    # that learned something are not lost among faint ones.
    sizes = [float(np.sqrt((np.ma.filled(img, 0.0) ** 2).sum())) for img in images]
    order = list(range(len(images))) if pca else sorted(range(len(images)), key=lambda i: -sizes[i])
    for ax, unit in zip(axes.flat, order, strict=False):
        picture = ax.imshow(images[unit], cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(str(unit), fontsize=7, pad=2)
    bar = fig.colorbar(picture, ax=axes, shrink=min(1.0, 3.0 / rows), aspect=25, extend=extend)
    bar.set_label("weight (one scale for every unit)")
    what = (
        "PCA's components (the model fell back to PCA), numbered"
        if pca
        else "first-layer filters, numbered by unit, the largest weights first"
    )
    title = f"{what}: {len(images)} units; red +, blue -, white 0"
    if unused is not None and unused.any():
        title += f"; grey: the {int(unused.sum())} pixels the data barely uses"
        fig.legend(
            handles=[Patch(color="0.55", label="pixel the data barely uses")],
            loc="outside lower right",
            fontsize=8,
            frameon=False,
        )
    fig.suptitle(title, fontsize=10)
    return save(fig, path)
