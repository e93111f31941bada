"""IDX files, the format of MNIST: a 4-byte magic number (00 00, the type of the values,
the number of dimensions), each dimension as a big-endian uint32, then the values.

One header reader serves both readers of the format: :func:`read_idx` (the whole file,
gzip-compressed or raw) and the streamed reader (:mod:`aekit.data.streaming`, an
uncompressed file read a block at a time).
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import DataError, one_line
from ...core.io import memory_bytes, open_checked

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# The refusal of a file without an IDX magic number, read whole.
NOT_IDX = (
    "{path} is not an IDX file: bad magic number {magic}; expected 00 00 <type> <ndim>, "
    "e.g. 00000803 for MNIST images"
)


def is_idx_magic(magic: bytes) -> bool:
    """Whether the first four bytes of a file are an IDX magic number."""
    return len(magic) == 4 and magic[:2] == b"\0\0" and magic[2] in IDX_TYPES and magic[3] > 0


@dataclasses.dataclass(frozen=True)
class IdxHeader:
    """What an IDX header says: the values' type (big-endian) and the array's shape."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """The header's length in bytes: where the values start."""
        return 4 + 4 * len(self.shape)


def read_idx_header(stream: Any, path: Path, bad_magic: str = NOT_IDX) -> IdxHeader:
    """Read the header at the start of ``stream`` (a file or a gzip stream). A bad magic
    number is refused with ``bad_magic`` (a template of ``path`` and ``magic``, in hex), a
    header cut short with what it needs."""
    magic = stream.read(4)
    if not is_idx_magic(magic):
        raise DataError(bad_magic.format(path=path, magic=magic.hex() or "(empty)"))
    ndim = magic[3]
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"{path} is truncated: its header needs {4 + 4 * ndim} bytes ({ndim} dimensions), "
            f"the file has {4 + len(dims)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    return IdxHeader(np.dtype(IDX_TYPES[magic[2]]), shape)


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
    head = read_idx_header(stream, path)
    dtype, shape, header = head.dtype, head.shape, head.size
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
