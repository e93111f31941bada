"""Folders of image files as data: one image a sample.

A folder that holds image files (.png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp) is a
data source wherever aekit takes a data path. It is read whole, in sorted name order, as
float32 ``(N, C, H, W)`` in [0, 1] (8-bit values / 255, 16-bit / 65535), the file names
kept beside the rows. What it holds is kept as it is, or refused with the fix:

- Grey images are C=1, grey with alpha 2, RGB 3, RGBA 4: nothing is converted unless
  ``image_mode`` asks for it ("grey", "rgb", "rgba"; alpha is dropped, not composited;
  colour to grey by the ITU-R 601 luma). Every image must be of one kind, else the first
  that differs is named. A palette image (every GIF, some PNGs) has no pixel values of
  its own: it is read as the colours of its palette (grey where every palette entry is
  grey, else RGB; with alpha where it has transparency), and the output says so.
- Every image must have one size, else the first that differs is named; ``image_size``
  (H, W) resizes all of them (Lanczos filter, alpha premultiplied; the aspect ratio is not
  kept), and the output says how many were resized.
- Hidden files (names starting with ".") and the thumbnail caches Thumbs.db and
  desktop.ini are skipped; any other file that is not an image, and any subfolder, is
  refused by name rather than silently left out. A folder with images and .npy shards
  both, or with neither, is refused.
- An unreadable or damaged image, and a file of several frames (an animated GIF, a
  multi-page TIFF), is refused by name. JPEG orientation tags are applied: images are read
  as a viewer shows them. 32-bit float images (mode F, TIFF) are read as stored.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import DataError
from ...core.io import open_checked
from ...core.schema import coerce

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SKIPPED_NAMES = ("thumbs.db", "desktop.ini")  # thumbnail caches that Windows writes
IMAGE_MODES = ("grey", "rgb", "rgba")
KINDS = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}
RESIZE_FILTER = "Lanczos"
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as Pillow's "L"
MAX_SIDE = 1 << 16
LISTED = 3  # file names listed in a refusal


@dataclasses.dataclass
class Images:
    """Images read from a folder by :func:`load_images`.

    ``array`` is float32 ``(N, C, H, W)``; ``files`` the file names, one per row, in the
    order of the rows (sorted by name); ``notes`` says what was done to the images beyond
    reading them (resized, palettes expanded, converted), one sentence each.
    """

    array: np.ndarray
    files: list[str]
    folder: str
    notes: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.array.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> str:
        """The images in words, e.g. ``"12 grey images of 8x8"``."""
        c, h, w = self.shape
        n = len(self)
        return f"{n} {KINDS.get(c, f'{c}-channel')} image{'s' if n != 1 else ''} of {h}x{w}"


def load_images(
    folder: str | Path,
    image_size: Sequence[int] | None = None,
    image_mode: str | None = None,
) -> Images:
    """Read a folder of image files as data (see the module docstring for what is kept,
    converted and refused).

    Parameters
    ----------
    folder : the folder; its images are read in sorted name order.
    image_size : (H, W) to resize every image to; without it all must have one size.
    image_mode : "grey", "rgb" or "rgba" to convert every image to; without it all must
        be of one kind (grey, grey+alpha, RGB, RGBA).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.datasets import load_digits
    >>> folder = tempfile.mkdtemp()
    >>> for i, digit in enumerate(load_digits().images[:3]):
    ...     pixels = (digit * 255 / 16).round().astype(np.uint8)
    ...     Image.fromarray(pixels).save(os.path.join(folder, f"digit{i}.png"))
    >>> images = load_images(folder)
    >>> images.array.shape, images.files
    ((3, 1, 8, 8), ['digit0.png', 'digit1.png', 'digit2.png'])
    >>> images.describe()
    '3 grey images of 8x8'
    >>> load_images(folder, image_size=(16, 16)).notes
    ['resized all 3 images to 16x16 (Lanczos filter; the aspect ratio is not kept)']
    """
    folder = Path(folder)
    size = _check_size(image_size)
    if image_mode is not None and image_mode not in IMAGE_MODES:
        raise DataError(f"image_mode must be one of {', '.join(IMAGE_MODES)}, got {image_mode!r}")
    paths = image_files(folder)
    done = _Done()
    array: np.ndarray | None = None
    first: tuple[str, int, tuple[int, int]] | None = None  # name, channels, (H, W)
    for i, path in enumerate(paths):
        pixels, palette = _read_as(path, image_mode, done)
        c, h, w = pixels.shape
        if first is None:
            first = (path.name, c, (h, w))
            _check_memory(folder, len(paths), c, *(size or (h, w)))
        _check_like_first(folder, path, pixels.shape, first, size)
        if size is not None and (h, w) != size:
            pixels = _resize(pixels, size, unit=_unit(pixels, palette))
            done.resized += 1
        if array is None:
            array = np.empty((len(paths), *pixels.shape), dtype=np.float32)
        array[i] = pixels
    assert array is not None
    notes = done.notes(len(paths), image_mode, size)
    return Images(array, [p.name for p in paths], str(folder), notes)


@dataclasses.dataclass
class _Done:
    """What was done to a folder's images beyond reading them, counted for its notes."""

    palettes: int = 0
    palette_kinds: set[str] = dataclasses.field(default_factory=set)
    converted: int = 0
    resized: int = 0

    def notes(self, n: int, image_mode: str | None, size: tuple[int, int] | None) -> list[str]:
        """One sentence for each thing done to the ``n`` images."""
        notes = []
        if self.palettes:
            kinds = " or ".join(sorted(self.palette_kinds))
            notes.append(
                f"read {_count(self.palettes, n)} palette images as the colours of their "
                f"palette ({kinds})"
            )
        if self.converted:
            notes.append(f"converted {_count(self.converted, n)} images to {image_mode}")
        if size is not None:
            h, w = size
            notes.append(
                f"resized {_count(self.resized, n)} images to {h}x{w} ({RESIZE_FILTER} filter; "
                "the aspect ratio is not kept)"
                if self.resized
                else f"image_size {h},{w}: every image already had that size"
            )
        return notes


def _read_as(path: Path, image_mode: str | None, done: _Done) -> tuple[np.ndarray, str | None]:
    """One image's pixels (C, H, W), converted to ``image_mode`` where given, and the
    kind its palette was read as; what was done is counted in ``done``."""
    pixels, palette = _read(path, image_mode is not None)
    if palette is not None:
        done.palettes += 1
        done.palette_kinds.add(palette)
    if image_mode is not None:
        before = pixels.shape[0]
        pixels = _convert(pixels, image_mode)
        done.converted += pixels.shape[0] != before
    return pixels, palette


def _check_like_first(
    folder: Path,
    path: Path,
    shape: tuple[int, ...],
    first: tuple[str, int, tuple[int, int]],
    size: tuple[int, int] | None,
) -> None:
    """Refuse an image of another kind than the folder's first, or (without ``size`` to
    resize them to) of another size."""
    c, h, w = shape
    if c != first[1]:
        raise DataError(
            f"{path} is {_kind(c)} but {first[0]}, the first image of {folder}, is "
            f"{_kind(first[1])}: the images of a folder must be of one kind; convert them "
            "all with image_mode (--image-mode grey, rgb or rgba)"
        )
    if size is None and (h, w) != first[2]:
        fh, fw = first[2]
        raise DataError(
            f"{path} is {h}x{w} (height x width) but {first[0]}, the first image of "
            f"{folder}, is {fh}x{fw}: the images of a folder must have one size; resize "
            f"them all with image_size (--image-size H,W, e.g. --image-size {fh},{fw})"
        )


def _check_memory(folder: Path, n: int, c: int, h: int, w: int) -> None:
    """Refuse images that would take more memory than the machine has, before any is
    allocated (a folder of images is read whole)."""
    need = n * c * h * w * 4
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise DataError(
            f"the {n} images of {folder} as {c}x{h}x{w} float32 take {need / 2**30:.1f} GiB, "
            f"more than this machine's {have / 2**30:.1f} GiB of memory; give a smaller "
            "image_size, or fewer images"
        )


def _count(k: int, n: int) -> str:
    return f"all {n}" if k == n else f"{k} of {n}"


def _kind(c: int) -> str:
    kind = KINDS.get(c, f"{c}-channel")
    return f"{'an' if kind.startswith('RGB') else 'a'} {kind} image"


def _check_size(image_size: Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    try:
        h, w = (coerce(n, int, "image_size") for n in image_size)
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        said = str(exc) if "finite" in str(exc) else ""
        raise DataError(
            f"image_size must be (height, width), whole numbers, got {image_size!r}"
            + (f": {said}" if said else "")
        ) from None
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise DataError(f"image_size must be two sizes in [1, {MAX_SIDE}], got {h},{w}")
    return h, w


# ---- which folder is which -----------------------------------------------------------------


def skipped(name: str) -> bool:
    """Whether a folder entry is left out without a word: hidden, or a thumbnail cache."""
    return name.startswith(".") or name.lower() in SKIPPED_NAMES


def folder_kind(path: str | Path) -> str | None:
    """What a folder holds as data: "images" (image files), "shards" (.npy files), or
    None (neither, or not a folder). A folder with both is refused: which to read would
    be a guess."""
    path = Path(path)
    if not path.is_dir():
        return None
    images, shards = [], []
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise DataError(f"cannot list the folder {path}: {exc.strerror or exc}") from None
    for name in names:
        if skipped(name):
            continue
        suffix = os.path.splitext(name)[1].lower()
        if suffix in IMAGE_SUFFIXES:
            images.append(name)
        elif suffix == ".npy":
            shards.append(name)
    if images and shards:
        raise DataError(
            f"{path} holds both image files ({_listed(images)}) and .npy shards "
            f"({_listed(shards)}): a data folder is one or the other; move one kind out"
        )
    return "images" if images else "shards" if shards else None


def is_image_folder(path: Any) -> bool:
    """Whether ``path`` names a folder of images (see :func:`folder_kind`)."""
    return isinstance(path, str | Path) and folder_kind(path) == "images"


def image_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` in sorted name order; anything else in it, other
    than hidden files and thumbnail caches, is refused by name."""
    folder = Path(folder)
    if folder_kind(folder) != "images":
        raise DataError(
            f"{folder} is not a folder of images (.png, .jpg, ...)"
            if not folder.is_dir()
            else f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})"
        )
    images, other, folders = [], [], []
    for name in sorted(os.listdir(folder)):
        if skipped(name):
            continue
        path = folder / name
        if path.is_dir():
            folders.append(name)
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            other.append(name)
        elif not path.is_file():
            other.append(f"{name} (not a regular file)")
        else:
            images.append(path)
    if folders:
        raise DataError(
            f"{folder} holds subfolders ({_listed(folders)}): a folder of images is read "
            "as it is, one image a sample, without its subfolders; give a folder that "
            "holds the images themselves, or move the subfolders out"
        )
    if other:
        raise DataError(
            f"{folder} holds files that are not images ({_listed(other)}) beside "
            f"{len(images)} image(s): every file of a folder of images is data, and none "
            f"is left out unsaid; move them out (images: {', '.join(IMAGE_SUFFIXES)}; "
            "hidden files, Thumbs.db and desktop.ini are skipped)"
        )
    return images


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def not_streamed(path: str | Path) -> DataError:
    """The refusal of a folder of images asked to stream."""
    return DataError(
        f"{path} is a folder of images, which is read into memory: streaming reads .npy "
        "files, folders of .npy shards and uncompressed IDX files; leave out --stream "
        "(stream=False)"
    )


# ---- one image -----------------------------------------------------------------------------


def _read(path: Path, converting: bool) -> tuple[np.ndarray, str | None]:
    """The pixels of one image file as float32 (C, H, W), and the kind its palette was
    read as (None for an image without a palette)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with open_checked(path, "image file", DataError) as file, Image.open(file) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise DataError(
                    f"{path} holds {frames} frames (an animation or a multi-page file): aekit "
                    "reads one image a file; save the frames you want as separate images"
                )
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return _pixels(oriented if oriented is not None else image, path, converting)
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(
            f"cannot read the image {path}: its format is not recognised (damaged, or not an image)"
        ) from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"cannot read the image {path}: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read the image {path} (damaged?): {reason}") from None


def _pixels(image: Any, path: Path, converting: bool) -> tuple[np.ndarray, str | None]:
    palette = None
    mode = image.mode
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in image.info
        entries = np.asarray(image.getpalette() or [0, 0, 0]).reshape(-1, 3)
        grey = bool((entries == entries[:, :1]).all())
        mode = ("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")
        image = image.convert(mode)
        palette = KINDS[len(mode)]
    elif mode == "1":
        image, mode = image.convert("L"), "L"  # black and white: grey 0 or 1
    if mode in ("L", "LA", "RGB", "RGBA"):
        pixels = np.asarray(image, dtype=np.float32) / 255
    elif mode.startswith("I;16"):
        pixels = np.asarray(image).astype(np.float32) / 65535
    elif mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise DataError(
                f"{path} holds 32-bit integers beyond 16 bits ({values.min()} to "
                f"{values.max()}): aekit reads 8- and 16-bit images; save it as one"
            )
        pixels = values.astype(np.float32) / 65535
    elif mode == "F":
        pixels = np.asarray(image, dtype=np.float32)  # as stored
    elif converting:
        try:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        except ValueError:
            raise DataError(f"{path} is a {mode} image, which cannot be converted") from None
    else:
        raise DataError(
            f"{path} is a {mode} image: aekit reads grey, grey+alpha, RGB and RGBA images "
            "(and palette ones); convert it, or every image, with image_mode (--image-mode "
            "grey, rgb or rgba)"
        )
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels), palette


def _unit(pixels: np.ndarray, palette: str | None) -> bool:
    """Whether the pixels are in [0, 1] (all but float images), so a resize is clipped."""
    return palette is not None or bool(pixels.min() >= 0 and pixels.max() <= 1)


def _convert(pixels: np.ndarray, mode: str) -> np.ndarray:
    """(C, H, W) pixels as ``mode``: alpha is dropped (not composited) or added opaque,
    colour becomes grey by its luma, grey colour by repeating it."""
    c = pixels.shape[0]
    alpha = pixels[-1:] if c in (2, 4) else None
    colour = pixels[:-1] if alpha is not None else pixels
    if mode == "grey":
        if len(colour) == 3:
            return np.tensordot(LUMA, colour, axes=1)[None].astype(np.float32)
        return colour
    rgb = colour if len(colour) == 3 else np.repeat(colour, 3, axis=0)
    if mode == "rgb":
        return rgb
    return np.concatenate([rgb, alpha if alpha is not None else np.ones_like(colour[:1])])


def _resize(pixels: np.ndarray, size: tuple[int, int], unit: bool) -> np.ndarray:
    """(C, H, W) pixels resized to ``size`` (H, W) by the Lanczos filter, channel by
    channel in float; colour is premultiplied by alpha (as Pillow does), so transparent
    pixels lend no colour to their neighbours."""
    from PIL import Image

    h, w = size

    def resized(channel: np.ndarray) -> np.ndarray:
        image = Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32))
        return np.asarray(image.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32)

    alpha = pixels.shape[0] in (2, 4)
    if alpha:
        a = pixels[-1]
        colour = [resized(ch * a) for ch in pixels[:-1]]
        new_a = resized(a)
        safe = np.where(new_a > 1e-6, new_a, 1.0)
        out = np.stack([np.where(new_a > 1e-6, ch / safe, 0.0) for ch in colour] + [new_a])
    else:
        out = np.stack([resized(ch) for ch in pixels])
    return np.clip(out, 0, 1).astype(np.float32) if unit else out.astype(np.float32)
