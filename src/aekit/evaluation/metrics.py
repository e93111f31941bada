"""Evaluation metrics: reconstruction quality for every model, plus code sparsity,
encoder contraction and denoising quality where they apply."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.streaming import DiskArray, iter_rows
from ..data.validation import ArrayLike
from ..models.autoencoder import AutoEncoder
from ..models.penalties import Contractive, KLSparsity, L1Sparsity, jacobian_sq_norm

# When a code unit counts as active on a sample, by its code activation: a sigmoid unit
# lives in (0, 1) and is never exactly 0, so it is active when it fires (h > 0.5); ReLU and
# top-k codes are exactly 0 when inactive; other codes are active away from 0.
ACTIVE_ABOVE = {"sigmoid": 0.5, "relu": 0.0}
ACTIVE_DEFAULT = 1e-3  # |h| above this
# When a code unit is dead: its value does not vary across the samples, its range (largest
# minus smallest value) at most this share of the widest-ranging unit's. A dead unit tells
# the decoder nothing about the input, whatever its level: a ReLU or top-k unit that never
# fires (0 on every sample), a sigmoid unit saturated, or one pinned at a KL penalty's rho
# whatever the input. A unit that varies is alive even where it is never active: a sigmoid
# unit between 0.01 and 0.3 never fires (h > 0.5) yet carries information, and under a KL
# penalty that is what the penalty asks of it. Relative, not absolute: codes of a linear or
# ReLU kind have no fixed scale.
DEAD_SPREAD = 1e-3


def active_units(code: Tensor, code_activation: str | None, top_k: bool = False) -> Tensor:
    """Boolean mask of the active units of each sample (see ``ACTIVE_ABOVE``)."""
    if top_k:
        return code != 0
    if code_activation in ACTIVE_ABOVE:
        return code > ACTIVE_ABOVE[code_activation]
    return code.abs() > ACTIVE_DEFAULT


def dead_mask(low: Tensor | np.ndarray, high: Tensor | np.ndarray) -> np.ndarray:
    """Which code units are dead (:data:`DEAD_SPREAD`), from each unit's smallest and
    largest value over the samples: a boolean array, one entry a unit. Every unit of a code
    that varies nowhere is dead."""
    spread = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    if spread.size == 0:
        return np.zeros(0, dtype=bool)
    return spread <= DEAD_SPREAD * float(spread.max())


def dead_code_units(model: AutoEncoder, X: ArrayLike, batch_size: int = 4096) -> list[int]:
    """The numbers of ``model``'s dead code units on data ``X`` (numbered from 0, as the
    columns of :meth:`AutoEncoder.encode`'s output), by the rule :func:`evaluate` counts
    ``dead_units`` by (:data:`DEAD_SPREAD`), from the same codes."""
    x = _checked(model, X)
    sparse = _Sparsity(model)
    with _eval_mode(model):
        _measure(model, x, batch_size, 0, [sparse])
    return sparse.dead()


def said_units(numbers: Sequence[int], total: int, limit: int = 120) -> str:
    """Unit numbers in words for a reader: "3, 17, 42 of 156"; runs of three or more as
    ranges ("0-99, 101 of 1000"); past about ``limit`` characters, the first ones and how
    many more ("..., and 412 more of 1000"); "none of 156" for none."""
    if not numbers:
        return f"none of {total}"
    runs: list[tuple[int, int]] = []
    for n in sorted(int(u) for u in numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    parts: list[tuple[str, int]] = []  # the text of each, and how many units it names
    for a, b in runs:
        parts.extend(
            [(f"{a}-{b}", b - a + 1)] if b - a >= 2 else [(str(u), 1) for u in range(a, b + 1)]
        )
    shown: list[str] = []
    listed = length = 0
    for text, count in parts:
        if shown and length + len(text) + 2 > limit:
            break
        shown.append(text)
        listed += count
        length += len(text) + 2
    if len(shown) == len(parts):
        return f"{', '.join(shown)} of {total}"
    return f"{', '.join(shown)}, and {len(numbers) - listed} more of {total}"


def evaluate(
    model: AutoEncoder,
    X: ArrayLike,
    *,
    batch_size: int = 4096,
    sparsity: bool | None = None,
    jacobian: bool | None = None,
    denoising: bool | None = None,
    seed: int = 0,
    baseline: tuple[Any, Any] | None = None,
) -> dict[str, float]:
    """Metrics of ``model`` on data ``X`` (no training, no autograd except for Jacobians).

    Always: ``squared_error`` (per sample, summed over features; the field's "error per
    image"), ``mse`` (per feature), ``psnr`` (dB: 10 log10(peak^2 / mse), the peak the
    range of ``X`` in the model's units, its largest observed entry less its smallest: 1
    for images that span [0, 1]; for a table the model standardises, the range of the
    standardised values, which moves with the rows judged, so only a comparison of
    models on the same rows), and
    ``explained_variance`` (1 - SSE / total sum of squares around the feature means).
    ``sparsity`` (default: sparse models): ``mean_activation``, ``l0`` (mean active units
    per sample: a sigmoid unit above 0.5, a ReLU or top-k unit above 0, another away from
    0), ``inactive_units`` (never active on ``X``) and ``dead_units`` (whose value does not
    vary across ``X``: :data:`DEAD_SPREAD`; :func:`dead_code_units` names them). ``jacobian`` (default:
    contractive models): ``jacobian_frobenius``, the mean ||J_f(x)||_F. ``denoising``
    (default: models with a corruption): ``psnr_corrupted`` and ``psnr_denoised``, the PSNR
    of the corrupted input and of its reconstruction against the clean data, where the
    corruption changes the data (missing patterns leave complete data as it is). With
    ``baseline``, a PCA as (mean, components) in the model's units, also
    ``pca_psnr_denoised``: PCA's reconstruction of the same corrupted inputs, the linear
    denoiser to beat.

    Examples
    --------
    >>> import aekit
    >>> data = aekit.load_digits()
    >>> model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    >>> m = aekit.evaluate(model, data.test)
    >>> sorted(m)
    ['explained_variance', 'mse', 'psnr', 'squared_error']
    """
    x = _checked(model, X)
    sparsity, jacobian, denoising = _applicable(model, sparsity, jacobian, denoising)
    pca = None if baseline is None else _float64(baseline)
    reconstruction = _Reconstruction(x.shape[1], model.missing)
    sparse = _Sparsity(model) if sparsity else None
    denoised = _Denoising(model, pca) if denoising and model.corruption is not None else None
    measures = [m for m in (reconstruction, sparse, denoised) if m is not None]
    with _eval_mode(model):
        _measure(model, x, batch_size, seed, measures)
        jacobian_sum = _jacobian_sum(model, x, min(batch_size, 512)) if jacobian else 0.0

    n = x.shape[0]
    out = reconstruction.result(n)
    if sparse is not None:
        out.update(sparse.result(n))
    if jacobian:
        out["jacobian_frobenius"] = jacobian_sum / n
    if denoised is not None:
        out.update(denoised.result(reconstruction.entries(n), reconstruction.data_range))
    return out


def _checked(model: AutoEncoder, X: ArrayLike) -> Any:
    """``X`` checked as data the model must reconstruct: a tensor, or data on disk as it
    is (read a block at a time). Judged in the model's units: scaled, where the model
    scales its inputs."""
    if isinstance(X, DiskArray):
        model.check_disk_input(X, str(X.path), targets=True)
        return X
    return model.check_input(X, targets=True)


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """The model in eval mode inside, and in the mode it was in afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _applicable(
    model: AutoEncoder, sparsity: bool | None, jacobian: bool | None, denoising: bool | None
) -> tuple[bool, bool, bool]:
    """Which measures :func:`evaluate` takes: those asked for, by default those of what the
    model is (sparse, contractive, denoising)."""
    cfg, penalties = model.config, model.penalties
    if sparsity is None:
        sparsity = any(isinstance(p, KLSparsity | L1Sparsity) for p in penalties) or (
            cfg is not None and cfg.top_k is not None
        )
    if jacobian is None:
        jacobian = any(isinstance(p, Contractive) for p in penalties)
    if denoising is None:
        denoising = model.corruption is not None
    return sparsity, jacobian, denoising


def _measure(model: AutoEncoder, x: Any, batch_size: int, seed: int, measures: list[Any]) -> None:
    """One pass over ``x``: each batch in the model's units, its code and reconstruction
    (:meth:`AutoEncoder.code_and_reconstruction`), handed to each measure. The corruption
    noise is drawn from a seeded, forked generator: repeatable, and the caller's random
    state is left as it was."""
    device = model.device
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        for batch in _scaled_batches(model, x, batch_size):
            # Missing entries (NaN; models of incomplete data) are neither input nor
            # judged: errors and variances are over the observed entries.
            observed = ~torch.isnan(batch)
            b = torch.nan_to_num(batch, nan=0.0).to(device)
            code, recon = model.code_and_reconstruction(b)
            for measure in measures:
                measure.add(batch, observed, b, code, recon)


class _Reconstruction:
    """Squared error, PSNR (over the data's range) and explained variance (around the
    feature means), over the observed entries."""

    def __init__(self, features: int, missing: bool) -> None:
        self.missing = missing
        self.low, self.high = math.inf, -math.inf
        self.sse = 0.0
        self.sum_x = torch.zeros(features, dtype=torch.float64)
        self.sum_x2 = torch.zeros(features, dtype=torch.float64)
        self.count = torch.zeros(features, dtype=torch.float64)  # observed entries per feature

    def add(self, batch: Tensor, observed: Tensor, b: Tensor, code: Tensor, recon: Tensor) -> None:
        seen = batch[observed] if self.missing else batch  # a copy only with NaN
        if seen.numel():
            lo, hi = torch.aminmax(seen)
            self.low, self.high = min(self.low, float(lo)), max(self.high, float(hi))
        self.sse += float(((recon - b).pow(2) * observed.to(b.device)).sum())
        b64 = batch.double().nan_to_num(nan=0.0)
        self.sum_x += b64.sum(0)
        self.sum_x2 += b64.pow(2).sum(0)
        self.count += observed.sum(0)

    @property
    def data_range(self) -> float:
        return (self.high - self.low) or 1.0

    def entries(self, n: int) -> float:
        """Observed entries in all (``n`` times the observed entries per sample: n * d
        without missing values)."""
        return n * (float(self.count.sum()) / n)

    def result(self, n: int) -> dict[str, Any]:
        total_ss = float((self.sum_x2 - self.sum_x.pow(2) / self.count.clamp(min=1)).sum())
        sse, entries = self.sse, self.entries(n)
        return {
            "squared_error": sse / n,
            "mse": sse / entries,
            "psnr": _psnr(sse / entries, self.data_range),
            "explained_variance": 1.0 - sse / total_ss if total_ss > 0 else float("nan"),
        }


class _Sparsity:
    """The mean code activation, the active units per sample, the units never active
    (:func:`active_units`) and the dead ones, whose value does not vary (:func:`dead_mask`,
    from each unit's smallest and largest value)."""

    def __init__(self, model: AutoEncoder) -> None:
        cfg = model.config
        self.code_activation = cfg.code_activation if cfg is not None else None
        self.top_k = cfg is not None and cfg.top_k is not None
        self.code_dim = model.code_dim
        self.code_sum = self.code_active = 0.0
        self.ever_active: Tensor | None = None
        self.low: Tensor | None = None
        self.high: Tensor | None = None

    def add(self, batch: Tensor, observed: Tensor, b: Tensor, code: Tensor, recon: Tensor) -> None:
        active = active_units(code, self.code_activation, self.top_k)
        self.code_sum += float(code.sum())
        self.code_active += float(active.sum())
        batch_active = active.any(0).cpu()
        ever = self.ever_active
        self.ever_active = batch_active if ever is None else ever | batch_active
        low, high = (v.double().cpu() for v in torch.aminmax(code, dim=0))
        self.low = low if self.low is None else torch.minimum(self.low, low)
        self.high = high if self.high is None else torch.maximum(self.high, high)

    def dead(self) -> list[int]:
        """The numbers of the dead units (none before any sample)."""
        if self.low is None or self.high is None:
            return []
        return np.flatnonzero(dead_mask(self.low.numpy(), self.high.numpy())).tolist()

    def result(self, n: int) -> dict[str, Any]:
        ever = self.ever_active
        return {
            "mean_activation": self.code_sum / (n * self.code_dim),
            "l0": self.code_active / n,
            "inactive_units": int((~ever).sum()) if ever is not None else 0,
            "dead_units": len(self.dead()),
        }


class _Denoising:
    """The PSNR of inputs corrupted by the model's own corruption and of its
    reconstruction of them, against the clean data; with ``pca`` (mean, components), also
    PCA's reconstruction of the same corrupted inputs."""

    def __init__(self, model: AutoEncoder, pca: tuple[Tensor, Tensor] | None) -> None:
        self.model, self.pca = model, pca
        self.noisy_sse = self.denoised_sse = self.pca_sse = 0.0

    def add(self, batch: Tensor, observed: Tensor, b: Tensor, code: Tensor, recon: Tensor) -> None:
        # Corrupted with its holes, as in training: missing patterns hide observed
        # entries (filled with 0 as the model's input), judged there.
        assert self.model.corruption is not None
        noisy = self.model.corruption(batch.to(b.device)).nan_to_num(nan=0.0)
        mask = observed.to(b.device)
        self.noisy_sse += float(((noisy - b).pow(2) * mask).sum())
        _, recon_noisy = self.model.code_and_reconstruction(noisy)
        self.denoised_sse += float(((recon_noisy - b).pow(2) * mask).sum())
        if self.pca is not None:
            mean, components = self.pca
            centred = noisy.double().cpu() - mean
            by_pca = (centred @ components @ components.T + mean).to(b.device)
            self.pca_sse += float(((by_pca - b).pow(2) * mask).sum())

    def result(self, entries: float, data_range: float) -> dict[str, Any]:
        # A corruption that left the data as it was (missing patterns on complete data) has
        # nothing to show.
        if not self.noisy_sse > 0:
            return {}
        out = {
            "psnr_corrupted": _psnr(self.noisy_sse / entries, data_range),
            "psnr_denoised": _psnr(self.denoised_sse / entries, data_range),
        }
        if self.pca is not None:
            out["pca_psnr_denoised"] = _psnr(self.pca_sse / entries, data_range)
        return out


def _jacobian_sum(model: AutoEncoder, x: Any, batch_size: int) -> float:
    """The sum over the samples of ``||J_f(x)||_F``, the Frobenius norm of the encoder's
    Jacobian. Jacobians need autograd (inside jacrev); no graph is kept beyond each batch."""
    encoder = model.parts[0]  # PCA's projection, where the model fell back to PCA
    total = 0.0
    with torch.no_grad():
        for batch in _scaled_batches(model, x, batch_size):
            total += float(jacobian_sq_norm(encoder, batch.to(model.device)).sqrt().sum())
    return total


def _float64(baseline: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
    """A PCA's (mean, components) as float64 tensors."""
    mean, components = (
        torch.tensor(np.ascontiguousarray(a), dtype=torch.float64) for a in baseline
    )
    return mean, components


def denoising_shortfall(model: AutoEncoder, metrics: dict[str, Any]) -> str | None:
    """Why a denoising model fails and what to do, in words, where it returns inputs
    corrupted by its own corruption no better than they came (``psnr_denoised <=
    psnr_corrupted`` in ``metrics``, from :func:`evaluate`); None where it improves them.

    A denoiser's output is seldom better than its reconstruction of clean inputs
    (``psnr``): where that is already below the corrupted input, the model's own
    reconstruction error (its bottleneck) exceeds the noise it removes, and more training
    of the same shape seldom helps; a wider code does (a denoising autoencoder does not
    need a small code: the corruption keeps it from learning to copy).
    """
    before, after = metrics.get("psnr_corrupted"), metrics.get("psnr_denoised")
    corruption = model.corruption
    if before is None or after is None or corruption is None or after > before:
        return None
    if getattr(corruption, "name", None) == "missing_patterns":
        # An imputer's holes are filled and its observed entries kept (aekit impute): its
        # reconstruction of every entry is not what it is used for.
        return None
    said = corruption.in_words() if hasattr(corruption, "in_words") else str(corruption)
    clean = metrics.get("psnr", math.nan)
    text = (
        f"this denoising model returns inputs with the noise it was trained for, {said}, "
        f"worse than they came: PSNR {before:.2f} dB noisy, {after:.2f} dB after reconstruction"
    )
    cannot = "or, on this data, it may not beat the noisy input"
    if not clean <= before:
        return (
            f"{text}, though it reconstructs clean inputs at {clean:.2f} dB: train it longer "
            f"or on more data (--epochs; epochs=), {cannot}"
        )
    code = model.code_dim
    width = model.config.input_dim if model.config is not None else None
    wider = (
        f"give it a wider code (it has {code} units; --code-dim {width}, code_dim={width}: a "
        "denoising autoencoder needs no small code), "
        if width is not None and code is not None and code < width
        else ""
    )
    return (
        f"{text}. Even clean inputs come back at {clean:.2f} dB: its own reconstruction error "
        "exceeds the noise it removes. Train it longer if it was still improving (--epochs; "
        f"epochs=), {wider}or on more data, {cannot}"
    )


def _scaled_batches(model: AutoEncoder, x: Any, batch_size: int) -> Any:
    """Batches of data in memory or on disk, in the model's units."""
    return (model.scale(b) for b in iter_rows(x, batch_size))


def feature_errors(model: AutoEncoder, X: ArrayLike, batch_size: int = 4096) -> np.ndarray:
    """Squared reconstruction error of each feature of each sample, ``(samples,
    features)``, in the model's units (scaled, where the model scales its inputs); 0 for
    a missing entry. Their row sums score samples: the worst reconstructed are the most
    unusual (anomaly detection), and a row says which features make it so."""
    x = model.check_input(X)
    out = []
    with _eval_mode(model), torch.inference_mode():
        for batch in x.split(batch_size):
            # The reconstruction as model.reconstruct gives it (the same for a row
            # whatever its batch), then element by element in float64: each row's
            # errors, and so its score, depend on that row alone.
            recon = torch.from_numpy(model._infer("_reconstruct", batch, batch_size))
            b = model.scale(batch.double())
            error = (model.scale(recon.double()) - b).pow(2).nan_to_num(nan=0.0)
            out.append(error)
    return torch.cat(out).numpy()


def _psnr(mse: float, data_range: float) -> float:
    """10 log10(range^2 / mse) in dB: inf for a perfect reconstruction, -inf for an error
    beyond what a float holds, NaN where either is not a number (each written as null in
    metrics.json); computed in logarithms, so no ratio overflows or rounds to 0."""
    if math.isnan(mse) or math.isnan(data_range):
        return math.nan
    if mse == 0:
        return math.inf
    if math.isinf(mse):
        return -math.inf if math.isfinite(data_range) else math.nan
    if math.isinf(data_range):
        return math.inf
    return 20.0 * math.log10(data_range) - 10.0 * math.log10(mse)


def linear_probe(
    model: AutoEncoder,
    train_x: ArrayLike,
    train_y: Any,
    test_x: ArrayLike,
    test_y: Any,
    max_train: int = 10_000,
) -> float:
    """Test accuracy of a logistic regression trained on the codes of (up to
    ``max_train``) training samples: how linearly separable the classes are in the code."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n = min(len(train_x), max_train)
    train_codes = model.encode(np.asarray(train_x[:n]))
    scaler = StandardScaler().fit(train_codes)
    clf = LogisticRegression(max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the accuracy is what counts
        clf.fit(scaler.transform(train_codes), np.asarray(train_y[:n]))
    test_codes = scaler.transform(model.encode(np.asarray(test_x)))
    return float(clf.score(test_codes, np.asarray(test_y)))
