"""Data parallelism across processes: PyTorch's own ``torch.distributed``, as ``torchrun``
launches it, not an engine of aekit's.

``torchrun --nproc_per_node=N -m aekit train ...`` starts N processes; each joins the
process group described by torchrun's environment (``WORLD_SIZE``, ``RANK``,
``MASTER_ADDR``...) and the :class:`~aekit.Trainer` wraps the model in
``DistributedDataParallel``: gloo on the CPU, NCCL on CUDA. ``batch_size`` stays the
global batch: each rank takes its share of every batch of the common epoch order, so N
processes take the steps one process would. Only rank 0 writes the run folder.

People who launch their own processes call ``torch.distributed.init_process_group``
before :func:`aekit.train` (or :func:`aekit.fit`); aekit uses the group it finds.

The helpers below are collectives: every rank must call them at the same point. With one
process they cost nothing and return their input.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

from ..core.errors import AekitError, TrainingError, one_line

TIMEOUT_ENV = "AEKIT_DIST_TIMEOUT"


def timeout() -> datetime.timedelta:
    """How long a collective waits for a silent peer before failing (a killed rank's peers
    fail at once on a closed connection; this bounds the cases that are not noticed):
    ``$AEKIT_DIST_TIMEOUT`` seconds, default 120; a value that is no finite positive
    number is refused, naming the variable (it was read at import, where NaN or "abc"
    broke ``import aekit``)."""
    from ..core.errors import ConfigError
    from ..core.schema import Bounds, number

    text = os.environ.get(TIMEOUT_ENV, "").strip() or "120"
    try:
        value: Any = float(text)
    except ValueError:
        value = text
    try:
        seconds = number(value, TIMEOUT_ENV, Bounds(0, 10**7, low_open=True))
    except ConfigError as exc:
        raise ConfigError(f"{exc} (seconds)") from None
    return datetime.timedelta(seconds=seconds)


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


def launched() -> bool:
    """Whether torchrun (or a launcher like it) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str = "auto") -> bool:
    """Join the process group torchrun describes, once; True when running distributed.

    The backend follows the device: NCCL where training runs on CUDA, gloo on the CPU.
    On CUDA each process takes the GPU of its ``LOCAL_RANK``.
    """
    if dist.is_available() and dist.is_initialized():
        return active()
    if not launched():
        return False
    if not dist.is_available():
        raise TrainingError("this PyTorch build has no torch.distributed; run one process")
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    wait = timeout()  # a bad $AEKIT_DIST_TIMEOUT is said as such
    try:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=wait)
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(
            f"cannot join the process group ({one_line(exc)}); start the job with torchrun "
            "(torchrun --nproc_per_node=N -m aekit train ...)"
        ) from None
    return active()


def shutdown(together: bool = False) -> None:
    """Leave the process group; ``together`` (after a run that ended well on every rank)
    first waits for the others, so no rank closes its connections while a peer is still
    in its last exchange. After an error a peer may be gone, and waiting for it would take
    the whole timeout. (The abort that torch 2.13's gloo can cause at interpreter exit is
    avoided by how ``aekit.cli.entry`` ends the process.)"""
    if dist.is_available() and dist.is_initialized():
        if together:
            with contextlib.suppress(RuntimeError, ValueError):
                dist.barrier()
        dist.destroy_process_group()


def any_of(*flags: bool) -> list[bool]:
    """Each flag, true on every rank when it is true on any (a stop, a checkpoint, a
    non-finite loss): the ranks decide together and stay in step."""
    if not active():
        return list(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32, device=_device())
    with collective():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def sum_of(values: Sequence[float]) -> list[float]:
    """Each value summed over the ranks (per-epoch loss sums and sample counts)."""
    if not active():
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=_device())
    with collective():
        dist.all_reduce(t)
    return t.tolist()


def gather(obj: Any) -> list[Any]:
    """One object from each rank, in rank order (the random states of a checkpoint)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    with collective():
        dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (the run folder's name)."""
    if not active():
        return obj
    box = [obj]
    with collective():
        dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(make: Callable[[], Any]) -> Any:
    """``make()`` run on rank 0 only, its result handed to every rank; an error it raises
    is raised on every rank (the others would otherwise wait for rank 0 forever)."""
    if not active():
        return make()
    outcome: tuple[str, Any] = ("", None)
    failure: BaseException | None = None
    if is_main():
        try:
            outcome = ("ok", make())
        except Exception as exc:
            failure, outcome = exc, (type(exc).__name__, str(exc))
    kind, value = broadcast(outcome)
    if failure is not None:
        raise failure
    if kind == "ok":
        return value
    _raise_as(kind, value)


@contextmanager
def on_main_context(make: Callable[[], Any] | None) -> Iterator[None]:
    """Enter the context manager ``make()`` on rank 0 (``make`` is None elsewhere); every
    rank learns whether rank 0 could, and raises its error if not."""
    with contextlib.ExitStack() as stack:
        outcome: tuple[str, str] = ("ok", "")
        failure: BaseException | None = None
        if make is not None:
            try:
                stack.enter_context(make())
            except Exception as exc:
                failure, outcome = exc, (type(exc).__name__, str(exc))
        kind, value = broadcast(outcome)
        if failure is not None:
            raise failure
        if kind != "ok":
            _raise_as(kind, value)
        yield


def _raise_as(kind: str, message: str) -> None:
    """Rank 0's error, raised here: the same aekit error, or one that names it."""
    error = next((e for e in _errors() if e.__name__ == kind), None)
    if error is not None:
        raise error(message)
    raise AekitError(f"rank 0 failed: {kind}: {message}")


def _errors() -> list[type[AekitError]]:
    from ..core import errors

    return [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, AekitError)]


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when running distributed, else itself."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type != "cuda":
        return DistributedDataParallel(model)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return DistributedDataParallel(model, device_ids=[index])


class LostPeer(TrainingError):
    """Another process of the job is gone (killed, crashed, unreachable)."""


@contextmanager
def collective() -> Iterator[None]:
    """A lost peer (a killed rank, a broken connection) becomes one clear error."""
    try:
        yield
    except RuntimeError as exc:
        if isinstance(exc, TrainingError) or not active() or not _lost_peer(exc):
            raise
        # The backend's first sentence says what broke ("Connection reset by peer").
        cause = one_line(exc).split(". ")[0]
        raise LostPeer(
            f"rank {rank()} of {world_size()} lost contact with the other processes of the "
            f"job ({cause})"
        ) from None


# How the backends word a lost peer (gloo and NCCL raise plain RuntimeErrors, too).
_LOST_PEER = ("gloo", "nccl", "connection", "peer", "timed out", "timeout", "socket")


def _lost_peer(exc: RuntimeError) -> bool:
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _LOST_PEER)


def _device() -> torch.device:
    return torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")
