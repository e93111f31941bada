"""The names of a table's columns: read from a DataFrame, and matched by name between the
data a model was trained on and the data given to it later (reordered where they come in
another order, refused where they differ, taken in order where one side has no names).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ..core.errors import DataError


def match_columns(
    array: Any,
    names: Sequence[str] | None,
    wanted: Sequence[str] | None,
    what: str,
    trained: str = "the model",
) -> Any:
    """``array``'s columns, named ``names``, in the order of the names ``wanted`` (the
    columns ``trained`` on): a table whose columns come in another order is reordered,
    one with other columns is refused, naming the differences. Where either side has no
    names (a .npy file, a CSV without a header) the columns are taken in order, as given."""
    if names is None or wanted is None:
        return array
    names, wanted = [str(n) for n in names], [str(n) for n in wanted]
    if names == wanted:
        return array
    missing = [n for n in wanted if n not in names]
    extra = [n for n in names if n not in wanted]
    twice = sorted(
        {n for n in names if names.count(n) > 1} | {n for n in wanted if wanted.count(n) > 1}
    )
    if missing or extra or twice:
        said = []
        if missing:
            said.append(f"it lacks {_names(missing)}")
        if extra:
            said.append(f"{_names(extra)} {'is' if len(extra) == 1 else 'are'} not among them")
        if twice:
            said.append(f"{_names(twice)} {'is' if len(twice) == 1 else 'are'} named twice")
        raise DataError(
            f"{what} names other columns than {trained} was trained on: {'; '.join(said)}; "
            f"give the columns {_names(wanted)} (matched by name, in any order)"
        )
    order = [names.index(n) for n in wanted]
    return array[:, order] if isinstance(array, np.ndarray) else array.iloc[:, order]


def say_order(path: str | Path, names: Sequence[str] | None, wanted: Sequence[str] | None) -> None:
    """Warn where a CSV's columns are taken by position because one side has no names:
    a table without a header given to a model trained on named columns, or the other
    way round (a .npy file has no names to give, and is not warned about)."""
    if Path(path).suffix.lower() not in (".csv", ".txt") or (names is None) == (wanted is None):
        return
    if names is None:
        warnings.warn(
            f"{path} has no header line: its columns are taken as the ones trained on, in "
            f"their order ({_names(list(wanted or []))}); give it that header to have them "
            "matched by name",
            UserWarning,
            stacklevel=3,
        )
    else:
        warnings.warn(
            f"{path} names its columns, but the model was trained on data without names: "
            "they are taken in the order given",
            UserWarning,
            stacklevel=3,
        )


def frame_columns(x: Any) -> list[str] | None:
    """The column names of a pandas DataFrame, where they are names (strings; not
    pandas' numbers 0, 1, ... of unnamed columns); else None."""
    columns = getattr(x, "columns", None)
    if columns is None or isinstance(x, np.ndarray | Tensor) or not hasattr(x, "iloc"):
        return None
    names = list(columns)
    return [str(c) for c in names] if names and all(isinstance(c, str) for c in names) else None


def _names(names: Sequence[str], shown: int = 8) -> str:
    listed = ", ".join(map(repr, names[:shown]))
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")
