"""Pictures of what a model learned (matplotlib, usable from Python).

Every function draws one figure and returns it as a matplotlib ``Figure``; with ``path``
it is also written as a PNG (atomically). :func:`run_figures` draws every figure that fits
a model's kind, as ``aekit train`` does into a run's ``figures/`` folder.

What the figures promise: every curve names its loss and its units; a log scale gets
labelled ticks near both ends of the curve; colours of weights are on one scale centred
at 0 with a colour bar; every string a user gives (a run folder's name, a column's name)
is drawn as the text it is, never read as LaTeX math.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ..core.io import atomic_write

Draw = TypeVar("Draw", bound=Callable[..., Any])
# A run folder named m$x_$y is a name, not math: no string is parsed as mathtext or TeX.
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def _plain_text(draw: Draw) -> Draw:
    """``draw`` with every text it creates drawn as plain text (:data:`PLAIN_TEXT`)."""

    @functools.wraps(draw)
    def plain(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        _pyplot()
        with matplotlib.rc_context(PLAIN_TEXT):
            return draw(*args, **kwargs)

    return plain  # type: ignore[return-value]


def _tight(fig: Any) -> None:
    """Tight layout where it fits; where a figure is too crowded for it, matplotlib's own
    layout, without its warning reaching the user as if aekit had something to say."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout()


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str | Path | None) -> Any:
    """Write ``fig`` as a PNG at ``path`` (if given), close it, and return it."""
    if path is not None:
        path = Path(path)
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    _pyplot().close(fig)
    return fig


LOSS_NAMES = {"bce": "cross-entropy", "mse": "squared error"}


def loss_label(loss: str | None, summed_over: str | None = None) -> str:
    """A reconstruction loss with its units, for an axis: "squared error per sample (sum
    over 64 pixels)", "cross-entropy per sample (nats, sum over 64 pixels)"."""
    if loss is None:
        return "reconstruction loss per sample"
    name = LOSS_NAMES.get(loss, loss)
    units = ["nats"] if loss == "bce" else []
    if summed_over:
        units.append(f"sum over {summed_over}")
    return f"{name} per sample" + (f" ({', '.join(units)})" if units else "")


def _use_log(values: Sequence[float]) -> bool:
    """A log scale where the values are positive and span more than a factor of 3."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 3


def log_ticks(lo: float, hi: float) -> list[float]:
    """Labelled ticks for a log axis showing ``lo`` to ``hi``: at least four, one of them
    in the bottom and one in the top quarter of the axis, so that where a curve starts and
    where it ends can both be read: 1, 2 and 5 of each decade, denser where the range is
    short, evenly spaced numbers where it is shorter still. A tick a little beyond the
    values (within a factor of 1.25) counts: the axis is extended to it."""
    from matplotlib.ticker import MaxNLocator

    first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    for subs in ((1,), (1, 2, 5), (1, 2, 3, 5, 7), tuple(range(1, 10))):
        every = sorted(float(f"{s * 10.0**e:.6g}") for e in range(first, last + 1) for s in subs)
        below = [t for t in every if t <= lo * (1 + 1e-9)]
        above = [t for t in every if t >= hi * (1 - 1e-9)]
        bottom = below[-1] if below and below[-1] * 1.25 >= lo else lo
        top = above[0] if above and above[0] <= hi * 1.25 else hi
        ticks = [t for t in every if bottom * (1 - 1e-9) <= t <= top * (1 + 1e-9)]
        quarter = math.log10(top / bottom) / 4
        if (
            len(ticks) >= 4
            and math.log10(ticks[0] / bottom) <= quarter
            and math.log10(top / ticks[-1]) <= quarter
        ):
            return ticks
    even = MaxNLocator(nbins=6).tick_values(lo, hi)
    return [float(f"{t:.6g}") for t in even if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def readable_scale(ax: Any, values: Sequence[float]) -> None:
    """A log y scale where ``values`` span more than a factor of 3, its ticks from
    :func:`log_ticks` written as plain numbers; else matplotlib's linear one."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullFormatter

    values = [v for v in values if math.isfinite(v)]
    if not _use_log(values):
        return
    ticks = log_ticks(min(values), max(values))
    lo, hi = min(*values, *ticks), max(*values, *ticks)
    ax.set_yscale("log")
    margin = (hi / lo) ** 0.04
    ax.set_ylim(lo / margin, hi * margin)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(LogLocator(subs="auto"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _as_image(row: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray | None:
    """``row`` as an image to draw, where it is known to be one (``image_shape``); else
    None: a vector whose length happens to be a square (a table of 4 or 64 features) is
    not drawn as an image."""
    if image_shape is None:
        return None
    c, h, w = image_shape
    img = row.reshape(c, h, w)
    if c in (3, 4):  # RGB, RGBA
        return np.clip(img.transpose(1, 2, 0), 0, 1)
    return img[0]  # one channel, or the first of any other number


@_plain_text
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
    plt = _pyplot()
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
            img = _as_image(values[i], image_shape)
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
    _tight(fig)
    return save(fig, path)


@_plain_text
def feature_errors_plot(
    errors: np.ndarray, path: str | Path | None = None, names: Sequence[str] | None = None
) -> Any:
    """Mean squared reconstruction error of each feature (tabular data), one bar per
    feature on one scale, with the feature names (or numbers) on the axis."""
    plt = _pyplot()
    mean = np.asarray(errors).mean(0)
    d = len(mean)
    labels = list(names) if names is not None else [str(i) for i in range(d)]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.22 * d + 1.5), 3.4))
    ax.bar(np.arange(d), mean, color="C0")
    ax.set_xticks(np.arange(d), labels, rotation=90, fontsize=7)
    ax.set_xlabel("feature")
    ax.set_ylabel("mean squared error")
    ax.set_title("reconstruction error per feature (held-out data, the model's units)", fontsize=9)
    _tight(fig)
    return save(fig, path)


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
        img = _as_image(w, image_shape)
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


@_plain_text
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

    plt = _pyplot()
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


def _label_colours(fig: Any, ax: Any, xy: np.ndarray, labels: np.ndarray) -> None:
    """Points coloured by label: up to 20 distinct labels as bands of one colour each, the
    colour bar's ticks at the bands' centres, named by the labels; more (or labels that
    are measurements) on a continuous scale."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    values = np.unique(labels)
    if len(values) > 20:
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="viridis", s=8, alpha=0.8)
        fig.colorbar(points, ax=ax, label="label")
        return
    k = len(values)
    palette = _pyplot().get_cmap("tab10" if k <= 10 else "tab20")
    cmap = ListedColormap([palette(i) for i in range(k)])
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    index = np.searchsorted(values, labels)
    points = ax.scatter(xy[:, 0], xy[:, 1], c=index, cmap=cmap, norm=norm, s=8, alpha=0.85)
    bar = fig.colorbar(points, ax=ax, ticks=np.arange(k), label="label")
    bar.set_ticklabels([f"{v:g}" if isinstance(v, float | np.floating) else str(v) for v in values])
    bar.ax.tick_params(length=0)


@_plain_text
def code_space(
    codes: np.ndarray,
    path: str | Path | None = None,
    labels: np.ndarray | None = None,
    method: str = "pca",
) -> Any:
    """The codes in 2-D: the two units themselves for a 2-unit code, else their first two
    principal components (``method="tsne"``: a t-SNE embedding, slower, for clusters);
    coloured by label where labels exist."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    plt = _pyplot()
    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] == 1:
        xy, axis = np.column_stack([codes[:, 0], np.zeros(len(codes))]), ("unit 1", "")
    elif codes.shape[1] == 2 or len(codes) < 2:  # one sample has no principal components
        xy, axis = codes[:, :2], ("unit 1", "unit 2")
    elif method == "tsne":
        perplexity = min(30.0, max(2.0, (len(codes) - 1) / 3))
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=0)
        xy, axis = tsne.fit_transform(codes), ("t-SNE 1", "t-SNE 2")
    else:
        xy, axis = PCA(2, random_state=0).fit_transform(codes), ("PC 1", "PC 2")
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is not None:
        _label_colours(fig, ax, xy, np.asarray(labels))
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.6)
    ax.set_xlabel(axis[0])
    ax.set_ylabel(axis[1])
    name = "t-SNE" if method == "tsne" else "PCA"
    how = (
        "the code itself"
        if codes.shape[1] <= 2
        else "its first two units"
        if len(codes) < 2
        else f"{name} of the {codes.shape[1]}-unit code"
    )
    ax.set_title(f"code space ({how}, {len(codes)} held-out samples)", fontsize=9)
    _tight(fig)
    return save(fig, path)


Curve = tuple[list[float], list[float], dict[str, Any]]  # epochs, values, plot settings


def _series(history: Sequence[Mapping[str, float]], key: str) -> tuple[list[float], list[float]]:
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
    f = math.log if _use_log(values) else float
    full, part = f(max(values)) - f(min(values)), f(max(tail)) - f(min(tail))
    return int(start) if full > 0 and part < full / 2 else None


def lowest_validation(history: Sequence[Mapping[str, float]]) -> int | None:
    """The epoch of the lowest validation loss (the weights a run keeps unless told to keep
    the last), or None without validation."""
    xs, ys = _series(history, "val_loss")
    finite = [(y, x) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return int(min(finite)[1]) if finite else None


def _curve_grid(
    panels: Sequence[tuple[str, str, list[Curve]]],
    best: int | None = None,
    legend_each: bool = False,
) -> Any:
    """One column per panel (title, y label, curves) on :func:`readable_scale`; a second
    row from :func:`zoom_start` on where the first epochs flatten the rest; a dotted line
    at epoch ``best``."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
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
    _tight(fig)
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


@_plain_text
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
            xs, ys = _series(history, f"{split}_{term}")
            if xs:
                label = "validation" if split == "val" else "training"
                curves.append((xs, ys, {"ls": style, "color": colour, "label": label}))
        panels.append((*_term_text(term, terms, loss, summed_over), curves))
    fig = _curve_grid(panels, lowest_validation(history))
    return save(fig, path)


def _unit_bars(ax: Any, freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One bar a live unit, most active first, a red cross (and a red number) a dead one;
    the units' order and which of them, in that order, are dead."""
    k = len(freq)
    order = np.argsort(-freq, kind="stable")
    dead = freq[order] == 0
    x = np.arange(k)
    live = f"live units: {k - int(dead.sum())}"
    ax.bar(x[~dead], freq[order][~dead], color="C0", width=0.8, label=live)
    if dead.any():
        ax.scatter(
            x[dead],
            np.zeros(int(dead.sum())),
            marker="x",
            color="C3",
            s=40,
            zorder=3,
            clip_on=False,
            label=f"dead units (never active): {int(dead.sum())}",
        )
    if k <= 64:
        ax.set_xticks(x, [str(u) for u in order], fontsize=7 if k > 30 else 8)
        for label, is_dead in zip(ax.get_xticklabels(), dead, strict=True):
            if is_dead:
                label.set_color("C3")
        ax.set_xlabel("code unit (numbered as in the model; sorted by how often it is active)")
    else:
        ax.set_xlabel(f"the {k} code units, sorted by how often each is active")
    ax.set_xlim(-0.7, k - 0.3)
    return order, dead


@_plain_text
def activation_frequencies(model: Any, X: np.ndarray, path: str | Path | None = None) -> Any:
    """How often each code unit is active over ``X`` ("active" as the metrics count it:
    a sigmoid unit above 0.5, a ReLU or top-k unit above 0): one bar per unit, sorted
    from the most to the least active, dead units (never active) marked with a red cross
    and a red number, so that a unit active on one sample in a thousand is not taken for
    a dead one. Under a KL penalty, each unit's mean activation too, with the target rho
    it is pulled to."""
    from ..models.penalties import KLSparsity
    from .metrics import active_units

    plt = _pyplot()
    codes = torch.as_tensor(model.encode(np.asarray(X, dtype=np.float32)))
    cfg = model.config
    active = active_units(codes, cfg.code_activation, cfg.top_k is not None)
    freq = active.double().mean(0).numpy()
    k = len(freq)
    fig, ax = plt.subplots(figsize=(min(13.0, max(8.0, 0.22 * k + 4.5)), 3.6))
    order, dead = _unit_bars(ax, freq)
    x = np.arange(k)
    kl = [p for p in model.penalties if isinstance(p, KLSparsity)]
    mean = codes.double().mean(0).numpy()
    if kl:  # what rho targets: the mean activation, not the share of samples above 0.5
        ax.plot(x, mean[order], "D", color="k", ms=3.5, label="mean activation (what rho targets)")
        ax.axhline(kl[0].rho, color="k", ls="--", lw=1, label=f"target rho = {kl[0].rho:g}")
    top = max(float(freq.max()), float(mean[order].max()) if kl else 0.0, *(p.rho for p in kl))
    ax.set_ylim(0, max(0.05, top * 1.15))
    ax.set_ylabel(
        "bars: share of samples active\ndiamonds: mean activation"
        if kl
        else "share of samples\non which it is active"
    )
    rule = (
        "h > 0.5"
        if cfg.code_activation == "sigmoid"
        else "h > 0"
        if cfg.code_activation == "relu" or cfg.top_k
        else "h != 0"
    )
    ax.set_title(
        f"activity of the {k} code units on {len(codes)} samples (active: {rule}); "
        f"{int(dead.sum())} dead",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _tight(fig)
    fig.frequencies = freq  # the plotted values, unit by unit, for tests and callers
    return save(fig, path)


@_plain_text
def jacobian_spectrum(
    models: Mapping[str, Any], X: np.ndarray, path: str | Path | None = None, n: int = 200
) -> Any:
    """Singular values of the encoder's Jacobian J_f(x), averaged over ``n`` samples, for
    each model: a contractive encoder has few large ones (it contracts in most directions,
    Rifai et al.'s figure)."""
    plt = _pyplot()
    x = torch.as_tensor(np.asarray(X[:n], dtype=np.float32)).reshape(min(n, len(X)), -1)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    spectra = {}
    for label, model in models.items():
        spectra[label] = spectrum = encoder_jacobian_spectrum(model, x)
        ax.plot(np.arange(1, len(spectrum) + 1), spectrum, marker=".", label=label)
    readable_scale(ax, [v for spectrum in spectra.values() for v in spectrum])
    ax.set_xlabel("singular value index")
    ax.set_ylabel("mean singular value of J_f(x)")
    ax.set_title("encoder Jacobian spectrum", fontsize=9)
    ax.legend(fontsize=8)
    _tight(fig)
    fig.spectra = spectra
    return save(fig, path)


def encoder_jacobian_spectrum(model: Any, x: torch.Tensor) -> np.ndarray:
    """Mean over the rows of ``x`` of the sorted singular values of J_f(x)."""
    from torch.func import jacrev, vmap

    was = model.training
    model.eval()
    try:
        encode = lambda v: model.parts[0](model.scale(v.unsqueeze(0))).squeeze(0)  # noqa: E731
        jac = vmap(jacrev(encode))(x.to(model.device))
        values = torch.linalg.svdvals(jac).mean(0)
    finally:
        model.train(was)
    return values.detach().cpu().numpy()


@_plain_text
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
    plt = _pyplot()
    pair = np.stack([np.ravel(a), np.ravel(b)]).astype(np.float32)
    ha, hb = np.asarray(model.encode(pair))
    t = np.linspace(0, 1, steps)[:, None]
    decoded = np.asarray(model.decode(((1 - t) * ha + t * hb).astype(np.float32)))
    fig, axes = plt.subplots(1, steps, figsize=(1.1 * steps, 1.5), squeeze=False)
    for i, ax in enumerate(axes[0]):
        img = _as_image(decoded[i], image_shape)
        if img is not None:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.plot(decoded[i], lw=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{t[i, 0]:.2g}", fontsize=7)
    fig.suptitle("decoded along the line between two codes", fontsize=9)
    _tight(fig)
    fig.decoded = decoded
    return save(fig, path)


@_plain_text
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
        xs, ys = _series(history, "train_reconstruction")
        if not xs:
            xs, ys = _series(history, "train_loss")
        label = f"layer {k}" + (f" ({LOSS_NAMES.get(loss, loss)})" if loss else "")
        panels.setdefault(loss, []).append((xs, ys, {"color": f"C{(k - 1) % 10}", "label": label}))
    fig = _curve_grid(
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


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@_plain_text
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
    plt = _pyplot()
    k = len(names)
    fig, ax = plt.subplots(figsize=(10, 0.5 * k + 1.9))
    y = np.arange(k)
    finite = [e for e in errors if _finite(e)]
    best = min(finite) if finite else None
    shown = [float(e) if _finite(e) else 0.0 for e in errors]
    ax.barh(y, shown, color=[f"C{i % 10}" for i in range(k)], height=0.6)
    base = [(i, float(b)) for i, b in enumerate(baselines) if _finite(b)]
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
        text = f" {float(e):.4g}" + ("  best" if e == best else "") if _finite(e) else " n/a"
        ax.text(
            shown[i], i, text, va="center", fontsize=9, fontweight="bold" if e == best else "normal"
        )
    ax.set_yticks(y, list(names), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.2)
    ax.set_xlabel(f"{measure} (lower is better)")
    ax.set_title(f"which run reconstructs best: {measure}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _tight(fig)
    return save(fig, path)


@_plain_text
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
            xs, ys = _series(history, f"{split}_reconstruction")
            if not xs:
                xs, ys = _series(history, f"{split}_loss")
            if xs:
                val = split == "val"
                label = name if val or not _series(history, "val_loss")[0] else None
                style = {"ls": line, "color": f"C{i % 10}", "label": label, "mark_lowest": val}
                curves.append((xs, ys, style))
    fig = _curve_grid(
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


@_plain_text
def score_histogram(
    errors: np.ndarray, threshold: float | None = None, path: str | Path | None = None
) -> Any:
    """Distribution of per-sample reconstruction errors (anomaly scores), with the
    threshold above which a sample is an outlier."""
    plt = _pyplot()
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
    _tight(fig)
    return save(fig, path)


def summed_over(features: int, image_shape: Sequence[int] | None = None) -> str:
    """What a sample's reconstruction loss sums over, in words: "64 pixels", "3072 pixel
    values" (several channels), "30 features"."""
    if image_shape is None:
        return f"{features} features"
    return f"{features} pixels" if image_shape[0] == 1 else f"{features} pixel values"


def run_figures(
    model: Any,
    X: np.ndarray,
    folder: str | Path,
    history: Sequence[Mapping[str, float]] = (),
    labels: np.ndarray | None = None,
    layers: Sequence[Sequence[Mapping[str, float]]] = (),
    layer_losses: Sequence[str] = (),
) -> list[Path]:
    """Every figure that fits ``model``'s kind, drawn on held-out data ``X`` into
    ``folder`` (what ``aekit train`` writes into ``RUN/figures``); ``layers`` and
    ``layer_losses``: the histories and losses of greedily pretrained layers. Returns the
    files."""
    from ..models.penalties import Contractive, KLSparsity, L1Sparsity
    from .metrics import feature_errors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    shape = cfg.image_shape if cfg is not None else None
    x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    images = _as_image(x[0], shape) is not None
    written = []

    def out(name: str) -> Path:
        written.append(folder / name)
        return folder / name

    sample = x[:10]
    if images or not (cfg is not None and cfg.missing):
        corrupted = None
        if model.corruption is not None:
            with torch.random.fork_rng():
                torch.manual_seed(0)
                corrupted = model.corruption(torch.as_tensor(sample)).numpy()
        if images:
            reconstruction_grid(
                sample,
                model.reconstruct(sample),
                out("reconstructions.png"),
                shape,
                corrupted=corrupted,
                title="held-out samples and their reconstructions",
            )
    if not images:
        names = getattr(model, "feature_names", None)
        feature_errors_plot(feature_errors(model, x), out("feature_errors.png"), names)
    if history:
        loss = cfg.loss if cfg is not None else None
        loss_curves(history, out("curves.png"), loss, summed_over(x.shape[1], shape))
    codes = np.asarray(model.encode(x[:2000]))
    code_space(codes, out("codes.png"), labels[: len(codes)] if labels is not None else None)
    if images and first_layer_weights(model) is not None:
        filters(model, out("filters.png"), shape, data=x)
    if images and len(x) >= 2:
        interpolation(model, x[0], x[1], out("interpolation.png"), shape)
    penalties = model.penalties
    if any(isinstance(p, KLSparsity | L1Sparsity) for p in penalties) or (
        cfg is not None and cfg.top_k is not None
    ):
        activation_frequencies(model, x, out("activation_frequencies.png"))
    if any(isinstance(p, Contractive) for p in penalties):
        jacobian_spectrum({"this model": model}, x, out("jacobian_spectrum.png"))
    if layers:
        pretraining_curves(layers, out("pretraining.png"), layer_losses)
    return written
