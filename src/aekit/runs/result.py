"""What a run comes to: the :class:`Run` that :func:`aekit.train` and :func:`aekit.resume`
return, the data it is judged on (the test split, else the validation rows it never
trained on), its metrics against PCA's baseline written to metrics.json, its figures and
report, and the usable folder it leaves where its evaluation fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ..core.errors import AekitError, EvaluationError, TrainingInterrupted
from ..data.batches import validation_split
from ..data.dataset import Dataset
from ..data.streaming import DiskArray, iter_rows
from ..evaluation.likelihood import IWAE_K, evaluate_vae
from ..evaluation.metrics import dead_code_units, denoising_shortfall, linear_probe
from ..evaluation.metrics import evaluate as evaluate_model
from ..evaluation.plots import PcaLevel, first_layer_weights, pixel_variance, run_figures
from ..evaluation.vae_figures import vae_figures
from ..models.autoencoder import AutoEncoder
from ..models.pca import pca_baseline, principal_subspace, sample_rows
from ..models.presets import default_code_dim, has_wide_code
from ..models.vae import VAE
from ..training import distributed
from ..training.trainer import FitResult, Trainer
from .config import RunConfig
from .folder import METRICS_JSON, RunFolder
from .pretrain import LayerResult
from .report import write_report

FIGURE_SAMPLES = 5_000  # of data on disk, the first ones are drawn


@dataclasses.dataclass
class Run:
    """A finished run: its folder, settings, model, training result and evaluation.

    ``metrics`` are measured on ``split``: "test" when the data has a test split, else
    "validation" (the held-out share the model never trained on), else "train"; with ``pca_squared_error``, PCA's error at the same code size fitted on the
    same training data, as the baseline; ``layers`` lists the pretrained layers;
    ``chosen`` the training settings that were left to the data and what was chosen.
    """

    path: Path
    config: RunConfig
    model: AutoEncoder
    fit: FitResult
    metrics: dict[str, float]
    split: str
    data: Dataset
    resumed_at: int | None = None
    layers: list[LayerResult] | None = None
    chosen: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Epochs chosen from the data, before a time budget cut them (None: not cut).
    uncut_epochs: int | None = None
    # Where the kind's larger batch was taken for speed: the batch it replaced and the
    # predicted seconds of training at each (None: the kind's own batch).
    larger_batch: tuple[int, float, float] | None = None

    @property
    def epochs(self) -> int:
        return len(self.fit.history)


def validation_rows(dataset: Dataset, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The training and validation rows of a run's training data (None: no validation
    share, or data of unknown length)."""
    train = dataset.train
    if not isinstance(train, torch.Tensor | np.ndarray | DiskArray):
        return None
    return validation_split(len(train), cfg.training.val_fraction or 0.0, cfg.training.seed)


def sample_counts(
    dataset: Dataset, rows: tuple[torch.Tensor, torch.Tensor] | None
) -> dict[str, int]:
    """How many rows a run trains on, validates on (``rows``: the training and validation
    rows of its training data) and is tested on (its test split's; 0 without one): the
    ``samples`` of config.json's ``result`` section, which the report and ``aekit info``
    show."""
    trained = len(rows[0]) if rows is not None else len(dataset.train)
    return {
        "train": trained,
        "validation": len(rows[1]) if rows is not None else 0,
        "test": len(dataset.test) if dataset.test is not None else 0,
    }


def held_out(
    dataset: Dataset, rows: tuple[torch.Tensor, torch.Tensor] | None
) -> tuple[Any, str, Any]:
    """What a run is judged on: the test split; else the validation rows (``rows``) it
    never trained on; else (no validation) the training data, said as such. Also the data
    a baseline may be fitted on."""
    train = dataset.train
    split = rows if dataset.test is None else None
    if isinstance(train, DiskArray):
        # A baseline fitted on data on disk sees a sample of the rows trained on.
        rows = split[0].numpy() if split is not None else np.arange(len(train))
        fit_on: Any = torch.from_numpy(train.take(sample_rows(rows)))
        if dataset.test is not None:
            return dataset.test, "test", fit_on
        if split is not None:
            return torch.from_numpy(train.take(split[1].numpy())), "validation", fit_on
        return train, "train", fit_on
    if dataset.test is not None:
        return dataset.test, "test", train
    if split is not None:
        return train[split[1]], "validation", train[split[0]]
    return train, "train", train


def judge(
    folder: RunFolder,
    trainer: Trainer,
    dataset: Dataset,
    rows: tuple[torch.Tensor, torch.Tensor] | None,
    epoch: int,
    iwae_k: int = IWAE_K,
) -> tuple[dict[str, Any], str, Any]:
    """Evaluate a trained model on its held-out data (``rows``: the validation split the
    trainer held out), with PCA's baseline, and write metrics.json; the metrics, the
    split they were measured on, and that data. A VAE is judged by its likelihood
    (:func:`~aekit.evaluation.likelihood.evaluate_vae`, the importance-weighted bound
    with ``iwae_k`` samples) beside its reconstruction."""
    judged, split, fitted_on = held_out(dataset, rows)
    if isinstance(trainer.model, VAE):
        metrics = evaluate_vae(trainer.model, judged, iwae_k=iwae_k)
        pca = pca_baseline(
            trainer.model.scale(fitted_on),
            scaled_blocks(trainer.model, judged),
            trainer.model.code_dim,
        )
        if pca is not None:
            metrics["pca_squared_error"] = pca
    else:
        metrics = _judged_autoencoder(trainer.model, judged, fitted_on)
    if dataset.train_labels is not None and dataset.test_labels is not None:
        metrics["probe_accuracy"] = linear_probe(
            trainer.model, dataset.train, dataset.train_labels, dataset.test, dataset.test_labels
        )
    fell_back = {"fell_back_to_pca": True} if getattr(trainer.model, "is_pca", False) else {}
    folder.write_json(
        METRICS_JSON, {"split": split, "weights_from_epoch": epoch, **fell_back, **metrics}
    )
    return metrics, split, judged


def _judged_autoencoder(model: AutoEncoder, judged: Any, fitted_on: Any) -> dict[str, Any]:
    """An autoencoder's metrics on ``judged``, against PCA fitted on ``fitted_on`` (at its
    code size, and at the other kinds' where its kind's code is wide)."""
    assert model.config is not None
    code_dim = model.config.code_dim
    # PCA in the model's units (scaled, where the model scales), as the metrics are.
    fitted_on = model.scale(fitted_on)
    plain = default_code_dim(model.config.input_dim)
    # A denoiser is compared with PCA denoising the same corrupted inputs, at its own code
    # size where it compresses, else at the other kinds' default one.
    denoiser = None
    if model.corruption is not None:
        compresses = code_dim < model.config.input_dim
        denoiser = principal_subspace(fitted_on, code_dim if compresses else plain)
    metrics: dict[str, Any] = evaluate_model(model, judged, baseline=denoiser)
    if "dead_units" in metrics:  # which they are, for the report and aekit info to name
        metrics["dead_unit_numbers"] = dead_code_units(model, judged)
    warn_denoising(model, metrics, stacklevel=6)  # the caller of train or resume
    pca = pca_baseline(fitted_on, scaled_blocks(model, judged), code_dim)
    if pca is not None:
        metrics["pca_squared_error"] = pca
    if has_wide_code(model.config.kind) and plain < code_dim:
        # A kind with a wide code is judged against PCA at the other kinds' code size too.
        pca_plain = pca_baseline(fitted_on, scaled_blocks(model, judged), plain)
        if pca_plain is not None:
            metrics[f"pca{plain}_squared_error"] = pca_plain
    return metrics


def warn_denoising(model: AutoEncoder, metrics: dict[str, Any], stacklevel: int) -> None:
    """Warn (on rank 0) where a denoising model makes its own kind of corrupted input worse."""
    message = denoising_shortfall(model, metrics)
    if message is not None and distributed.is_main():
        warnings.warn(message, stacklevel=stacklevel)


def scaled_blocks(model: AutoEncoder, x: Any) -> Any:
    """``x`` in the model's units, a block at a time (in memory or on disk)."""
    return (model.scale(b) for b in iter_rows(x, 4096))


def draw(
    folder: RunFolder,
    trainer: Trainer,
    fit: FitResult,
    dataset: Dataset,
    split: str,
    judged: Any,
    layers: list[LayerResult] | None,
    rows: tuple[torch.Tensor, torch.Tensor] | None,
    metrics: dict[str, Any],
) -> None:
    """Draw a run's figures (of ``judged``, the data it was judged on; the filters' mask of
    unused pixels from the rows it trained on, ``rows``; PCA's level on the loss curves
    from ``fit`` and ``metrics``, :func:`pca_level`) into ``folder``/figures and write its
    report; figures that fail to draw are warned of, the report written without them."""
    try:
        labels = dataset.test_labels if split == "test" else None
        histories = [layer.fit.history for layer in layers or []]
        losses = [layer.model.config.loss for layer in layers or [] if layer.model.config]
        figures = folder.path / "figures"
        shown = judged.head(FIGURE_SAMPLES) if isinstance(judged, DiskArray) else judged
        if isinstance(trainer.model, VAE):
            vae_figures(trainer.model, shown.numpy(), figures, fit.history, labels)
        else:
            variance = training_variance(trainer.model, dataset, rows)
            run_figures(
                trainer.model,
                shown.numpy(),
                figures,
                fit.history,
                labels,
                histories,
                losses,
                variance,
                pca_level(trainer.model, fit, metrics, split),
            )
    except TrainingInterrupted:
        raise
    except Exception as exc:  # the run and its metrics stand without them
        warnings.warn(
            f"drawing the figures of {folder.path} failed ({said_error(exc)}); the run, "
            "its metrics and its report are written without them",
            stacklevel=4,  # the caller of train or resume
        )
    write_report(folder.path)


def pca_level(
    model: AutoEncoder, fit: FitResult, metrics: dict[str, Any], split: str
) -> PcaLevel | None:
    """PCA's held-out error measured as the validation curve is (squared error per
    sample, in the model's units, of clean inputs), for the loss curves: the validation
    error the PCA fallback compared the trained layers with (``fit.pca_comparison``: the
    validation rows the curve is drawn on), except for a model with a corruption, whose
    comparison was on corrupted inputs and the curve's on clean ones; else PCA's error on
    the data the run was judged on (``metrics``, on ``split``): the validation rows, or
    the test split. None where neither is known (nor on training data: no validation
    curve). ``final``: the model is that PCA (it fell back)."""
    cfg = model.config
    if cfg is None:
        return None
    final = bool(fit.kept_pca)
    if fit.pca_comparison is not None and model.corruption is None:
        return PcaLevel(fit.pca_comparison[1], cfg.code_dim, "the validation data", final)
    error = metrics.get("pca_squared_error")
    if not isinstance(error, float | int) or not np.isfinite(error) or split == "train":
        return None
    data = "the validation data" if split == "validation" else f"the {split} split"
    return PcaLevel(float(error), cfg.code_dim, data, final)


def training_variance(
    model: AutoEncoder, dataset: Dataset, rows: tuple[torch.Tensor, torch.Tensor] | None
) -> np.ndarray | None:
    """The variance of each input feature over the rows ``model`` trained on (``rows``:
    the training and validation rows of ``dataset.train``; all of it without), from which
    the filters figure greys the pixels the training data barely uses: one pass over the
    data in memory, a block at a time, never copied; of data on disk, over the seeded
    sample of those rows that PCA's baseline is fitted on. None where no filters are drawn
    (no images, or no dense first layer)."""
    cfg = model.config
    if cfg is None or cfg.image_shape is None or first_layer_weights(model) is None:
        return None
    train = dataset.train
    trained = rows[0].numpy() if rows is not None else None
    if isinstance(train, DiskArray):
        trained = sample_rows(trained if trained is not None else np.arange(len(train)))
    return pixel_variance(train, trained)


def failed_evaluation(folder: RunFolder, cfg: RunConfig, epoch: int, exc: Exception) -> NoReturn:
    """Leave a usable run folder where evaluating a trained model failed (its weights and
    config.json are written): a metrics.json that says what failed, the report, then an
    :class:`EvaluationError` that says so and what to do."""
    reason = said_error(exc)
    folder.write_json(METRICS_JSON, {"weights_from_epoch": epoch, "evaluation_error": reason})
    if cfg.output.report and folder.writes:
        with contextlib.suppress(Exception):
            write_report(folder.path)
    raise EvaluationError(
        f"{folder.path}: the model trained and is saved (model.safetensors, config.json), "
        f"but evaluating it failed: {reason}; metrics.json records this. Evaluate it on "
        f"other data with: aekit evaluate {folder.path} --data FILE"
    ) from exc


def said_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, AekitError) else f"{type(exc).__name__}: {text}"
