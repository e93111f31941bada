"""The one seeding rule: a seed determines weights, data order and noise, and nothing
reads or changes the caller's global random state.

Every random draw aekit makes happens inside :func:`seeded` (a fork of torch's global
generators, seeded for the occasion) or from a generator a trainer owns, so two equal calls
in one process give bit-identical results, and a ``torch.rand`` after them gives what it
would have given without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .schema import whole

MAX_SEED = 2**63 - 1  # the seeds aekit takes: torch's, within a signed 64-bit integer


def _cuda_devices() -> list[int]:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return list(range(torch.cuda.device_count()))
    return []


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's generators seeded by ``seed`` and restore the caller's
    generators afterwards; ``seed=None`` only isolates (draws continue from a copy).

    Examples
    --------
    >>> before = torch.get_rng_state()
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool((a == b).all()), bool((torch.get_rng_state() == before).all())
    (True, True)
    """
    if seed is not None:
        seed = whole(seed, "seed", 0, MAX_SEED, "2**63 - 1")
    with torch.random.fork_rng(devices=_cuda_devices()):
        if seed is not None:
            torch.manual_seed(seed)
        yield
