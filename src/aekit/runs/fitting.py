"""Training a model built in Python: :func:`aekit.fit`, and :func:`fit_model`, the one path
of :func:`aekit.fit` and of the scikit-learn estimators (:mod:`aekit.sklearn`): the
settings a kind chooses, the time budget (:mod:`aekit.runs.budget`), the scaling fitted
on the first fit, a run folder where asked, and the warnings that go with them.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

from ..core.errors import AekitError, ConfigError
from ..data.columns import frame_columns
from ..data.streaming import DiskArray
from ..data.validation import in_memory
from ..models.autoencoder import AutoEncoder
from ..models.kinds import kind_training
from ..training import distributed
from ..training.config import TrainConfig
from ..training.trainer import Callback, FitResult, Trainer, warn_ignored, why_pca
from .budget import within_time_budget
from .folder import RunFolder, fit_in_folder, result_summary
from .saved import IN_MEMORY


def fit(
    model: AutoEncoder,
    X: Any,
    *,
    val: Any = None,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    **settings: Any,
) -> FitResult:
    """Train ``model`` on ``X`` (array, tensor or DataLoader); ``settings`` are
    :class:`TrainConfig` fields (epochs, batch_size, lr, seed, patience...); those left
    open are the model's kind's where it has its own (the deep kind's Muon). A model with
    input scaling (``scaling="standard"`` or ``"minmax"``) has it fitted to ``X`` on its
    first fit, as ``aekit train`` does. With ``run_dir``, training checkpoints into that
    folder and continues from its checkpoint when called again; the final weights and
    config.json are written there.

    Examples
    --------
    >>> import aekit
    >>> data = aekit.load_digits()
    >>> model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
    >>> result = aekit.fit(model, data.train, epochs=2, progress=False)
    >>> len(result.history), result.final["train_loss"] > 0
    (2, True)
    """
    return fit_model(
        model,
        X,
        TrainConfig(**settings),
        val=val,
        run_dir=run_dir,
        progress=progress,
        callbacks=callbacks,
        stacklevel=2,  # the line calling aekit.fit
    )[1]


def fit_model(
    model: AutoEncoder,
    X: Any,
    config: TrainConfig,
    *,
    val: Any = None,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    desc: str = "train",
    stacklevel: int = 1,
) -> tuple[Trainer, FitResult]:
    """Train a model given in Python with the user's settings ``config``: the one path of
    :func:`fit` and of the scikit-learn estimators (:mod:`aekit.sklearn`). The settings
    left open become the model's kind's; each setting the rest leave unused is warned of;
    a scaling model has its scaling fitted to ``X`` on its first fit; it trains (into
    ``run_dir`` where given, as :func:`fit` says); and a model that kept PCA's solution
    is warned of. Returns the trainer (``trainer.config``: the settings that ran, those
    chosen from the data included) and the result. The warnings point at the line
    ``stacklevel`` frames up from here (1: the line calling this function; 2: its
    caller's line...)."""
    # A model of a kind trains as that kind does under ``aekit train`` (the deep kind's Muon).
    given = config
    config = given.settled(kind_training(getattr(getattr(model, "config", None), "kind", None)))
    distributed.init(config.device)
    warn_ignored(config, stacklevel=stacklevel + 2)
    _fit_scaling_once(model, X)
    names = frame_columns(X)
    if names is not None or hasattr(X, "iloc"):
        # A DataFrame enters as the tensor of its rows, checked once here (its columns
        # matched by name), so the budget, the split and the trainer see an array.
        X = model.check_input(X, "training data", targets=True)
    step = None
    if config.epochs is None and getattr(model, "config", None) is not None:
        # Epochs left to choose fit the time budget, as under ``aekit train``.
        # Not for data the trainer refuses with its own message, or of unknown length.
        with contextlib.suppress(AekitError, TypeError):
            config, step, _ = within_time_budget(given, config, model, X)
    if run_dir is None:
        trainer = Trainer(model, config, callbacks=callbacks, progress=progress, desc=desc)
        trainer.step_time = step
        return trainer, _said(trainer.fit(X, val), stacklevel + 2)
    # The data is the caller's: a resume must be given it again.
    sections = in_memory_sections(names)
    if names is not None:
        model.feature_names = names
    trainer, result = fit_in_folder(
        model,
        config,
        X,
        RunFolder(run_dir),
        val=val,
        sections=sections,
        progress=progress,
        desc=desc,
        callbacks=callbacks,
        step_time=step,
    )
    return trainer, _said(result, stacklevel + 2)


def in_memory_sections(columns: list[str] | None) -> dict[str, Any]:
    """What config.json records of data given in Python: its source, an array in memory
    (which no command may assume it has), and its columns' names where it named them (a
    DataFrame's), as a run of a CSV keeps them."""
    sections: dict[str, Any] = {"data": {"source": IN_MEMORY}}
    if columns is not None:
        sections["columns"] = list(columns)
    return sections


def fitted_sections(
    trainer: Trainer, result: FitResult, columns: list[str] | None
) -> dict[str, Any]:
    """The config.json sections of a model :func:`fit_model` trained on data given in
    Python with no run folder (a scikit-learn estimator's, which saves it later), as a run
    folder records them: the data (:func:`in_memory_sections`), the training settings
    that ran and the result (:func:`~aekit.runs.folder.result_summary`)."""
    return {
        **in_memory_sections(columns),
        "training": trainer.config.to_dict(),
        "result": result_summary(trainer, result),
    }


def _said(result: FitResult, stacklevel: int) -> FitResult:
    """``result``, with a warning where the model fell back to PCA (the command says it in
    its summary); ``stacklevel`` as for :func:`warnings.warn` (1: this function's line)."""
    if result.kept_pca and result.pca_comparison is not None:
        warnings.warn(
            f"kept PCA's solution: {why_pca(result.pca_comparison)}; the model now encodes "
            "and decodes as PCA "
            "(model.is_pca). Train longer or on more data, or build with pca_fallback=False "
            "to keep the layers",
            UserWarning,
            stacklevel=stacklevel,
        )
    return result


def _fit_scaling_once(model: Any, x: Any) -> None:
    """Fit a scaling model's input scaling to its first training data, as ``aekit train``
    does: where it is still the identity it was built with (a fitted scaling that is the
    identity fits to itself again). A later ``fit`` keeps the scaling it trained with; a
    resumed one gets it from its checkpoint."""
    if getattr(model, "scaling", "none") == "none":
        return
    if bool((model.input_shift != 0).any() or (model.input_scale != 1).any()):
        return
    if not (in_memory(x) or isinstance(x, DiskArray)):
        raise ConfigError(
            f"a model with scaling {model.scaling!r} fits it to its training data, which it "
            "cannot from a loader: call model.fit_scaling(X) on (a sample of) the data first"
        )
    model.fit_scaling(x)
