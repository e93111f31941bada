"""A run carried out in its folder, for :func:`aekit.train` and :func:`aekit.resume` alike:
a new run's model made ready (its scaling fitted, its layers pretrained where asked), then
trained through :func:`~aekit.runs.folder.train_in_folder`, judged and drawn
(:mod:`aekit.runs.result`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.errors import TrainingInterrupted
from ..data.sources import Dataset
from ..models.autoencoder import AutoEncoder
from ..training.tensorboard import TensorBoardLogger
from .config import RunConfig
from .folder import TENSORBOARD, RunFolder, train_in_folder
from .pretrain import LayerResult, pretrain_greedy
from .result import Run, draw, failed_evaluation, held_out, judge, validation_rows


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
    )
    if dataset.columns is not None:
        trainer.model.feature_names = list(dataset.columns)
    # The epoch whose weights the model holds: the best validation epoch, or the last.
    kept = fit.best_epoch if fit.best_epoch is not None and cfg.training.keep == "best" else None
    epoch = kept if kept is not None else trainer.epoch
    try:
        metrics, split, judged = judge(folder, trainer, dataset, rows, epoch)
    except TrainingInterrupted:
        raise
    except Exception as exc:  # the weights are saved: the folder says what failed
        if logger is not None:
            logger.close()
        failed_evaluation(folder, cfg, epoch, exc)
    if cfg.output.report and folder.writes:
        draw(folder, trainer, fit, dataset, split, judged, layers)
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
