"""What training reports: each epoch's metrics row (its loss terms, whatever the model
names them, on the training and the validation data), the :class:`FitResult` training
returns, and whether a progress bar is drawn."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import torch
from torch import Tensor


@dataclasses.dataclass
class FitResult:
    """What training returns: per-epoch metrics and how training ended. ``best_epoch`` is
    the epoch of the lowest validation loss (whose weights the model holds at the end when
    ``keep="best"``)."""

    history: list[dict[str, float]]
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    steps: int
    # What the run chose for its machine: Muon's Newton-Schulz dtype ("newton_schulz"),
    # the precision "auto" chose ("precision"); see TrainConfig.summary.
    machine: dict[str, str] = dataclasses.field(default_factory=dict)
    estimated_seconds: float | None = None  # the estimate made before the first step
    # Validation errors of the trained model and of PCA where the model could fall back to
    # PCA (ModelConfig.pca_fallback), with the standard error of their difference, and
    # whether it did (best_epoch is then 0): why_pca says why.
    pca_comparison: tuple[float, float, float] | None = None
    kept_pca: bool = False

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}

    def __repr__(self) -> str:  # the history is a row per epoch: shown by its last row
        final = ", ".join(f"{k}={v:.4g}" for k, v in self.final.items())
        return (
            f"FitResult(epochs={len(self.history)}, steps={self.steps}, "
            f"seconds={self.seconds:.1f}, best_epoch={self.best_epoch}, "
            f"stopped_early={self.stopped_early}, final={{{final}}})"
        )


def epoch_row(
    epoch: int,
    terms: Sequence[str],
    sums: Sequence[float],
    samples: int,
    val_terms: dict[str, float],
    lr: float,
    seconds: float,
) -> dict[str, float]:
    """The metrics row of an epoch: each loss term's mean per training sample
    (``train_<term>``, from its ``sums`` over the epoch's ``samples``) and their total
    (``train_loss``), the validation terms (``val_<term>``), the learning rate and the
    seconds trained so far."""
    row: dict[str, float] = {"epoch": epoch}
    for name, total in zip(terms, sums, strict=False):
        row[f"train_{name}"] = total / max(samples, 1)
    row["train_loss"] = sum(sums) / max(samples, 1)
    row.update({f"val_{k}": v for k, v in val_terms.items()})
    row["lr"] = lr
    row["seconds"] = seconds
    return row


def evaluate_loss(model: torch.nn.Module, x: Tensor, batch_size: int = 4096) -> dict[str, float]:
    """Loss terms of ``model`` on ``x`` in eval mode (no corruption), averaged per sample.

    Runs in inference mode, or without a graph (``no_grad``) where the model's loss
    differentiates its own layers (its ``needs_autograd``: an autoencoder's exact or
    estimated contractive penalty).
    """
    needs_autograd = bool(getattr(model, "needs_autograd", False))
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad() if needs_autograd else torch.inference_mode():
        for batch in x.split(batch_size):
            total, terms = model(batch)
            for name, value in {"loss": total, **terms}.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


def shows_progress(progress: bool | None = None) -> bool:
    """Whether a progress bar is drawn: ``progress`` where given; by default (None) only
    where someone watches, as tqdm's ``disable=None`` decides: stderr is a terminal, or
    a Jupyter notebook's. Output to a file or a pipe (a log, CI) gets no bar, and so
    none of the carriage returns that redraw it."""
    if progress is not None:
        return bool(progress)
    stream = sys.stderr
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # replaced or closed
        return False
