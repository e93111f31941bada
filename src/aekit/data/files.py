"""Reading a data file or folder whole, whatever its format: :func:`read_table` picks the
reader (:mod:`aekit.data.formats`) by what the path is (a folder of images or of .npy
shards, an IDX file) or by its suffix (.npy, .npz, .csv, .txt).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, DataError, one_line
from ..core.io import require_regular_file
from .formats import Table
from .formats.csv import HEADERS, read_csv
from .formats.images import IMAGE_SUFFIXES, folder_kind, load_images
from .formats.npy import read_npy, read_npz
from .shapes import channels_first
from .streaming import can_stream, open_disk_array

ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".txt")


def load_array(
    path: str | Path,
    key: str | None = None,
    *,
    header: str = "auto",
    image_size: Sequence[int] | None = None,
    image_mode: str | None = None,
) -> np.ndarray:
    """Read a .npy, .npz (array ``key``, or ``X``/``data``/the only one) or .csv file
    (comma-separated numbers; see :func:`read_table` for its header line and ``header``),
    a folder of .npy shards, an IDX file (uint8 pixels as [0, 1]) or a folder of images
    (``(N, C, H, W)``, see :func:`aekit.load_images`, which also gives the file names).
    The values keep their dtype (a CSV is read as float64). Never unpickles."""
    return read_table(path, key, header=header, image_size=image_size, image_mode=image_mode).array


def read_table(
    path: str | Path,
    key: str | None = None,
    *,
    header: str = "auto",
    image_size: Sequence[int] | None = None,
    image_mode: str | None = None,
) -> Table:
    """:func:`load_array`, with the column names a CSV's header line gives.

    ``header`` says whether a CSV's first line names its columns: "yes", "no", or "auto"
    (default): a first line of names is a header, a line of numbers or of missing values
    (``NA``, empty fields) is a sample, and a line that could be either (pandas' column
    numbers ``0,1,2``, which are also a sample) is refused, asking for "yes" or "no".
    A header whose first cell is empty (pandas' ``to_csv`` with its index) marks the
    first column as the rows' labels: it is left out, and ``notes`` says so."""
    path = Path(path)
    if header not in HEADERS:
        raise ConfigError(f"header must be one of {', '.join(HEADERS)}, got {header!r}")
    if folder_kind(path) == "images":
        return Table(load_images(path, image_size, image_mode).array)
    if path.is_dir() or (path.is_file() and path.suffix.lower() not in ARRAY_SUFFIXES):
        if can_stream(path):  # a folder of .npy shards, an IDX file: read whole
            data = open_disk_array(path)
            return Table(data.read(0, len(data)).reshape(len(data), *data.item_shape))
        if path.is_dir():
            raise DataError(
                f"data file {path} is a folder, not a file, and holds no .npy shards or "
                f"image files ({', '.join(IMAGE_SUFFIXES)})"
            )
    require_regular_file(path, "data file", DataError)
    return _read_file(path, key, header)


def _read_file(path: Path, key: str | None, header: str) -> Table:
    """A .npy, .npz or CSV file by its suffix, what numpy says of one it cannot read
    worded as aekit's refusal."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return Table(channels_first(read_npy(path)))
        if suffix == ".npz":
            return Table(channels_first(read_npz(path, key)))
        if suffix in (".csv", ".txt"):
            return read_csv(path, header)
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path}: {one_line(exc)}") from None
    except MemoryError:
        raise DataError(f"cannot read {path}: it declares more data than fits in memory") from None
    raise DataError(
        f"unsupported data file type {suffix!r} ({path}); use .npy, .npz or .csv, a folder "
        "of .npy shards or of images, or an IDX file"
    )
