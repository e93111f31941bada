"""The batches the trainer consumes, and what decides them: the rows held out for
validation (:func:`validation_split`) and the device they go to (:func:`resolve_device`).

Three feeders, one contract: ``len(batches)`` is the steps of an epoch, and
``batches.epoch(start_step)`` yields an epoch's batches from step ``start_step`` on. Each
draws its epoch's order from the trainer's data-order generator when the epoch starts,
and from nothing else; the generator's state at the start of an epoch is checkpointed,
so that state and a step number replay a resumed epoch bitwise.

- :class:`InMemoryBatches`: a tensor on the training device, reshuffled by indexing.
- :class:`DiskBatches`: a :class:`~aekit.data.streaming.DiskArray`, read a shuffle
  buffer at a time by threads while the model trains.
- :class:`StreamBatches`: any iterable of batches (a DataLoader), checked batch by batch.

They share the contract and the one draw of an epoch's seed (:func:`epoch_seed`: the
disk and the iterable feeders). Their orders differ, and stay as they are: in memory one
permutation of the rows, each rank taking a share of every batch; on disk the blocks
shuffled, then the rows of a buffer, each rank taking a share of the blocks. One order
for both would change the batches drawn from a seed, and a run resumed across versions
would not replay its epoch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core.errors import ConfigError, DataError
from .streaming import DiskArray
from .validation import to_tensor


def validation_split(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor] | None:
    """Indices (train, validation) holding out ``fraction`` of ``n`` samples, drawn from
    ``seed`` (the trainer's split, so a run can evaluate on what it never trained on);
    None where one side would be empty."""
    n_val = round(n * fraction)
    if n_val < 1 or n - n_val < 1:
        return None
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    return order[n_val:], order[:n_val]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def epoch_seed(generator: torch.Generator) -> int:
    """The seed of an epoch's order: one draw from the trainer's data-order generator."""
    return int(torch.randint(0, 2**62, (1,), generator=generator))


# ---- in memory -----------------------------------------------------------------------------


class InMemoryBatches:
    """Mini-batches of a tensor held on the training device, reshuffled each epoch by
    indexing (no per-sample Python work). The order comes from ``generator``, so saving its
    state at the start of an epoch is enough to replay that epoch's order.

    Under data parallelism (``world`` processes) every rank draws the same order and takes
    its share (``rank``) of each batch, so the ranks together take the steps of one
    process; a last batch smaller than ``world`` is left out (a rank would get nothing).
    """

    def __init__(
        self,
        data: Tensor,
        batch_size: int,
        generator: torch.Generator,
        rank: int = 0,
        world: int = 1,
        rows: Tensor | None = None,
    ) -> None:
        self.data = data
        self.batch_size = batch_size
        self.generator = generator
        self.rank, self.world = rank, world
        # The rows trained on (the rest held out), indexed through rather than copied: a
        # copy of MNIST's training split is 182 MB.
        self.rows = rows.to(data.device) if rows is not None else None

    @property
    def samples(self) -> int:
        """The samples trained on."""
        return len(self.rows) if self.rows is not None else len(self.data)

    def __len__(self) -> int:
        full, last = divmod(self.samples, self.batch_size)
        return full + int(last >= self.world)

    def epoch(self, start_step: int = 0) -> Iterator[Tensor]:
        order = torch.randperm(self.samples, generator=self.generator).to(self.data.device)
        for batch in order.split(self.batch_size)[start_step : len(self)]:
            if self.world > 1:
                batch = batch.tensor_split(self.world)[self.rank]
            yield self.data[batch if self.rows is None else self.rows[batch]]


# ---- on disk -------------------------------------------------------------------------------


class DiskBatches:
    """Mini-batches of a :class:`DiskArray` for the trainer. Each epoch the blocks (shards,
    cut into blocks of a few MiB) are shuffled, consecutive blocks fill a shuffle buffer,
    and the buffer's rows are shuffled within it. Threads read the next buffers while the
    model trains on the current one. Every order is drawn from the epoch's seed, so the
    position in an epoch (a step number) is enough to resume it exactly; under torchrun
    each rank reads its own contiguous share of the epoch's blocks.

    Parameters
    ----------
    data : the data on disk.
    batch_size : the global batch (each of ``world`` ranks takes ``batch_size // world``).
    generator : the trainer's data-order generator (one draw per epoch).
    device : where batches go (pinned first on CUDA).
    exclude : rows held out (the validation split), never trained on.
    buffer_bytes : the shuffle buffer: this many bytes of blocks are shuffled together.
    workers : threads reading ahead (each holds one buffer).
    """

    def __init__(
        self,
        data: DiskArray,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        *,
        exclude: np.ndarray | None = None,
        buffer_bytes: int = 64 << 20,
        workers: int = 2,
        rank: int = 0,
        world: int = 1,
        block_rows: int | None = None,
    ) -> None:
        self.data = data
        self.generator = generator
        self.device = device
        self.rank, self.world = rank, world
        self.batch = max(1, batch_size // world)
        self.workers = max(1, workers)
        self.pin = device.type == "cuda"
        self.blocks = data.blocks(block_rows)
        excluded = np.sort(np.asarray(exclude if exclude is not None else [], np.int64))
        # Per block: the positions of its rows that are trained on (None: all of them).
        self.kept: list[np.ndarray | None] = []
        for a, b in self.blocks:
            inside = excluded[np.searchsorted(excluded, a) : np.searchsorted(excluded, b)]
            self.kept.append(
                None if len(inside) == 0 else np.setdiff1d(np.arange(b - a), inside - a)
            )
        self.sizes = np.array(
            [
                (b - a) if k is None else len(k)
                for (a, b), k in zip(self.blocks, self.kept, strict=True)
            ],
            np.int64,
        )
        self.total = int(self.sizes.sum())
        if self.total == 0:
            raise DataError(f"{data.name}: no samples left to train on")
        self.share = self.total // world  # rows of each rank per epoch
        self.buffer_rows = max(self.batch, buffer_bytes // max(1, data.features * 4))
        if len(self) == 0:
            raise DataError(
                f"{data.name}: each of {world} processes gets {self.share} samples per epoch, "
                f"fewer than its batch of {self.batch}; use fewer processes or a smaller batch"
            )

    def __len__(self) -> int:
        if self.world == 1:
            return math.ceil(self.total / self.batch)
        return self.share // self.batch

    def epoch(self, start_step: int = 0) -> Iterator[Tensor]:
        seed = epoch_seed(self.generator)
        buffers = self._plan(seed)
        skip = start_step * self.batch
        steps_left = len(self) - start_step
        ends = np.cumsum([sum(hi - lo for _, lo, hi in buf) for buf, _ in buffers])
        first = int(np.searchsorted(ends, skip, side="right"))
        offset = skip - (int(ends[first - 1]) if first > 0 else 0)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="aekit-read") as pool:
            ahead: list[Future[Tensor]] = []
            k = first
            while k < len(buffers) and len(ahead) < self.workers:
                ahead.append(pool.submit(self._load, *buffers[k]))
                k += 1
            pending: Tensor | None = None
            while ahead and steps_left > 0:
                rows = ahead.pop(0).result()
                if k < len(buffers):
                    ahead.append(pool.submit(self._load, *buffers[k]))
                    k += 1
                rows, offset = rows[offset:], 0
                if pending is not None:
                    rows = torch.cat([pending, rows])
                    pending = None
                start = 0
                while len(rows) - start >= self.batch and steps_left > 0:
                    yield self._to_device(rows[start : start + self.batch])
                    start += self.batch
                    steps_left -= 1
                if start < len(rows):
                    pending = rows[start:]
            if pending is not None and steps_left > 0 and self.world == 1:
                yield self._to_device(pending)  # the epoch's last, smaller batch
            for future in ahead:
                future.cancel()

    def _plan(self, seed: int) -> list[tuple[list[tuple[int, int, int]], int]]:
        """This rank's buffers for the epoch: each a list of (block, first, last) kept
        rows and the seed that shuffles it. Blocks are shuffled alike on every rank; each
        rank takes its contiguous share of the shuffled sequence."""
        order = np.random.default_rng(seed).permutation(len(self.blocks))
        lo, hi = self.rank * self.share, (self.rank + 1) * self.share
        if self.world == 1:
            hi = self.total
        mine: list[tuple[int, int, int]] = []
        position = 0
        for block in order:
            size = int(self.sizes[block])
            a, b = max(lo, position), min(hi, position + size)
            if a < b:
                mine.append((int(block), a - position, b - position))
            position += size
            if position >= hi:
                break
        buffers: list[tuple[list[tuple[int, int, int]], int]] = []
        current: list[tuple[int, int, int]] = []
        rows = 0
        rng = np.random.default_rng([seed, self.rank])
        for piece in mine:
            current.append(piece)
            rows += piece[2] - piece[1]
            if rows >= self.buffer_rows:
                buffers.append((current, int(rng.integers(2**62))))
                current, rows = [], 0
        if current:
            buffers.append((current, int(rng.integers(2**62))))
        return buffers

    def _load(self, pieces: list[tuple[int, int, int]], seed: int) -> Tensor:
        """Read a buffer's blocks (in file order, for sequential reads), keep the planned
        rows, shuffle them."""
        parts = []
        for block, first, last in pieces:
            a, b = self.blocks[block]
            rows = self.data.read(a, b)
            kept = self.kept[block]
            parts.append((rows if kept is None else rows[kept])[first:last])
        buffer = np.concatenate(parts) if len(parts) > 1 else parts[0]
        perm = np.random.default_rng(seed).permutation(len(buffer))
        return torch.from_numpy(buffer[perm])

    def _to_device(self, batch: Tensor) -> Tensor:
        if self.pin:
            batch = batch.pin_memory()
        return batch.to(self.device, non_blocking=True)


# ---- from an iterable ----------------------------------------------------------------------

_END = object()


class StreamBatches:
    """Mini-batches from an iterable such as a ``torch.utils.data.DataLoader`` (data that
    does not fit in memory or is produced on the fly). Items may be tensors or tuples whose
    first element is the input batch; each is checked by ``check`` (the model's own input
    check: shape, NaN, range) like in-memory data. An epoch that yields no batch (an empty
    loader, or a one-shot generator already used up) is an error, not an epoch of loss 0.
    """

    def __init__(
        self,
        loader: Iterable[Any],
        device: torch.device,
        check: Callable[[Any], Tensor] | None = None,
        generator: torch.Generator | None = None,
        any_done: Callable[[bool], bool] | None = None,
    ) -> None:
        self.loader = loader
        self.device = device
        self.check = check or (lambda x: to_tensor(x, "batch"))
        self.generator = generator
        # Under data parallelism each rank reads its own loader (a DistributedSampler's
        # share); the epoch ends for all when any rank's loader ends, so they stay in step.
        self.any_done = any_done

    def __len__(self) -> int:
        try:
            return len(self.loader)  # type: ignore[arg-type]
        except TypeError:
            return 0

    def epoch(self, start_step: int = 0) -> Iterator[Tensor]:
        seen = 0
        items = self._start()
        for i in itertools.count():
            item = next(items, _END)
            if self.any_done is not None and self.any_done(item is _END):
                break
            if item is _END:
                break
            seen += 1
            if i < start_step:
                continue
            x = item[0] if isinstance(item, tuple | list) else item
            yield self.check(x).to(self.device, non_blocking=True)
        if seen == 0:
            raise DataError(
                "the training data gave no batches in this epoch: an empty loader, or an "
                "iterator that can be read only once (pass a DataLoader, which restarts "
                "each epoch)"
            )

    def _start(self) -> Iterator[Any]:
        """The loader's iterator for this epoch. A shuffling DataLoader draws its order
        (and its workers' seeds) from torch's global generator when the iterator is made;
        it is made here under a seed drawn from the trainer's data-order generator, whose
        state at the start of each epoch is checkpointed, so a resumed epoch replays the
        same order, and the noise stream of training is left where it was."""
        if self.generator is None:
            return iter(self.loader)
        seed = epoch_seed(self.generator)
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            # A DistributedSampler shuffles by its epoch number: a new one each epoch,
            # drawn from the checkpointed generator so a resumed epoch replays it.
            sampler.set_epoch(seed % 2**31)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            items = iter(self.loader)
            # A sampler draws its seed when the first batch is asked for, not when the
            # iterator is made: ask for it here too.
            first = next(items, _END)
        return iter(()) if first is _END else itertools.chain([first], items)
