"""Pictures of what a model learned: reconstructions next to originals, and loss curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .io import atomic_write


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _as_image(row: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray | None:
    if image_shape is None:
        side = math.isqrt(row.size)
        image_shape = (1, side, side) if side * side == row.size else None
    if image_shape is None:
        return None
    c, h, w = image_shape
    img = row.reshape(c, h, w)
    if c in (3, 4):  # RGB, RGBA
        return np.clip(img.transpose(1, 2, 0), 0, 1)
    return img[0]  # one channel, or the first of any other number


def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    path: str | Path,
    image_shape: Sequence[int] | None = None,
    n: int = 10,
    per_row: int = 10,
) -> Path:
    """Save a PNG of ``n`` originals, each above its reconstruction, ``per_row`` pairs to a
    row (more samples wrap onto further pairs of rows).

    Vectors that are not images are drawn as line plots.
    """
    plt = _pyplot()
    originals = np.asarray(originals).reshape(len(originals), -1)
    reconstructions = np.asarray(reconstructions).reshape(len(reconstructions), -1)
    n = min(n, len(originals))
    cols = min(n, per_row)
    blocks = math.ceil(n / cols)
    fig, axes = plt.subplots(
        2 * blocks, cols, figsize=(1.2 * cols, 1.3 * 2 * blocks), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        block, col = divmod(i, cols)
        for r, (rows, label) in enumerate(
            ((originals, "original"), (reconstructions, "reconstruction"))
        ):
            ax = axes[2 * block + r][col]
            ax.axis("on")
            img = _as_image(rows[i], image_shape)
            if img is not None:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.plot(originals[i], color="0.7", lw=0.8)
                ax.plot(rows[i], lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path


def loss_curves(history: Sequence[dict[str, float]], path: str | Path) -> Path:
    """Save a PNG of the training (and validation) loss per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [row["epoch"] for row in history]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if all(key in row for row in history):
            ax.plot(epochs, [row[key] for row in history], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per sample")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path
