"""Figures of the code: the codes in two dimensions, how often each code unit is active,
and the spectrum of the encoder's Jacobian."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .style import plain_text, pyplot, readable_scale, save, tight


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
    palette = pyplot().get_cmap("tab10" if k <= 10 else "tab20")
    cmap = ListedColormap([palette(i) for i in range(k)])
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    index = np.searchsorted(values, labels)
    points = ax.scatter(xy[:, 0], xy[:, 1], c=index, cmap=cmap, norm=norm, s=8, alpha=0.85)
    bar = fig.colorbar(points, ax=ax, ticks=np.arange(k), label="label")
    bar.set_ticklabels([f"{v:g}" if isinstance(v, float | np.floating) else str(v) for v in values])
    bar.ax.tick_params(length=0)


@plain_text
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
    plt = pyplot()
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
    tight(fig)
    return save(fig, path)


def _unit_bars(ax: Any, freq: np.ndarray, dead: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """One bar a unit, most active first (among equals, the most varying first, so the dead
    come last); a dead unit's bar red and marked with a red cross (at 0 where it is never
    active) and, where the units are numbered on the axis, its number red; a unit never
    active that still varies (alive) a grey circle at 0. The units' order."""
    k = len(freq)
    order = np.lexsort((-spread, -freq))
    freq, dead = freq[order], dead[order]
    x = np.arange(k)
    live = f"live units: {k - int(dead.sum())}"
    ax.bar(x[~dead], freq[~dead], color="C0", width=0.8, label=live)
    if (dead & (freq > 0)).any():  # a unit always at the same level above the threshold
        ax.bar(x[dead], freq[dead], color="C3", width=0.8)
    idle = ~dead & (freq == 0)
    if idle.any():
        ax.scatter(
            x[idle],
            np.zeros(int(idle.sum())),
            marker="o",
            facecolors="none",
            edgecolors="0.45",
            s=30 if k <= 200 else 10,
            zorder=3,
            clip_on=False,
            label=f"never active, yet varying (alive): {int(idle.sum())}",
        )
    if dead.any():
        ax.scatter(
            x[dead],
            freq[dead],
            marker="x",
            color="C3",
            s=40 if k <= 200 else 12,
            zorder=4,
            clip_on=False,
            label=f"dead units (the same value on every sample): {int(dead.sum())}",
        )
    if k <= 64:
        ax.set_xticks(x, [str(u) for u in order], fontsize=7 if k > 30 else 8)
        for label, is_dead in zip(ax.get_xticklabels(), dead, strict=True):
            if is_dead:
                label.set_color("C3")
        ax.set_xlabel("code unit, numbered from 0 as in the model (most active first)")
    else:
        ax.set_xlabel(
            f"the {k} code units, sorted by how often each is active (the dead ones are "
            "numbered in the title)"
        )
    ax.set_xlim(-0.7, k - 0.3)
    return order


@plain_text
def activation_frequencies(model: Any, X: np.ndarray, path: str | Path | None = None) -> Any:
    """How often each code unit is active over ``X`` ("active" as the metrics count it:
    a sigmoid unit above 0.5, a ReLU or top-k unit above 0): one bar per unit, sorted
    from the most to the least active. Dead units (whose value does not vary across ``X``,
    as :func:`~aekit.evaluation.metrics.evaluate` counts them) are marked with a red cross,
    and numbered in the title (and in red on the axis, up to 64 units), so that they can
    be found at any width; a unit never active that still varies (alive: under a KL
    penalty, a unit kept near rho that follows the input) is a grey circle. Under a KL
    penalty, each unit's mean activation too, with the target rho it is pulled to. The
    figure's ``frequencies`` and ``dead_units`` (their numbers) are what it shows."""
    import textwrap

    from ...models.penalties import KLSparsity
    from ..metrics import active_units, dead_mask, said_units

    plt = pyplot()
    codes = torch.as_tensor(model.encode(np.asarray(X, dtype=np.float32)))
    cfg = model.config
    active = active_units(codes, cfg.code_activation, cfg.top_k is not None)
    freq = active.double().mean(0).numpy()
    k = len(freq)
    low, high = (v.double().numpy() for v in torch.aminmax(codes, dim=0))
    dead = dead_mask(low, high)
    width = min(13.0, max(8.0, 0.22 * k + 4.5))
    dead_numbers = np.flatnonzero(dead).tolist()
    # The dead units by number, in the title: readable at any width, where 1000 tick labels
    # are not; wrapped to the figure's width (about 11 characters an inch at this size).
    named = textwrap.fill(
        f"dead (the same value on every sample): {said_units(dead_numbers, k)}",
        width=int(width * 11),
    )
    lines = named.count("\n") + 1
    fig, ax = plt.subplots(figsize=(width, 3.6 + 0.18 * lines))
    order = _unit_bars(ax, freq, dead, high - low)
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
        f"activity of the {k} code units on {len(codes)} samples (active: {rule})\n{named}",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    tight(fig)
    fig.frequencies = freq  # the plotted values, unit by unit, for tests and callers
    fig.dead_units = dead_numbers
    return save(fig, path)


@plain_text
def jacobian_spectrum(
    models: Mapping[str, Any], X: np.ndarray, path: str | Path | None = None, n: int = 200
) -> Any:
    """Singular values of the encoder's Jacobian J_f(x), averaged over ``n`` samples, for
    each model: a contractive encoder has few large ones (it contracts in most directions,
    Rifai et al.'s figure)."""
    plt = pyplot()
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
    tight(fig)
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
