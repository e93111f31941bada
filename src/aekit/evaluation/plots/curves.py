"""Loss curves per epoch: one panel per loss term, each naming its loss and units, on a
readable scale, with a second row on a linear scale where the first epochs would flatten
the rest; also the greedy pretraining's curves, layer by layer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .style import LOSS_NAMES, loss_label, plain_text, pyplot, readable_scale, save, tight, use_log

Curve = tuple[list[float], list[float], dict[str, Any]]  # epochs, values, plot settings


def series(history: Sequence[Mapping[str, float]], key: str) -> tuple[list[float], list[float]]:
    """The epochs and values of column ``key`` of a history, where it has one."""
    points = [(row["epoch"], row[key]) for row in history if key in row]
    return [p[0] for p in points], [p[1] for p in points]


def _values(curves: Sequence[Curve], start: float | None = None) -> list[float]:
    return [
        y
        for xs, ys, _ in curves
        for x, y in zip(xs, ys, strict=True)
        if math.isfinite(y) and (start is None or x >= start)
    ]


def zoom_start(curves: Sequence[Curve]) -> int | None:
    """The epoch from which a second row of panels repeats the curves on a linear scale,
    where the first epochs would flatten the rest into a line: the end of the first tenth
    of training (of 20 epochs or more), when the curves from there on fill less than half
    of the full panel's height; else None."""
    epochs = sorted({x for xs, _, _ in curves for x in xs})
    if len(epochs) < 20:
        return None
    start = epochs[len(epochs) // 10]
    values, tail = _values(curves), _values(curves, start)
    if not tail:
        return None
    f = math.log if use_log(values) else float
    full, part = f(max(values)) - f(min(values)), f(max(tail)) - f(min(tail))
    return int(start) if full > 0 and part < full / 2 else None


def lowest_validation(history: Sequence[Mapping[str, float]]) -> int | None:
    """The epoch of the lowest validation loss (the weights a run keeps unless told to keep
    the last), or None without validation."""
    xs, ys = series(history, "val_loss")
    finite = [(y, x) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return int(min(finite)[1]) if finite else None


def curve_grid(
    panels: Sequence[tuple[str, str, list[Curve]]],
    best: int | None = None,
    legend_each: bool = False,
) -> Any:
    """One column per panel (title, y label, curves) on :func:`readable_scale`; a second
    row from :func:`zoom_start` on where the first epochs flatten the rest; a dotted line
    at epoch ``best``."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    starts = [zoom_start(curves) for _, _, curves in panels]
    start = next((s for s in starts if s is not None), None)
    rows = 1 if start is None else 2
    # One panel and its zoom side by side; several panels in a row, their zooms below.
    shape = (1, 2) if rows == 2 and len(panels) == 1 else (rows, len(panels))
    fig, grid = plt.subplots(*shape, figsize=(4.6 * shape[1] + 0.4, 3.5 * shape[0]), squeeze=False)
    axes = grid.reshape(rows, len(panels))
    epochs = sorted({x for _, _, curves in panels for xs, _, _ in curves for x in xs})
    for col, (title, ylabel, curves) in enumerate(panels):
        for row in range(rows):
            ax = axes[row][col]
            since = start if row == 1 else None
            for xs, ys, style in curves:
                kept = [(x, y) for x, y in zip(xs, ys, strict=True) if since is None or x >= since]
                style = dict(style)
                mark = style.pop("mark_lowest", False)
                ax.plot([p[0] for p in kept], [p[1] for p in kept], **style)
                finite = [(y, x) for x, y in kept if math.isfinite(y)]
                if mark and finite:
                    y, x = min(finite)
                    ax.plot([x], [y], "o", color=style.get("color"), ms=5)
            if best is not None and (since is None or best >= since):
                ax.axvline(
                    best,
                    color="0.35",
                    ls=":",
                    lw=1.2,
                    label=f"lowest validation loss: epoch {best}",
                )
            if row == 0:
                readable_scale(ax, _values(curves))
                ax.set_title(title, fontsize=10)
            else:
                ax.set_title(
                    f"epochs {start}-{int(epochs[-1])} of the same, linear scale", fontsize=10
                )
            ax.set_ylabel(ylabel.replace(" (", "\n(", 1), fontsize=9)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0] and (legend_each or (row, col) == (0, 0)):
                ax.legend(fontsize=8)
    if len(epochs) == 1:
        for ax in axes.flat:
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    tight(fig)
    return fig


def _term_text(
    term: str, terms: Sequence[str], loss: str | None, summed_over: str | None
) -> tuple[str, str]:
    """A loss term's panel title and y label, naming the loss and its units."""
    name = LOSS_NAMES.get(loss, loss) if loss else "reconstruction"
    if term == "reconstruction":
        title = (
            f"reconstruction loss: {name}"
            if terms == ["reconstruction"]
            else f"reconstruction: {name}"
        )
        return title, loss_label(loss, summed_over)
    if term == "loss":
        added = " + ".join([name, *[t for t in terms if t not in ("loss", "reconstruction")]])
        return f"total loss = {added}", "per sample, as minimised"
    return f"{term} penalty", f"{term}, as added to the loss"


@plain_text
def loss_curves(
    history: Sequence[Mapping[str, float]],
    path: str | Path | None = None,
    loss: str | None = None,
    summed_over: str | None = None,
) -> Any:
    """Training and validation curves, one panel per loss term (the total, the
    reconstruction, each penalty), each naming its loss (``loss``: "mse" or "bce") and
    units (``summed_over``: what a sample's loss sums, "64 pixels"). A log scale with
    labelled ticks near both ends where the values span more than a factor of 3; where
    the first epochs would flatten the rest, a second row from the end of the first tenth
    of training on a linear scale; a dotted line at the epoch of the lowest validation
    loss (the weights a run keeps, unless told to keep the last)."""
    terms = ["loss"] + [
        k[len("train_") :] for k in history[0] if k.startswith("train_") and k != "train_loss"
    ]
    # The total equals the reconstruction when nothing else is added: draw it once.
    if terms == ["loss", "reconstruction"]:
        terms = ["reconstruction"]
    panels = []
    for term in terms:
        curves = []
        for split, style, colour in (("train", "-", "C0"), ("val", "--", "C1")):
            xs, ys = series(history, f"{split}_{term}")
            if xs:
                label = "validation" if split == "val" else "training"
                curves.append((xs, ys, {"ls": style, "color": colour, "label": label}))
        panels.append((*_term_text(term, terms, loss, summed_over), curves))
    fig = curve_grid(panels, lowest_validation(history))
    return save(fig, path)


@plain_text
def pretraining_curves(
    layers: Sequence[Sequence[Mapping[str, float]]],
    path: str | Path | None = None,
    losses: Sequence[str] = (),
) -> Any:
    """Greedy pretraining: each layer's training reconstruction loss per epoch, one panel
    per loss (``losses``: a layer of data in [0, 1] may train on cross-entropy, the others
    on squared error; losses in other units never share an axis), each layer named in
    the legend with its loss."""
    panels: dict[str | None, list[Curve]] = {}
    for k, history in enumerate(layers, 1):
        loss = losses[k - 1] if k <= len(losses) else None
        xs, ys = series(history, "train_reconstruction")
        if not xs:
            xs, ys = series(history, "train_loss")
        label = f"layer {k}" + (f" ({LOSS_NAMES.get(loss, loss)})" if loss else "")
        panels.setdefault(loss, []).append((xs, ys, {"color": f"C{(k - 1) % 10}", "label": label}))
    fig = curve_grid(
        [
            (
                "greedy pretraining, layer by layer"
                + (f": {LOSS_NAMES.get(loss, loss)}" if len(panels) > 1 and loss else ""),
                loss_label(loss, "the layer's inputs"),
                curves,
            )
            for loss, curves in panels.items()
        ],
        legend_each=True,
    )
    return save(fig, path)
