"""The PCA fallback at the end of training (``ModelConfig.pca_fallback``): a model keeps
its trained layers only where they clearly beat PCA on the validation data, else it
becomes that PCA. Models without a PCA to fall back to (no ``pca_state``) pass through."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

# How clearly the trained layers must beat PCA on validation data to be kept: their mean
# error lower by more than this many standard errors of the per-sample difference, or
# lower on more samples than not by this many standard deviations of a fair coin's count
# (a sign test: a few rows with huge errors make the mean's standard error wide where the
# layers win on nearly every row). At one standard error of the mean alone, a table of 354
# rows kept layers 1.01 errors ahead on 50 validation rows that were 3.8% behind PCA on
# its test rows; the mean test alone at two gave up wins of 16-29% (BENCHMARKS.md,
# section 15).
MARGIN_STANDARD_ERRORS = 2.0


def clearly_better(gain: Tensor) -> tuple[bool, float]:
    """Whether per-sample gains over PCA (PCA's error minus the model's, one a validation
    sample) show the model clearly better (:data:`MARGIN_STANDARD_ERRORS`), and the
    standard error of their mean."""
    n = len(gain)
    if n < 2:
        return False, math.inf
    error = float(gain.std() / n**0.5)
    mean = float(gain.mean())
    wins = int((gain > 0).sum())
    by_mean = mean > MARGIN_STANDARD_ERRORS * error
    by_count = (2 * wins - n) / n**0.5 > MARGIN_STANDARD_ERRORS
    return mean > 0 and (by_mean or by_count), error


def why_pca(comparison: tuple[float, float, float]) -> str:
    """Why a model fell back to PCA, from :attr:`FitResult.pca_comparison` (or a run
    folder's record of it, :func:`comparison_record`): which rule applied, PCA's error
    lower, or the layers' lower but not clearly (:func:`clearly_better`), with both
    errors."""
    trained, pca, margin = comparison
    if pca <= trained:
        return f"on the validation data its error ({pca:.4g}) is below the trained model's ({trained:.4g})"
    return (
        f"on the validation data the trained model's error ({trained:.4g}) is below PCA's "
        f"({pca:.4g}) by less than {MARGIN_STANDARD_ERRORS:g} standard errors of the "
        f"difference ({margin:.2g} each), and on too few more samples than not: too "
        "little to tell"
    )


def comparison_record(comparison: tuple[float, float, float], kept_pca: bool) -> dict[str, Any]:
    """What a run folder records of the fallback's choice (config.json's
    ``result.pca_comparison``), so that ``aekit info`` and the report can say why
    afterwards: both validation errors, the standard error of their difference (None
    where it was infinite: fewer than 2 validation samples) and whether PCA was kept."""
    trained, pca, margin = comparison
    return {
        "trained_error": trained,
        "pca_error": pca,
        "standard_error": margin if math.isfinite(margin) else None,
        "kept_pca": kept_pca,
    }


def recorded_comparison(record: Any) -> tuple[float, float, float] | None:
    """The comparison a run folder recorded (:func:`comparison_record`) as
    :attr:`FitResult.pca_comparison` is, for :func:`why_pca`; None where it records
    none (a folder written before aekit recorded it) or not as aekit writes it."""
    if not isinstance(record, dict):
        return None
    trained, pca = record.get("trained_error"), record.get("pca_error")
    margin = record.get("standard_error")
    if not all(_number(v) for v in (trained, pca)) or not (margin is None or _number(margin)):
        return None
    return float(trained), float(pca), math.inf if margin is None else float(margin)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pca_unfitted(model: torch.nn.Module) -> bool:
    """Whether ``model`` has a PCA to fall back to that is not fitted yet."""
    state = getattr(model, "pca_state", None)
    return state is not None and int(state) == 0


def train_own_layers(model: torch.nn.Module) -> None:
    """A model that fell back to PCA trains on with its own layers."""
    if getattr(model, "is_pca", False):
        model.pca_state.fill_(1)


def fall_back_to_pca(
    model: torch.nn.Module,
    val_x: Tensor | None,
    rows: Callable[[], Tensor] | None,
    keep: str,
) -> tuple[tuple[float, float, float] | None, bool]:
    """For a model with PCA to fall back to: its validation error, that of PCA fitted,
    as the model was trained, on the training ``rows`` alone (a denoising model's and
    PCA's on the corrupted validation data: AutoEncoder.sample_errors), and the
    standard error of their difference; and whether the model became PCA. The layers are
    kept only where they beat PCA clearly (:func:`clearly_better`); else the model becomes
    PCA, the PCA it keeps fitted on all the data given. A win within the noise of a few
    dozen validation samples did not hold on test data (BENCHMARKS.md, section 13)."""
    state = getattr(model, "pca_state", None)
    if state is None or int(state) != 1 or val_x is None or rows is None:
        return None, False
    if keep != "best" or len(val_x) == 0:
        return None, False
    trained = model.sample_errors(val_x)
    kept = (model.pca_mean.clone(), model.pca_components.clone())
    model.fit_pca(rows())
    model.pca_state.fill_(2)
    pca = model.sample_errors(val_x)
    model.pca_mean.copy_(kept[0])
    model.pca_components.copy_(kept[1])
    better, margin = clearly_better(pca - trained)
    comparison = (float(trained.mean()), float(pca.mean()), margin)
    if not better:
        return comparison, True
    model.pca_state.fill_(1)
    return comparison, False
