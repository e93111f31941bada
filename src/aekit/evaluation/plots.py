"""Pictures of what a model learned (matplotlib, usable from Python).

Every function draws one figure and returns it as a matplotlib ``Figure``; with ``path``
it is also written as a PNG (atomically). :func:`run_figures` draws every figure that fits
a model's kind, as ``aekit train`` does into a run's ``figures/`` folder.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.io import atomic_write


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


def filters(
    model: Any,
    path: str | Path | None = None,
    image_shape: Sequence[int] | None = None,
    n: int = 100,
) -> Any:
    """The first layer's units as images: each unit's input weights, scaled to its own
    range (what the unit responds to, as in the sparse and denoising papers)."""
    plt = _pyplot()
    weights = first_layer_weights(model)
    if weights is None:
        raise ValueError("the encoder has no dense first layer to draw")
    weights = weights[:n]
    cols = min(10, len(weights))
    rows = math.ceil(len(weights) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols, 1.0 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, w in enumerate(weights):
        img = _as_image(w, image_shape)
        ax = axes.flat[i]
        if img is None:
            img = w.reshape(1, -1)
        if img.ndim == 3:
            img = img.mean(-1)
        lim = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    what = (
        "PCA's components (the model fell back to PCA)"
        if getattr(model, "is_pca", False)
        else "first-layer filters"
    )
    fig.suptitle(f"{what} ({len(weights)} units; red +, blue -)", fontsize=9)
    _tight(fig)
    return save(fig, path)


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
    fig, ax = plt.subplots(figsize=(5, 4.2))
    if labels is not None:
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=6, alpha=0.8)
        fig.colorbar(points, ax=ax, label="label")
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


def loss_curves(history: Sequence[Mapping[str, float]], path: str | Path | None = None) -> Any:
    """Training and validation curves, one panel per loss term (the total, the
    reconstruction, each penalty), on a log scale with plain tick labels."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    terms = ["loss"] + [
        k[len("train_") :] for k in history[0] if k.startswith("train_") and k != "train_loss"
    ]
    # The total equals the reconstruction when nothing else is added: draw it once.
    if terms == ["loss", "reconstruction"]:
        terms = ["reconstruction"]
    fig, axes = plt.subplots(1, len(terms), figsize=(4.2 * len(terms), 3.2), squeeze=False)
    for ax, term in zip(axes[0], terms, strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{term}"
            points = [(row["epoch"], row[key]) for row in history if key in row]
            if points:
                xs, ys = zip(*points, strict=True)
                label = "validation" if split == "val" else "training"
                ax.plot(xs, ys, style, label=label)
        ax.set_xlabel("epoch")
        ax.set_title("total loss" if term == "loss" else term, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        values = [row[k] for row in history for k in (f"train_{term}", f"val_{term}") if k in row]
        if values and min(values) > 0 and max(values) / min(values) > 10:
            ax.set_yscale("log")
            # Labelled ticks at 1, 2 and 5 of each decade, written as plain numbers.
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("per sample")
    if len(epochs) == 1:
        for ax in axes[0]:
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    _tight(fig)
    return save(fig, path)


def activation_frequencies(model: Any, X: np.ndarray, path: str | Path | None = None) -> Any:
    """How often each code unit is active over ``X`` ("active" as the metrics count it:
    a sigmoid unit above 0.5, a ReLU or top-k unit above 0), dead units (never active)
    marked, with the KL target rho where there is one."""
    from ..models.penalties import KLSparsity
    from .metrics import active_units

    plt = _pyplot()
    codes = torch.as_tensor(model.encode(np.asarray(X, dtype=np.float32)))
    cfg = model.config
    active = active_units(codes, cfg.code_activation, cfg.top_k is not None)
    freq = active.double().mean(0).numpy()
    dead = int((freq == 0).sum())
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(freq, bins=np.linspace(0, 1, 21), color="C0", edgecolor="white")
    if dead:
        ax.bar([0.0], [dead], width=0.02, color="C3", label=f"dead units: {dead}")
    for p in model.penalties:
        if isinstance(p, KLSparsity):
            ax.axvline(p.rho, color="k", ls="--", lw=1, label=f"rho = {p.rho:g}")
    ax.set_xlabel("share of samples on which the unit is active")
    ax.set_ylabel("units")
    rule = (
        "h > 0.5"
        if cfg.code_activation == "sigmoid"
        else "h > 0"
        if cfg.code_activation == "relu" or cfg.top_k
        else "h != 0"
    )
    ax.set_title(f"activation frequency of the {len(freq)} code units (active: {rule})", fontsize=9)
    ax.legend(fontsize=8)
    _tight(fig)
    fig.frequencies = freq  # the plotted values, for tests and callers
    return save(fig, path)


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
    ax.set_yscale("log")
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


LOSS_NAMES = {"bce": "cross-entropy", "mse": "squared error"}


def pretraining_curves(
    layers: Sequence[Sequence[Mapping[str, float]]],
    path: str | Path | None = None,
    losses: Sequence[str] = (),
) -> Any:
    """Greedy pretraining: each layer's training reconstruction loss per epoch, named in
    the legend by ``losses`` (a layer of data in [0, 1] may train on cross-entropy, the
    others on squared error)."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for k, history in enumerate(layers, 1):
        loss = losses[k - 1] if k <= len(losses) else None
        ax.plot(
            [row["epoch"] for row in history],
            [row.get("train_reconstruction", row.get("train_loss")) for row in history],
            label=f"layer {k}" + (f" ({LOSS_NAMES.get(loss, loss)})" if loss else ""),
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction loss of the layer's input")
    ax.set_title("greedy pretraining, layer by layer", fontsize=9)
    ax.legend(fontsize=8)
    _tight(fig)
    return save(fig, path)


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
        loss_curves(history, out("curves.png"))
    codes = np.asarray(model.encode(x[:2000]))
    code_space(codes, out("codes.png"), labels[: len(codes)] if labels is not None else None)
    if images and first_layer_weights(model) is not None:
        filters(model, out("filters.png"), shape)
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
