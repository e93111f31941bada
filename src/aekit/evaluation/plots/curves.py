"""Loss curves per epoch: one panel per loss term, each naming its loss and units, on a
readable scale, with a second row on a linear scale where the first epochs would flatten
the rest; PCA's held-out error as a reference where it is measured as the curve is, and
whether the run's final model is that PCA; also the greedy pretraining's curves, layer by
layer."""

from __future__ import annotations

import dataclasses
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
    at epoch ``best``. A curve whose style says ``level`` is a horizontal line at its
    value across the panel (in every row), its value within the panel's scale."""
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
                style = dict(style)
                if style.pop("level", False):  # a reference level: across the whole panel
                    ax.axhline(ys[0], **style)
                    continue
                kept = [(x, y) for x, y in zip(xs, ys, strict=True) if since is None or x >= since]
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


@dataclasses.dataclass(frozen=True)
class PcaLevel:
    """PCA's reconstruction error on held-out data, for :func:`loss_curves` to draw beside
    the validation curve: ``error`` the squared error per sample (summed over the
    features), in the model's units (scaled, where it scales its inputs), as a validation
    curve of squared error is; ``components`` PCA's (the code size); ``data`` which samples
    it was measured on, in words ("the validation data"); ``final`` whether the run's
    final model is this PCA (it fell back to PCA)."""

    error: float
    components: int
    data: str
    final: bool = False

    def label(self) -> str:
        said = f"PCA-{self.components} on {self.data}: {self.error:.4g}"
        return said + (" (the run's final model)" if self.final else "")


def _term_text(
    term: str, terms: Sequence[str], loss: str | None, summed_over: str | None, scaling: str
) -> tuple[str, str]:
    """A loss term's panel title and y label, naming the loss and its units."""
    name = LOSS_NAMES.get(loss, loss) if loss else "reconstruction"
    if term == "reconstruction":
        title = (
            f"reconstruction loss: {name}"
            if terms == ["reconstruction"]
            else f"reconstruction: {name}"
        )
        return title, loss_label(loss, summed_over, scaling)
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
    pca: PcaLevel | None = None,
    scaling: str = "none",
) -> Any:
    """Training and validation curves, one panel per loss term (the total, the
    reconstruction, each penalty), each naming its loss (``loss``: "mse" or "bce") and
    units (``summed_over``: what a sample's loss sums, "64 pixels"; ``scaling``: the
    model's input scaling, the units it is measured in). A log scale with labelled ticks
    near both ends where the values span more than a factor of 3; where the first epochs
    would flatten the rest, a second row from the end of the first tenth of training on a
    linear scale; a dotted line at the epoch of the lowest validation loss (the weights a
    run keeps, unless told to keep the last).

    ``pca``: PCA's held-out error, drawn as a labelled horizontal line on the
    reconstruction panel where that panel is a squared error (the measure PCA's error
    is): never on a cross-entropy's, nor on a total that adds penalties. Where the run's
    final model is that PCA (``pca.final``), the title says so, on any loss."""
    terms = ["loss"] + [
        k[len("train_") :] for k in history[0] if k.startswith("train_") and k != "train_loss"
    ]
    # The total equals the reconstruction when nothing else is added: draw it once.
    if terms == ["loss", "reconstruction"]:
        terms = ["reconstruction"]
    epochs = [row["epoch"] for row in history]
    panels = []
    for term in terms:
        curves = []
        for split, style, colour in (("train", "-", "C0"), ("val", "--", "C1")):
            xs, ys = series(history, f"{split}_{term}")
            if xs:
                label = "validation" if split == "val" else "training"
                curves.append((xs, ys, {"ls": style, "color": colour, "label": label}))
        if pca is not None and term == "reconstruction" and loss == "mse" and epochs:
            # A level across the panel, on the scale with the curves (its epochs: the
            # zoomed row's scale takes it in too).
            level = {"ls": "-.", "color": "k", "lw": 1.3, "label": pca.label(), "level": True}
            curves.append(([min(epochs), max(epochs)], [pca.error, pca.error], level))
        panels.append((*_term_text(term, terms, loss, summed_over, scaling), curves))
    fig = curve_grid(panels, lowest_validation(history))
    drawn = pca is not None and loss == "mse" and "reconstruction" in terms
    if drawn and terms.index("reconstruction") > 0:
        # The top left panel has the legend; the one with PCA's line needs its own (the
        # top row's: a legend on the zoomed row would hide the line it spans).
        fig.axes[terms.index("reconstruction")].legend(fontsize=8)
    if pca is not None and pca.final:
        off_axis = (
            ""
            if loss == "mse"
            else f"; PCA's squared error ({pca.error:.4g} on {pca.data}) is in other units "
            f"than this {LOSS_NAMES.get(loss or '', 'loss')}, so it is not drawn"
        )
        fig.suptitle(
            f"the run's final model is PCA-{pca.components} (the fallback): the trained "
            f"layers, whose curves these are, did not clearly beat it on the validation "
            f"data{off_axis}",
            fontsize=9,
            wrap=True,
        )
        tight(fig)
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
