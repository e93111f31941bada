"""The identity of training data: a hash that a resumed run checks, so it trains on the
data it started with (any changed, added, removed or reordered sample changes it)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch import Tensor


def fingerprint(x: Tensor, rows: Tensor | None = None) -> str:
    """A hash of every byte of a data tensor (and its shape), so a resume can check it sees
    the same data: any changed, added, removed or reordered sample changes it. With
    ``rows``, the hash of ``x[rows]``, taken a block at a time (no copy of the whole)."""
    x = x.detach()
    digest = hashlib.blake2b(digest_size=16)
    n = len(x) if rows is None else len(rows)
    digest.update(str((n, *x.shape[1:])).encode())
    for start in range(0, n, FINGERPRINT_ROWS):
        part = (
            x[start : start + FINGERPRINT_ROWS]
            if rows is None
            else x[rows[start : start + FINGERPRINT_ROWS]]
        )
        part = part.cpu().contiguous()
        digest.update(part.reshape(-1).view(torch.uint8).numpy().data if part.numel() else b"")
    return digest.hexdigest()


FINGERPRINT_ROWS = 8192


LOADER_SAMPLES = 32


def loader_fingerprint(loader: Any) -> str | None:
    """A hash of a DataLoader's data as far as it can be read without a pass over it: its
    size and 32 evenly spaced samples of its (map-style) data set; None where there is no
    such data set (an iterable one, a generator), which cannot be checked."""
    dataset = getattr(loader, "dataset", None)
    try:
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0 or not hasattr(dataset, "__getitem__"):
            return None
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{type(dataset).__name__}:{n}".encode())
        for i in sorted({int(i) for i in np.linspace(0, n - 1, LOADER_SAMPLES)}):
            item = dataset[i]  # type: ignore[index]
            x = item[0] if isinstance(item, tuple | list) else item
            t = torch.as_tensor(x).detach().cpu().to(torch.float32).contiguous()
            digest.update(str(tuple(t.shape)).encode())
            digest.update(t.numpy().tobytes())
    except (TypeError, NotImplementedError, IndexError, KeyError, ValueError):
        return None
    return digest.hexdigest()
