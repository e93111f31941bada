"""A run's data by its source: a built-in data set by name, or a file or folder (read
whole, or left on disk and streamed), with its held-out test data; see
:func:`load_source`.

All data is held as float32 ``(samples, features)``; images are flattened and their
``(C, H, W)`` shape travels alongside, for convolutional models and pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from ..core.errors import ConfigError, DataError
from .builtin import load_digits, load_mnist
from .columns import match_columns, say_order
from .dataset import Dataset
from .files import load_array, read_table
from .formats.images import KINDS as IMAGE_KINDS
from .formats.images import Images, folder_kind, load_images, not_streamed
from .shapes import image_shape_of
from .streaming import STREAM_ABOVE, can_stream, open_disk_array, size_on_disk
from .validation import to_tensor


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
        return _load_streamed(source, test, allow_missing, stream, header)
    table = read_table(source, header=header)
    arr = table.array
    x = to_tensor(arr, str(source), allow_missing=allow_missing)
    data = Dataset(Path(source).name, x, image_shape=image_shape_of(arr), columns=table.columns)
    data.notes += [f"{source}: {note}" for note in table.notes]
    if test is not None:
        held_table = read_table(test, header=header)
        data.notes += [f"{test}: {note}" for note in held_table.notes]
        if Path(source).suffix.lower() in (".csv", ".txt"):
            say_order(test, held_table.columns, table.columns)  # from here: it warns at our caller
        test_arr = match_columns(
            held_table.array, held_table.columns, table.columns, str(test), str(source)
        )
        held = to_tensor(test_arr, str(test), allow_missing=allow_missing)
        data.test = _same_features(held, data, test, source)
    return data


def _load_streamed(
    source: str, test: str | None, allow_missing: bool, stream: bool | None, header: str
) -> Dataset:
    """:func:`load_source` where the source is read from disk a block at a time (the
    test data too, where it streams; else it is read whole)."""
    train = open_disk_array(source)
    data = Dataset(train.name, train, image_shape=train.image_shape)  # type: ignore[arg-type]
    if test is not None:
        held = open_disk_array(test) if streams(test, stream) else None
        if held is None:
            table = read_table(test, header=header)
            data.notes += [f"{test}: {note}" for note in table.notes]
            held = to_tensor(table.array, test, allow_missing=allow_missing)  # type: ignore[assignment]
        data.test = _same_features(held, data, test, source)  # type: ignore[arg-type]
    return data


def _same_features(held: Tensor, data: Dataset, test: str, source: str) -> Tensor:
    """The test data ``held``, refused where its samples have other features than the
    training data's."""
    if held.shape[1] != data.input_dim:
        raise DataError(f"{test} has {held.shape[1]} features but {source} has {data.input_dim}")
    return held


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
    data.test = _same_features(x, data, str(test), source)
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
