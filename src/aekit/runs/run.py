"""A run from its settings to its folder: :func:`train` one into a new run folder, as
``aekit train`` does, or :func:`resume` an interrupted one from its checkpoint, as ``aekit
train --resume`` does; everything that can be refused is refused before the folder is
written. Then both :func:`execute` the run in its folder: a new run's model made ready
(its scaling fitted, its layers pretrained where asked), trained through
:func:`~aekit.runs.folder.train_in_folder`, judged and drawn (:mod:`aekit.runs.result`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from ..core.errors import CheckpointError, ConfigError, TrainingInterrupted
from ..data.batches import resolve_device
from ..data.config import DataConfig
from ..data.dataset import Dataset
from ..data.streaming import DiskArray
from ..models.autoencoder import AutoEncoder
from ..models.config import ModelConfig
from ..models.families import model_config_of
from ..models.kinds import kind_training, model_class_of
from ..models.vae import VAE
from ..training import distributed
from ..training.tensorboard import TensorBoardLogger, require_tensorboard
from ..training.trainer import shows_progress, warn_ignored
from .budget import choose_training, say_estimate
from .config import OutputConfig, RunConfig, iwae_k_checked, iwae_k_refused
from .folder import RUNS_ROOT, TENSORBOARD, RunFolder, first_missing, train_in_folder
from .inputs import (
    check_data,
    dataset_of,
    in_unit_range,
    is_nearly_binary,
    resume_data_config,
    run_config,
)
from .pretrain import LayerResult, layer_configs, pretrain_greedy
from .result import (
    Run,
    draw,
    failed_evaluation,
    held_out,
    judge,
    sample_counts,
    validation_rows,
)
from .saved import ESTIMATOR_FILE, IN_MEMORY, data_origin


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
    cfg = run_config(config)
    distributed.init(cfg.training.device)
    output = cfg.output.replace(
        out=str(out) if out is not None else cfg.output.out,
        progress=cfg.output.progress if progress is None else progress,
    )
    cfg = cfg.replace(output=output)
    dataset, data_cfg = dataset_of(cfg.data, data, bool(cfg.model.get("missing")))
    # Checked with the source used: a ``data`` path or name replaces the config's.
    named = isinstance(data, str | Path)
    used = cfg.data.replace(source=str(data)) if named else cfg.data
    warn_ignored(used.ignored(isinstance(dataset.train, DiskArray), not named and data is not None))
    cfg = cfg.replace(data=data_cfg)
    unit_range = in_unit_range(dataset.train, bool(cfg.model.get("missing")))
    binary = unit_range and is_nearly_binary(dataset.train)
    model_cfg = cfg.model_config(dataset.input_dim, dataset.image_shape, unit_range, binary)
    # The kind's training where the user left it open, then what the data decides; the
    # settings left to the data are chosen now, so config.json records what ran.
    settled = cfg.training.settled(kind_training(model_cfg.kind))
    warn_ignored(settled)  # the user's settings, before any are chosen from the data
    first = settled.resolved(len(dataset.train))
    # Everything that can be refused is refused before the run folder exists.
    model_cfg.check_memory(first.batch_size or 1)
    model = model_class_of(model_cfg).from_config(model_cfg, seed=first.seed)
    # Checked once, here: the trainer is handed the checked tensor (Model.check_input).
    checked = check_data(model, dataset.train, "training data")
    if dataset.test is not None:
        check_data(model, dataset.test, "test data")
    # Epochs left to choose also fit a time budget, from a step timed here.
    chosen = choose_training(cfg.training, settled, first, model, dataset.train)
    cfg = cfg.replace(training=chosen.training)
    if chosen.larger is not None:  # the kind's larger batch, taken for speed: its memory too
        model_cfg.check_memory(cfg.training.batch_size or 1)
    if chosen.step is not None and output.progress is None and not shows_progress():
        # A progress bar says it itself; without one, said once, before training.
        say_estimate(cfg.training, len(dataset.train), chosen.step)
    _refuse_before_writing(cfg, model_cfg, dataset)
    folder, made = _new_folder(output, model_cfg.kind)
    with folder.undone_on_failure(made), folder.locked():
        distributed.on_main(folder.require_new)
        run = execute(folder, cfg, model, dataset, step_time=chosen.step, train=checked)
    run.chosen, run.larger_batch, run.uncut_epochs = chosen.chosen, chosen.larger, chosen.uncut
    return run


def _refuse_before_writing(cfg: RunConfig, model_cfg: Any, dataset: Dataset) -> None:
    """Refuse what would fail once the run folder is written: pretraining streamed data or
    a model it cannot stack, a device this machine lacks, TensorBoard not installed."""
    if cfg.pretrain is not None:
        if not isinstance(model_cfg, ModelConfig):
            raise ConfigError(
                f"greedy pretraining stacks shallow autoencoders; the {model_cfg.kind} kind "
                "trains whole: train it without --pretrain"
            )
        if isinstance(dataset.train, DiskArray):
            raise ConfigError(
                "greedy pretraining holds each layer's codes in memory: it does not stream; "
                "train without pretraining, or load the data (--no-stream; stream=False)"
            )
        layer_configs(model_cfg, cfg.pretrain)
    resolve_device(cfg.training.device)
    if cfg.output.tensorboard:
        require_tensorboard()


def _new_folder(output: OutputConfig, kind: str) -> tuple[RunFolder, Path | None]:
    """The new run folder (``output.out``, else runs/KIND-DATE-TIME) and what making it
    made (the topmost folder that did not exist; None: nothing). Under torchrun rank 0
    makes the folder and names it to the others."""
    missing = first_missing(Path(output.out or RUNS_ROOT))
    path = distributed.on_main(
        lambda: (
            (RunFolder.create(output.out) if output.out else RunFolder.new(kind, RUNS_ROOT)).path
        )
    )
    folder = RunFolder(path)
    made = missing or (folder.path if output.out is None else None)  # new() made the folder
    return folder, made


def resume(
    path: str | Path,
    *,
    data: Any = None,
    data_dir: str | None = None,
    test: str | None = None,
    epochs: int | None = None,
    progress: bool | None = None,
    report: bool | None = None,
    iwae_k: int | None = None,
) -> Run:
    """Continue the interrupted run in folder ``path`` from its last checkpoint, as
    ``aekit train --resume`` does; on the CPU the result is bit-identical to a run that
    was never interrupted. Where the run stands is said on stderr before it trains.

    Paths stored in a run folder are never used (the folder may come from someone else):
    a run trained on a file needs ``data`` again (the same file or array, checked against
    the checkpoint); the MNIST folder is searched in ``data_dir``, ``$AEKIT_DATA`` and the
    cache. ``epochs`` extends the run: its schedule stretches to the new length (a cosine
    goes on from the rate the longer cosine has at that point). ``report=False`` leaves
    the figures and report as they were. ``iwae_k``: the samples of the importance-weighted
    bound a VAE is judged by at the end (default 100; see :class:`~aekit.OutputConfig`).
    """
    if isinstance(data, Path):
        data = str(data)  # a file named by a path, as by a string
    folder = RunFolder(path)
    raw = folder.read_config()
    if iwae_k is not None:  # refused before anything else is asked of the folder
        iwae_k = iwae_k_checked(iwae_k, "iwae_k (--iwae-k)")
        family, judged = model_config_of(raw, folder.path)
        if not issubclass(family, VAE):
            raise iwae_k_refused(
                judged.kind, "iwae_k (--iwae-k)", "kind 'vae', aekit train --kind vae"
            )
    stored = raw.get("training")
    distributed.init(str(stored.get("device", "auto")) if isinstance(stored, dict) else "auto")
    before, now = raw.get("world_size", 1), distributed.world_size()
    if before != now and distributed.is_main():
        warnings.warn(
            f"{folder.path} was trained by {before} process(es) and resumes with {now}: it "
            "continues from its checkpoint, but not bit for bit as an uninterrupted run would",
            stacklevel=2,
        )
    cfg, state = _resumable(folder, raw, epochs)
    model_class, model_cfg = model_config_of(raw, folder.path)
    stored_data = cfg.data if data_origin(raw) is not None else DataConfig(source=IN_MEMORY)
    data_cfg = resume_data_config(stored_data, folder.path, data, data_dir, test)
    given = data if not isinstance(data, str) else None
    if data_dir is not None:  # the caller's own setting, unlike the stored config's
        asked = DataConfig(source=data_cfg.source, data_dir=data_dir)
        warn_ignored(asked.ignored(streamed=True, given=given is not None))
    dataset, data_cfg = dataset_of(data_cfg, given, getattr(model_cfg, "missing", False))
    output = cfg.output.replace(progress=progress)
    if report is not None:
        output = output.replace(report=report)
    if iwae_k is not None:
        output = output.replace(iwae_k=iwae_k)
    cfg = cfg.replace(data=data_cfg, output=output)
    model = model_class.from_config(model_cfg, seed=cfg.training.seed)
    with folder.undone_on_failure(None), folder.locked():
        if distributed.is_main():  # under torchrun, said once
            print(resume_status(folder.path, epochs, state, raw), file=sys.stderr)
        return execute(folder, cfg, model, dataset, state=state)


def _resumable(
    folder: RunFolder, raw: dict[str, Any], epochs: int | None
) -> tuple[RunConfig, dict[str, Any] | None]:
    """The settings of the run in ``folder`` (its config.json ``raw``), to train ``epochs``
    where given, and its checkpoint (None: it has none yet), read once; refused where it
    is no run to continue or ``epochs`` would shorten it."""
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
    return cfg, state


def resume_status(
    path: str | Path,
    epochs: int | None = None,
    state: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> str:
    """Where an interrupted run stands, in words (what ``aekit train --resume`` prints);
    ``epochs`` is a new length asked for; ``state`` its checkpoint and ``config`` its
    config.json, where already read."""
    folder = RunFolder(path)
    raw = folder.read_config() if config is None else config
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


# ---- the run in its folder ---------------------------------------------------------------


def execute(
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
    sections = _sections(cfg, dataset, model)
    # The validation rows, drawn once: the trainer holds them out, and without a test
    # split the run is judged on them.
    rows = validation_rows(dataset, cfg)
    if state is None and folder.has_checkpoint:
        state = folder.load_checkpoint()
    layers = None
    if state is None:  # a resumed run has its scaling and layers in its checkpoint
        model, layers = _made_ready(folder, cfg, model, dataset, train, rows, sections)
    tensorboard = cfg.output.tensorboard and folder.writes
    logger = TensorBoardLogger(folder.path / TENSORBOARD) if tensorboard else None
    trainer, fit = train_in_folder(
        model,
        cfg.training,
        train,
        folder,
        sections=sections,
        progress=cfg.output.progress,
        callbacks=[logger] if logger is not None else [],
        state=state,
        split=rows,
        step_time=step_time,
        samples=sample_counts(dataset, rows),
    )
    if dataset.columns is not None:
        trainer.model.feature_names = list(dataset.columns)
    # The epoch whose weights the model holds: the best validation epoch, or the last.
    kept = fit.best_epoch if fit.best_epoch is not None and cfg.training.keep == "best" else None
    epoch = kept if kept is not None else trainer.epoch
    try:
        metrics, split, judged = judge(
            folder, trainer, dataset, rows, epoch, cfg.output.iwae_samples
        )
    except TrainingInterrupted:
        raise
    except Exception as exc:  # the weights are saved: the folder says what failed
        if logger is not None:
            logger.close()
        failed_evaluation(folder, cfg, epoch, exc)
    if cfg.output.report and folder.writes:
        draw(folder, trainer, fit, dataset, split, judged, layers, rows, metrics)
        if logger is not None:
            logger.add_figures(folder.path / "figures", trainer.epoch)
    if logger is not None:
        logger.close()
    resumed_at = int(state.get("global_step", 0)) if state is not None else None
    return Run(folder.path, cfg, trainer.model, fit, metrics, split, dataset, resumed_at, layers)


def _sections(cfg: RunConfig, dataset: Dataset, model: AutoEncoder) -> dict[str, Any]:
    """What a run's config.json holds besides the model and training: its data, the names
    of its columns (also given to ``model``) and its pretraining."""
    sections: dict[str, Any] = {"data": cfg.data.to_dict()}
    if dataset.columns is not None:
        # The names of the columns trained on: a table given later is matched by them.
        sections["columns"] = list(dataset.columns)
        model.feature_names = list(dataset.columns)
    if cfg.pretrain is not None:
        sections["pretrain"] = cfg.pretrain.to_dict()
    return sections


def _made_ready(
    folder: RunFolder,
    cfg: RunConfig,
    model: AutoEncoder,
    dataset: Dataset,
    train: Any,
    rows: tuple[torch.Tensor, torch.Tensor] | None,
    sections: dict[str, Any],
) -> tuple[AutoEncoder, list[LayerResult] | None]:
    """A new run's model before training: its scaling fitted to ``train``, the PCA it may
    fall back to fitted, and where asked its layers pretrained (config.json written
    first, so that an interrupted pretraining resumes); the pretrained layers."""
    model.fit_scaling(train)
    if getattr(model, "pca_state", None) is not None and dataset.test is None:
        # Judged on the validation rows: the PCA it may fall back to must not have
        # seen them either (the trainer would fit it on all the data it is given).
        model.fit_pca(held_out(dataset, rows)[2])
    if cfg.pretrain is None:
        return model, None
    folder.prepare()
    folder.write_config(model, {**sections, "training": cfg.training.to_dict()})
    deep, layers = pretrain_greedy(
        model.config.replace(scaling="none"),  # the layers see the scaled data
        model.scale(dataset.train),
        cfg.pretrain,
        cfg.training,
        run_dir=folder.path,
        progress=cfg.output.progress,
    )
    return (_with_scaling(deep, model) if model.scaling != "none" else deep), layers


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
