"""Figures comparing runs (the comparison report): their held-out errors side by side, and
their loss curves overlaid, one panel per loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .curves import Curve, curve_grid, series
from .style import LOSS_NAMES, is_finite, loss_label, plain_text, pyplot, save, tight


@plain_text
def compare_errors(
    names: Sequence[str],
    errors: Sequence[float | None],
    baselines: Sequence[float | None] = (),
    path: str | Path | None = None,
    measure: str = "held-out squared error per sample",
) -> Any:
    """Runs side by side on one measure that every run records whatever loss it trained
    on (by default the held-out squared error), one bar a run in the run's colour, lower is
    better, the lowest marked "best"; ``baselines``: PCA's error at each run's code size,
    a black tick on the run's bar. A run whose error is not a number says so."""
    plt = pyplot()
    k = len(names)
    fig, ax = plt.subplots(figsize=(10, 0.5 * k + 1.9))
    y = np.arange(k)
    finite = [e for e in errors if is_finite(e)]
    best = min(finite) if finite else None
    shown = [float(e) if is_finite(e) else 0.0 for e in errors]
    ax.barh(y, shown, color=[f"C{i % 10}" for i in range(k)], height=0.6)
    base = [(i, float(b)) for i, b in enumerate(baselines) if is_finite(b)]
    if base:
        ax.scatter(
            [b for _, b in base],
            [i for i, _ in base],
            marker="|",
            s=500,
            color="k",
            linewidths=2,
            zorder=3,
            label="PCA with as many components as the run's code",
        )
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    top = max([*shown, *(b for _, b in base), 1e-12])
    for i, e in enumerate(errors):
        text = f" {float(e):.4g}" + ("  best" if e == best else "") if is_finite(e) else " n/a"
        ax.text(
            shown[i], i, text, va="center", fontsize=9, fontweight="bold" if e == best else "normal"
        )
    ax.set_yticks(y, list(names), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.2)
    ax.set_xlabel(f"{measure} (lower is better)")
    ax.set_title(f"which run reconstructs best: {measure}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    tight(fig)
    return save(fig, path)


@plain_text
def compare_curves(
    runs: Sequence[tuple[str, Sequence[Mapping[str, float]], str | None]],
    path: str | Path | None = None,
    summed_over: str | None = None,
) -> Any:
    """Runs' reconstruction losses per epoch (``runs``: name, history, loss), validation
    solid and training dotted, each run in its colour (the same as in
    :func:`compare_errors`): one panel per loss, so that a cross-entropy and a squared
    error are never read on one axis; scales as :func:`loss_curves` chooses them."""
    panels: dict[str | None, list[Curve]] = {}
    for i, (name, history, loss) in enumerate(runs):
        curves = panels.setdefault(loss, [])
        for split, line in (("val", "-"), ("train", ":")):
            xs, ys = series(history, f"{split}_reconstruction")
            if not xs:
                xs, ys = series(history, f"{split}_loss")
            if xs:
                val = split == "val"
                label = name if val or not series(history, "val_loss")[0] else None
                style = {"ls": line, "color": f"C{i % 10}", "label": label, "mark_lowest": val}
                curves.append((xs, ys, style))
    fig = curve_grid(
        [
            (
                f"{LOSS_NAMES.get(loss, loss) if loss else 'reconstruction loss'}: "
                "validation solid, training dotted",
                loss_label(loss, summed_over),
                curves,
            )
            for loss, curves in panels.items()
            if curves
        ],
        legend_each=True,
    )
    return save(fig, path)
