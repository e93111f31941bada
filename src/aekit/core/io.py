"""Files, written so that nothing is lost: every write goes to a temporary file, is
fsynced and renamed over the target, so a crash leaves the previous version or none, never
half of one. Reading parses JSON and raw tensors only; nothing here unpickles.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from .errors import AekitError, CheckpointError


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the finished file to ``path`` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); a result file gets the mode any new file
        # would get under the umask, so others on a shared machine can read results.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float as None: JSON has no such numbers, and
    strict parsers refuse Python's ``NaN`` and ``Infinity``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(finite_json(obj), f, indent=2, allow_nan=False)
            f.write("\n")

    atomic_write(path, write)


MAX_JSON_BYTES = 16 * 2**20  # configs and run metadata are small; refuse what is not
MAX_TABLE_BYTES = 256 * 2**20  # metrics.csv: a row an epoch, for a million epochs
MAX_FIGURE_BYTES = 64 * 2**20  # a figure aekit draws is a few hundred KiB


def memory_bytes() -> int:
    """Bytes of memory this machine has (a large number where it cannot be told): no
    file larger than this is read whole."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**50


def _refuse_kind(mode: int, path: Path, what: str, error: type[AekitError]) -> None:
    if stat.S_ISDIR(mode):
        raise error(f"{what} {path} is a folder, not a file")
    if not stat.S_ISREG(mode):
        kind = (
            "a pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a special file"
        )
        raise error(
            f"{what} {path} is not a regular file ({kind}); aekit reads only regular files: "
            "replace it with the file itself"
        )


def _not_found(path: Path, what: str, error: type[AekitError]) -> AekitError:
    """The refusal of a path that leads to nothing: missing, or a link to nothing."""
    if os.path.islink(path):
        return error(
            f"{what} {path} is a link to nothing ({os.readlink(path)}); replace it with the "
            "file or remove the link"
        )
    return error(f"{what} not found: {path}")


def require_regular_file(path: Path, what: str, error: type[AekitError]) -> None:
    """Refuse a path that is missing or not a regular file (a folder, a pipe, a device such
    as /dev/zero, a link to one) by what it is, before anything opens it (a pipe would
    block). Only the file's status is read."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise _not_found(path, what, error) from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    _refuse_kind(mode, path, what, error)


def open_checked(
    path: str | Path,
    what: str = "file",
    error: type[AekitError] = CheckpointError,
    limit: int | None = None,
) -> BinaryIO:
    """Open a file for reading, the one way aekit opens what it reads: only a regular file
    (never a folder, pipe, socket or device; a link is followed and its target judged),
    opened without blocking, so a pipe is refused rather than waited on, and no larger
    than ``limit`` bytes (None: any size, for data read a block at a time). Any problem
    raises ``error`` naming ``what`` and the path."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _not_found(path, what, error) from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _refuse_kind(info.st_mode, path, what, error)
        if limit is not None and info.st_size > limit:
            raise _too_large(path, what, error, limit, info.st_size)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_checked(
    path: str | Path,
    what: str = "file",
    error: type[AekitError] = CheckpointError,
    limit: int | None = None,
) -> bytes:
    """The bytes of a file opened by :func:`open_checked`, read once and capped at
    ``limit`` (default: this machine's memory): the size is what was read, not what a stat
    said a moment before (a run folder's files are replaced while it trains)."""
    cap = memory_bytes() if limit is None else limit
    with open_checked(path, what, error, cap) as file:
        try:
            raw = file.read(cap + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
        except MemoryError:
            raise error(f"{what} {path} is too large to read into memory") from None
    if len(raw) > cap:
        raise _too_large(path, what, error, cap)
    return raw


def _too_large(
    path: Path, what: str, error: type[AekitError], cap: int, size: int | None = None
) -> AekitError:
    has = f" (it has {size:,})" if size is not None else ""
    return error(
        f"{what} {path} is over {cap:,} bytes{has}, the most aekit reads as a {what}: "
        "is it the right file?"
    )


def read_json(
    path: str | Path, what: str = "file", error: type[AekitError] = CheckpointError
) -> Any:
    """Parse a JSON file; a missing, malformed, oversized or too deeply nested one raises
    ``error`` naming it."""
    path = Path(path)
    if what == "file" and not os.path.lexists(path):
        raise error(f"missing {path}")
    raw = read_checked(path, what, error, MAX_JSON_BYTES)
    try:
        return json.loads(raw.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} is not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{what} {path} is nested too deeply to be a config") from None


def write_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def write(tmp: str) -> None:
        try:
            save_file(tensors, tmp, metadata=metadata)
        except SafetensorError as exc:  # e.g. a full disk, reported by the Rust writer
            text = str(exc)
            reason = text.split("I/O error:", 1)[1].strip() if "I/O error:" in text else text
            raise OSError(f"cannot write {path}: {reason}") from None

    atomic_write(path, write)


MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit on a header


def read_safetensors(
    path: str | Path, what: str = "weights file"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load a safetensors file's tensors and its header metadata from one read of the file.

    Reading the bytes once matters: safetensors' own ``safe_open`` reads the header and the
    tensors through separate opens of the path, so a file replaced in between (a checkpoint
    that a running training rewrites) pairs one version's metadata with another's tensors.
    Any problem is a :class:`CheckpointError` naming the file.
    """
    error = CheckpointError
    path = Path(path)
    bad = f"{path} is not a valid safetensors file"
    total = 0
    if not os.path.lexists(path):
        raise error(f"missing {what} {path}")
    with open_checked(path, what, error, memory_bytes()) as f:
        try:
            prefix = f.read(8)
            size = int.from_bytes(prefix, "little")
            total = os.fstat(f.fileno()).st_size
            if len(prefix) < 8:
                raise error(f"{bad} (only {len(prefix)} bytes)")
            if size > min(MAX_HEADER_BYTES, total - 8):
                raise error(f"{bad} (its header claims {size:,} bytes; the file has {total:,})")
            f.seek(0)
            data = f.read(total)
        except OSError as exc:
            raise error(f"cannot read {path} ({exc.strerror or exc})") from None
        except MemoryError:
            raise error(f"{path} ({total:,} bytes) is too large to load into memory") from None
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge numbers
        raise error(f"{bad} (unreadable header: {exc})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise error(f"{bad} (its metadata is not a map of strings)")
    try:
        tensors = load_safetensors_bytes(data)
    except MemoryError:
        raise error(f"{path} ({total:,} bytes) is too large to load into memory") from None
    except Exception as exc:  # the Rust parser and torch raise several types (unknown dtypes)
        raise error(f"{bad} ({type(exc).__name__}: {exc})") from None
    return tensors, metadata or {}


def read_tensors(path: str | Path, what: str = "weights file") -> dict[str, torch.Tensor]:
    """Load a safetensors file; any problem is a :class:`CheckpointError` naming it."""
    return read_safetensors(path, what)[0]


def write_npy_blocks(path: str | Path, rows: int, blocks: Iterable[Any]) -> None:
    """Write a ``rows``-row .npy file from 2-D numpy blocks that arrive one at a time (a
    result as large as data that does not fit in memory), atomically."""
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            written = 0
            for block in blocks:
                block = np.ascontiguousarray(block)
                if written == 0:
                    header = {
                        "descr": np.lib.format.dtype_to_descr(block.dtype),
                        "fortran_order": False,
                        "shape": (rows, *block.shape[1:]),
                    }
                    np.lib.format.write_array_header_2_0(f, header)
                f.write(block.tobytes())
                written += len(block)
            if written != rows:
                raise AekitError(f"wrote {written} rows where {rows} were expected")

    atomic_write(path, write)
