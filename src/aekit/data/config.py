"""The schema of the data: :class:`DataConfig`, where a run's data comes from and how it
is read."""

from __future__ import annotations

import dataclasses
from typing import Literal

from ..core.config import _Config, describe, flag, require
from .formats.images import is_image_folder

MAX_IMAGE_SIDE = 1 << 16


@dataclasses.dataclass
class DataConfig(_Config):
    """Where the data comes from.

    Parameters
    ----------
    source : "digits" (scikit-learn's, no download), "mnist" (IDX files in data_dir,
        $AEKIT_DATA or the cache), a .npy, .npz or .csv file, or a folder of images
        (.png, .jpg, ...: one image a sample, in name order).
    data_dir : folder with the MNIST files (else $AEKIT_DATA or the cache).
    test : a file or a folder of images of held-out data for the final evaluation (file
        sources only).
    limit : use only the first N training samples.
    stream : read the data from disk a buffer at a time instead of loading it (.npy files,
        folders of .npy shards, uncompressed IDX files); default: for files above 1 GiB
        and for folders of shards.
    shuffle_buffer_mb : streaming: MiB of data shuffled together (blocks of 4 MiB are
        shuffled, then the rows of each buffer).
    read_workers : streaming: threads reading the next buffers while the model trains.
    image_size : folders of images: resize every image to H,W (Lanczos filter; the aspect
        ratio is not kept); without it, images of different sizes are refused.
    image_mode : folders of images: convert every image to grey, rgb or rgba (alpha is
        dropped, not composited); without it, images are kept as they are (grey 1
        channel, RGB 3, RGBA 4) and a folder of mixed kinds is refused.
    header : CSV files: whether the first line names the columns ("yes", "no"); "auto"
        reads a line of names as a header and a line of numbers or missing values as a
        sample, and refuses a line that could be either (pandas' column numbers 0,1,...).
    """

    source: str = dataclasses.field(default="digits", metadata=flag("--data"))
    data_dir: str | None = None
    test: str | None = None
    limit: int | None = None
    stream: bool | None = None
    shuffle_buffer_mb: int = 64
    read_workers: int = 2
    image_size: tuple[int, int] | None = None
    image_mode: Literal["grey", "rgb", "rgba"] | None = None
    header: Literal["auto", "yes", "no"] = "auto"

    def validate(self) -> None:
        require(bool(self.source), "data source must not be empty")
        require(
            self.image_size is None or all(1 <= n <= MAX_IMAGE_SIDE for n in self.image_size),
            f"image_size must be two sizes (height, width) in [1, {MAX_IMAGE_SIDE}], "
            f"got {self.image_size}",
        )
        require(self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}")
        require(
            1 <= self.shuffle_buffer_mb <= 1 << 20,
            f"shuffle_buffer_mb must be in [1, {1 << 20}], got {self.shuffle_buffer_mb}",
        )
        require(
            1 <= self.read_workers <= 64,
            f"read_workers must be in [1, 64], got {self.read_workers}",
        )

    @property
    def named(self) -> bool:
        """Whether the source is a built-in data set rather than a file."""
        return self.source in NAMED_SOURCES

    def ignored(self, streamed: bool, given: bool = False) -> list[str]:
        """Settings given that the data leaves unused, one message each (as
        :meth:`TrainConfig.ignored`): ``streamed`` whether the training data is read from
        disk, ``given`` whether it came in Python (an array, a tensor, a Dataset or a
        DiskArray) rather than from ``source``; check the config with the source used."""
        defaults = type(self)()
        imaging = [name for name in ("image_size", "image_mode") if getattr(self, name)]
        reads = [
            name
            for name in ("shuffle_buffer_mb", "read_workers")
            if getattr(self, name) != getattr(defaults, name)
        ]
        if given:
            unused = [name for name in ("data_dir", "test") if getattr(self, name) is not None]
            if self.header != "auto":
                unused.append("header")
            if self.stream is not None and self.stream != streamed:
                unused.append("stream")
            return [
                f"{n}={getattr(self, n)} does nothing with data given in Python"
                for n in unused + reads
            ] + [
                f"{n}={describe(getattr(self, n))} does nothing with data given in Python"
                for n in imaging
            ]
        out = []
        if imaging and not any(
            path is not None and is_image_folder(path) for path in (self.source, self.test)
        ):
            out += [
                f"{n}={describe(getattr(self, n))} does nothing with source={self.source} "
                "(it applies to folders of images)"
                for n in imaging
            ]
        tables = [p for p in (self.source, self.test) if p and p.lower().endswith((".csv", ".txt"))]
        if self.header != "auto" and not tables:
            out.append(
                f"header={self.header} does nothing with source={self.source} (it applies "
                "to CSV files)"
            )
        if self.data_dir is not None and self.source != "mnist":
            out.append(
                f"data_dir={self.data_dir} does nothing with source={self.source} "
                "(it is the folder of the MNIST files)"
            )
        if not streamed:
            out += [
                f"{n}={getattr(self, n)} does nothing: the data is in memory, not streamed "
                "from disk"
                for n in reads
            ]
        return out


NAMED_SOURCES = ("digits", "mnist")
