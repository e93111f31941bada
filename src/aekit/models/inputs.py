"""A model's inputs: checked once, where they enter, and the statistics its input scaling
(``ModelConfig.scaling``) is fitted to."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..data.streaming import Stats

SIGMOID_RANGE = "the model's sigmoid output (and BCE loss) can only produce values in [0, 1]"

# The tensors a model returned from check_input (by id: the tensor, its version then,
# whether checked as targets, the scaling's versions then); weak, so no data is kept alive.
_CHECKED: weakref.WeakKeyDictionary[
    nn.Module, dict[int, tuple[Any, int, bool, tuple[int, ...]]]
] = weakref.WeakKeyDictionary()


def checked_once(model: nn.Module, x: Any, targets: bool, check: Callable[[], Tensor]) -> Tensor:
    """``x`` as ``check()`` returns it, checked for ``model``; where ``x`` is a tensor
    that check returned before (as targets, if ``targets``), given back unchanged (not
    modified in place since, the model's scaling unchanged), it is not checked again."""
    scaling = scaling_versions(model)
    seen = _CHECKED.setdefault(model, {})
    if isinstance(x, Tensor) and not x.is_inference() and id(x) in seen:
        checked, version, as_targets, versions = seen[id(x)]
        unchanged = checked() is x and x._version == version and versions == scaling
        unchanged = unchanged and -1 not in scaling
        if unchanged and (as_targets or not targets):
            return x
    t = check()
    for key in [k for k, entry in seen.items() if entry[0]() is None]:
        del seen[key]  # tensors no longer alive
    if not t.is_inference():  # tensors made in inference mode have no version
        seen[id(t)] = (weakref.ref(t), t._version, targets, scaling)
    return t


def scaling_versions(model: nn.Module) -> tuple[int, ...]:
    """Versions of the scaling buffers: they change when the scaling is fitted or
    loaded, and with it whether data lies in the output's range."""
    buffers = [getattr(model, b) for b in ("input_shift", "input_scale") if hasattr(model, b)]
    # A buffer made in inference mode has no version: -1, so nothing passes unchecked.
    return tuple(-1 if b.is_inference() else b._version for b in buffers)


def scaling_of(t: Tensor, scaling: str) -> tuple[Tensor, Tensor]:
    """The shift and scale of ``scaling`` ("standard" or "minmax") fitted to data ``t``,
    ignoring missing entries (float64); a constant feature keeps a scale of 1."""
    t = t.double()
    observed = ~torch.isnan(t)
    count = observed.sum(0).clamp(min=1)
    if scaling == "standard":
        shift = torch.where(observed, t, 0).sum(0) / count
        spread = (torch.where(observed, t - shift, 0).pow(2).sum(0) / count).sqrt()
    else:  # minmax
        shift = torch.where(observed, t, math.inf).amin(0)
        spread = torch.where(observed, t, -math.inf).amax(0) - shift
        shift = torch.where(torch.isfinite(shift), shift, 0)
    spread = torch.where(torch.isfinite(spread) & (spread > 0), spread, 1.0)
    return shift, spread


def scaling_of_stats(stats: Stats, scaling: str) -> tuple[Tensor, Tensor]:
    """:func:`scaling_of` from the statistics of one pass over data on disk."""
    if scaling == "standard":
        shift, spread = torch.from_numpy(stats.mean), torch.from_numpy(stats.std)
    else:
        seen = stats.count > 0
        shift = torch.from_numpy(np.where(seen, stats.low, 0.0))
        spread = torch.from_numpy(np.where(seen, stats.high - stats.low, 1.0))
    spread = torch.where(torch.isfinite(spread) & (spread > 0), spread, 1.0)
    return shift, spread
