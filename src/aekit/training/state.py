"""A trainer's state and its round trip: where training is (epoch, step, the data order
and the random state), its bookkeeping (the epoch's loss sums, the history, early
stopping, rollbacks, the training data's fingerprint), the model's training weights, the
weights kept besides them, the optimizer and the schedule. A checkpoint is all of it, and
a trainer that loads one continues bit for bit."""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Protocol

import torch

from ..core.errors import CheckpointError, DataError
from . import distributed
from .config import TrainConfig
from .optim import Schedule
from .weights import KeptWeights

STATE_FORMAT = 2


class Checkpointer(Protocol):
    """Where a trainer's state goes: ``save`` writes it (atomically), ``location`` names
    it in messages."""

    location: str

    def save(self, state: dict[str, Any], history: list[dict[str, float]]) -> None: ...


class TrainerState:
    """What a :class:`~aekit.training.trainer.Trainer` checkpoints, and the round trip:
    :meth:`state_dict`, :meth:`load_state_dict`, :meth:`checkpoint`. The trainer sets the
    parts named below before :meth:`_init_state`."""

    config: TrainConfig
    device: torch.device
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule | None
    generator: torch.Generator  # the data order
    weights: KeptWeights
    checkpointer: Checkpointer | None
    rank: int
    world: int

    def _init_state(self) -> None:
        """A fresh run's position and bookkeeping: everything here is part of the
        checkpoint."""
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
        self.rollbacks = 0
        self.elapsed = 0.0
        self.data_fingerprint: str | None = None
        self._pending_schedule: dict[str, Any] | None = None  # loaded before it was built
        self._in_fit = False  # inside fit, the random state is torch's own
        self._last_checkpoint = 0.0
        self._has_checkpoint = False  # whether the checkpointer holds a state of this run

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it is."""
        return {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "epoch_order": self.epoch_order,
            "rng": self._get_rng() if self._in_fit else self.rng,
            "model": self.weights.model_state(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict() if self.schedule is not None else None,
            "epoch_sums": self.epoch_sums,
            "epoch_samples": self.epoch_samples,
            "terms": self.terms,
            "history": self.history,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_weights": self.weights.best,
            "ema_weights": self.weights.ema,
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
            self.weights.training = None
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
            self.weights.best = state["best_weights"]
            self.weights.ema = self.weights.loaded_average(state.get("ema_weights"))
            self.rollbacks = int(state["rollbacks"])
            self.elapsed = float(state["elapsed"])
            self.data_fingerprint = state["data_fingerprint"]
            if self.world > 1:
                self._load_rank_share(state)
            self._has_checkpoint = True
            if self.schedule is not None and state["schedule"] is not None:
                self.schedule.load_state_dict(state["schedule"])
            else:
                self._pending_schedule = state["schedule"]
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint does not match this model/trainer: {exc}") from None

    def _load_rank_share(self, state: dict[str, Any]) -> None:
        """Under torchrun: this rank's own noise stream and share of the epoch's loss sums,
        where the checkpoint was written by as many ranks."""
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

    def _check_fingerprint(self, fp: str) -> None:
        """Refuse training data other than the data the run started with."""
        if self.data_fingerprint is not None and self.data_fingerprint != fp:
            raise DataError(
                "the training data differs from the data this run was started with; "
                "resume with the same data (and the same validation split)"
            )
        self.data_fingerprint = fp

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
