"""Figures of what a model gives back: originals above their reconstructions, the error of
each feature (tabular data), decodings along a line in the code space, and the
distribution of per-sample errors (anomaly scores)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .style import as_image, plain_text, pyplot, save, tight


@plain_text
def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    path: str | Path | None = None,
    image_shape: Sequence[int] | None = None,
    n: int = 10,
    per_row: int = 10,
    corrupted: np.ndarray | None = None,
    title: str = "samples and their reconstructions",
) -> Any:
    """Originals above their reconstructions (and, for a denoising model, the corrupted
    inputs between them), ``per_row`` samples to a row (more wrap onto further rows).
    Images of any C x H x W; other vectors as line plots of value against feature, the
    original in grey (give them in comparable units: features of different ranges are
    best shown standardised)."""
    plt = pyplot()
    originals = np.asarray(originals).reshape(len(originals), -1)
    rows = [(originals, "original")]
    if corrupted is not None:
        rows.append((np.asarray(corrupted).reshape(len(corrupted), -1), "corrupted"))
    rows.append((np.asarray(reconstructions).reshape(len(reconstructions), -1), "reconstruction"))
    n = min(n, len(originals))
    cols = min(n, per_row)
    blocks = math.ceil(n / cols)
    k = len(rows)
    fig, axes = plt.subplots(
        k * blocks, cols, figsize=(1.2 * cols, 1.3 * k * blocks), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        block, col = divmod(i, cols)
        for r, (values, label) in enumerate(rows):
            ax = axes[k * block + r][col]
            ax.axis("on")
            img = as_image(values[i], image_shape)
            if img is not None:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.plot(originals[i], color="0.7", lw=0.8)
                ax.plot(values[i], lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    tight(fig)
    return save(fig, path)


@plain_text
def feature_errors_plot(
    errors: np.ndarray, path: str | Path | None = None, names: Sequence[str] | None = None
) -> Any:
    """Mean squared reconstruction error of each feature (tabular data), one bar per
    feature on one scale, with the feature names (or numbers) on the axis."""
    plt = pyplot()
    mean = np.asarray(errors).mean(0)
    d = len(mean)
    labels = list(names) if names is not None else [str(i) for i in range(d)]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.22 * d + 1.5), 3.4))
    ax.bar(np.arange(d), mean, color="C0")
    ax.set_xticks(np.arange(d), labels, rotation=90, fontsize=7)
    ax.set_xlabel("feature")
    ax.set_ylabel("mean squared error")
    ax.set_title("reconstruction error per feature (held-out data, the model's units)", fontsize=9)
    tight(fig)
    return save(fig, path)


def distant_pair(codes: np.ndarray, among: int = 200) -> tuple[int, int]:
    """The two of the first ``among`` samples whose codes lie farthest apart: the ends of
    an interpolation that crosses the code space (the first two samples may be alike,
    two flat grey patches, and the line between them shows nothing)."""
    c = np.asarray(codes, dtype=np.float64)[:among].reshape(min(len(codes), among), -1)
    if len(c) < 2:
        raise ValueError("an interpolation needs two samples")
    squared = (c * c).sum(1)
    distance = squared[:, None] + squared[None, :] - 2 * c @ c.T
    i, j = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return (int(i), int(j)) if i != j else (0, 1)


@plain_text
def interpolation(
    model: Any,
    a: np.ndarray,
    b: np.ndarray,
    path: str | Path | None = None,
    image_shape: Sequence[int] | None = None,
    steps: int = 9,
) -> Any:
    """Decodings of the codes on the straight line from f(a) to f(b): the code space
    between two inputs."""
    plt = pyplot()
    pair = np.stack([np.ravel(a), np.ravel(b)]).astype(np.float32)
    ha, hb = np.asarray(model.encode(pair))
    t = np.linspace(0, 1, steps)[:, None]
    decoded = np.asarray(model.decode(((1 - t) * ha + t * hb).astype(np.float32)))
    fig, axes = plt.subplots(1, steps, figsize=(1.1 * steps, 1.5), squeeze=False)
    for i, ax in enumerate(axes[0]):
        img = as_image(decoded[i], image_shape)
        if img is not None:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.plot(decoded[i], lw=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{t[i, 0]:.2g}", fontsize=7)
    fig.suptitle("decoded along the line between two codes", fontsize=9)
    tight(fig)
    fig.decoded = decoded
    return save(fig, path)


@plain_text
def score_histogram(
    errors: np.ndarray, threshold: float | None = None, path: str | Path | None = None
) -> Any:
    """Distribution of per-sample reconstruction errors (anomaly scores), with the
    threshold above which a sample is an outlier."""
    plt = pyplot()
    errors = np.asarray(errors, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(errors, bins=50, color="C0")
    if threshold is not None:
        share = float((errors > threshold).mean())
        ax.axvline(threshold, color="C3", label=f"threshold {threshold:.3g} ({share:.1%} above)")
        ax.legend(fontsize=8)
    ax.set_xlabel("squared reconstruction error")
    ax.set_ylabel("samples")
    ax.set_title("anomaly scores", fontsize=9)
    tight(fig)
    return save(fig, path)
