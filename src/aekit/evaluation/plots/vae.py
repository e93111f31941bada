"""Figures of a variational autoencoder: the ELBO's terms per epoch (in nats), samples
from the prior, and the KL divergence each code unit carries, inactive units marked.
(Its reconstructions, codes and interpolations are the autoencoders' figures: a VAE's
``encode`` gives the posterior mean and ``decode`` the decoder's mean.)"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..likelihood import COLLAPSED
from .curves import Curve, curve_grid, lowest_validation, series
from .style import as_image, plain_text, pyplot, save, tight

# The reconstruction term's name, by decoder: minus the log-likelihood of the data under
# p(x | z), which for a Bernoulli decoder is the cross-entropy.
DECODER_NLL = {
    "bernoulli": "Bernoulli negative log-likelihood (cross-entropy)",
    "gaussian": "Gaussian negative log-likelihood",
}


def _split_curves(history: Sequence[Mapping[str, float]], values: Any) -> list[Curve]:
    """Training (solid) and validation (dashed) curves of ``values(row, split)``, a value
    per epoch where the row has it (None where it does not)."""
    curves: list[Curve] = []
    for split, style, colour in (("train", "-", "C0"), ("val", "--", "C1")):
        points = [(row["epoch"], values(row, split)) for row in history]
        points = [(x, y) for x, y in points if y is not None]
        if points:
            label = "validation" if split == "val" else "training"
            xs, ys = [p[0] for p in points], [float(p[1]) for p in points]
            curves.append((xs, ys, {"ls": style, "color": colour, "label": label}))
    return curves


def _term(name: str) -> Any:
    """The value of loss term ``name`` of a split in a history row (None where absent)."""
    return lambda row, split: row.get(f"{split}_{name}")


def _negative_elbo(row: Mapping[str, float], split: str) -> float | None:
    """The reconstruction's negative log-likelihood plus the KL: the negative ELBO, whatever
    weight the training objective gives the KL."""
    nll, kl = row.get(f"{split}_reconstruction"), row.get(f"{split}_kl")
    return None if nll is None or kl is None else nll + kl


@plain_text
def elbo_curves(
    history: Sequence[Mapping[str, float]],
    path: str | Path | None = None,
    decoder: str = "bernoulli",
    summed_over: str | None = None,
    code_dim: int | None = None,
) -> Any:
    """The ELBO's terms per epoch, training and validation, each in its own panel, in nats
    per sample: the negative ELBO, the reconstruction's negative log-likelihood under the
    ``decoder`` ("bernoulli" or "gaussian"; ``summed_over``: what it sums, "64 pixels")
    and the KL divergence of the posterior from the prior (summed over the ``code_dim``
    units); and, where the training objective weighs the KL otherwise than the ELBO
    (beta, a warm-up, free bits: a ``train_kl_weighting`` column), the objective itself.
    The dotted line: the epoch of the lowest validation loss."""
    over = f", sum over {summed_over}" if summed_over else ""
    units = f", sum over {code_dim} code units" if code_dim else ""
    panels: list[tuple[str, str, list[Curve]]] = [
        (
            "negative ELBO = reconstruction + KL",
            "nats per sample",
            _split_curves(history, _negative_elbo),
        ),
        (
            f"reconstruction: {DECODER_NLL.get(decoder, decoder)}",
            f"-log p(x | z) per sample (nats{over})",
            _split_curves(history, _term("reconstruction")),
        ),
        (
            "KL(q(z | x) || p(z))",
            f"KL per sample (nats{units})",
            _split_curves(history, _term("kl")),
        ),
    ]
    if series(history, "train_kl_weighting")[0]:
        panels.append(
            (
                "training objective: reconstruction + weighted KL",
                "as minimised, per sample (nats)",
                _split_curves(history, _term("loss")),
            )
        )
    fig = curve_grid(panels, lowest_validation(history))
    return save(fig, path)


@plain_text
def prior_samples(
    model: Any,
    path: str | Path | None = None,
    image_shape: Sequence[int] | None = None,
    n: int = 64,
    seed: int = 0,
) -> Any:
    """``n`` samples from the model, drawn with seed ``seed`` (the same seed, the same
    figure): codes from the prior N(0, I), each drawn as the decoder's mean, as images
    (``image_shape``), in a square grid. The samples are ``fig.samples``."""
    if image_shape is None:
        raise ValueError("samples are drawn as images: give the data's image_shape (C, H, W)")
    plt = pyplot()
    samples = np.asarray(model.sample(n, generator=seed))
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(0.9 * cols + 0.4, 0.9 * rows + 0.5), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(as_image(samples[i], image_shape), cmap="gray", vmin=0, vmax=1)
    fig.suptitle(
        f"{n} samples from the prior (z ~ N(0, I), drawn as the decoder's mean; seed {seed})",
        fontsize=9,
    )
    tight(fig)
    fig.samples = samples
    return save(fig, path)


@plain_text
def kl_per_unit_plot(
    kl: np.ndarray,
    path: str | Path | None = None,
    threshold: float = COLLAPSED,
    samples: int | None = None,
) -> Any:
    """Each code unit's KL divergence from the prior (``kl``: nats, by unit number, as
    :func:`aekit.evaluation.likelihood.kl_per_unit` gives it), one bar a unit, sorted from
    the most to the least; the units under ``threshold`` nats (inactive: they carry almost
    nothing; all of them inactive is posterior collapse) are red bars with red numbers, and the threshold a dashed line. A log scale,
    so that the threshold and the units near it can be read beside units of several nats;
    a unit under a thousandth of the threshold is drawn at that floor. ``fig.order`` is
    the units in the order drawn, ``fig.collapsed`` the inactive ones (sorted)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    plt = pyplot()
    kl = np.asarray(kl, dtype=np.float64).ravel()
    k = len(kl)
    order = np.argsort(-kl, kind="stable")
    low = kl[order] < threshold
    collapsed = sorted(int(u) for u in order[low])
    floor = threshold / 1000  # what a unit of KL (almost) 0 is drawn at on the log scale
    shown = np.maximum(kl[order], floor)
    x = np.arange(k)
    fig, ax = plt.subplots(figsize=(min(13.0, max(8.5, 0.25 * k + 5.0)), 3.6))
    if not low.all():
        ax.bar(x[~low], shown[~low], color="C0", width=0.8, label=f"in use: {k - len(collapsed)}")
    if low.any():
        # Inactive, not collapsed: a VAE leaves the units the data does not need at the
        # prior; posterior collapse is every unit inactive, and said so only then.
        label = f"inactive (KL under {threshold:g} nats): {len(collapsed)}"
        ax.bar(
            x[low],
            shown[low],
            color="C3",
            width=0.8,
            label=label + ("\nall: posterior collapse" if low.all() else ""),
        )
    ax.axhline(threshold, color="C3", ls="--", lw=1, label=f"threshold {threshold:g} nats")
    ax.set_yscale("log")
    ax.set_ylim(floor / 1.5, max(float(shown.max()), threshold) * 2)
    # Plain numbers on the axis (matplotlib's log labels are math text, drawn as such
    # under plain_text): a tick a decade.
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    if k <= 64:
        ax.set_xticks(x, [str(int(u)) for u in order], fontsize=7 if k > 30 else 8)
        for label, is_low in zip(ax.get_xticklabels(), low, strict=True):
            if is_low:
                label.set_color("C3")
        ax.set_xlabel("code unit (numbered as in the model; sorted by its KL)")
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"the {k} code units, sorted by their KL")
    ax.set_xlim(-0.7, k - 0.3)
    ax.set_ylabel(f"KL(q(z_j | x) || N(0, 1)) per sample\n(nats; under {floor:g}: at {floor:g})")
    on = f" on {samples} held-out samples" if samples is not None else ""
    ax.set_title(
        f"KL of each of the {k} code units{on}; {len(collapsed)} under {threshold:g} nats",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    tight(fig)
    fig.order = [int(u) for u in order]
    fig.collapsed = collapsed
    return save(fig, path)
