"""numpy's files: .npy (one array) and .npz (a zip archive of arrays). Read without
unpickling; a file whose first bytes are not its format's is refused, saying what it is.

:func:`read_npy` and :func:`read_npz` read an array whole; :func:`read_npy_header` says
where a .npy file's values are, for the streamed reader (:mod:`aekit.data.streaming`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...core.errors import DataError
from ...core.io import open_checked

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


def read_npy(path: Path) -> np.ndarray:
    """The array of a .npy file, in memory. numpy's own errors (ValueError, OSError) are
    the caller's to word."""
    check_magic(path, NPY_MAGIC, ".npy")
    # Mapped first: a header that declares more data than the file holds is refused
    # before anything is allocated for it.
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        # Not mappable (object arrays among them): the plain reader says why.
        try:
            return np.load(path, allow_pickle=False)
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
    return np.array(mapped)


def read_npz(path: Path, key: str | None) -> np.ndarray:
    """Array ``key`` of a .npz file (without a key: ``X``, ``data``, ``x`` or the only
    one). numpy's own errors (ValueError, OSError, zip errors) are the caller's to word."""
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
        return archive[key]


@dataclasses.dataclass(frozen=True)
class NpyHeader:
    """What a .npy header says: the array's shape, whether it is stored in Fortran
    order, the values' dtype, and the offset of the first value."""

    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int


def read_npy_header(path: Path) -> NpyHeader:
    """The header of a .npy file, read without its values."""
    check_magic(path, NPY_MAGIC, ".npy")
    try:
        with open_checked(path, "data file", DataError) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
    except DataError:
        raise
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable .npy file: {exc}") from None
    return NpyHeader(shape, fortran, dtype, offset)
