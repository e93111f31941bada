"""Training data fed to the loop: checked by the model once, its validation rows set
apart, and its mini-batches made on the device, from data in memory
(:class:`InMemoryBatches`), on disk (:class:`DiskBatches`) or any iterable of batches such
as a DataLoader (:class:`StreamBatches`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core.errors import ConfigError, DataError
from ..data.batches import DiskBatches, InMemoryBatches, StreamBatches, validation_split
from ..data.fingerprints import fingerprint, loader_fingerprint
from ..data.streaming import DiskArray
from ..models.pca import sample_rows
from . import distributed
from .config import TrainConfig
from .fallback import pca_unfitted

Batches = InMemoryBatches | StreamBatches | DiskBatches


@dataclasses.dataclass
class Fed:
    """Training data made ready: its ``batches``, the validation data (on the device),
    and for data in memory or on disk the rows training steps on (for the PCA fallback)
    and a training batch to time steps on."""

    batches: Batches
    val_x: Tensor | None
    training_rows: Callable[[], Tensor] | None = None
    probe_x: Tensor | None = None


@dataclasses.dataclass
class Feeder:
    """What feeding data to a model needs: the model (its ``check_input``, and
    ``check_disk_input`` for data on disk), the settings (batch size, validation share,
    seed), the device, the data-order generator, this process's rank among ``world``, and
    ``check_fingerprint``, called with the training data's fingerprint before anything is
    fitted to it (a resumed run refuses other data)."""

    model: torch.nn.Module
    config: TrainConfig
    device: torch.device
    generator: torch.Generator
    rank: int
    world: int
    check_fingerprint: Callable[[str], None]

    def __call__(self, train: Any, val: Any, split: tuple[Tensor, Tensor] | None) -> Fed:
        """Training data ``train`` fed with validation data ``val`` or, where there is
        none, the validation rows ``split`` gives (training rows, validation rows), else
        drawn here (``val_fraction``)."""
        cfg, world = self.config, self.world
        if cfg.batch_size is not None and cfg.batch_size < world:
            raise ConfigError(
                f"batch_size {cfg.batch_size} is the global batch, shared by {world} "
                f"processes: it must be at least {world}"
            )
        if getattr(self.model, "check_input", None) is None:
            raise ConfigError(
                f"{type(self.model).__name__} has no check_input(x, name, targets=...)"
            )
        val_x = self.check(val, "validation data") if val is not None else None
        if isinstance(train, Tensor | np.ndarray | list | tuple):
            fed = self.in_memory(train, val_x, split)
        elif isinstance(train, DiskArray):
            fed = self.on_disk(train, val_x, split)
        elif isinstance(train, Iterable):
            fed = self.streamed(train, val_x)
        else:
            raise DataError(
                f"training data must be an array, a tensor or an iterable of batches, got {type(train).__name__}"
            )
        if fed.val_x is not None:
            fed.val_x = fed.val_x.to(self.device)
        return fed

    def check(self, x: Any, name: str) -> Tensor:
        """``x`` checked by the model as data it must reconstruct."""
        return self.model.check_input(x, name, targets=True)

    def in_memory(
        self, train: Any, val_x: Tensor | None, split: tuple[Tensor, Tensor] | None
    ) -> Fed:
        cfg, model = self.config, self.model
        x = self.check(train, "training data")
        if val_x is not None:
            split = None
        elif split is None:
            split = validation_split(len(x), cfg.val_fraction, cfg.seed)
        rows = split[0] if split is not None else None
        if split is not None:
            val_x = x[split[1]]
        self.check_fingerprint(fingerprint(x, rows))
        if pca_unfitted(model):
            model.fit_pca(x)  # all the data given, as a PCA a user compares with is fitted
        batches = InMemoryBatches(
            x.to(self.device), cfg.batch_size, self.generator, self.rank, self.world, rows
        )
        return Fed(
            batches,
            val_x,
            training_rows=lambda: x[rows] if rows is not None else x,
            probe_x=x[: cfg.batch_size or 64],
        )

    def on_disk(
        self, train: DiskArray, val_x: Tensor | None, split: tuple[Tensor, Tensor] | None
    ) -> Fed:
        cfg, model = self.config, self.model
        # Read a buffer at a time; checked once, in one pass (the pass that hashes it).
        stats = model.check_disk_input(train, "training data", targets=True)
        if val_x is not None:
            split = None
        elif split is None:
            split = validation_split(len(train), cfg.val_fraction, cfg.seed)
        held = split[1].numpy() if split is not None else None
        if held is not None:
            val_x = self.check(torch.from_numpy(train.take(held)), "validation data")
        self.check_fingerprint(stats.fingerprint)
        if pca_unfitted(model):
            model.fit_pca(torch.from_numpy(train.take(sample_rows(np.arange(len(train))))))
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
        return Fed(
            batches,
            val_x,
            training_rows=lambda: torch.from_numpy(
                train.take(sample_rows(np.setdiff1d(np.arange(len(train)), held)))
            ),
            probe_x=torch.from_numpy(train.take(np.arange(min(len(train), cfg.batch_size or 64)))),
        )

    def streamed(self, train: Iterable[Any], val_x: Tensor | None) -> Fed:
        # A loader's data is checked by its size and a sample of it (a pass over data that
        # may not fit in memory is not made here).
        fp = loader_fingerprint(train)
        if fp is not None:
            self.check_fingerprint(fp)
        any_done = (lambda done: distributed.any_of(done)[0]) if self.world > 1 else None
        batches = StreamBatches(
            train,
            self.device,
            lambda b: self.check(b, "batch"),
            self.generator,
            any_done=any_done,
        )
        return Fed(batches, val_x)
