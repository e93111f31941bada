"""Data larger than memory: a data set on disk, read a block at a time.

A :class:`DiskArray` is a .npy file, a folder of .npy shards or an uncompressed IDX file,
seen as one ``(samples, features)`` float32 array without being loaded: its header says
where each sample's bytes are, and rows are read with ``os.pread`` when asked for (no
memory map, so what is resident is what aekit holds, not the file's pages). The headers
are read by the formats' own readers (:mod:`aekit.data.formats`); a format that can be
read a block at a time is opened in :func:`open_disk_array`.

The trainer's batches of a DiskArray are :class:`~aekit.data.batches.DiskBatches`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core.errors import DataError, non_finite
from ..core.io import open_checked, require_regular_file
from .formats.idx import is_idx_magic, read_idx_header
from .formats.images import folder_kind, not_streamed, skipped
from .formats.npy import read_npy_header
from .shapes import channels_last, stored_image_shape
from .validation import not_numbers

STREAM_ABOVE = 1 << 30  # bytes: data files larger than this are streamed by default
BLOCK_BYTES = 4 << 20  # the unit read at once, and shuffled as a whole
FLOAT32 = np.dtype(np.float32)


@dataclasses.dataclass(frozen=True)
class Segment:
    """The rows of one file: where they start, how many, and how to read one."""

    path: Path
    offset: int
    rows: int
    dtype: np.dtype
    item_shape: tuple[int, ...]
    scale: float = 1.0  # IDX bytes are pixel values 0..255: read as [0, 1], like MNIST

    @property
    def row_bytes(self) -> int:
        return math.prod(self.item_shape) * self.dtype.itemsize


@dataclasses.dataclass
class Stats:
    """What one pass over the data finds: per-feature moments and extremes over the
    observed (non-NaN) entries, the count of NaN and infinite values, and a hash of every
    value (a resume checks it sees the same data)."""

    count: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    low: np.ndarray
    high: np.ndarray
    nan: int
    inf: int
    first_bad: int | None
    fingerprint: str
    first_inf: int | None = None  # the first sample holding an infinity

    @property
    def mean(self) -> np.ndarray:
        return self.total / np.maximum(self.count, 1)

    @property
    def std(self) -> np.ndarray:
        var = self.total_sq / np.maximum(self.count, 1) - self.mean**2
        return np.sqrt(np.maximum(var, 0.0))


class DiskArray:
    """A ``(samples, features)`` data set on disk, read in blocks (see the module
    docstring). Open one with :func:`open_disk_array`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(12, dtype=np.float32).reshape(6, 2))
    >>> data = open_disk_array(path)
    >>> data.shape, data.read(2, 4).tolist()
    ((6, 2), [[4.0, 5.0], [6.0, 7.0]])
    """

    def __init__(
        self, segments: list[Segment], name: str, image_shape: tuple[int, int, int] | None
    ) -> None:
        if not segments or sum(s.rows for s in segments) == 0:
            raise DataError(f"{name} is empty: 0 samples")
        # A shard of no samples (same shape otherwise, checked by the caller) adds none.
        segments = [s for s in segments if s.rows > 0]
        self.segments = segments
        self.name = name
        self.image_shape = image_shape
        self.features = math.prod(segments[0].item_shape)
        if self.features == 0:
            raise DataError(f"{name} has no features: shape {segments[0].item_shape}")
        self.starts = np.cumsum([0] + [s.rows for s in segments])
        self._stats: Stats | None = None
        # How training reads it (set from the data settings): the shuffle buffer's size
        # and the threads that read ahead.
        self.buffer_bytes = 64 << 20
        self.workers = 2

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), self.features

    @property
    def item_shape(self) -> tuple[int, ...]:
        """The shape of one sample as results give it back: the file's, channels first."""
        item = self.segments[0].item_shape
        return (item[2], item[0], item[1]) if channels_last(item) else item

    def __repr__(self) -> str:
        return f"DiskArray({self.name!r}, shape={self.shape})"

    @property
    def path(self) -> Path:
        """The file, or the folder of shards."""
        first = self.segments[0].path
        return first.parent if self.sharded else first

    def named(self, name: str) -> str:
        """``name`` ("training data") with the file it is in: a message names the file."""
        return name if str(self.path) in name else f"{self.path} ({name})"

    @property
    def sharded(self) -> bool:
        return getattr(self, "_sharded", False)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the values as stored (native byte order): float64 where every
        file holds float64; aekit computes in float32 and gives results back in it."""
        kinds = {seg.dtype.newbyteorder("=") for seg in self.segments}
        return kinds.pop() if len(kinds) == 1 else np.dtype(np.float64)

    def where(self, row: int | None) -> str:
        """Where sample ``row`` is in a folder of shards, as words to append to a row
        number (" (shard x.npy, its sample 12)"); empty for one file."""
        if row is None or not self.sharded:
            return ""
        k = int(np.searchsorted(self.starts, row, side="right")) - 1
        return f" of the folder: shard {self.segments[k].path.name}, its sample {row - int(self.starts[k])}"

    # ---- reading ------------------------------------------------------------------------

    def read(self, start: int, stop: int, *, stored: bool = False) -> np.ndarray:
        """Rows ``start:stop`` as float32 ``(rows, features)``; with ``stored``, in the
        dtype the values are stored in (:attr:`dtype`: float64 stays float64)."""
        start, stop = max(0, start), min(len(self), stop)
        parts = []
        k = int(np.searchsorted(self.starts, start, side="right")) - 1
        dtype = self.dtype if stored and self.dtype.kind == "f" else np.dtype(np.float32)
        while start < stop:
            seg, base = self.segments[k], int(self.starts[k])
            end = min(stop, base + seg.rows)
            parts.append(self._read_segment(seg, start - base, end - base, dtype))
            start, k = end, k + 1
        if not parts:
            return np.empty((0, self.features), dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (any order), as float32 ``(len(rows), features)``."""
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), self.features), np.float32)
        sorted_rows = rows[order]
        # Consecutive rows are read together.
        breaks = np.flatnonzero(np.diff(sorted_rows) != 1) + 1
        for run in np.split(np.arange(len(rows)), breaks):
            if len(run):
                first = int(sorted_rows[run[0]])
                out[order[run]] = self.read(first, first + len(run))
        return out

    def chunks(
        self, rows: int | None = None, *, stored: bool = False
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, block)`` pairs covering the data in order, ``rows`` at a time (in
        the stored dtype with ``stored``, see :meth:`read`)."""
        rows = rows or self.block_rows()
        for start in range(0, len(self), rows):
            yield start, self.read(start, start + rows, stored=stored)

    def block_rows(self, block_bytes: int = BLOCK_BYTES) -> int:
        return max(1, block_bytes // max(1, self.features * 4))

    def blocks(self, block_rows: int | None = None) -> list[tuple[int, int]]:
        """The units of shuffling: each shard, cut into pieces of ``block_rows``."""
        size = block_rows or self.block_rows()
        out = []
        for k, seg in enumerate(self.segments):
            base = int(self.starts[k])
            out += [(base + a, base + min(a + size, seg.rows)) for a in range(0, seg.rows, size)]
        return out

    def _read_segment(self, seg: Segment, a: int, b: int, dtype: np.dtype = FLOAT32) -> np.ndarray:
        if b <= a:
            return np.empty((0, self.features), dtype)
        nbytes = (b - a) * seg.row_bytes
        raw = bytearray(nbytes)
        view, done = memoryview(raw), 0
        with open_checked(seg.path, "data file", DataError) as f:
            # pread returns at most about 2 GiB, and network file systems may return less.
            while done < nbytes:
                got = os.preadv(f.fileno(), [view[done:]], seg.offset + a * seg.row_bytes + done)
                if got == 0:
                    break
                done += got
        if done != nbytes:
            raise DataError(
                f"{seg.path} is truncated: rows {a}..{b} need {nbytes} bytes at offset "
                f"{seg.offset + a * seg.row_bytes}, read {done}"
            )
        arr = np.frombuffer(raw, seg.dtype).reshape(b - a, *seg.item_shape)
        if channels_last(seg.item_shape):
            arr = arr.transpose(0, 3, 1, 2)  # (H, W, C) images: channels first
        out = arr.reshape(b - a, -1).astype(np.float32 if seg.scale != 1.0 else dtype)
        if seg.scale != 1.0:
            out *= np.float32(seg.scale)
        return out

    # ---- one pass -----------------------------------------------------------------------

    def stats(self) -> Stats:
        """One pass over the data (cached): moments, extremes, NaN/inf counts and hash."""
        if self._stats is None:
            d = self.features
            count = np.zeros(d, np.int64)
            total, total_sq = np.zeros(d), np.zeros(d)
            low, high = np.full(d, np.inf), np.full(d, -np.inf)
            nan = inf = 0
            first_bad = first_inf = None
            digest = hashlib.blake2b(digest_size=16)
            digest.update(str(self.shape).encode())
            for start, block in self.chunks():
                digest.update(block.tobytes())
                isnan = np.isnan(block)
                isinf = np.isinf(block)
                if isnan.any() or isinf.any():
                    nan += int(isnan.sum())
                    inf += int(isinf.sum())
                    if first_bad is None:
                        first_bad = start + int(np.flatnonzero((isnan | isinf).any(1))[0])
                    if first_inf is None and isinf.any():
                        first_inf = start + int(np.flatnonzero(isinf.any(1))[0])
                    block = np.where(isinf, np.nan, block)
                    observed = ~np.isnan(block)
                    count += observed.sum(0)
                    b64 = np.where(observed, block, 0.0)
                    low = np.minimum(low, np.where(observed, block, np.inf).min(0))
                    high = np.maximum(high, np.where(observed, block, -np.inf).max(0))
                else:
                    count += len(block)
                    b64 = block.astype(np.float64)
                    low = np.minimum(low, block.min(0))
                    high = np.maximum(high, block.max(0))
                total += b64.sum(0)
                total_sq += np.einsum("ij,ij->j", b64, b64)
            self._stats = Stats(
                count,
                total,
                total_sq,
                low,
                high,
                nan,
                inf,
                first_bad,
                digest.hexdigest(),
                first_inf,
            )
        return self._stats

    def check(self, name: str, *, allow_missing: bool = False) -> Stats:
        """Refuse what in-memory data would be refused: NaN (unless missing values are
        allowed), infinities, a data set with nothing observed."""
        s = self.stats()
        name = self.named(name)
        if s.inf or (s.nan and not allow_missing):
            first = s.first_inf if allow_missing else s.first_bad
            raise non_finite(name, s.nan, s.inf, first, allow_missing, self.where(first))
        if not s.count.any():
            raise DataError(f"{name} has no observed values: every entry is NaN")
        return s

    def range(self) -> tuple[float, float]:
        """The smallest and largest observed value."""
        s = self.stats()
        seen = s.count > 0
        return float(s.low[seen].min()), float(s.high[seen].max())

    def head(self, rows: int) -> Tensor:
        """The first ``rows`` samples in memory (for pictures and baselines)."""
        return torch.from_numpy(self.read(0, rows))


# ---- opening files ------------------------------------------------------------------------


def open_disk_array(path: str | Path) -> DiskArray:
    """A .npy file, a folder of .npy shards (read in name order; each the same shape but
    for the number of samples) or an uncompressed IDX file (uint8 pixels read as [0, 1]),
    as a :class:`DiskArray`."""
    path = Path(path)
    if path.is_dir():
        if folder_kind(path) == "images":  # a folder with shards too is refused there
            raise not_streamed(path)
        shards = shard_files(path)
        segments = [_npy_segment(p) for p in shards]
        first = segments[0].item_shape
        for seg in segments[1:]:
            if seg.item_shape != first:
                raise DataError(
                    f"the shards of {path} differ in shape: {segments[0].path.name} holds "
                    f"samples of shape {first}, {seg.path.name} of shape {seg.item_shape}"
                )
        data = DiskArray(segments, path.name, stored_image_shape(first))
        data._sharded = True
        return data
    require_regular_file(path, "data file", DataError)
    if path.suffix.lower() == ".gz":
        raise DataError(
            f"{path} is compressed, and a compressed file cannot be read a block at a time: "
            f"decompress it first (gunzip -k {path})"
        )
    if path.suffix.lower() == ".npy":
        seg = _npy_segment(path)
        return DiskArray([seg], path.name, stored_image_shape(seg.item_shape))
    if path.suffix.lower() in (".npz", ".csv", ".txt"):
        raise DataError(
            f"{path} cannot be read a block at a time: streaming reads .npy files, folders "
            "of .npy shards and uncompressed IDX files (save it with np.save, or load it "
            "without --stream)"
        )
    seg = _idx_segment(path)
    return DiskArray([seg], path.name, stored_image_shape(seg.item_shape))


def shard_files(folder: Path) -> list[Path]:
    """The .npy shards of a folder in name order. Every entry is read or refused by name
    (hidden files and thumbnail caches aside, as in a folder of images): a shard that is
    not a regular file (a folder, a dangling link, a link to a device), a subfolder or a
    file of another type is never skipped without a word."""
    bad, other = [], []
    shards = []
    for name in sorted(os.listdir(folder)):
        if skipped(name):
            continue
        entry = folder / name
        if entry.suffix.lower() != ".npy":
            other.append(name + ("/" if entry.is_dir() else ""))
        elif entry.is_dir():
            bad.append(f"{name} (a folder)")
        elif not entry.exists():
            bad.append(f"{name} (a link to nothing)")
        elif not entry.is_file():
            bad.append(f"{name} (not a regular file: a pipe, socket or device)")
        else:
            shards.append(entry)
    if bad:
        raise DataError(
            f"{folder} is a folder of .npy shards, and {', '.join(bad[:3])}"
            f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''} cannot be read as one: "
            "every shard is read, none is skipped; replace or remove it"
        )
    if other:
        raise DataError(
            f"{folder} is a folder of .npy shards, and it also holds "
            f"{', '.join(other[:3])}{f' and {len(other) - 3} more' if len(other) > 3 else ''}, "
            "which is not a shard: every file of a shard folder is read, none is skipped; "
            "move it out (hidden files, Thumbs.db and desktop.ini are left out)"
        )
    if not shards:
        raise DataError(f"{folder} is a folder without .npy shards or image files")
    return shards


def can_stream(path: str | Path) -> bool:
    """Whether ``path`` is something :func:`open_disk_array` reads (a folder of shards
    whose entries it then refuses, where one cannot be read, included)."""
    path = Path(path)
    if path.is_dir():
        return folder_kind(path) == "shards"
    if not path.is_file():  # a FIFO or a device would block, or never end: not data
        return False
    if path.suffix.lower() == ".npy":
        try:
            _npy_segment(path)  # Fortran order, object arrays... are read whole, if at all
        except DataError:
            return False
        return True
    try:
        with open_checked(path, "data file", DataError) as f:
            magic = f.read(4)
    except (DataError, OSError):
        return False
    return is_idx_magic(magic)


def size_on_disk(path: str | Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in shard_files(path))
    return path.stat().st_size if path.is_file() else 0


def _npy_segment(path: Path) -> Segment:
    head = read_npy_header(path)
    shape, fortran, dtype = head.shape, head.fortran, head.dtype
    if dtype.hasobject or dtype.kind not in "biuf":
        raise not_numbers(dtype, str(path))
    if len(shape) < 2:
        raise DataError(f"{path} must be 2-D (samples, features) or images, got shape {shape}")
    if fortran and len(shape) > 1 and math.prod(shape[1:]) > 1:
        raise DataError(
            f"{path} is stored in Fortran (column) order, which cannot be read a sample at a "
            "time; save it with np.save(path, np.ascontiguousarray(x))"
        )
    seg = Segment(path, head.offset, int(shape[0]), dtype, tuple(int(s) for s in shape[1:]))
    _check_size(seg)
    return seg


# The refusal of a file streamed that is neither a .npy file nor an IDX file.
NOT_STREAMABLE = (
    "{path} is neither a .npy file nor an IDX file (bad magic number {magic}); stream .npy "
    "files, shard folders or IDX files"
)


def _idx_segment(path: Path) -> Segment:
    with open_checked(path, "data file", DataError) as f:
        head = read_idx_header(f, path, NOT_STREAMABLE)
    dtype, shape = head.dtype, head.shape
    if len(shape) < 2:
        raise DataError(f"{path} holds a 1-D array (labels?), not samples of features")
    scale = 1.0 / 255.0 if dtype == np.dtype(">u1") else 1.0
    seg = Segment(path, head.size, shape[0], dtype, shape[1:], scale)
    _check_size(seg)
    return seg


def _check_size(seg: Segment) -> None:
    expected = seg.offset + seg.rows * seg.row_bytes
    actual = seg.path.stat().st_size
    if actual < expected:
        raise DataError(
            f"{seg.path} is truncated: {seg.rows} samples of shape {seg.item_shape} need "
            f"{expected} bytes, the file has {actual}"
        )


def iter_rows(x: Any, batch_size: int) -> Iterator[Tensor]:
    """Batches of in-memory or on-disk data, in order, as CPU tensors."""
    if isinstance(x, DiskArray):
        for _, block in x.chunks(max(batch_size, 1)):
            yield torch.from_numpy(block)
        return
    yield from x.split(batch_size)
