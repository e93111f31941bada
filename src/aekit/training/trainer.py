"""The training loop, and nothing else: mini-batches already on the device, the model's
loss, an optimizer step, a schedule; validation, early stopping and keeping the best
weights at the end of each epoch; a clear stop (or a rollback) when the loss stops being
finite; a state that checkpoints and resumes bit for bit.

What happens around the loop is handed in: a ``checkpointer`` (anything with
``save(state, history)`` and a ``location``, such as a :class:`~aekit.runs.folder.RunFolder`)
and ``callbacks``. The step reads top to bottom in :meth:`Trainer._train_epoch`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..core.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    TrainingError,
    TrainingInterrupted,
)
from ..core.seeding import seeded
from ..data.batches import (
    DiskBatches,
    InMemoryBatches,
    StreamBatches,
    resolve_device,
    validation_split,
)
from ..data.fingerprints import fingerprint, loader_fingerprint
from ..data.streaming import DiskArray
from ..models.pca import sample_rows
from . import distributed
from .config import TrainConfig
from .hardware import bf16_speed, warn_slow_bf16
from .optim import Schedule, build_optimizer, build_schedule

STATE_FORMAT = 2

Callback = Callable[["Trainer", dict[str, float]], "bool | None"]


class Checkpointer(Protocol):
    """Where a trainer's state goes: ``save`` writes it (atomically), ``location`` names
    it in messages."""

    location: str

    def save(self, state: dict[str, Any], history: list[dict[str, float]]) -> None: ...


class _NonFinite(Exception):
    pass


# Below this much arithmetic a step (6 flops per weight per sample, forward and backward),
# a second CPU thread costs more in handing work over than it saves, and when other
# processes hold the cores (two runs on two cores) it makes each step several times slower
# (BENCHMARKS.md section 3): such models train on one thread, and larger ones on at most
# one thread per this much.
ONE_THREAD_FLOPS = 5e6
# A core counts as free when other processes leave at least this share of it idle.
FREE_CORE = 0.75


@contextmanager
def cpu_threads_for(
    model: torch.nn.Module, device: torch.device, batch: int | None
) -> Iterator[None]:
    """As many intra-op threads as the model can use and other processes leave cores
    free, while it trains on the CPU: one for a small fully connected model (under
    ``ONE_THREAD_FLOPS`` a step), at most one per ``ONE_THREAD_FLOPS`` for a larger one,
    and never more than the cores found idle at the start (:func:`free_cores`): threads
    that wait for each other on cores other processes hold make each step many times
    slower (BENCHMARKS.md section 3). The caller's setting again afterwards."""
    before = torch.get_num_threads()
    threads = before
    if device.type == "cpu" and before > 1:
        layers = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]
        flops = 6 * sum(p.numel() for p in model.parameters()) * (batch or 0)
        if flops > 0 and all(isinstance(m, torch.nn.Linear) for m in layers):
            threads = min(threads, max(1, math.ceil(flops / ONE_THREAD_FLOPS)))
        if threads > 1:
            free = free_cores()
            if free is not None:
                threads = min(threads, max(1, int(free + 1 - FREE_CORE)))
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads != before:
            torch.set_num_threads(before)


def free_cores(seconds: float = 0.1) -> float | None:
    """How many of the cores this process may run on other processes leave idle: the
    idle share of those cores over ``seconds`` (Linux's /proc/stat) plus what this
    process itself used meanwhile, else their number less the 1-minute load average;
    None where neither can be read.

    This process's own time counts as free: its thread pool's workers still spin for a
    moment after the last parallel operation, and counted as busy they made a bare deep
    MNIST run train on one of two idle cores (twice as slow; BENCHMARKS.md section 16)."""
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        cpus = set(range(os.cpu_count() or 1))
    try:
        (idle, total), own = _cpu_ticks(cpus), _own_ticks()
        time.sleep(seconds)
        (idle_after, total_after), own_after = _cpu_ticks(cpus), _own_ticks()
        if total_after > total:
            free = (idle_after - idle) + (own_after - own)
            return len(cpus) * min(1.0, free / (total_after - total))
    except (OSError, ValueError):
        pass
    try:
        return max(0.0, len(cpus) - os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _cpu_ticks(cpus: set[int]) -> tuple[int, int]:
    """Idle and total clock ticks of ``cpus`` since boot (/proc/stat; steal counts as
    busy: a virtual machine's host gave that time to someone else)."""
    idle = total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(v) for v in fields[:8]]  # user .. steal; guest is within user
                idle += ticks[3] + ticks[4]  # idle, iowait
                total += sum(ticks)
    return idle, total


def _own_ticks() -> int:
    """Clock ticks this process has run since it started (all its threads; /proc/self/stat's
    utime and stime, in the units of /proc/stat); 0 where unreadable."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    except (OSError, IndexError, ValueError):
        return 0


PROBE_STEPS = 3  # timed training steps, after one untimed, to time a step on this machine


def step_seconds(model: torch.nn.Module, config: TrainConfig, x: Tensor) -> float:
    """Seconds one training step of ``model`` takes here on batch ``x``: the median of a
    few steps of a copy of it with ``config``'s optimizer and precision (Muon's
    Newton-Schulz included), on the threads training would use. Nothing of the model's,
    and none of the caller's random state, changes."""
    device = next(model.parameters()).device
    copy_ = copy.deepcopy(model).train()
    optimizer = build_optimizer(copy_, config)
    x = x.to(device).clone()  # a normal tensor, also where x was made in inference mode
    times = []
    bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_speed(device).fast)
    with seeded(None), cpu_threads_for(copy_, device, len(x)):
        for _ in range(PROBE_STEPS + 1):
            start = time.perf_counter()
            optimizer.zero_grad()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, _ = copy_(x)
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


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
    """Why a model fell back to PCA, from :attr:`FitResult.pca_comparison`."""
    trained, pca, margin = comparison
    if pca <= trained:
        return f"on the validation data its error ({pca:.4g}) is below the trained model's ({trained:.4g})"
    return (
        f"on the validation data the trained model's error ({trained:.4g}) is below PCA's "
        f"({pca:.4g}) by less than {MARGIN_STANDARD_ERRORS:g} standard errors of the "
        f"difference ({margin:.2g} each), and on too few more samples than not: too "
        "little to tell"
    )


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


def warn_ignored(config: TrainConfig | list[str], stacklevel: int = 3) -> None:
    """Warn of each setting the user gave that the rest of ``config`` leaves unused
    (:meth:`TrainConfig.ignored`, or the messages given): once, on rank 0, where a user's
    settings enter (``aekit.train``, ``aekit.fit``, the estimators), not for the configs
    aekit derives (pretraining's layers) or reads back (a resumed run)."""
    messages = config.ignored() if isinstance(config, TrainConfig) else config
    if distributed.is_main():
        for message in messages:
            warnings.warn(message, stacklevel=stacklevel)


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


class Trainer:
    """Trains a model whose ``forward(x)`` returns ``(loss, terms)``; its whole state can
    be checkpointed and resumed.

    Parameters
    ----------
    model : the model to train (moved to the configured device).
    config : training settings.
    checkpointer : where checkpoints go (None: nowhere; SIGINT/SIGTERM then stop at once).
    callbacks : each called as ``callback(trainer, row)`` after each epoch with that
        epoch's metrics row (before the checkpoint); returning True stops training, like
        early stopping. For measurements such as time to a target error.
    progress : show a tqdm progress bar: True always, False never, None (the default)
        where stderr is a terminal or a notebook (see :func:`shows_progress`), so that
        logs get no carriage returns.
    desc : label of the progress bar.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig | None = None,
        *,
        checkpointer: Checkpointer | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        desc: str = "train",
    ) -> None:
        self.config = config = (config or TrainConfig()).settled()
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.checkpointer = checkpointer
        self.callbacks = list(callbacks)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.progress = shows_progress(progress) and self.rank == 0
        self.desc = desc
        self.optimizer = build_optimizer(self.model, config)
        self.machine: dict[str, str] = {}  # what was chosen for this machine (FitResult's)
        if getattr(self.optimizer, "muon", None) is not None:
            self.machine["newton_schulz"] = self.optimizer.note  # type: ignore[attr-defined]
        self.autocast = self._bf16_autocast()
        self.schedule: Schedule | None = None  # built once the epoch length is known
        # Under torchrun the step runs through DistributedDataParallel (gradients averaged
        # across ranks); the model itself is what is evaluated and saved.
        self._wrapped = distributed.wrap(self.model, self.device)
        # Static shapes: the last, smaller batch of an epoch gets its own graph rather than
        # turning every graph into slower shape-generic code.
        self._forward = (
            torch.compile(self._wrapped, dynamic=False) if config.compile else self._wrapped
        )
        self.generator = torch.Generator().manual_seed(config.seed)  # the data order
        # Position and bookkeeping: everything below is part of the checkpoint.
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0
        self.global_step = 0
        self.epoch_order = self.generator.get_state()
        self.rng: dict[str, Any] | None = None  # training's torch generators; None: fresh
        self.epoch_sums: list[float] | None = None  # per loss term, over this epoch
        self.epoch_samples = 0
        self.terms: list[str] | None = None
        self.history: list[dict[str, float]] = []
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.best_weights: dict[str, Tensor] | None = None
        # The moving average of the parameters (config.ema), in model.parameters() order.
        self.ema_weights: list[Tensor] | None = None
        # The weights training continues from, set aside while the model holds others (the
        # average while an epoch is judged; the kept weights once fit returns).
        self._training_weights: list[Tensor] | None = None
        self.rollbacks = 0
        self.elapsed = 0.0
        self.data_fingerprint: str | None = None
        self._pending_schedule: dict[str, Any] | None = None
        self._in_fit = False
        self._stop_signal: int | None = None
        self._good_state: dict[str, Any] | None = None
        self._started = 0.0
        self._last_checkpoint = 0.0
        self._has_checkpoint = False  # whether the checkpointer holds a state of this run
        self._probe_x: Tensor | None = None  # a training batch, to time steps on
        # A step's seconds where the caller timed it already (the run layer, to fit the
        # time budget): the estimate uses it rather than timing steps again.
        self.step_time: float | None = None
        # The rows training steps on (not the validation rows), for the PCA fallback.
        self._training_rows: Callable[[], Tensor] | None = None
        self.estimated: float | None = None

    # ---- public API -------------------------------------------------------------------------

    def fit(
        self, train: Any, val: Any = None, *, split: tuple[Tensor, Tensor] | None = None
    ) -> FitResult:
        """Train on ``train`` (array, tensor, or an iterable of batches such as a
        DataLoader), validating on ``val`` (array/tensor) or on a held-out
        ``val_fraction`` of in-memory training data: the rows ``split`` gives (training
        rows, validation rows; the run layer draws it once, :func:`validation_split`), else
        drawn here. Training draws its noise from generators of its own: the caller's
        random state is left as it was. Settings left to the data (epochs, batch size,
        warm-up) are chosen here from its size, where the caller has not chosen them
        (the run layer does, with a time budget: :func:`aekit.runs.fit`)."""
        sized = isinstance(train, Tensor | np.ndarray | list | tuple | DiskArray)
        self.config = cfg = self.config.resolved(len(train) if sized else None)
        batches, val_x = self._prepare(train, val, split)
        if getattr(self.model, "is_pca", False):
            self.model.pca_state.fill_(1)  # training goes on with the model's own layers
        self._release()  # a second fit continues from the training weights, not the kept ones
        if not cfg.ema:
            self.ema_weights = None  # resumed without ema: no stale average
        if cfg.patience is not None and val_x is None:
            raise ConfigError(
                "early stopping (patience) needs validation data: pass val or set val_fraction > 0"
            )
        if self.schedule is None:
            self.schedule = build_schedule(self.optimizer, cfg, len(batches))
            if self._pending_schedule is not None:
                self.schedule.load_state_dict(self._pending_schedule)
                self._pending_schedule = None
        self._started = time.perf_counter() - self.elapsed
        self._last_checkpoint = time.perf_counter()
        stopped_early = False
        bar = tqdm(
            total=cfg.epochs * len(batches) or None,
            initial=self.global_step,
            desc=self.desc,
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        try:
            # A rank lost mid-step (killed, unreachable) fails every rank with one message.
            batch = cfg.batch_size // self.world if cfg.batch_size else None
            threads = cpu_threads_for(self.model, self.device, batch)
            with seeded(None), self._signals(), distributed.collective(), threads:
                if self.progress and self._probe_x is not None:
                    # Before the generators are set: the probe's draws change nothing.
                    self.estimated = self._estimate(self._probe_x, len(batches), bar)
                self._set_rng()
                self._in_fit = True
                while self.epoch < cfg.epochs and not stopped_early:
                    if cfg.on_nan == "rollback" and self._good_state is None:
                        self._good_state = self._snapshot()
                    try:
                        self._train_epoch(batches, bar)
                    except _NonFinite as exc:
                        self._handle_non_finite(str(exc))
                        continue
                    self.elapsed = time.perf_counter() - self._started
                    stopped_early = self._end_epoch(val_x, bar)
                self.rng = self._get_rng()
        except distributed.LostPeer as exc:
            raise distributed.LostPeer(f"{exc}; {self._where_to_resume()}") from None
        finally:
            self._in_fit = False
            bar.close()
        self.elapsed = time.perf_counter() - self._started
        if self.best_weights is not None and cfg.keep == "best":
            self._hold(self.best_weights)
        elif self.ema_weights is not None:
            self._hold(self.ema_weights)  # the finished model is the average, as evaluated
        self._check_weights()
        self.model.eval()
        comparison, kept_pca = self._fall_back_to_pca(val_x)
        return FitResult(
            self.history,
            self.best_epoch,
            stopped_early,
            self.elapsed,
            self.global_step,
            dict(self.machine),
            self.estimated,
            comparison,
            kept_pca,
        )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it is."""
        return {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "epoch_order": self.epoch_order,
            "rng": self._get_rng() if self._in_fit else self.rng,
            "model": self._model_state(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict() if self.schedule is not None else None,
            "epoch_sums": self.epoch_sums,
            "epoch_samples": self.epoch_samples,
            "terms": self.terms,
            "history": self.history,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_weights": self.best_weights,
            "ema_weights": self.ema_weights,
            "rollbacks": self.rollbacks,
            "elapsed": self.elapsed,
            "data_fingerprint": self.data_fingerprint,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise CheckpointError(
                f"checkpoint format {state.get('format')!r} is not this aekit's "
                f"({STATE_FORMAT}): it was written by another version of aekit and cannot "
                "be resumed by this one (the finished weights still load)"
            )
        try:
            self._training_weights = None
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.epoch = int(state["epoch"])
            self.step_in_epoch = int(state["step_in_epoch"])
            self.global_step = int(state["global_step"])
            self.epoch_order = state["epoch_order"].clone()
            self.rng = state["rng"]
            self.epoch_sums = state["epoch_sums"]
            self.epoch_samples = int(state["epoch_samples"])
            self.terms = state["terms"]
            self.history = list(state["history"])
            self.best_loss = float(state["best_loss"])
            self.best_epoch = state["best_epoch"]
            self.bad_epochs = int(state["bad_epochs"])
            self.best_weights = state["best_weights"]
            self.ema_weights = self._loaded_average(state.get("ema_weights"))
            self.rollbacks = int(state["rollbacks"])
            self.elapsed = float(state["elapsed"])
            self.data_fingerprint = state["data_fingerprint"]
            if self.world > 1:
                ranks, sums = state.get("rank_rng"), state.get("rank_sums")
                if isinstance(ranks, list) and len(ranks) == self.world:
                    self.rng = ranks[self.rank]  # each rank's own noise stream
                elif self.rank > 0:
                    self.rng = None  # another world size: fresh streams, not rank 0's
                if isinstance(sums, list) and len(sums) == self.world:
                    self.epoch_sums, self.epoch_samples = (
                        sums[self.rank][0],
                        int(sums[self.rank][1]),
                    )
                elif self.rank > 0:
                    self.epoch_sums, self.epoch_samples = None, 0  # rank 0 holds the sums
            self._has_checkpoint = True
            if self.schedule is not None and state["schedule"] is not None:
                self.schedule.load_state_dict(state["schedule"])
            else:
                self._pending_schedule = state["schedule"]
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint does not match this model/trainer: {exc}") from None

    def checkpoint(self) -> None:
        """Hand the trainer's state to the checkpointer (if any). Under torchrun every
        rank calls this at the same step: the ranks hold the same weights and optimizer
        state, rank 0 writes them with every rank's random state."""
        if self.checkpointer is None:
            return
        state = self.state_dict()
        if self.world > 1:
            # Each rank's own random state and share of the epoch's loss sums.
            state["rank_rng"] = distributed.gather(state["rng"])
            state["rank_sums"] = distributed.gather([self.epoch_sums, self.epoch_samples])
        if self.rank == 0:
            self.checkpointer.save(state, self.history)
        self._last_checkpoint = time.perf_counter()
        self._has_checkpoint = True

    # ---- the loop -----------------------------------------------------------------------------

    def _train_epoch(
        self, batches: InMemoryBatches | StreamBatches | DiskBatches, bar: tqdm
    ) -> None:
        cfg, model, optimizer, schedule = self.config, self.model, self.optimizer, self.schedule
        assert schedule is not None
        model.train()
        self.generator.set_state(self.epoch_order)
        # A model whose objective follows training (a VAE's KL warm-up) is told where it stands.
        # (Epochs done count whole where an epoch's length is unknown: a stream's.)
        progress, steps = getattr(model, "set_progress", None), len(batches)
        for x in batches.epoch(start_step=self.step_in_epoch):
            if progress is not None:
                progress(
                    self.global_step, self.epoch + (self.step_in_epoch / steps if steps else 0)
                )
            loss, terms = self._loss(x)
            values, stop, due = self._check_step(loss, terms)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            schedule.after_step()
            if cfg.ema:
                self._update_ema()

            self._accumulate(terms, values, len(x))
            self.step_in_epoch += 1
            self.global_step += 1
            bar.update(1)
            if self.step_in_epoch % 50 == 1:
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{sum(values):.4g}", refresh=False)
            if due:
                self.checkpoint()
            if stop:
                self._interrupt()

    def _end_epoch(self, val_x: Tensor | None, bar: tqdm) -> bool:
        """Close the epoch: metrics row, schedule, early stopping, best weights,
        callbacks, checkpoint. Returns True when training should stop. With ema, the
        averaged weights are the ones validated, kept and shown to callbacks."""
        with self._averaged():
            stop = self._judge_epoch(val_x, bar)
        if self.config.on_nan == "rollback":
            self._good_state = self._snapshot()
        stop, due = distributed.any_of(stop, self._checkpoint_due(every_steps=False))
        if stop or self.epoch == self.config.epochs or due:
            self.checkpoint()
        return stop

    def _judge_epoch(self, val_x: Tensor | None, bar: tqdm) -> bool:
        """Metrics row, schedule, early stopping, best weights and callbacks."""
        cfg = self.config
        row: dict[str, float] = {"epoch": self.epoch + 1}
        # Every rank saw its share of the epoch: the row is over all of them.
        *sums, samples = distributed.sum_of([*(self.epoch_sums or []), self.epoch_samples])
        for name, total in zip(self.terms or [], sums, strict=False):
            row[f"train_{name}"] = total / max(samples, 1)
        row["train_loss"] = sum(sums) / max(samples, 1)
        if val_x is not None:
            val_terms = evaluate_loss(self.model, val_x, cfg.eval_batch_size)
            row.update({f"val_{k}": v for k, v in val_terms.items()})
        row["lr"] = self.optimizer.param_groups[0]["lr"]
        row["seconds"] = self.elapsed
        self.history.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        assert self.schedule is not None
        self.schedule.after_epoch(monitored)
        stop = False
        if val_x is not None:
            if monitored < self.best_loss - cfg.min_delta:
                self.best_loss, self.best_epoch, self.bad_epochs = monitored, self.epoch + 1, 0
                if cfg.keep == "best":
                    self.best_weights = {
                        k: v.detach().clone() for k, v in self.model.state_dict().items()
                    }
            else:
                self.bad_epochs += 1
                stop = cfg.patience is not None and self.bad_epochs >= cfg.patience
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums, self.epoch_samples = None, 0
        self.epoch_order = self.generator.get_state()
        bar.set_postfix(
            epoch=self.epoch,
            loss=f"{row['train_loss']:.4g}",
            **({"val": f"{row['val_loss']:.4g}"} if "val_loss" in row else {}),
        )
        callback_start = time.perf_counter()
        for callback in self.callbacks:
            stop = bool(callback(self, row)) or stop
        # Time spent in callbacks (e.g. a test-set evaluation) is not training time.
        self._started += time.perf_counter() - callback_start
        return stop

    def _fall_back_to_pca(
        self, val_x: Tensor | None
    ) -> tuple[tuple[float, float, float] | None, bool]:
        """For a model with PCA to fall back to: its validation error, that of PCA fitted,
        as the model was trained, on the training rows alone (a denoising model's and
        PCA's on the corrupted validation data: AutoEncoder.sample_errors), and the
        standard error of their difference. The layers are kept only where they beat PCA
        clearly (:func:`clearly_better`); else the model becomes PCA (epoch 0), the PCA
        it keeps fitted on all the data given. A win within the noise of a few dozen
        validation samples did not hold on test data (BENCHMARKS.md, section 13)."""
        model, rows = self.model, self._training_rows
        state = getattr(model, "pca_state", None)
        if state is None or int(state) != 1 or val_x is None or rows is None:
            return None, False
        if self.config.keep != "best" or len(val_x) == 0:
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
            self.best_epoch = 0
            return comparison, True
        model.pca_state.fill_(1)
        return comparison, False

    def _estimate(self, x: Tensor, steps_per_epoch: int, bar: tqdm) -> float | None:
        """The training time left, from a few timed steps on a real batch here
        (:func:`step_seconds`), said before training starts."""
        steps = self.config.epochs * steps_per_epoch - self.global_step
        if steps <= 0 or len(x) == 0:
            return None
        per_step = self.step_time or step_seconds(self.model, self.config, x)
        seconds = per_step * steps
        bar.write(
            f"estimated training time: about {spoken_duration(seconds)} ({steps:,} steps of "
            f"{per_step * 1e3:.3g} ms, timed here)",
            file=sys.stderr,
        )
        return seconds

    # ---- pieces -------------------------------------------------------------------------------

    def _checkpoint_due(self, every_steps: bool, ahead: int = 0) -> bool:
        """Within an epoch: the step cadence or the time cadence (for the step ``ahead``
        of the current one); at an epoch's end: the epoch cadence or the time cadence."""
        cfg = self.config
        if self.checkpointer is None:
            return False
        if every_steps:
            step = self.global_step + ahead
            if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0:
                return True
        elif cfg.checkpoint_every is not None and self.epoch % cfg.checkpoint_every == 0:
            return True
        return (
            cfg.checkpoint_seconds is not None
            and time.perf_counter() - self._last_checkpoint >= cfg.checkpoint_seconds
        )

    def _bf16_autocast(self) -> bool:
        """Whether the forward pass runs under bfloat16 autocast: precision bf16 always
        (with a warning, once, where bfloat16 is measured slower), auto where it is
        measured faster (:func:`~aekit.training.hardware.bf16_speed`), fp32 never."""
        precision = self.config.precision
        if precision == "fp32":
            return False
        speed = bf16_speed(self.device)
        if precision == "auto":
            self.machine["precision"] = f"{'bf16' if speed.fast else 'fp32'} ({speed.describe()})"
            return speed.fast
        if not speed.fast and distributed.is_main():
            warn_slow_bf16(speed, stacklevel=4)
        return True

    def _loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self.autocast:
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self._forward_once(x)
        return self._forward_once(x)

    def _forward_once(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self._forward is self._wrapped:
            return self._wrapped(x)
        try:
            return self._forward(x)
        except Exception as exc:  # torch.compile needs a working C++ toolchain, among others
            warnings.warn(
                f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "training continues without it",
                RuntimeWarning,
                stacklevel=2,
            )
            self._forward = self._wrapped
            return self._wrapped(x)

    def _accumulate(self, terms: dict[str, Tensor], values: list[float], n: int) -> None:
        if self.epoch_sums is None:
            self.terms = list(terms)
            self.epoch_sums = [0.0] * len(values)
        for i, value in enumerate(values):
            self.epoch_sums[i] += value * n
        self.epoch_samples += n

    def _check_step(self, loss: Tensor, terms: dict[str, Tensor]) -> tuple[list[float], bool, bool]:
        """The terms' values as floats (one read of each; on a GPU, one wait per step),
        and whether to stop or checkpoint after this step. Raises if the loss is NaN or
        infinite, naming the step and the term. Under torchrun the ranks decide together,
        before gradients are exchanged: a NaN on any rank, a signal to any, a checkpoint
        due on any, holds for all, so they stay in step."""
        values = [t.item() for t in terms.values()]
        total = loss.item()
        bad_anywhere, stop, due = distributed.any_of(
            not math.isfinite(total),
            self._stop_signal is not None,
            self._checkpoint_due(every_steps=True, ahead=1),
        )
        if not bad_anywhere:
            return values, stop, due
        where = f"epoch {self.epoch + 1}, step {self.step_in_epoch + 1} (global step {self.global_step + 1})"
        if math.isfinite(total):
            raise _NonFinite(f"the loss became non-finite on another rank at {where}")
        bad = [f"{k} = {v}" for k, v in zip(terms, values, strict=True) if not math.isfinite(v)]
        raise _NonFinite(
            f"the loss became {total} at {where}; non-finite term(s): {', '.join(bad) or 'the sum'}"
        )

    def _handle_non_finite(self, message: str) -> None:
        cfg = self.config
        if (
            cfg.on_nan == "rollback"
            and self._good_state is not None
            and self.rollbacks < cfg.max_rollbacks
        ):
            rollbacks = self.rollbacks + 1
            self.load_state_dict(copy.deepcopy(self._good_state))
            self._set_rng()
            self.rollbacks = rollbacks
            assert self.schedule is not None
            self.schedule.scale(cfg.rollback_lr_factor)
            tqdm.write(
                f"aekit: {message}; rolled back to the start of epoch {self.epoch + 1} and lowered "
                f"the learning rate to {self.optimizer.param_groups[0]['lr']:.3g} "
                f"(rollback {rollbacks} of {cfg.max_rollbacks})"
            )
            return
        kept = ""
        if self.checkpointer is not None and self._has_checkpoint:
            kept = f"; the last good checkpoint is kept in {self.checkpointer.location}"
        hint = (
            " (on_nan='rollback' retries with a lower learning rate)"
            if cfg.on_nan == "stop"
            else ""
        )
        raise TrainingError(f"training stopped: {message}{kept}. Lower the learning rate{hint}.")

    def _where_to_resume(self) -> str:
        if self.checkpointer is None:
            return "nothing was saved (no run folder)"
        location = self.checkpointer.location
        if not self._has_checkpoint:
            return f"no checkpoint was written to {location} yet: start the run again"
        return (
            f"the last checkpoint in {location} is kept: continue with --resume {location}, "
            "started as this job was"
        )

    def _check_weights(self) -> None:
        """The loss is checked before each step; a step can still leave the weights
        non-finite (a huge learning rate): say so, rather than hand back a broken model."""
        bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            raise TrainingError(
                f"training ended with non-finite weights ({', '.join(bad[:3])}"
                f"{' ...' if len(bad) > 3 else ''}) after step {self.global_step}: the "
                "updates diverged. Lower the learning rate (or the weight decay)."
            )

    @torch.no_grad()
    def _update_ema(self) -> None:
        params = [p.detach() for p in self.model.parameters()]
        if self.ema_weights is None:
            self.ema_weights = [p.clone() for p in params]
            return
        assert self.config.ema
        # Ramped up, so that early averages do not remember the initial weights.
        decay = min(self.config.ema, (1 + self.global_step) / (10 + self.global_step))
        torch._foreach_lerp_(self.ema_weights, params, 1 - decay)

    def _loaded_average(self, saved: Any) -> list[Tensor] | None:
        """A checkpoint's moving average, checked against the model and moved to its device
        (None: there was none, as in checkpoints written before ema existed)."""
        if saved is None:
            return None
        params = [p.detach() for p in self.model.parameters()]
        if not (
            isinstance(saved, list)
            and len(saved) == len(params)
            and all(
                isinstance(w, Tensor) and w.shape == p.shape
                for w, p in zip(saved, params, strict=False)
            )
        ):
            raise CheckpointError(
                "checkpoint's moving average of the weights does not match this model"
            )
        return [w.to(device=p.device, dtype=p.dtype) for w, p in zip(saved, params, strict=True)]

    @torch.no_grad()
    def _hold(self, weights: list[Tensor] | dict[str, Tensor]) -> None:
        """Put ``weights`` (a list in parameter order, or a state dict) in the model and set
        the training weights aside, whole, before anything is overwritten."""
        if self._training_weights is None:
            self._training_weights = [p.detach().clone() for p in self.model.parameters()]
        if isinstance(weights, dict):
            self.model.load_state_dict(weights)
        else:
            torch._foreach_copy_([p.detach() for p in self.model.parameters()], weights)

    @torch.no_grad()
    def _release(self) -> None:
        """Give the model its training weights back (if they were set aside)."""
        if self._training_weights is not None:
            params = [p.detach() for p in self.model.parameters()]
            torch._foreach_copy_(params, self._training_weights)
            self._training_weights = None

    @contextmanager
    def _averaged(self) -> Iterator[None]:
        """The model holds the averaged weights inside (when there are any)."""
        if self.ema_weights is None:
            yield
            return
        self._hold(self.ema_weights)
        try:
            yield
        finally:
            self._release()

    def _model_state(self) -> dict[str, Tensor]:
        """The model's state dict with the training weights, also while it holds others."""
        state = self.model.state_dict()
        if self._training_weights is None:
            return state
        held = {
            id(p): w for p, w in zip(self.model.parameters(), self._training_weights, strict=True)
        }
        live = self.model.state_dict(keep_vars=True)
        return {k: held.get(id(v), state[k]) for k, v in live.items()}

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.state_dict())

    def _get_rng(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _set_rng(self) -> None:
        """Inside fit's private generators: seed them for a fresh run, or restore them."""
        if self.rng is None:
            # Each rank draws its own noise (corruption, dropout of masks); rank 0's, the
            # only one of a single process, is the seed's.
            torch.manual_seed(self.config.seed + 1_000_003 * self.rank)
            return
        torch.set_rng_state(self.rng["torch"])
        if "cuda" in self.rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(self.rng["cuda"], self.device)

    def _interrupt(self) -> None:
        signum = self._stop_signal or signal.SIGINT
        name = signal.Signals(signum).name
        self.checkpoint()
        where = f"epoch {self.epoch + 1}, step {self.step_in_epoch}"
        if self.checkpointer is not None:
            location = self.checkpointer.location
            raise TrainingInterrupted(
                f"training stopped by {name} at {where}; checkpoint written to {location}",
                signum,
                location,
            )
        raise TrainingInterrupted(
            f"training stopped by {name} at {where} (no checkpointer, nothing saved)", signum
        )

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, checkpoint and stop; a second SIGINT
        stops at once."""
        if self.checkpointer is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signum

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def _prepare(
        self, train: Any, val: Any, split: tuple[Tensor, Tensor] | None = None
    ) -> tuple[InMemoryBatches | StreamBatches | DiskBatches, Tensor | None]:
        cfg, model = self.config, self.model
        if cfg.batch_size is not None and cfg.batch_size < self.world:
            raise ConfigError(
                f"batch_size {cfg.batch_size} is the global batch, shared by {self.world} "
                f"processes: it must be at least {self.world}"
            )
        check = getattr(model, "check_input", None)
        if check is None:
            raise ConfigError(f"{type(model).__name__} has no check_input(x, name, targets=...)")
        val_x = check(val, "validation data", targets=True) if val is not None else None
        if isinstance(train, Tensor | np.ndarray | list | tuple):
            x = check(train, "training data", targets=True)
            if val_x is not None:
                split = None
            elif split is None:
                split = validation_split(len(x), cfg.val_fraction, cfg.seed)
            rows = split[0] if split is not None else None
            if split is not None:
                val_x = x[split[1]]
            self._check_fingerprint(fingerprint(x, rows))
            if _pca_unfitted(model):
                model.fit_pca(x)  # all the data given, as a PCA a user compares with is fitted
            self._training_rows = lambda: x[rows] if rows is not None else x
            self._probe_x = x[: cfg.batch_size or 64]
            batches: InMemoryBatches | StreamBatches | DiskBatches = InMemoryBatches(
                x.to(self.device), cfg.batch_size, self.generator, self.rank, self.world, rows
            )
        elif isinstance(train, DiskArray):
            # Read a buffer at a time; checked once, in one pass (the pass that hashes it).
            stats = model.check_disk_input(train, "training data", targets=True)
            if val_x is not None:
                split = None
            elif split is None:
                split = validation_split(len(train), cfg.val_fraction, cfg.seed)
            held = split[1].numpy() if split is not None else None
            if held is not None:
                val_x = check(torch.from_numpy(train.take(held)), "validation data", targets=True)
            self._check_fingerprint(stats.fingerprint)
            if _pca_unfitted(model):
                model.fit_pca(torch.from_numpy(train.take(sample_rows(np.arange(len(train))))))
            self._training_rows = lambda: torch.from_numpy(
                train.take(sample_rows(np.setdiff1d(np.arange(len(train)), held)))
            )
            self._probe_x = torch.from_numpy(
                train.take(np.arange(min(len(train), cfg.batch_size or 64)))
            )
            batches = DiskBatches(
                train,
                cfg.batch_size,
                self.generator,
                self.device,
                exclude=held,
                buffer_bytes=train.buffer_bytes,
                workers=train.workers,
                rank=self.rank,
                world=self.world,
            )
        elif isinstance(train, Iterable):
            # A loader's data is checked by its size and a sample of it (a pass over
            # data that may not fit in memory is not made here).
            fp = loader_fingerprint(train)
            if fp is not None:
                self._check_fingerprint(fp)
            batches = StreamBatches(
                train,
                self.device,
                lambda b: check(b, "batch", targets=True),
                self.generator,
                any_done=(lambda done: distributed.any_of(done)[0]) if self.world > 1 else None,
            )
        else:
            raise DataError(
                f"training data must be an array, a tensor or an iterable of batches, got {type(train).__name__}"
            )
        if val_x is not None:
            val_x = val_x.to(self.device)
        return batches, val_x

    def _check_fingerprint(self, fp: str) -> None:
        if self.data_fingerprint is not None and self.data_fingerprint != fp:
            raise DataError(
                "the training data differs from the data this run was started with; "
                "resume with the same data (and the same validation split)"
            )
        self.data_fingerprint = fp


def evaluate_loss(model: torch.nn.Module, x: Tensor, batch_size: int = 4096) -> dict[str, float]:
    """Loss terms of ``model`` on ``x`` in eval mode (no corruption), averaged per sample.

    Runs in inference mode, or without a graph (``no_grad``) when a penalty differentiates
    the encoder itself (the exact or estimated contractive penalty).
    """
    penalties = getattr(model, "penalties", ())
    needs_autograd = any(p.needs_autograd(model.encoder) for p in penalties)
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


def spoken_duration(seconds: float) -> str:
    """``seconds`` as a person says it: "40 s", "3 min", "2 h 15 min"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _pca_unfitted(model: torch.nn.Module) -> bool:
    state = getattr(model, "pca_state", None)
    return state is not None and int(state) == 0
