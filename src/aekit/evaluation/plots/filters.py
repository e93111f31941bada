"""The first layer's units as images (the filters), on one colour scale centred at 0, the
pixels the data barely uses drawn grey."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.streaming import DiskArray
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


def pixel_variance(data: Any, rows: Any = None, block: int = 4096) -> np.ndarray:
    """The variance of each feature (pixel value) over the samples ``data`` (one a row: an
    array, a tensor or data on disk), or over its rows ``rows`` only (the rows a model
    trained on), as a flat float64 array. One pass, ``block`` rows at a time, the blocks'
    variances combined (Chan et al.): the data is never copied whole (MNIST's 60,000 x
    784 in blocks of 25 MB)."""
    if not isinstance(data, torch.Tensor | DiskArray):
        data = np.asarray(data)
    count, mean, m2 = 0, np.zeros(int(np.prod(data.shape[1:]))), 0.0
    for part in _blocks(data, rows, block):
        part_mean = part.mean(0)
        delta, seen = part_mean - mean, count + len(part)
        m2 = m2 + ((part - part_mean) ** 2).sum(0) + delta**2 * (count * len(part) / seen)
        mean, count = mean + delta * (len(part) / seen), seen
    return m2 / count if count else np.zeros_like(mean)


def _blocks(data: Any, rows: Any, block: int) -> Iterator[np.ndarray]:
    """The rows of an array, a tensor or data on disk (``rows`` only, where given), in
    order, up to ``block`` at a time, as float64 (one a row, none empty): a block in
    memory is a view whose rows are picked by a mask; from disk only those rows are read."""
    if isinstance(data, DiskArray) and rows is not None:
        order = np.sort(np.asarray(rows, dtype=np.int64))
        for start in range(0, len(order), block):
            yield data.take(order[start : start + block]).astype(np.float64)
        return
    keep = None
    if rows is not None:
        keep = np.zeros(len(data), dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = True
    for start in range(0, len(data), block):
        if isinstance(data, DiskArray):
            part = data.read(start, start + block)
        elif isinstance(data, torch.Tensor):
            part = data[start : start + block].detach().cpu().numpy()
        else:
            part = data[start : start + block]
        if keep is not None:
            part = part[keep[start : start + block]]
        if len(part):
            yield np.asarray(part, dtype=np.float64).reshape(len(part), -1)


def unused_pixels(data: Any, image_shape: Sequence[int]) -> np.ndarray:
    """Which pixels of images of ``image_shape`` the samples ``data`` (one a row) barely
    use: :func:`barely_varying` of their :func:`pixel_variance`."""
    return barely_varying(pixel_variance(data), image_shape)


def barely_varying(variance: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Which pixels of images of ``image_shape`` barely vary, given the variance of each
    pixel value (:func:`pixel_variance`): those whose variance (the mean over channels)
    is below :data:`UNUSED_SHARE` of the busiest pixel's, as a boolean H x W array. A
    weight on such a pixel hardly changes what the unit computes (the digits' left column
    is never inked, a dozen border pixels almost never)."""
    variance = np.asarray(variance, dtype=np.float64).reshape(*image_shape).mean(0)
    return variance < UNUSED_SHARE * variance.max() if variance.max() > 0 else variance < 0


def _filter_images(
    weights: np.ndarray, image_shape: Sequence[int] | None, variance: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Each unit's weights as an image (a row where they are no image), the pixels that
    barely vary (``variance``: of each pixel value over the data) masked; and that mask
    (None without the variance)."""
    images = []
    for w in weights:
        img = as_image(w, image_shape)
        if img is None:
            img = w.reshape(1, -1)
        images.append(img.mean(-1) if img.ndim == 3 else img)
    if variance is None or image_shape is None or images[0].shape != tuple(image_shape[1:]):
        return images, None
    unused = barely_varying(variance, image_shape)
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
    data: Any = None,
    variance: np.ndarray | None = None,
) -> Any:
    """The first layer's units as images: each unit's input weights (what the unit
    responds to, as in the sparse and denoising papers), every unit on one colour scale
    centred at 0, with its colour bar: a faint unit has small weights. Each is titled by
    its unit's number, the units with the largest weights first (PCA's components in
    their order). With ``data`` (samples of the inputs) or ``variance`` (of each pixel
    value over the data the model trained on, :func:`pixel_variance`), the pixels the data
    barely uses (:func:`barely_varying`) are drawn grey: their weights are noise the data
    never shows the unit. The scale ends at the 99th percentile of the weights' sizes;
    larger ones take its end colours."""
    from matplotlib.patches import Patch

    plt = pyplot()
    weights = first_layer_weights(model)
    if weights is None:
        raise ValueError("the encoder has no dense first layer to draw")
    if variance is None and data is not None:
        variance = pixel_variance(data)
    images, unused = _filter_images(weights[:n], image_shape, variance)
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
