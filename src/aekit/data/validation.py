"""Validation: data given in any form (an array, a tensor, a list, a DataFrame) checked
and made float32 ``(samples, features)``, or refused with what is wrong and the fix; and
the checks of a data set's range of values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor

from ..core.errors import DataError, non_finite

ArrayLike = Union[np.ndarray, Tensor, Sequence[Any]]  # noqa: UP007


def _numeric_frame(x: Any) -> bool:
    """Whether ``x`` is a pandas DataFrame whose every column holds numbers."""
    dtypes = getattr(x, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items") or not hasattr(x, "to_numpy"):
        return False
    return all(getattr(d, "kind", "O") in "biuf" for _, d in dtypes.items())


def _text_columns(x: Any) -> str:
    """The columns of a pandas DataFrame that are not numbers, said as a clause."""
    dtypes = getattr(x, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return ""
    text = [str(c) for c, d in dtypes.items() if getattr(d, "kind", "O") not in "biuf"]
    return f" in column(s) {', '.join(map(repr, text[:5]))}" if text else ""


def not_numbers(dtype: np.dtype, name: str, columns: str = "") -> DataError:
    """The refusal of data of a dtype that is not real numbers, saying what it holds."""
    kind = dtype.kind
    if kind == "c":
        return DataError(
            f"{name} holds complex numbers (dtype {dtype}); aekit takes real numbers: keep "
            "the real part (x.real), the magnitude (np.abs(x)), or both as features "
            "(np.concatenate([x.real, x.imag], axis=1))"
        )
    if kind in "mM":
        return DataError(
            f"{name} must be numeric, got dates or times (dtype {dtype}{columns}); convert "
            "them to numbers first (e.g. seconds since a start)"
        )
    if kind == "V":
        return DataError(
            f"{name} must be numeric, got records with named fields (a structured dtype, "
            f"{dtype}); select the numeric fields into a plain array "
            "(numpy.lib.recfunctions.structured_to_unstructured)"
        )
    return DataError(
        f"{name} must be numeric, got dtype {dtype} (strings or Python objects{columns}); "
        "convert it to numbers first"
    )


def to_tensor(
    x: Any,
    name: str = "data",
    *,
    allow_missing: bool = False,
    first_row: int = 0,
    observed: bool = True,
) -> Tensor:
    """Validate ``x`` and return it as a float32 ``(samples, features)`` tensor.

    Arrays with more than two dimensions (images) are flattened per sample. Raises
    :class:`DataError` for non-numeric, empty, 0-/1-D or non-finite data (with
    ``allow_missing``, NaN marks a missing entry and only infinities are refused; data
    with no observed entry at all is refused where it must teach or judge something,
    ``observed``, and accepted as input to a model, whose result for a row is then the
    same whatever rows come with it).

    Examples
    --------
    >>> to_tensor([[0.0, 1.0], [0.5, 0.5]]).shape
    torch.Size([2, 2])
    >>> to_tensor([[0.0, float("nan")]])
    Traceback (most recent call last):
    ...
    aekit.core.errors.DataError: data contains 1 NaN value(s) (first in sample 0); remove or impute them, or train a model of incomplete data (missing=True; aekit train --missing)
    """
    t = _as_tensor(x, name)
    if t.is_complex():
        raise not_numbers(np.dtype(str(t.dtype).removeprefix("torch.")), name)
    if t.ndim < 2:
        raise DataError(
            f"{name} must be 2-D (samples, features), got shape {tuple(t.shape)}; "
            "for one sample use x.reshape(1, -1)"
        )
    if t.shape[0] == 0:
        raise DataError(f"{name} is empty: 0 samples")
    t = t.reshape(t.shape[0], -1)
    if t.shape[1] == 0:
        raise DataError(f"{name} has no features: shape {tuple(t.shape)}")
    t = t.to(torch.float32)
    _check_finite(t, name, allow_missing, first_row, observed)
    return t


def _as_tensor(x: Any, name: str) -> Tensor:
    """``x`` as a tensor of its own dtype, without a copy where it can be shared;
    refused where it is not numbers."""
    if isinstance(x, Tensor):
        return x.detach()
    try:
        arr = np.asarray(x)
        if arr.dtype == object and _numeric_frame(x):
            # pandas' nullable numbers (Int64, Float64) come out as objects; NA is NaN.
            arr = x.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name} cannot be read as a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise not_numbers(arr.dtype, name, _text_columns(x))
    # torch takes native byte order only (.npy and IDX files may be big-endian).
    native = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
    with warnings.catch_warnings():
        # Read-only arrays (memory maps, pandas' values): aekit never writes to them.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(native)


def _check_finite(
    t: Tensor, name: str, allow_missing: bool, first_row: int, observed: bool
) -> None:
    """Refuse NaN (unless ``allow_missing``: then a tensor with nothing observed, where
    ``observed`` is needed) and infinities, naming the first sample holding one."""
    finite = torch.isfinite(t)
    if allow_missing:
        missing = torch.isnan(t)
        if observed and bool(missing.all()):
            raise DataError(f"{name} has no observed values: every entry is NaN")
        finite |= missing
    if not bool(finite.all()):
        bad = ~finite
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        first = first_row + int(bad.any(dim=1).nonzero()[0, 0])
        raise non_finite(name, n_nan, n_inf, first, allow_missing)


def observed_range(t: Tensor) -> tuple[float, float] | None:
    """The lowest and highest value of ``t`` other than NaN (a missing entry has no value),
    in one pass where there is no NaN; None where every entry is NaN."""
    lo, hi = (float(v) for v in torch.aminmax(t))
    if math.isnan(lo) or math.isnan(hi):
        t = t[~torch.isnan(t)]
        if t.numel() == 0:
            return None
        lo, hi = (float(v) for v in torch.aminmax(t))
    return lo, hi


# Values within NEAR of 0 or 1 count as ink or background; data is nearly binary where
# at least half its values do. Pen strokes are (MNIST 91%, the digits 65%); natural grey
# images are not (8x8 patches of scikit-image's photographs: 0-16%).
NEAR, BINARY_SHARE = 0.1, 0.5


def nearly_binary(t: Tensor, rows: int = 10_000) -> bool:
    """Whether data in [0, 1] is nearly binary (:data:`BINARY_SHARE` of its values within
    :data:`NEAR` of 0 or 1), judged on its first ``rows`` rows, missing entries aside."""
    seen = t[:rows].float()
    seen = seen[~torch.isnan(seen)]
    if seen.numel() == 0:
        return True
    near = (seen <= NEAR) | (seen >= 1 - NEAR)
    return float(near.float().mean()) >= BINARY_SHARE


def check_range(t: Tensor, low: float, high: float, name: str, why: str) -> None:
    seen = observed_range(t)
    if seen is not None:
        check_bounds(*seen, low, high, name, why)


def check_bounds(lo: float, hi: float, low: float, high: float, name: str, why: str) -> None:
    """Refuse data whose observed values [lo, hi] leave [low, high], saying ``why``."""
    if lo < low or hi > high:
        raise DataError(
            f"{name} has values in [{lo:g}, {hi:g}], outside [{low:g}, {high:g}]: {why}; "
            "scale the data (e.g. divide by its maximum) or use output_activation='linear'"
        )


def in_memory(x: Any) -> bool:
    """Whether ``x`` is data held in memory (a tensor, an array, a list or tuple of rows,
    a pandas DataFrame), as against a loader or an iterable of batches. A DataFrame is
    iterable too, but iterating one gives its column names, not its rows."""
    table = hasattr(x, "iloc") and hasattr(x, "to_numpy")
    return table or isinstance(x, Tensor | np.ndarray | list | tuple)
