"""The built-in data sets, by name: ``digits`` (scikit-learn's, no download) and
``mnist`` (the four IDX files, found in a folder or downloaded once into the cache).
A new named data set is a loader here returning a :class:`Dataset`, and its name in
``NAMED_SOURCES`` (:mod:`aekit.data.config`) and :func:`aekit.data.sources.load_source`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..core.errors import DataError
from .dataset import Dataset
from .formats.idx import read_idx


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits scaled to [0, 1]; a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    X, y = sk_load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    return Dataset("digits", torch.from_numpy(X_tr), torch.from_numpy(X_te), (1, 8, 8), y_tr, y_te)


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
