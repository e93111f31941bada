"""A model's inputs: checked once, where they enter, and scaled (``ModelConfig.scaling``,
``VAEConfig.scaling``) by the statistics fitted to its training data. :class:`ModelInputs`
is the one implementation, which every model family (the autoencoder, the VAE) inherits."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from ..core.errors import DataError
from ..data.columns import frame_columns, match_columns
from ..data.streaming import DiskArray, Stats
from ..data.validation import ArrayLike, check_bounds, check_range, to_tensor

SIGMOID_RANGE = "the model's sigmoid output (and BCE loss) can only produce values in [0, 1]"

Model = TypeVar("Model", bound="ModelInputs")

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


class ModelInputs:
    """A model's input checks and input scaling, inherited by every model family (with
    :class:`torch.nn.Module`). The family sets ``scaling`` ("none", "standard",
    "minmax"; with the buffers ``input_shift`` and ``input_scale`` where it scales),
    ``missing``, ``feature_names`` and ``input_dim`` (None: not checked), and says which
    data must lie in [0, 1]: ``_checks_range`` (whether targets are checked) and
    ``range_reason`` (why, in the message)."""

    scaling: str
    missing: bool
    feature_names: list[str] | None
    input_dim: int | None
    input_shift: Tensor
    input_scale: Tensor
    _checks_range: bool
    range_reason = SIGMOID_RANGE

    # ---- scaling ------------------------------------------------------------------------------

    def scale(self, x: Tensor) -> Tensor:
        """``x`` in the model's scaled units (itself without scaling)."""
        if self.scaling == "none":
            return x
        # Data may be on the CPU while the model is on a GPU (evaluation in blocks).
        return (x - self.input_shift.to(x.device)) / self.input_scale.to(x.device)

    def unscale(self, x: Tensor) -> Tensor:
        """Scaled values back in the data's units."""
        if self.scaling == "none":
            return x
        return x * self.input_scale.to(x.device) + self.input_shift.to(x.device)

    def fit_scaling(self: Model, x: Tensor | ArrayLike) -> Model:
        """Fit the input scaling (``config.scaling``) to training data ``x``, ignoring
        missing entries: each feature's mean and standard deviation ("standard") or range
        ("minmax"); a constant feature keeps a scale of 1."""
        if self.scaling == "none":
            return self
        if isinstance(x, DiskArray):  # from the one pass over the file
            shift, spread = scaling_of_stats(
                self.check_disk_input(x, "training data"), self.scaling
            )
        else:
            shift, spread = scaling_of(self.check_input(x, "training data"), self.scaling)
        self.input_shift.copy_(shift.float())
        self.input_scale.copy_(spread.float())
        return self

    # ---- checks -------------------------------------------------------------------------------

    def check_input(self, x: ArrayLike, name: str = "data", *, targets: bool = False) -> Tensor:
        """Validate data for this model and return it as a float32 CPU tensor.

        ``targets=True`` also checks that values lie in the range the model's output
        models (data the model must reconstruct, as in training and evaluation). Data is
        validated once where it enters: the tensor this returned, given back unchanged
        (not modified in place since, the model's scaling unchanged), is not checked again.
        """
        return checked_once(self, x, targets, lambda: self._check_input(x, name, targets))

    def _check_input(self, x: ArrayLike, name: str, targets: bool) -> Tensor:
        # A DataFrame's columns are matched by name to those it was trained on.
        x = match_columns(x, frame_columns(x), self.feature_names, name)
        # Data to learn from or be judged on needs an observed entry; inputs need not
        # (an all-NaN row alone is filled as it is within a batch).
        t = to_tensor(x, name, allow_missing=self.missing, observed=targets)
        if self.input_dim is not None and t.shape[1] != self.input_dim:
            raise DataError(
                f"{name} has {t.shape[1]} features but the model expects {self.input_dim}"
            )
        if targets and self._checks_range:
            # The output reproduces the data in the model's units: scaled, where it scales.
            check_range(self.scale(t), 0.0, 1.0, self._units(name), self.range_reason)
        return t

    def _units(self, name: str) -> str:
        return name if self.scaling == "none" else f"{name} (scaled, {self.scaling})"

    def check_disk_input(
        self, data: DiskArray, name: str = "data", *, targets: bool = False
    ) -> Stats:
        """:meth:`check_input` for data on disk, from one pass over it (cached)."""
        name = data.named(name)
        if self.input_dim is not None and data.features != self.input_dim:
            raise DataError(
                f"{name} has {data.features} features but the model expects {self.input_dim}"
            )
        stats = data.check(name, allow_missing=self.missing)
        if targets and self._checks_range:
            if self.scaling == "none":
                lo, hi = data.range()
            else:  # each feature's observed range, in the model's units
                seen = stats.count > 0
                low = self.scale(torch.from_numpy(stats.low[None]).float())[0].numpy()
                high = self.scale(torch.from_numpy(stats.high[None]).float())[0].numpy()
                lo, hi = (float(low[seen].min()), float(high[seen].max())) if seen.any() else (0, 1)
            check_bounds(lo, hi, 0.0, 1.0, self._units(name), self.range_reason)
        return stats
