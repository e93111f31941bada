"""Runs: the Python functions behind every ``aekit`` command, taking the same config.

``aekit.train(config)`` does all that ``aekit train`` does (run folder, checkpoints,
metrics, figures, SIGINT/SIGTERM handling) and returns the :class:`Run`;
``aekit.resume(path)`` continues an interrupted one; ``evaluate``, ``encode`` and
``reconstruct`` take a model or a run folder. ``fit`` trains a model you built. The CLI
only parses flags into a :class:`~aekit.RunConfig` and prints what these return.

The path from ``aekit train`` to the loss::

    cli.commands.main -> runs.api.train -> runs.api._execute -> runs.folder.fit_in_folder
        -> Trainer.fit -> Trainer._train_epoch -> model(x) -> (loss, terms)
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ..core.errors import (
    AekitError,
    CheckpointError,
    ConfigError,
    DataError,
    EvaluationError,
    TrainingInterrupted,
)
from ..core.io import write_npy_blocks
from ..data.batches import resolve_device, validation_split
from ..data.columns import frame_columns, match_columns, say_order
from ..data.config import NAMED_SOURCES, DataConfig
from ..data.dataset import Dataset
from ..data.files import read_table
from ..data.formats.images import Images, is_image_folder, load_images, not_streamed
from ..data.shapes import channels_first, image_shape_of
from ..data.sources import load_source, streams
from ..data.streaming import DiskArray, iter_rows, open_disk_array
from ..data.validation import observed_range, to_tensor
from ..evaluation.metrics import denoising_shortfall, feature_errors, linear_probe
from ..evaluation.metrics import evaluate as evaluate_model
from ..evaluation.plots import run_figures
from ..models.autoencoder import AutoEncoder
from ..models.families import model_config_of
from ..models.pca import pca_baseline, principal_subspace, sample_rows
from ..models.presets import (
    default_code_dim,
    has_wide_code,
    large_batch_training,
    training_defaults,
)
from ..training import distributed
from ..training.config import TIME_BUDGET, TrainConfig
from ..training.tensorboard import TensorBoardLogger, require_tensorboard
from ..training.trainer import (
    Callback,
    FitResult,
    Trainer,
    shows_progress,
    spoken_duration,
    step_seconds,
    warn_ignored,
    why_pca,
)
from .config import RunConfig
from .folder import (
    METRICS_JSON,
    RUNS_ROOT,
    TENSORBOARD,
    RunFolder,
    first_missing,
    fit_in_folder,
    train_in_folder,
)
from .pretrain import LayerResult, layer_configs, pretrain_greedy
from .report import write_report
from .saved import ESTIMATOR_FILE, IN_MEMORY, data_origin, load, unnamed_data


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


def train(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    *,
    data: Any = None,
    out: str | Path | None = None,
    progress: bool | None = None,
) -> Run:
    """Train the run ``config`` describes into a new run folder, as ``aekit train`` does.

    Parameters
    ----------
    config : a :class:`RunConfig`, its dict form, or the path of a JSON config file;
        None trains the default (an undercomplete autoencoder on the digits).
    data : training data that overrides ``config.data``: a :class:`Dataset` or an array
        ((N, features) or images (N, H, W) / (N, C, H, W)).
    out : the run folder (overrides ``config.output.out``; default runs/KIND-DATE-TIME).
    progress : show progress bars: True always, False never (overrides
        ``config.output.progress``; by default where stderr is a terminal).

    Returns
    -------
    Run : the folder, model, training history and final metrics.

    Examples
    --------
    >>> import aekit, tempfile
    >>> cfg = aekit.RunConfig(model={"kind": "sparse"}, training=aekit.TrainConfig(epochs=2))
    >>> run = aekit.train(cfg, out=tempfile.mkdtemp() + "/run", progress=False)
    >>> run.model.config.arch, run.split, run.metrics["squared_error"] > 0
    ('64-25', 'test', True)
    """
    cfg = _run_config(config)
    distributed.init(cfg.training.device)
    output = cfg.output.replace(
        out=str(out) if out is not None else cfg.output.out,
        progress=cfg.output.progress if progress is None else progress,
    )
    cfg = cfg.replace(output=output)
    dataset, data_cfg = _dataset(cfg.data, data, bool(cfg.model.get("missing")))
    # Checked with the source used: a ``data`` path or name replaces the config's.
    named = isinstance(data, str | Path)
    used = cfg.data.replace(source=str(data)) if named else cfg.data
    warn_ignored(used.ignored(isinstance(dataset.train, DiskArray), not named and data is not None))
    cfg = cfg.replace(data=data_cfg)
    unit_range = _in_unit_range(dataset.train, bool(cfg.model.get("missing")))
    model_cfg = cfg.model_config(dataset.input_dim, dataset.image_shape, unit_range)
    # Settings left to the data are chosen now, so config.json records what ran.
    chosen = cfg.training.chosen()
    given = cfg.training
    # The kind's training where the user left it open, then what the data decides.
    training = cfg.training.settled(training_defaults(model_cfg.kind))
    warn_ignored(training)  # the user's settings, before any are chosen from the data
    cfg = cfg.replace(training=training.resolved(len(dataset.train)))
    # Everything that can be refused is refused before the run folder exists.
    model_cfg.check_memory(cfg.training.batch_size or 1)
    model = AutoEncoder.from_config(model_cfg, seed=cfg.training.seed)
    # Checked once, here: the trainer is handed the checked tensor (Model.check_input).
    checked = _check_data(model, dataset.train, "training data")
    if dataset.test is not None:
        _check_data(model, dataset.test, "test data")
    uncut, larger, step = cfg.training.epochs, None, None
    if "epochs" in chosen:
        # Epochs left to choose also fit a time budget, from a step timed here.
        budgeted, step, larger = _within_time_budget(given, model, dataset.train)
        cfg = cfg.replace(training=budgeted)
        if larger is not None:
            chosen.update(dict.fromkeys(large_batch_training(model_cfg.kind)))
        model_cfg.check_memory(cfg.training.batch_size or 1)
        if cfg.output.progress is None and not shows_progress():
            # A progress bar says it itself; without one, said once, before training.
            _say_estimate(cfg.training, len(dataset.train), step)
    chosen = {k: getattr(cfg.training, k) for k in chosen}
    if cfg.pretrain is not None:
        if isinstance(dataset.train, DiskArray):
            raise ConfigError(
                "greedy pretraining holds each layer's codes in memory: it does not stream; "
                "train without pretraining, or load the data (--no-stream; stream=False)"
            )
        layer_configs(model_cfg, cfg.pretrain)
    resolve_device(cfg.training.device)
    if output.tensorboard:
        require_tensorboard()
    # Under torchrun rank 0 makes the folder and names it to the others.
    missing = first_missing(Path(output.out or RUNS_ROOT))
    path = distributed.on_main(
        lambda: (
            (
                RunFolder.create(output.out)
                if output.out
                else RunFolder.new(model_cfg.kind, RUNS_ROOT)
            ).path
        )
    )
    folder = RunFolder(path)
    made = missing or (folder.path if output.out is None else None)  # new() made the folder
    with folder.undone_on_failure(made), folder.locked():
        distributed.on_main(folder.require_new)
        run = _execute(folder, cfg, model, dataset, step_time=step, train=checked)
    run.chosen = chosen
    run.larger_batch = larger
    if "epochs" in chosen and chosen["epochs"] != uncut:
        run.uncut_epochs = uncut
    return run


def resume(
    path: str | Path,
    *,
    data: Any = None,
    data_dir: str | None = None,
    test: str | None = None,
    epochs: int | None = None,
    progress: bool | None = None,
    report: bool | None = None,
) -> Run:
    """Continue the interrupted run in folder ``path`` from its last checkpoint, as
    ``aekit train --resume`` does; on the CPU the result is bit-identical to a run that
    was never interrupted. Where the run stands is said on stderr before it trains.

    Paths stored in a run folder are never used (the folder may come from someone else):
    a run trained on a file needs ``data`` again (the same file or array, checked against
    the checkpoint); the MNIST folder is searched in ``data_dir``, ``$AEKIT_DATA`` and the
    cache. ``epochs`` extends the run: its schedule stretches to the new length (a cosine
    goes on from the rate the longer cosine has at that point). ``report=False`` leaves
    the figures and report as they were.
    """
    if isinstance(data, Path):
        data = str(data)  # a file named by a path, as by a string
    folder = RunFolder(path)
    raw = folder.read_config()
    stored = raw.get("training")
    distributed.init(str(stored.get("device", "auto")) if isinstance(stored, dict) else "auto")
    before, now = raw.get("world_size", 1), distributed.world_size()
    if before != now and distributed.is_main():
        warnings.warn(
            f"{folder.path} was trained by {before} process(es) and resumes with {now}: it "
            "continues from its checkpoint, but not bit for bit as an uninterrupted run would",
            stacklevel=2,
        )
    if (folder.path / ESTIMATOR_FILE).exists():
        raise CheckpointError(
            f"{folder.path} was saved by a scikit-learn estimator ({ESTIMATOR_FILE}): it is "
            "a finished model, not an interrupted run, and has no checkpoint to continue; "
            "to train it again, fit the estimator again in Python "
            "(aekit.sklearn.load(path).fit(X), then .save(path))"
        )
    if "training" not in raw:
        raise CheckpointError(f"{folder.path} has no 'training' section to resume")
    try:
        cfg = RunConfig.from_dict(raw, "config.json")
        if epochs is not None:
            cfg = cfg.replace(training=cfg.training.replace(epochs=epochs))
    except ConfigError as exc:
        raise CheckpointError(f"{folder.path}/config.json: {exc}") from None
    state = folder.load_checkpoint() if folder.has_checkpoint else None
    if epochs is not None and state is not None:
        trained = int(state.get("epoch", 0))
        if epochs < trained:
            raise ConfigError(
                f"{folder.path} has trained {trained} epochs already; to extend it, ask for "
                f"more (epochs={epochs} would shorten it)"
            )
    _, model_cfg = model_config_of(raw, folder.path)
    stored_data = cfg.data if data_origin(raw) is not None else DataConfig(source=IN_MEMORY)
    data_cfg = _resume_data_config(stored_data, folder.path, data, data_dir, test)
    given = data if not isinstance(data, str) else None
    if data_dir is not None:  # the caller's own setting, unlike the stored config's
        asked = DataConfig(source=data_cfg.source, data_dir=data_dir)
        warn_ignored(asked.ignored(streamed=True, given=given is not None))
    dataset, data_cfg = _dataset(data_cfg, given, model_cfg.missing)
    output = cfg.output.replace(progress=progress)
    if report is not None:
        output = output.replace(report=report)
    cfg = cfg.replace(data=data_cfg, output=output)
    model = AutoEncoder.from_config(model_cfg, seed=cfg.training.seed)
    with folder.undone_on_failure(None), folder.locked():
        if distributed.is_main():  # under torchrun, said once
            print(resume_status(folder.path, epochs, state), file=sys.stderr)
        return _execute(folder, cfg, model, dataset, state=state)


def resume_status(
    path: str | Path, epochs: int | None = None, state: dict[str, Any] | None = None
) -> str:
    """Where an interrupted run stands, in words (what ``aekit train --resume`` prints);
    ``epochs`` is a new length asked for, ``state`` its checkpoint where already read."""
    folder = RunFolder(path)
    raw = folder.read_config()
    if state is None and folder.has_checkpoint:
        state = folder.load_checkpoint()
    if state is not None:
        if epochs is None:
            training = raw.get("training")
            epochs = training.get("epochs", "?") if isinstance(training, dict) else "?"
        done = int(state.get("epoch", 0))
        if isinstance(epochs, int) and done >= epochs and not state.get("step_in_epoch"):
            return (
                f"{folder.path} has trained all its {epochs} epochs: evaluating it and writing "
                "its results again (to train it longer, give more --epochs)"
            )
        return (
            f"resuming {folder.path} at epoch {done + 1}, step "
            f"{state.get('step_in_epoch', 0)} of {epochs} epochs"
        )
    if "pretrain" in raw:
        return f"resuming the pretraining of {folder.path}"
    return f"{folder.path} has no checkpoint yet: starting it again"


def _within_time_budget(
    given: TrainConfig, model: AutoEncoder, train: Any
) -> tuple[TrainConfig, float, tuple[int, float, float] | None]:
    """The training settings ``given`` leaves open, chosen for ``train`` and fitted to the
    time budget (:meth:`TrainConfig.resolved`) from a step of ``model`` timed here; the
    seconds of that step; and where the kind's larger batch was taken, the batch it
    replaced and the predicted seconds of training with each (:attr:`Run.larger_batch`).

    Where the kind's recipe would take well over the budget on this machine and the kind
    has a larger-batch recipe the user left open (the deep kind's, batch 512: Muon's cost
    is per step), that recipe is timed too and taken where it trains faster."""
    kind = model.config.kind if model.config is not None else None
    defaults = training_defaults(kind)
    if not isinstance(train, torch.Tensor | np.ndarray | DiskArray):
        raise TypeError(f"a step is timed on an array, not {type(train).__name__}")
    samples = len(train)
    first = given.settled(defaults).resolved(samples)
    seconds = _timed_step(model, first, train)
    larger = large_batch_training(kind)
    if (
        larger
        and all(getattr(given, k) is None for k in larger)
        and first.optimizer == defaults.get("optimizer")
        and first.seconds(samples, seconds) > LARGER_BATCH_OVER * TIME_BUDGET
        and samples >= LARGER_BATCH_STEPS * larger.get("batch_size", 0)
    ):
        other = given.replace(**larger).settled(defaults)
        other_seconds = _timed_step(model, other.resolved(samples), train)
        before = first.seconds(samples, seconds)
        after = other.resolved(samples).seconds(samples, other_seconds)
        if after < before:
            taken = other.resolved(samples, other_seconds)
            return taken, other_seconds, (first.batch_size or 0, before, after)
    return given.settled(defaults).resolved(samples, seconds), seconds, None


# A run predicted to train this much longer than the time budget tries its kind's
# larger-batch recipe: the deep kind's 10 MNIST epochs at batch 256 take 175 s on a CPU
# with bfloat16 units (kept: 2.64) and 280 s on two AVX2 cores (batch 512: 166 s, 2.75).
LARGER_BATCH_OVER = 1.25
# ... where an epoch has at least this many of its batches: the recipe was measured with
# 113 steps an epoch (MNIST); on a few hundred rows a batch of 512 is one step an epoch,
# and a slow run of small data is cut to fewer epochs instead.
LARGER_BATCH_STEPS = 50


def _say_estimate(training: TrainConfig, samples: int, step: float) -> None:
    seconds = training.seconds(samples, step)
    steps = round(seconds / max(step, 1e-12))
    print(
        f"estimated training time: about {spoken_duration(seconds)} ({steps:,} steps of "
        f"{step * 1e3:.3g} ms, timed here)",
        file=sys.stderr,
        flush=True,
    )


def _timed_step(model: AutoEncoder, training: TrainConfig, train: Any) -> float:
    """Seconds a training step of ``model`` with ``training`` takes here, on the first
    batch of ``train``."""
    rows = training.batch_size or 64
    head = train.head(rows) if isinstance(train, DiskArray) else train[:rows]
    return step_seconds(model, training, model.check_input(head, "training data"))


def _execute(
    folder: RunFolder,
    cfg: RunConfig,
    model: AutoEncoder,
    dataset: Dataset,
    state: dict[str, Any] | None = None,
    step_time: float | None = None,
    train: Any = None,
) -> Run:
    """Pretrain (unless a checkpoint shows it is done), train, evaluate, draw, in
    ``folder``, whose lock the caller holds. ``state``: its checkpoint, read once by the
    caller (a resume); ``step_time``: a training step's seconds, timed by the caller;
    ``train``: the training data as the caller checked it (else ``dataset.train``)."""
    train = dataset.train if train is None else train
    progress = cfg.output.progress
    sections: dict[str, Any] = {"data": cfg.data.to_dict()}
    if dataset.columns is not None:
        # The names of the columns trained on: a table given later is matched by them.
        sections["columns"] = list(dataset.columns)
        model.feature_names = list(dataset.columns)
    if cfg.pretrain is not None:
        sections["pretrain"] = cfg.pretrain.to_dict()
    layers = None
    resumed_at = None
    # The validation rows, drawn once: the trainer holds them out, and without a test
    # split the run is judged on them.
    rows = _validation_rows(dataset, cfg)
    if state is None and folder.has_checkpoint:
        state = folder.load_checkpoint()
    if state is not None:
        resumed_at = int(state.get("global_step", 0))
    else:
        model.fit_scaling(train)  # a resumed run has it in its checkpoint
        if getattr(model, "pca_state", None) is not None and dataset.test is None:
            # Judged on the validation rows: the PCA it may fall back to must not have
            # seen them either (the trainer would fit it on all the data it is given).
            model.fit_pca(_held_out(dataset, rows)[2])
    if state is None and cfg.pretrain is not None:
        folder.prepare()
        folder.write_config(model, {**sections, "training": cfg.training.to_dict()})
        scaled = model
        model, layers = pretrain_greedy(
            model.config.replace(scaling="none"),  # the layers see the scaled data
            scaled.scale(dataset.train),
            cfg.pretrain,
            cfg.training,
            run_dir=folder.path,
            progress=progress,
        )
        if scaled.scaling != "none":
            model = _with_scaling(model, scaled)
    tensorboard = cfg.output.tensorboard and folder.writes
    logger = TensorBoardLogger(folder.path / TENSORBOARD) if tensorboard else None
    trainer, fit = train_in_folder(
        model,
        cfg.training,
        train,
        folder,
        sections=sections,
        progress=progress,
        callbacks=[logger] if logger is not None else [],
        state=state,
        split=rows,
        step_time=step_time,
    )
    if dataset.columns is not None:
        trainer.model.feature_names = list(dataset.columns)
    # The epoch whose weights the model holds: the best validation epoch, or the last.
    kept = fit.best_epoch if fit.best_epoch is not None and cfg.training.keep == "best" else None
    epoch = kept if kept is not None else trainer.epoch
    try:
        metrics, split, held_out = _judge(folder, trainer, dataset, rows, epoch)
    except TrainingInterrupted:
        raise
    except Exception as exc:  # the weights are saved: the folder says what failed
        if logger is not None:
            logger.close()
        _failed_evaluation(folder, cfg, epoch, exc)
    if cfg.output.report and folder.writes:
        try:
            labels = dataset.test_labels if split == "test" else None
            histories = [layer.fit.history for layer in layers or []]
            losses = [layer.model.config.loss for layer in layers or [] if layer.model.config]
            figures = folder.path / "figures"
            shown = held_out.head(FIGURE_SAMPLES) if isinstance(held_out, DiskArray) else held_out
            run_figures(
                trainer.model, shown.numpy(), figures, fit.history, labels, histories, losses
            )
        except TrainingInterrupted:
            raise
        except Exception as exc:  # the run and its metrics stand without them
            warnings.warn(
                f"drawing the figures of {folder.path} failed ({_said_error(exc)}); the run, "
                "its metrics and its report are written without them",
                stacklevel=3,
            )
        write_report(folder.path)
        if logger is not None:
            logger.add_figures(folder.path / "figures", trainer.epoch)
    if logger is not None:
        logger.close()
    return Run(folder.path, cfg, trainer.model, fit, metrics, split, dataset, resumed_at, layers)


def _judge(
    folder: RunFolder,
    trainer: Trainer,
    dataset: Dataset,
    rows: tuple[torch.Tensor, torch.Tensor] | None,
    epoch: int,
) -> tuple[dict[str, Any], str, Any]:
    """Evaluate a trained model on its held-out data (``rows``: the validation split the
    trainer held out), with PCA's baseline, and write metrics.json; the metrics, the
    split they were measured on, and that data."""
    held_out, split, fitted_on = _held_out(dataset, rows)
    assert trainer.model.config is not None
    code_dim = trainer.model.config.code_dim
    # PCA in the model's units (scaled, where the model scales), as the metrics are.
    fitted_on = trainer.model.scale(fitted_on)
    plain = default_code_dim(trainer.model.config.input_dim)
    # A denoiser is compared with PCA denoising the same corrupted inputs, at its own code
    # size where it compresses, else at the other kinds' default one.
    denoiser = None
    if trainer.model.corruption is not None:
        compresses = code_dim < trainer.model.config.input_dim
        denoiser = principal_subspace(fitted_on, code_dim if compresses else plain)
    metrics = evaluate_model(trainer.model, held_out, baseline=denoiser)
    _warn_denoising(trainer.model, metrics, stacklevel=5)  # the caller of train or resume
    pca = pca_baseline(fitted_on, _scaled(trainer.model, held_out), code_dim)
    if pca is not None:
        metrics["pca_squared_error"] = pca
    if has_wide_code(trainer.model.config.kind) and plain < code_dim:
        # A kind with a wide code is judged against PCA at the other kinds' code size too.
        pca_plain = pca_baseline(fitted_on, _scaled(trainer.model, held_out), plain)
        if pca_plain is not None:
            metrics[f"pca{plain}_squared_error"] = pca_plain
    if dataset.train_labels is not None and dataset.test_labels is not None:
        metrics["probe_accuracy"] = linear_probe(
            trainer.model, dataset.train, dataset.train_labels, dataset.test, dataset.test_labels
        )
    fell_back = {"fell_back_to_pca": True} if trainer.model.is_pca else {}
    folder.write_json(
        METRICS_JSON, {"split": split, "weights_from_epoch": epoch, **fell_back, **metrics}
    )
    return metrics, split, held_out


def _said_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, AekitError) else f"{type(exc).__name__}: {text}"


def _failed_evaluation(folder: RunFolder, cfg: RunConfig, epoch: int, exc: Exception) -> NoReturn:
    """Leave a usable run folder where evaluating a trained model failed (its weights and
    config.json are written): a metrics.json that says what failed, the report, then an
    :class:`EvaluationError` that says so and what to do."""
    reason = _said_error(exc)
    folder.write_json(METRICS_JSON, {"weights_from_epoch": epoch, "evaluation_error": reason})
    if cfg.output.report and folder.writes:
        with contextlib.suppress(Exception):
            write_report(folder.path)
    raise EvaluationError(
        f"{folder.path}: the model trained and is saved (model.safetensors, config.json), "
        f"but evaluating it failed: {reason}; metrics.json records this. Evaluate it on "
        f"other data with: aekit evaluate {folder.path} --data FILE"
    ) from exc


def _warn_denoising(model: AutoEncoder, metrics: dict[str, Any], stacklevel: int) -> None:
    """Warn (on rank 0) where a denoising model makes its own kind of corrupted input worse."""
    message = denoising_shortfall(model, metrics)
    if message is not None and distributed.is_main():
        warnings.warn(message, stacklevel=stacklevel)


def _in_unit_range(x: Any, missing: bool) -> bool:
    if isinstance(x, DiskArray):
        x.check("training data", allow_missing=missing)
        lo, hi = x.range()
        return lo >= 0 and hi <= 1
    seen = observed_range(x)  # a missing entry is no evidence of range
    return seen is None or (seen[0] >= 0 and seen[1] <= 1)


def _check_data(model: AutoEncoder, x: Any, name: str) -> Any:
    """``x`` checked for ``model`` as data to learn from or be judged on: an in-memory
    array as the tensor check_input returns, data on disk as it is (its one pass cached)."""
    if isinstance(x, DiskArray):
        model.check_disk_input(x, name, targets=True)
        return x
    return model.check_input(x, name, targets=True)


def _fit_scaling_once(model: Any, x: Any) -> None:
    """Fit a scaling model's input scaling to its first training data, as ``aekit train``
    does: where it is still the identity it was built with (a fitted scaling that is the
    identity fits to itself again). A later ``fit`` keeps the scaling it trained with; a
    resumed one gets it from its checkpoint."""
    if getattr(model, "scaling", "none") == "none":
        return
    if bool((model.input_shift != 0).any() or (model.input_scale != 1).any()):
        return
    if not isinstance(x, torch.Tensor | np.ndarray | list | tuple | DiskArray):
        raise ConfigError(
            f"a model with scaling {model.scaling!r} fits it to its training data, which it "
            "cannot from a loader: call model.fit_scaling(X) on (a sample of) the data first"
        )
    model.fit_scaling(x)


def _with_scaling(model: AutoEncoder, scaled: AutoEncoder) -> AutoEncoder:
    """The unrolled, pretrained ``model`` as a model that scales its inputs as ``scaled``
    does (its layers were pretrained on the scaled data)."""
    assert scaled.config is not None
    out = AutoEncoder.from_config(scaled.config)
    state = {
        **model.state_dict(),
        "input_shift": scaled.input_shift,
        "input_scale": scaled.input_scale,
    }
    out.load_state_dict(state)
    return out


FIGURE_SAMPLES = 5_000  # of data on disk, the first ones are drawn


def _scaled(model: AutoEncoder, x: Any) -> Any:
    """``x`` in the model's units, a block at a time (in memory or on disk)."""
    return (model.scale(b) for b in iter_rows(x, 4096))


def _validation_rows(dataset: Dataset, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The training and validation rows of a run's training data (None: no validation
    share, or data of unknown length)."""
    train = dataset.train
    if not isinstance(train, torch.Tensor | np.ndarray | DiskArray):
        return None
    return validation_split(len(train), cfg.training.val_fraction or 0.0, cfg.training.seed)


def _held_out(
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
    config = given.settled(training_defaults(getattr(getattr(model, "config", None), "kind", None)))
    distributed.init(config.device)
    warn_ignored(config, stacklevel=stacklevel + 2)
    _fit_scaling_once(model, X)
    step = None
    if config.epochs is None and getattr(model, "config", None) is not None:
        # Epochs left to choose fit the time budget, as under ``aekit train``.
        # Not for data the trainer refuses with its own message, or of unknown length.
        with contextlib.suppress(AekitError, TypeError):
            config, step, _ = _within_time_budget(given, model, X)
    if run_dir is None:
        trainer = Trainer(model, config, callbacks=callbacks, progress=progress, desc=desc)
        trainer.step_time = step
        return trainer, _said(trainer.fit(X, val), stacklevel + 2)
    # The data is the caller's: a resume must be given it again.
    sections: dict[str, Any] = {"data": {"source": "array"}}
    names = frame_columns(X)
    if names is not None:  # a DataFrame's names, kept as a run of a CSV keeps them
        sections["columns"] = names
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


def evaluate(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    split: str | None = None,
    data_dir: str | None = None,
    baseline: bool = True,
    **options: Any,
) -> dict[str, float]:
    """Metrics of a model, or of the model in a run folder, on ``data`` (an array, a
    tensor, "digits", "mnist", a data file, a folder of images or the
    :class:`~aekit.Images` read from one; default: the run's own data set if it was
    digits or mnist). ``split`` ("test", the default, or "train") picks the split of digits
    or mnist. ``baseline``: for a run on digits or mnist evaluated on its own data set,
    also ``pca_squared_error``, PCA's error with as many components as the code, fitted on
    the training split (as ``aekit evaluate`` prints it). ``options`` are those of
    :func:`aekit.evaluation.metrics.evaluate` (batch_size, sparsity, jacobian, denoising, seed).

    Examples
    --------
    >>> import aekit
    >>> data = aekit.load_digits()
    >>> model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    >>> sorted(aekit.evaluate(model, data.test))
    ['explained_variance', 'mse', 'psnr', 'squared_error']
    """
    stream = options.pop("stream", None)
    header = options.pop("header", "auto")
    run = model if isinstance(model, str | Path) else None
    model, x = load_model_and_data(model, data, split, data_dir, stream, header=header)
    metrics = evaluate_model(model, x, **options)
    if run is not None:  # as after training; a model in hand is the caller's to judge
        _warn_denoising(model, metrics, stacklevel=3)
    if baseline and run is not None and model.config is not None:
        # PCA needs training data: the run's own data set's training split, when it was
        # digits or mnist (a file named in a run folder is never read).
        source = _stored_data(RunFolder(run))
        if source is not None and source.named and (data is None or str(data) == source.source):
            train = load_dataset(source.replace(data_dir=data_dir)).train  # its limit too
            test = _scaled(model, x if isinstance(x, DiskArray) else model.check_input(x))
            pca = pca_baseline(model.scale(train), test, model.config.code_dim)
            if pca is not None:
                metrics["pca_squared_error"] = pca
    return metrics


def encode(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """Codes of ``data`` (as in :func:`evaluate`) under a model or a run folder's model.

    A folder of images is read as the run read its training images (see
    :func:`read_images`); its rows are in the order of ``aekit.load_images(folder).files``.

    Data on disk (``stream``; default: files above 1 GiB) is encoded a block at a time;
    with ``out`` (a .npy path) the result is written there block by block and returned
    as a read-only memory map, for results larger than memory."""
    model, x = load_model_and_data(model, data, data_dir=data_dir, stream=stream, header=header)
    return _by_rows(model, x, model.encode, out)


def reconstruct(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """Reconstructions of ``data`` (as in :func:`encode`), in the shape of the data
    (images come back as images; data on disk as rows of features)."""
    model, x = load_model_and_data(model, data, data_dir=data_dir, stream=stream, header=header)
    return _by_rows(model, x, model.reconstruct, out, shaped=True)


def score(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """Squared reconstruction error of each feature of each sample of ``data`` (as in
    :func:`encode`), ``(samples, features)``, in the model's units; a row's sum is the
    sample's anomaly score (see :func:`aekit.evaluation.metrics.feature_errors`)."""
    model, x = load_model_and_data(model, data, data_dir=data_dir, stream=stream, header=header)
    return _by_rows(model, x, lambda b: feature_errors(model, b), out)


def impute(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """``data`` with its missing values (NaN) filled in by a model trained for missing
    values (``missing=True``, ``aekit train --missing``); observed values are kept."""
    if isinstance(data, Images) or (
        isinstance(data, str | Path) and str(data) not in NAMED_SOURCES and is_image_folder(data)
    ):
        folder = data.folder if isinstance(data, Images) else data
        raise ConfigError(
            f"{folder} is a folder of images, which have no missing values to fill: impute "
            "fills the NaN entries of arrays (.npy, .npz, .csv)"
        )
    # Whether the model is one for missing values comes first: the data has them.
    model, x = load_model_and_data(
        model, data, data_dir=data_dir, stream=stream, check=False, header=header
    )
    if not model.missing:
        raise ConfigError(
            "this model was not trained for missing values; train one with missing=True "
            "(aekit train --missing) on the incomplete data, or use "
            "aekit.sklearn.AutoEncoderImputer"
        )

    def fill(block: Any) -> np.ndarray:
        # The values given stay as given, in their own dtype: only the missing entries
        # take the model's reconstructions (computed in float32).
        kept = _stored(block)
        missing = np.isnan(kept) if kept.dtype.kind == "f" else None
        if missing is None or not missing.any():
            return kept
        recon = np.asarray(model.reconstruct(kept)).reshape(kept.shape)
        kept[missing] = recon[missing]
        return kept

    return _by_rows(model, x, fill, out, shaped=True, stored=True, checked=True)


def _stored(block: Any) -> np.ndarray:
    """A copy of ``block`` as numbers in the dtype it holds them in (a DataFrame's
    nullable numbers as float64, NA as NaN; a tensor as its numpy twin)."""
    if isinstance(block, torch.Tensor):
        return block.detach().cpu().numpy().copy()
    arr = np.asarray(block)
    if arr.dtype == object and hasattr(block, "to_numpy"):
        arr = block.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.array(arr, copy=True)


def result_dtype(x: Any) -> np.dtype:
    """The dtype results of data ``x`` come back in: float64 for data held in float64
    (aekit computes in float32; what it gives back is not made coarser than what came),
    else float32."""
    if isinstance(x, DiskArray):
        dtype = x.dtype
    elif isinstance(x, torch.Tensor):
        dtype = np.dtype(np.float64) if x.dtype == torch.float64 else np.dtype(np.float32)
    elif hasattr(getattr(x, "dtypes", None), "items"):  # a DataFrame
        wide = any(
            getattr(d, "kind", "") == "f" and getattr(d, "itemsize", 0) == 8
            for _, d in x.dtypes.items()
        )
        dtype = np.dtype(np.float64 if wide else np.float32)
    elif isinstance(x, np.ndarray):
        dtype = x.dtype
    else:
        try:
            dtype = np.asarray(x).dtype
        except (ValueError, TypeError):
            dtype = np.dtype(np.float32)
    wide = np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize == 8  # either byte order
    return np.dtype(np.float64) if wide else np.dtype(np.float32)


def checked_blocks(
    model: AutoEncoder, x: DiskArray, *, stored: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """The blocks of data on disk, each checked for ``model`` as data in memory is, a
    problem named by the file (a shard folder: the folder and the shard) and the true
    sample number, not the block's."""
    name = str(x.path)
    if model.input_dim is not None and x.features != model.input_dim:
        raise DataError(f"{name} has {x.features} features but the model expects {model.input_dim}")
    for start, block in x.chunks(stored=stored):
        try:
            to_tensor(block, name, allow_missing=model.missing, first_row=start)
        except DataError as exc:
            text = str(exc)
            first = re.search(r"\(first in sample (\d+)\)", text)
            if first is not None and x.sharded:
                where = x.where(int(first.group(1)))
                text = text.replace(first.group(0), first.group(0)[:-1] + where + ")")
            raise DataError(text) from None
        yield start, block


def _by_rows(
    model: AutoEncoder,
    x: Any,
    fn: Any,
    out: str | Path | None,
    shaped: bool = False,
    stored: bool = False,
    checked: bool = False,
) -> np.ndarray:
    """``fn`` of data in memory, or of data on disk a block at a time; with ``out``, the
    result goes to that .npy file block by block and comes back memory-mapped. Results
    come back in :func:`result_dtype`; ``stored``: ``fn`` takes the values as stored
    (float64 stays float64) and gives its own dtype back. A block of data on disk is
    checked with its file's name and its true row numbers (``checked``: even where
    ``fn`` takes it unchecked)."""
    dtype = result_dtype(x)

    def typed(result: Any) -> np.ndarray:
        # Widened where the data is float64; never narrowed (scores come as float64).
        result = np.asarray(result)
        wider = result.dtype.kind == "f" and result.dtype.itemsize < dtype.itemsize
        return result.astype(dtype) if wider and not stored else result

    if isinstance(x, DiskArray):
        blocks: Any = (typed(fn(b)) for _, b in checked_blocks(model, x, stored=stored))
        if shaped:  # rows of features back in the shape of the data's samples
            blocks = (b.reshape(len(b), *x.item_shape) for b in blocks)
        rows = len(x)
    else:
        if checked:
            model.check_input(_stored(x) if stored else x)
        blocks, rows = [typed(fn(x))], len(x)
    if out is None:
        parts = list(blocks)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    out = Path(out)
    if out.suffix.lower() != ".npy":
        raise ConfigError(f"out must be a .npy file, got {out.name!r}")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {out.parent}")
    write_npy_blocks(out, rows, blocks)
    return np.load(out, mmap_mode="r")


# ---- data and settings ---------------------------------------------------------------------


def _run_config(config: Any) -> RunConfig:
    if config is None:
        return RunConfig()
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, str | Path):
        return RunConfig.from_file(config)
    if isinstance(config, dict):
        return RunConfig.from_dict(config)
    raise ConfigError(
        f"config must be a RunConfig, a dict or a config file path, got {type(config).__name__}"
    )


def load_dataset(cfg: DataConfig, allow_missing: bool = False) -> Dataset:
    """The data set ``cfg`` names, with its ``limit`` applied."""
    if cfg.named and cfg.test is not None:
        raise ConfigError(
            f"a test file ({cfg.test}) applies to file data; {cfg.source} has its own test split"
        )
    data = load_source(
        cfg.source,
        cfg.data_dir,
        cfg.test,
        allow_missing,
        cfg.stream,
        cfg.image_size,
        cfg.image_mode,
        cfg.header,
    )
    for part in (data.train, data.test):
        if isinstance(part, DiskArray):
            part.buffer_bytes, part.workers = cfg.shuffle_buffer_mb << 20, cfg.read_workers
    if cfg.limit is not None and isinstance(data.train, DiskArray):
        raise ConfigError("limit applies to data in memory; streamed data is read whole")
    if cfg.limit is not None:
        data.train = data.train[: cfg.limit]
        if data.train_labels is not None:
            data.train_labels = data.train_labels[: cfg.limit]
        if data.files is not None:
            data.files = data.files[: cfg.limit]
    return data


def _dataset(cfg: DataConfig, data: Any, allow_missing: bool = False) -> tuple[Dataset, DataConfig]:
    """The data of a run: ``data`` given in Python (recorded as source "array"), else
    what ``cfg`` names."""
    if isinstance(data, str | Path):  # a source, as config.data.source names one
        cfg = cfg.replace(source=str(data))
        data = None
    if data is None:
        dataset = load_dataset(cfg, allow_missing)
        # What happened is recorded: streamed or loaded (the default decides by size).
        return dataset, cfg.replace(stream=isinstance(dataset.train, DiskArray))
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, Images):
        x = to_tensor(data.array, data.folder, allow_missing=allow_missing)
        name = Path(data.folder).name
        notes = [f"{data.folder}: {note}" for note in data.notes]
        dataset = Dataset(name, x, image_shape=data.shape, files=data.files, notes=notes)
    elif isinstance(data, DiskArray):
        dataset = Dataset(data.name, data, image_shape=data.image_shape)  # type: ignore[arg-type]
    else:
        # Validates first: ragged lists, strings, NaN (unless the model allows missing values).
        x = to_tensor(data, "training data", allow_missing=allow_missing)
        if np.ndim(data) == 4:  # images, channels first whichever way they came
            data = channels_first(data.numpy() if hasattr(data, "numpy") else np.asarray(data))
            x = to_tensor(data, "training data", allow_missing=allow_missing)
        shape = image_shape_of(np.empty((0, *np.shape(data)[1:])))
        dataset = Dataset("array", x, image_shape=shape, columns=frame_columns(data))
    if cfg.limit is not None:
        if isinstance(dataset.train, DiskArray):
            raise ConfigError("limit applies to data in memory; streamed data is read whole")
        files = dataset.files[: cfg.limit] if dataset.files is not None else None
        dataset = dataclasses.replace(dataset, train=dataset.train[: cfg.limit], files=files)
    # Recorded as what it is: a data set by name, a file or folder by its name, anything
    # else given in Python as an array in memory (never taken for a named data set).
    in_memory = not isinstance(data, Images | DiskArray) and dataset.name not in NAMED_SOURCES
    source = IN_MEMORY if in_memory else dataset.name
    return dataset, cfg.replace(source=source, data_dir=None, test=None)


def _resume_data_config(
    stored: DataConfig, run: Path, data: Any, data_dir: str | None, test: str | None
) -> DataConfig:
    """The data of a resumed run. Paths stored in a run folder are not trusted: file data
    and MNIST folders must be named again."""
    if isinstance(data, DataConfig):
        return data
    cfg = stored.replace(data_dir=data_dir, test=test)
    if isinstance(data, str):
        if data != stored.source and (stored.named or data in NAMED_SOURCES):
            raise ConfigError(
                f"{run} was trained on {stored.source!r}, not {data!r}: a run resumes on the "
                "data it was trained on"
            )
        return cfg.replace(source=data)
    if data is None and not stored.named:
        if stored.source == IN_MEMORY:
            raise ConfigError(
                f"{run} was trained on an in-memory array from Python, which the folder does "
                "not hold: give the same data again (data= in Python, --data FILE on the "
                "command line, with the array saved to it)"
            )
        raise ConfigError(
            f"{run} was trained on {stored.source!r}; paths stored in a run folder are not "
            "used: give the same data again (data= in Python, --data FILE on the command line)"
        )
    if test is None and stored.test is not None:
        raise ConfigError(
            f"{run} was evaluated on the test file {stored.test!r}; paths stored in a run "
            "folder are not used: give it again (test= in Python, --test FILE on the command "
            "line)"
        )
    return cfg


def load_model_and_data(
    model: AutoEncoder | str | Path,
    data: Any,
    split: str | None = None,
    data_dir: str | None = None,
    stream: bool | None = None,
    check: bool = True,
    header: str = "auto",
) -> tuple[AutoEncoder, Any]:
    """A model (loaded from a run folder if a path) and the data to run it on, in the
    shape the caller gave (images stay images); a data file that streams (``stream``,
    by default files above 1 GiB) as a :class:`~aekit.data.streaming.DiskArray`. A data file
    read whole is checked for the model (``check``), so a problem names the file. A
    folder of images is read as the run read its training images (its ``image_size``
    and ``image_mode``; see :func:`read_images`). A table whose columns are named (a CSV's
    header line, see ``header`` in :func:`aekit.data.sources.read_table`; a DataFrame) is matched
    by name to the columns the model was trained on, where they were named: reordered,
    or refused naming the differences."""
    named_split = split or "test"
    if named_split not in ("test", "train"):
        raise ConfigError(f"split must be 'test' or 'train', got {split!r}")
    run = None
    if isinstance(model, str | Path):
        run = RunFolder(model)
        model = load(run.path)
    if data is None:
        if run is None:
            raise ConfigError("data is required when a model (not a run folder) is given")
        stored = _stored_data(run)
        if stored is None or not stored.named:
            raise ConfigError(unnamed_data(run.path, run.read_config(), "to use"))
        data = stored.source
    if isinstance(data, str | Path) and str(data) not in NAMED_SOURCES and is_image_folder(data):
        if stream:
            raise not_streamed(data)
        data = read_images(run.path if run is not None else model, data)
    if isinstance(data, Images):
        if split is not None:
            raise ConfigError(f"a split applies to digits and mnist, not to {data.folder}")
        _check_images(model, data)
        if check:
            model.check_input(data.array, data.folder)
        return model, data.array
    if isinstance(data, str | Path):
        source = str(data)
        if source in ("digits", "mnist"):
            # The MNIST folder is searched in data_dir, $AEKIT_DATA and the cache; a
            # folder named in a run's config.json is never used (nor created).
            named = load_source(source, data_dir)
            x = named.test if named_split == "test" and named.test is not None else named.train
            return model, x.numpy()
        if split is not None:
            raise ConfigError(f"a split applies to digits and mnist, not to the file {source}")
        if streams(source, stream):
            return model, open_disk_array(source)
        table = read_table(source, header=header)
        trained = getattr(model, "feature_names", None)
        if run is not None or trained is not None:  # a bare model says nothing of names
            say_order(source, table.columns, trained)
        array = match_columns(table.array, table.columns, trained, source)
        if check:
            model.check_input(array, source)  # refused by the file's name, not as "data"
        return model, array
    data = match_columns(data, frame_columns(data), getattr(model, "feature_names", None), "data")
    return model, data


def _data_section(run: RunFolder) -> Any:
    section = run.read_config().get("data", {})
    if not isinstance(section, dict):
        raise CheckpointError(f"{run.path}/config.json: 'data' must be an object")
    # The source, how much of it trained and how its images were read; never a path
    # (data_dir, test).
    kept = ("source", "limit", "image_size", "image_mode")
    return {k: v for k, v in section.items() if k in kept}


def _stored_data(run: RunFolder) -> DataConfig | None:
    """The data a run folder records (never a path in it), or None where it records none
    (a folder saved by a scikit-learn estimator of aekit before 0.2, or by save_model):
    no command falls back to a default data set for such a folder."""
    section = _data_section(run)
    if "source" not in section:
        return None
    return DataConfig.from_dict(section, "data")


def read_images(model: AutoEncoder | str | Path, folder: str | Path) -> Images:
    """The folder of images ``folder`` read for ``model`` (a model, or a run folder): as
    the run read its training images, resized to its ``image_size`` and converted to its
    ``image_mode`` where it had them (see :func:`aekit.load_images`)."""
    settings: dict[str, Any] = {}
    if isinstance(model, str | Path):
        stored = _stored_data(RunFolder(model))
        if stored is not None:
            settings = {"image_size": stored.image_size, "image_mode": stored.image_mode}
    return load_images(folder, **settings)


def _check_images(model: AutoEncoder, images: Images) -> None:
    """Refuse images of another size or kind than the model's, naming the folder."""
    cfg = model.config
    if cfg is None or cfg.image_shape is None or tuple(cfg.image_shape) == images.shape:
        return
    wanted = "x".join(map(str, cfg.image_shape))
    got = "x".join(map(str, images.shape))
    c, h, w = cfg.image_shape
    mode = {1: "grey", 3: "rgb", 4: "rgba"}.get(c)
    python = f"aekit.load_images(folder, image_size=({h}, {w})" + (
        f", image_mode={mode!r})" if mode else ")"
    )
    raise DataError(
        f"{images.folder} holds {images.describe()} ({got}) but the model takes images of "
        f"{wanted} (channels x height x width): give images of that size and kind, or read "
        f"them resized and converted (in Python: {python})"
    )
