"""The training settings a run's data and this machine choose: the epochs that fit the
time budget (:data:`~aekit.training.config.TIME_BUDGET`), from a step of the model timed
here, and the kind's larger batch where its own step is too slow. One owner for
``aekit train``, :func:`aekit.fit` and the scikit-learn estimators alike.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np
import torch

from ..data.streaming import DiskArray
from ..models.autoencoder import AutoEncoder
from ..models.kinds import kind_training
from ..models.presets import large_batch_training
from ..training.config import TIME_BUDGET, TrainConfig
from ..training.trainer import spoken_duration, step_seconds

# A run predicted to train this much longer than the time budget tries its kind's
# larger-batch recipe: the deep kind's 10 MNIST epochs at batch 256 take 175 s on a CPU
# with bfloat16 units (kept: 2.64) and 280 s on two AVX2 cores (batch 512: 166 s, 2.75).
LARGER_BATCH_OVER = 1.25
# ... where an epoch has at least this many of its batches: the recipe was measured with
# 113 steps an epoch (MNIST); on a few hundred rows a batch of 512 is one step an epoch,
# and a slow run of small data is cut to fewer epochs instead.
LARGER_BATCH_STEPS = 50


@dataclasses.dataclass(frozen=True)
class Chosen:
    """The training settings of a run, as chosen for its data and this machine."""

    training: TrainConfig  # the settings that run
    chosen: dict[str, Any]  # the settings left to the data, and what was chosen
    step: float | None = None  # a training step's seconds, timed here (None: not timed)
    # Where the kind's larger batch was taken: the batch it replaced and the predicted
    # seconds of training at each (see :attr:`aekit.runs.result.Run.larger_batch`).
    larger: tuple[int, float, float] | None = None
    uncut: int | None = None  # the epochs chosen before the time budget cut them


def choose_training(
    given: TrainConfig, settled: TrainConfig, first: TrainConfig, model: AutoEncoder, train: Any
) -> Chosen:
    """The settings a run trains with: ``first`` (``settled`` resolved for ``train``, see
    :meth:`TrainConfig.resolved`) where the user gave the epochs; else fitted to the time
    budget by :func:`within_time_budget`. ``given``: the user's settings; ``settled``: they
    with the kind's recipe where the user left it open (:meth:`TrainConfig.settled`)."""
    names = given.chosen()
    if "epochs" not in names:
        return Chosen(first, {k: getattr(first, k) for k in names})
    training, step, larger = within_time_budget(given, settled, model, train, first)
    if larger is not None:
        kind = model.config.kind if model.config is not None else None
        names.update(dict.fromkeys(large_batch_training(kind)))
    chosen = {k: getattr(training, k) for k in names}
    uncut = first.epochs if training.epochs != first.epochs else None
    return Chosen(training, chosen, step, larger, uncut)


def within_time_budget(
    given: TrainConfig,
    settled: TrainConfig,
    model: AutoEncoder,
    train: Any,
    first: TrainConfig | None = None,
) -> tuple[TrainConfig, float, tuple[int, float, float] | None]:
    """The training settings ``given`` leaves open, chosen for ``train`` and fitted to the
    time budget (:meth:`TrainConfig.resolved`) from a step of ``model`` timed here; the
    seconds of that step; and where the kind's larger batch was taken, the batch it
    replaced and the predicted seconds of training with each (:attr:`Run.larger_batch`).
    ``settled``: ``given`` with the kind's recipe where it leaves it open; ``first``: that
    resolved for ``train``, where the caller has it already.

    Where the kind's recipe would take well over the budget on this machine and the kind
    has a larger-batch recipe the user left open (the deep kind's, batch 512: Muon's cost
    is per step), that recipe is timed too and taken where it trains faster."""
    kind = model.config.kind if model.config is not None else None
    defaults = kind_training(kind)
    if not isinstance(train, torch.Tensor | np.ndarray | DiskArray):
        raise TypeError(f"a step is timed on an array, not {type(train).__name__}")
    samples = len(train)
    first = settled.resolved(samples) if first is None else first
    seconds = _timed_step(model, first, train)
    before = first.seconds(samples, seconds)
    larger = large_batch_training(kind)
    if (
        larger
        and all(getattr(given, k) is None for k in larger)
        and first.optimizer == defaults.get("optimizer")
        and before > LARGER_BATCH_OVER * TIME_BUDGET
        and samples >= LARGER_BATCH_STEPS * larger.get("batch_size", 0)
    ):
        other = given.replace(**larger).settled(defaults)
        other_first = other.resolved(samples)
        other_seconds = _timed_step(model, other_first, train)
        after = other_first.seconds(samples, other_seconds)
        if after < before:
            taken = other.resolved(samples, other_seconds)
            return taken, other_seconds, (first.batch_size or 0, before, after)
    return settled.resolved(samples, seconds), seconds, None


def say_estimate(training: TrainConfig, samples: int, step: float) -> None:
    """Say on stderr how long training ``samples`` samples with ``training`` takes, at
    ``step`` seconds a step."""
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
