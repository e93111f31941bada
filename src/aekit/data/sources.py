"""Data: validation, the built-in sources (scikit-learn digits, MNIST in IDX format,
.npy/.npz/.csv files, folders of images) and the batch iterators the trainer consumes.

All data is held as float32 ``(samples, features)``; images are flattened and their
``(C, H, W)`` shape travels alongside, for convolutional models and pictures.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import itertools
import math
import os
import re
import shutil
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor

from ..core.errors import ConfigError, DataError, non_finite, one_line
from ..core.io import memory_bytes, open_checked, require_regular_file
from .images import IMAGE_SUFFIXES, Images, folder_kind, load_images, not_streamed
from .images import KINDS as IMAGE_KINDS
from .streaming import STREAM_ABOVE, can_stream, open_disk_array, size_on_disk

ArrayLike = Union[np.ndarray, Tensor, Sequence[Any]]  # noqa: UP007

# ---- validation ------------------------------------------------------------------------------


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
    if isinstance(x, Tensor):
        t = x.detach()
    else:
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
            t = torch.from_numpy(native)
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
    return t


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


# ---- data sets ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Dataset:
    """Training data, optional held-out test data, image shape and labels (when known);
    for folders of images, the file name of each row (``files``, ``test_files``); the
    names of the features where the data names them (``columns``: a CSV's header line);
    and what was done beyond reading the data (``notes``: images resized, converted)."""

    name: str
    train: Tensor
    test: Tensor | None = None
    image_shape: tuple[int, int, int] | None = None
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    files: list[str] | None = None
    test_files: list[str] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    # The names of the features, where the data names them (a CSV's header line).
    columns: list[str] | None = None

    @property
    def input_dim(self) -> int:
        return int(self.train.shape[1])


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits scaled to [0, 1]; a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    X, y = sk_load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    return Dataset("digits", torch.from_numpy(X_tr), torch.from_numpy(X_te), (1, 8, 8), y_tr, y_te)


# ---- IDX files (MNIST) ---------------------------------------------------------------------

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or raw.

    Raises :class:`DataError` for a bad magic number, an unknown type, or a body shorter or
    longer than its header promises.
    """
    path = Path(path)
    with open_checked(path, "IDX file", DataError) as file:
        try:
            compressed = file.read(2) == b"\x1f\x8b"
            file.seek(0)
            stream: Any = gzip.GzipFile(fileobj=file, mode="rb") if compressed else file
            return _read_idx_stream(stream, path)
        except (OSError, EOFError, zlib.error) as exc:
            if not compressed:
                raise DataError(f"cannot read {path}: {one_line(exc)}") from None
            raise DataError(f"{path} is not a readable gzip file: {one_line(exc)}") from None


def _read_idx_stream(stream: Any, path: Path) -> np.ndarray:
    """An IDX array from a file (or a gzip stream), read as far as its header says and
    one byte more: a compressed file never expands beyond what it declares."""
    magic = stream.read(4)
    if (
        len(magic) < 4
        or magic[0] != 0
        or magic[1] != 0
        or magic[2] not in _IDX_TYPES
        or magic[3] == 0
    ):
        raise DataError(
            f"{path} is not an IDX file: bad magic number {magic.hex() or '(empty)'}; "
            "expected 00 00 <type> <ndim>, e.g. 00000803 for MNIST images"
        )
    dtype = np.dtype(_IDX_TYPES[magic[2]])
    ndim = magic[3]
    header = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"{path} is truncated: its header needs {header} bytes ({ndim} dimensions), "
            f"the file has {4 + len(dims)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    expected = header + math.prod(shape) * dtype.itemsize
    if expected - header > memory_bytes():
        raise DataError(
            f"{path} declares shape {shape}: {expected:,} bytes, more than this machine's "
            "memory; is it a damaged file?"
        )
    body = stream.read(expected - header + 1)
    if len(body) != expected - header:
        state = "truncated" if len(body) < expected - header else "longer than its header says"
        has = f"{header + len(body)}" if len(body) < expected - header else "more"
        raise DataError(
            f"{path} is {state}: shape {shape} needs {expected} bytes, the file has {has}"
        )
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def mnist_mirrors() -> tuple[str, ...]:
    """Download mirrors: ``$AEKIT_MNIST_MIRRORS`` (comma-separated URLs) or the defaults."""
    env = os.environ.get("AEKIT_MNIST_MIRRORS")
    return tuple(u.strip() for u in env.split(",") if u.strip()) if env else MNIST_MIRRORS


def mnist_search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for the MNIST files: ``data_dir`` if given; else ``$AEKIT_DATA``
    (and its ``mnist/`` subfolder), then the cache ``$XDG_CACHE_HOME/aekit/mnist``."""
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = []
    if os.environ.get("AEKIT_DATA"):
        root = Path(os.environ["AEKIT_DATA"])
        dirs += [root / "mnist", root]
    return [*dirs, mnist_cache_dir()]


def mnist_cache_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "aekit" / "mnist"


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        # Anything by the name is the file, never passed over for another: a dangling
        # link is refused here, a pipe or a folder when read.
        if os.path.lexists(folder / name):
            if not (folder / name).exists():
                raise DataError(
                    f"MNIST file {folder / name} is a link to nothing "
                    f"({os.readlink(folder / name)}); replace it with the file or remove it"
                )
            return folder / name
    return None


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """MNIST's 60,000 training and 10,000 test images, scaled to [0, 1], with labels.

    Looks for the four standard files (``.gz`` or raw) in :func:`mnist_search_dirs`; if no
    folder holds all four and ``download`` is true, downloads them into ``data_dir`` (or
    the cache) from ``mirrors`` (default :func:`mnist_mirrors`). Offline, it raises
    :class:`DataError` naming the files and folders.
    """
    dirs = mnist_search_dirs(data_dir)
    for folder in dirs:
        found = {key: _find(folder, stem) for key, stem in MNIST_FILES.items()}
        if all(found.values()):
            return _mnist_from_files(found)  # type: ignore[arg-type]
    target = dirs[0] if data_dir is not None else mnist_cache_dir()
    names = ", ".join(s + ".gz" for s in MNIST_FILES.values())
    where = ", ".join(str(d) for d in dirs)
    if not download:
        raise DataError(f"MNIST files not found: looked for {names} (or uncompressed) in {where}")
    created = not target.exists()
    try:
        urls = mirrors if mirrors is not None else mnist_mirrors()
        found = {
            key: download_file(stem + ".gz", target, urls) for key, stem in MNIST_FILES.items()
        }
    except DataError as exc:
        if created and target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        raise DataError(
            f"MNIST files not found: looked for {names} (or uncompressed) in {where}, and the "
            f"download failed ({exc}); download them by hand into one of those folders, "
            "or name its folder (--data-dir; data_dir= in Python) or set AEKIT_DATA"
        ) from None
    return _mnist_from_files(found)


def _mnist_from_files(files: dict[str, Path]) -> Dataset:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"MNIST {split} files do not match: images {images.shape}, labels {labels.shape}"
            )
    h, w = arrays["train_images"].shape[1:]

    def scale(images: np.ndarray) -> Tensor:
        pixels = images.reshape(len(images), -1).astype(np.float32)
        pixels /= 255.0  # in place: a second float copy of the training images is 188 MB
        return torch.from_numpy(pixels)

    return Dataset(
        "mnist",
        scale(arrays["train_images"]),
        scale(arrays["test_images"]),
        (1, h, w),
        arrays["train_labels"].astype(np.int64),
        arrays["test_labels"].astype(np.int64),
    )


def download_file(name: str, folder: Path, mirrors: Sequence[str], timeout: float = 30.0) -> Path:
    """Download ``name`` from the first mirror that has it into ``folder``, atomically
    (a partial download never takes the final name)."""
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                shutil.copyfileobj(resp, out)
            read_idx(tmp)  # a truncated or HTML error page fails here, not later
            final = folder / name
            os.replace(tmp, final)
            return final
        except (OSError, DataError) as exc:
            errors.append(f"{url}: {exc}")
            Path(tmp).unlink(missing_ok=True)
    raise DataError("; ".join(errors))


# ---- array files -------------------------------------------------------------------------------


ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".txt")
HEADERS = ("auto", "yes", "no")  # whether a CSV's first line names its columns
HEADER_HOW = "--header yes or --header no (header='yes' or 'no' in Python and config files)"
HEADER_YES = "--header yes, or header='yes' in Python and config files"
HEADER_NO = "--header no, or header='no' in Python and config files"


@dataclasses.dataclass
class Table:
    """An array read from a file, with the names of its columns where the file names them
    (a CSV's header line; pandas' row index, an unnamed first column, is left out) and
    what was done beyond reading it (``notes``)."""

    array: np.ndarray
    columns: list[str] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


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
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            check_magic(path, NPY_MAGIC, ".npy")
            # Mapped first: a header that declares more data than the file holds is refused
            # before anything is allocated for it.
            try:
                mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            except ValueError:
                # Not mappable (object arrays among them): the plain reader says why.
                try:
                    return Table(channels_first(np.load(path, allow_pickle=False)))
                except ValueError as exc:
                    if "Object arrays" not in str(exc):
                        raise
                    raise DataError(
                        f"cannot read {path}: it holds Python objects (dtype object), which "
                        "numpy stores pickled, and aekit never unpickles (it can run code): "
                        "save numbers, "
                        "e.g. np.save(path, x.astype(np.float32)) (numpy: Object arrays "
                        "cannot be loaded when allow_pickle=False)"
                    ) from None
            return Table(channels_first(np.array(mapped)))
        if suffix == ".npz":
            check_magic(path, ZIP_MAGIC, ".npz")
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.keys())
                if key is None:
                    key = next((k for k in ("X", "data", "x") if k in keys), None)
                    if key is None and len(keys) == 1:
                        key = keys[0]
                if key not in keys:
                    raise DataError(
                        f"{path}: choose the array to use; it holds {', '.join(keys) or 'none'}"
                    )
                return Table(channels_first(archive[key]))
        if suffix in (".csv", ".txt"):
            return _load_csv(path, header)
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


NPY_MAGIC = (b"\x93NUMPY",)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive; an empty one
PICKLE_MAGIC = b"\x80"  # pickle protocols 2 and above


def check_magic(path: Path, magics: tuple[bytes, ...], kind: str) -> None:
    """Refuse a file whose first bytes are not those of ``kind``, saying what it is
    instead where that can be told (numpy would suggest unpickling it)."""
    with open(path, "rb") as f:
        start = f.read(8)
    if any(start.startswith(m) for m in magics):
        return
    if not start:
        what = "it is empty (0 bytes)"
    elif start.startswith(NPY_MAGIC[0]):
        what = f"it is a .npy file: name it {path.stem}.npy"
    elif any(start.startswith(m) for m in ZIP_MAGIC):
        what = f"it is a zip archive (a .npz file?): name it {path.stem}.npz"
    elif start.startswith(PICKLE_MAGIC):
        what = "it holds a Python pickle, which aekit never loads: unpickling can run code"
    else:
        what = f"it starts with {start[:8]!r}"
    raise DataError(
        f"{path} is not a {kind} file ({what}); write arrays with "
        f"{'np.save' if kind == '.npy' else 'np.savez'}"
    )


@dataclasses.dataclass
class CsvHeader:
    """A CSV's header line: the names of its columns (None: it has no header) and whether
    its first column is the rows' labels (pandas' index: an empty first cell)."""

    names: list[str] | None
    index: bool = False
    fields: int = 0  # cells in the header line


def csv_header(path: str | Path, header: str = "auto") -> list[str] | None:
    """The column names of a CSV file's header line (without pandas' index column), or
    None when it has none; see :func:`read_table` for ``header``."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt"):
        return None
    return _csv_header(path, header).names


def _first_line(path: Path) -> str:
    with path.open(newline="") as f:
        return f.readline()


def _csv_header(path: Path, header: str) -> CsvHeader:
    first = _first_line(path)
    if header == "no" or not first.strip():
        return CsvHeader(None)
    tokens = [t.strip() for t in next(csv.reader([first.rstrip("\r\n")]), [])]
    index = len(tokens) > 1 and tokens[0] == "" and all(tokens[1:])
    named = tokens[1:] if index else tokens
    if header == "yes":
        return CsvHeader(named, index, len(tokens))
    numbered = named == [str(i) for i in range(len(named))]
    if numbered:
        shown = first.strip()
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DataError(
            f"{path}: line 1 ({shown}) could be a header of column numbers (as pandas "
            "writes for unnamed columns) or a sample: aekit cannot tell which; say "
            f"whether the first line is a header: {HEADER_HOW}"
        )
    numbers = [t for t in tokens if _is_number(t)]
    names = [t for t in tokens if not _is_number(t) and t.lower() not in MISSING_TOKENS]
    if names and not numbers:
        return CsvHeader(named, index, len(tokens))
    return CsvHeader(None)


def _load_csv(path: Path, header: str = "auto") -> Table:
    head = _csv_header(path, header)
    has_header = head.names is not None or (header == "yes" and bool(_first_line(path).strip()))
    read: dict[str, Any] = dict(delimiter=",", skiprows=int(has_header), dtype=np.float64, ndmin=2)
    if head.index:
        read["usecols"] = range(1, head.fields)
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "empty input file": refused below, once
                arr = np.loadtxt(path, **read)  # type: ignore[call-overload]
        except ValueError:  # empty fields or NA: missing values, read the slow way
            arr = np.loadtxt(path, **read, converters=_csv_number)  # type: ignore[call-overload]
    except ValueError as exc:
        raise DataError(
            f"{path} is not a numeric CSV: {_csv_problem(path, str(exc), head, has_header)}"
        ) from None
    # A header that names every column, the last one too, says an empty last column is a
    # column of missing values (pandas writes an all-NaN column so), not trailing commas.
    named = head.names is not None and len(head.names) == arr.shape[1] and head.names[-1] != ""
    if (
        arr.size
        and arr.shape[1] > 1
        and not named
        and np.isnan(arr[:, -1]).all()
        and _trailing_commas(path, has_header)
    ):
        lines = "every line" if not has_header else "every line after the header"
        raise DataError(
            f"{path}: {lines} ends with a comma, which makes an empty last column "
            "(no values, not missing ones); remove the trailing commas, or, if that column "
            "holds only missing values, give the file a header line that names it"
        )
    notes = []
    if head.names is not None:
        if arr.size and len(head.names) != arr.shape[1]:
            raise DataError(
                f"{path}: its header (line 1) names {len(head.names)} column(s) but its "
                f"lines hold {arr.shape[1]}: give each column one name (or, if line 1 is "
                f"not a header, say so: {HEADER_NO})"
            )
        if head.index:
            notes.append(
                "the first column, unnamed in the header, holds the rows' labels (pandas' "
                "index): left out, not a feature"
            )
    return Table(arr, head.names, notes)


def _trailing_commas(path: Path, header: bool) -> bool:
    """Whether every data line of a CSV ends with a comma (an empty last field)."""
    with path.open() as f:
        lines = [
            line.split("#", 1)[0].strip()
            for number, line in enumerate(f)
            if not (header and number == 0)
        ]
    lines = [line for line in lines if line]
    return bool(lines) and all(line.endswith(",") for line in lines)


MISSING_TOKENS = ("", "na", "nan", "null")  # a missing value in a CSV (read as NaN)


def _csv_problem(path: Path, message: str, head: CsvHeader, header: bool) -> str:
    """numpy's complaint about a CSV, with the place named as an editor shows it: the
    file's line (numpy counts data rows, past blank and comment lines) and the column
    counted from 1, with its name."""
    cell = re.search(
        r"could not convert string (.*) to float\d* at row (\d+), column (\d+)", message
    )
    if cell is not None:
        # numpy counts the file's columns from 1, pandas' index column among them.
        text, column = cell.group(1), int(cell.group(3))
        line = _csv_line(path, int(cell.group(2)), header)  # rows from 0
        named = head.names
        first = int(head.index)
        name = (
            f" ({named[column - 1 - first]!r})"
            if named is not None and 0 <= column - 1 - first < len(named)
            else ""
        )
        hint = f" (if line 1 is a header, say so: {HEADER_YES})" if line == 1 else ""
        separator = next((c for c in (";", "\t", "|") if c in text), None)
        if separator is not None:
            return (
                f"line {line} holds {text}: its values are separated by {separator!r}, and "
                "aekit reads comma-separated values; write the file with commas"
            )
        return f"line {line}, column {column}{name} holds {text}, not a number{hint}"
    ragged = re.search(r"number of columns changed from (\d+) to (\d+) at row (\d+)", message)
    if ragged is not None:
        before, now, row = (int(g) for g in ragged.groups())
        line = _csv_line(path, row - 1, header)  # rows from 1
        return f"line {line} has {now} column(s) where the lines before it have {before}"
    return message


def _csv_line(path: Path, row: int, header: bool) -> int | str:
    """The line number (from 1) of data row ``row`` (from 0) of a CSV, as numpy's
    loadtxt counts rows: past the header, blank lines and ``#`` comments."""
    with path.open() as f:
        seen = -1
        for number, line in enumerate(f, start=1):
            if (header and number == 1) or not line.split("#", 1)[0].strip():
                continue
            seen += 1
            if seen == row:
                return number
    return "?"


def _csv_number(token: str) -> float:
    token = token.strip()
    return math.nan if token.lower() in MISSING_TOKENS else float(token)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


CHANNELS = (1, 3, 4)  # grey, RGB, RGBA


def channels_first(arr: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images, as PIL, Keras and TensorFlow write them, as (N, C, H, W):
    a 4-D array whose last axis has 1, 3 or 4 entries and whose second has not."""
    if arr.ndim == 4 and arr.shape[3] in CHANNELS and arr.shape[1] not in CHANNELS:
        return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    return arr


def image_shape_of(arr: np.ndarray) -> tuple[int, int, int] | None:
    """(C, H, W) of image arrays shaped (N, H, W) or (N, C, H, W), else None."""
    if arr.ndim == 3:
        return (1, arr.shape[1], arr.shape[2])
    if arr.ndim == 4:
        return (arr.shape[1], arr.shape[2], arr.shape[3])
    return None


def load_source(
    source: str,
    data_dir: str | None = None,
    test: str | None = None,
    allow_missing: bool = False,
    stream: bool | None = False,
    image_size: Sequence[int] | None = None,
    image_mode: str | None = None,
    header: str = "auto",
) -> Dataset:
    """A data set by name ("digits", "mnist") or from an array file (with ``allow_missing``,
    NaN entries are missing values, for models of incomplete data). With ``stream`` (None:
    for files above :data:`~aekit.data.streaming.STREAM_ABOVE` bytes) the file and the test
    file stay on disk as :class:`~aekit.data.streaming.DiskArray` and are read a block at a time.
    A folder of images (source or test) is read whole, resized to ``image_size`` and
    converted to ``image_mode`` where given (see :func:`aekit.load_images`)."""
    if source in ("digits", "mnist"):
        if stream:
            raise ConfigError(
                f"{source} is loaded in memory (it fits); streaming applies to data files "
                "(.npy, folders of .npy shards, uncompressed IDX files)"
            )
        return load_digits() if source == "digits" else load_mnist(data_dir)
    if folder_kind(source) == "images" or (test is not None and folder_kind(test) == "images"):
        return _load_image_source(
            source, test, allow_missing, stream, image_size, image_mode, header
        )
    if streams(source, stream):
        train = open_disk_array(source)
        data = Dataset(train.name, train, image_shape=train.image_shape)  # type: ignore[arg-type]
        if test is not None:
            held = open_disk_array(test) if streams(test, stream) else None
            if held is None:
                table = read_table(test, header=header)
                data.notes += [f"{test}: {note}" for note in table.notes]
                held = to_tensor(table.array, test, allow_missing=allow_missing)  # type: ignore[assignment]
            data.test = held  # type: ignore[assignment]
            if data.test.shape[1] != data.input_dim:
                raise DataError(
                    f"{test} has {data.test.shape[1]} features but {source} has {data.input_dim}"
                )
        return data
    table = read_table(source, header=header)
    arr = table.array
    x = to_tensor(arr, str(source), allow_missing=allow_missing)
    data = Dataset(Path(source).name, x, image_shape=image_shape_of(arr), columns=table.columns)
    data.notes += [f"{source}: {note}" for note in table.notes]
    if test is not None:
        held_table = read_table(test, header=header)
        data.notes += [f"{test}: {note}" for note in held_table.notes]
        if Path(source).suffix.lower() in (".csv", ".txt"):
            say_order(test, held_table.columns, table.columns)
        test_arr = match_columns(
            held_table.array, held_table.columns, table.columns, str(test), str(source)
        )
        data.test = to_tensor(test_arr, str(test), allow_missing=allow_missing)
        if data.test.shape[1] != data.input_dim:
            raise DataError(
                f"{test} has {data.test.shape[1]} features but {source} has {data.input_dim}"
            )
    return data


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


def _load_image_source(
    source: str,
    test: str | None,
    allow_missing: bool,
    stream: bool | None,
    image_size: Sequence[int] | None,
    image_mode: str | None,
    header: str = "auto",
) -> Dataset:
    """:func:`load_source` where the source or the test data is a folder of images."""
    parts: list[tuple[Tensor, Images | None, tuple[int, int, int] | None]] = []
    for path in (source, test) if test is not None else (source,):
        if folder_kind(path) == "images":
            if stream:
                raise not_streamed(path)
            images = load_images(path, image_size, image_mode)
            x = to_tensor(images.array, str(path), allow_missing=allow_missing)
            parts.append((x, images, images.shape))
        else:
            arr = load_array(path, header=header)
            x = to_tensor(arr, str(path), allow_missing=allow_missing)
            parts.append((x, None, image_shape_of(arr)))
    (train, images, shape), held = parts[0], parts[1:]
    data = Dataset(Path(source).name, train, image_shape=shape)
    if images is not None:
        data.files = images.files
        data.notes = [f"{source}: {note}" for note in images.notes]
    if not held:
        return data
    x, test_images, test_shape = held[0]
    if shape is not None and test_shape is not None and test_shape != shape:
        raise DataError(
            f"{test} holds images of {_shape_text(test_shape)} but {source} of "
            f"{_shape_text(shape)}: test images must be the training images' size and kind; "
            "resize them alike with image_size (--image-size H,W), convert them with "
            "image_mode (--image-mode grey, rgb or rgba)"
        )
    if x.shape[1] != data.input_dim:
        raise DataError(f"{test} has {x.shape[1]} features but {source} has {data.input_dim}")
    data.test = x
    data.image_shape = shape or test_shape
    if test_images is not None:
        data.test_files = test_images.files
        data.notes += [f"{test}: {note}" for note in test_images.notes]
    return data


def _shape_text(shape: Sequence[int]) -> str:
    """(C, H, W) in words: "3x28x28 (RGB)"."""
    kind = IMAGE_KINDS.get(shape[0], "channels")
    return f"{'x'.join(map(str, shape))} ({kind})"


def streams(path: str | Path, stream: bool | None) -> bool:
    """Whether data at ``path`` is read from disk a block at a time: as asked, else (None)
    a folder of shards or a streamable file above STREAM_ABOVE bytes."""
    if stream is not None:
        return stream
    return can_stream(path) and (Path(path).is_dir() or size_on_disk(path) > STREAM_ABOVE)


def validation_split(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor] | None:
    """Indices (train, validation) holding out ``fraction`` of ``n`` samples, drawn from
    ``seed`` (the trainer's split, so a run can evaluate on what it never trained on);
    None where one side would be empty."""
    n_val = round(n * fraction)
    if n_val < 1 or n - n_val < 1:
        return None
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    return order[n_val:], order[:n_val]


# ---- devices and identity ----------------------------------------------------------------------


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


# ---- batches -------------------------------------------------------------------------------------


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
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
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
