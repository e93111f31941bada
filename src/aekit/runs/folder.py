"""A run folder: everything one training run leaves on disk.

    config.json             settings (model, training, data, pretraining), version, result
    model.safetensors       the final weights
    checkpoint.safetensors  the trainer's whole state, for resuming
    metrics.csv             one row per epoch
    metrics.json            the final evaluation
    *.png                   figures
    pretrain/layer-K/       one run folder per pretrained layer, pretrain/layers.json

:class:`RunFolder` is the checkpointer a :class:`~aekit.Trainer` is handed, and
:func:`fit_in_folder` is the one place where training into a folder starts or resumes.
"""

from __future__ import annotations

import csv
import fcntl
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from ..core.errors import ConfigError
from ..core.io import atomic_write, write_json
from ..data.streaming import DiskArray
from ..models.families import CONFIG_FILE, WEIGHTS_FILE, run_config_json, save_model
from ..training import distributed
from ..training.fallback import comparison_record
from ..training.trainer import Callback, FitResult, Trainer
from .saved import read_run_config

METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"


LOCK_FILE = ".lock"
TENSORBOARD = "tensorboard"
RUNS_ROOT = "runs"  # where runs without a named folder go


def first_missing(path: Path) -> Path | None:
    """The topmost of ``path`` and its parents that does not exist: what making ``path``
    makes (None: it exists)."""
    missing = None
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing = folder
    return missing


def taken(path: Path) -> str:
    """Why an output folder cannot be used, by what is there: continuing it is suggested
    only for a run folder that can be continued."""
    if not path.is_dir():
        what = (
            "a file" if path.is_file() else "not a folder (a link to nothing, a pipe or a device)"
        )
        if path.is_symlink() and path.exists():
            what = "a link to a file"
        return f"{path} already exists and is {what}: choose another output folder"
    if (path / CHECKPOINT_FILE).exists() and (path / CONFIG_FILE).exists():
        return (
            f"{path} already exists and holds a run; choose another output folder, or "
            f"continue that run with: aekit train --resume {path}"
        )
    return (
        f"{path} already exists and is not empty (it holds no run to continue): choose "
        "another output folder, or a new or empty one"
    )


_HELD: set[Path] = set()  # the folders whose lock this process holds


class RunFolder:
    """The files of one run (see the module docstring); also a trainer's checkpointer.

    Under torchrun every rank opens the folder but only rank 0 writes it: on the other
    ranks (``writes`` false) the writing methods do nothing and the folder is only read.
    """

    def __init__(self, path: str | Path, writes: bool | None = None) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._writes = writes

    @property
    def writes(self) -> bool:
        """Whether this process writes the folder (asked when writing: the process group
        may be joined after the folder is opened)."""
        return distributed.is_main() if self._writes is None else self._writes

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock while writing it: a second process that wants to write
        the same folder (a second run with the same output folder, a second --resume) is
        refused. The kernel releases the lock when the process ends, however it ends, so a
        lock left by a killed run is never in the way."""
        if distributed.active():
            # Rank 0 takes the lock; every rank learns whether it could (else the others
            # would wait for it in the first collective of training).
            with distributed.on_main_context(self._locked if self.writes else None):
                yield
            return
        with self._locked():
            yield

    @contextmanager
    def _locked(self) -> Iterator[None]:
        key = self.path.resolve()
        if key in _HELD:
            # One owner: the run layer takes a folder's lock once (train_in_folder does not).
            raise RuntimeError(f"{self.path}'s lock is already held by this process")
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"{self.path} is being written by another process (pid {pid}); wait for it "
                "to finish, or choose another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def writer(self) -> str | None:
        """The pid of another process writing this folder now, else None."""
        lock = self.path / LOCK_FILE
        if self.path.resolve() in _HELD or not lock.is_file():
            return None
        fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 32).decode(errors="replace").strip() or "?"
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def require_new(self) -> None:
        """Refuse a folder that holds anything besides its lock: another run got there
        first (checked again under the lock, where no other process can write)."""
        if self.writes and any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise ConfigError(taken(self.path))

    @contextmanager
    def undone_on_failure(self, made: Path | None) -> Iterator[None]:
        """Remove what a run that fails before training anything wrote (config.json, the
        lock, a TensorBoard log) and the folders it made (``made``: this folder or the
        topmost of its parents that did not exist), so a refusal leaves no half-written run
        folder; a run with anything more (a checkpoint, metrics, a pretrained layer) is
        kept, to resume."""
        before = {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()
        try:
            yield
        except Exception:
            if self.writes and self.path.is_dir():
                self._undo({p.name for p in self.path.iterdir()} - before, made)
            raise

    def _undo(self, added: set[str], made: Path | None) -> None:
        if not added <= {CONFIG_FILE, LOCK_FILE, TENSORBOARD}:
            return
        for name in added:
            path = self.path / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if made is None:
            return
        folder, top = self.path.absolute(), made.absolute()
        while (folder == top or top in folder.parents) and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    # ---- making and opening ---------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path) -> RunFolder:
        """A new run folder at ``path``, which must not exist or be an empty folder."""
        path = Path(path)
        writer = cls(path).writer() if path.is_dir() else None
        if writer is not None:
            raise ConfigError(
                f"{path} is being written by another process (pid {writer}); wait for it "
                "to finish, or choose another output folder"
            )
        if os.path.lexists(path) and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(taken(path))
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def new(cls, kind: str, root: str | Path = RUNS_ROOT) -> RunFolder:
        """A new folder ``root/KIND-DATE-TIME``, made unique: a second run started in the
        same second (a sweep started with ``&``) gets ``-2``, and so on. Creating the folder
        is the claim, so two processes never get the same one."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        stem = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
        for n in range(1, 10_000):
            path = root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise ConfigError(f"cannot find a free run folder name under {root}")

    def read_config(self) -> dict[str, Any]:
        """config.json, checked (missing folder, bad JSON, newer version...)."""
        return read_run_config(self.path)

    # ---- files ----------------------------------------------------------------------------

    @property
    def has_checkpoint(self) -> bool:
        """Whether the folder holds something named as the checkpoint: reading it refuses
        what is not one (a folder, a pipe, a link to nothing) rather than starting over."""
        return os.path.lexists(self.path / CHECKPOINT_FILE)

    @property
    def has_model(self) -> bool:
        return os.path.lexists(self.path / WEIGHTS_FILE)

    def prepare(self) -> None:
        """Make the folder and delete temporary files of writes a crash interrupted (the
        files they were replacing are intact; the temporaries are garbage)."""
        if not self.writes:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def write_config(self, model: Any, sections: dict[str, Any]) -> None:
        if self.writes:
            write_json(self.path / CONFIG_FILE, run_config_json(model, sections))

    def save_model(self, model: Any, sections: dict[str, Any]) -> None:
        if self.writes:
            save_model(model, self.path, sections)

    def save(self, state: dict[str, Any], history: list[dict[str, float]]) -> None:
        """Write the trainer's state (atomically) and the metrics so far."""
        if not self.writes:
            return
        save_checkpoint(self.path / CHECKPOINT_FILE, state)
        self.write_metrics_csv(history)

    def load_checkpoint(self) -> dict[str, Any]:
        return load_checkpoint(self.path / CHECKPOINT_FILE)

    def write_metrics_csv(self, history: list[dict[str, float]]) -> None:
        if not history or not self.writes:
            return
        columns: list[str] = []
        for row in history:
            columns += [k for k in row if k not in columns]

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(history)

        atomic_write(self.path / METRICS_CSV, write)

    def write_json(self, name: str, obj: Any) -> Path:
        if self.writes:
            write_json(self.path / name, obj)
        return self.path / name


def result_summary(
    trainer: Trainer, fit: FitResult, samples: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The ``result`` section of a finished run's config.json; ``samples``: how many rows
    it trained on, validated on and was tested on, where the caller counted them (the run
    layer: :func:`~aekit.runs.result.sample_counts`)."""
    return {
        "epochs_trained": trainer.epoch,
        "steps": fit.steps,
        "seconds": round(fit.seconds, 3),
        "best_epoch": fit.best_epoch,
        "kept": trainer.config.keep if fit.best_epoch is not None else "last",
        "final": fit.final or None,
        # Why the model is PCA, or why its layers were kept, for aekit info and the report.
        **(
            {"pca_comparison": comparison_record(fit.pca_comparison, fit.kept_pca)}
            if fit.pca_comparison is not None
            else {}
        ),
        **({"samples": dict(samples)} if samples else {}),
        **({"machine": fit.machine} if fit.machine else {}),
    }


def fit_in_folder(
    model: Any, training: Any, X: Any, folder: RunFolder, **options: Any
) -> tuple[Trainer, FitResult]:
    """Train ``model`` into ``folder``, continuing from its checkpoint when it has one,
    under the folder's lock; a failure before anything is trained leaves no half-written
    folder. ``options``: those of :func:`train_in_folder` (declared there, once)."""
    if getattr(model, "config", None) is None:
        save_model(model, folder.path)  # raises the error that says how to make it savable
    with folder.undone_on_failure(first_missing(folder.path)), folder.locked():
        return train_in_folder(model, training, X, folder, **options)


def train_in_folder(
    model: Any,
    training: Any,
    X: Any,
    folder: RunFolder,
    *,
    val: Any = None,
    sections: dict[str, Any] | None = None,
    progress: bool | None = None,
    desc: str = "train",
    callbacks: tuple[Callback, ...] | list[Callback] = (),
    state: dict[str, Any] | None = None,
    split: Any = None,
    step_time: float | None = None,
    samples: Mapping[str, int] | None = None,
) -> tuple[Trainer, FitResult]:
    """Train ``model`` into ``folder``, whose lock the caller holds: the one place where
    training into a folder starts or resumes. Writes config.json (``sections`` besides
    the model and training), checkpoints and metrics.csv while training, and the final
    weights with a ``result`` section.

    ``state``: the folder's checkpoint, where the caller has read it already (read here
    otherwise); ``split``: the training and validation rows, where the caller drew them
    (:meth:`Trainer.fit`); ``step_time``: a step's seconds, where the caller timed it;
    ``samples``: the rows trained, validated and tested on, for the ``result`` section.
    """
    folder.prepare()
    # Settings left to the data are chosen now (where the caller has not), so config.json
    # records what runs.
    sized = isinstance(X, torch.Tensor | np.ndarray | list | tuple | DiskArray)
    training = training.resolved(len(X) if sized else None)
    sections = {**(sections or {}), "training": training.to_dict()}
    if distributed.active():
        sections["world_size"] = distributed.world_size()
    trainer = Trainer(
        model, training, checkpointer=folder, callbacks=callbacks, progress=progress, desc=desc
    )
    trainer.step_time = step_time
    if state is None and folder.has_checkpoint:
        state = folder.load_checkpoint()
    if state is not None:
        trainer.load_state_dict(state)
    else:
        folder.write_config(model, sections)
    fit = trainer.fit(X, val, split=split)
    result = result_summary(trainer, fit, samples)
    folder.save_model(trainer.model, {**sections, "result": result})
    return trainer, fit
