"""The files the commands write their results to: arrays (.npy, .csv), tables with a
header row, the results of a folder of images named by file, and reconstructions as PNGs.
Each is written whole or not at all (``atomic_write``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError
from ..core.io import atomic_write
from ..data.formats.images import Images


def _names_file(path: Path) -> Path:
    """Where the file names of the rows of a .npy result go: codes.npy -> codes.files.txt."""
    return path.with_name(path.stem + ".files.txt")


def save_named(
    path: str | Path,
    images: Images,
    array: np.ndarray,
    header: list[str],
    suffixes: tuple[str, ...] = (".npy", ".csv"),
) -> str:
    """Write the result of a folder of images with each row's file name: in a .csv, a
    first column 'file'; beside a .npy (which holds no text), a .files.txt file of the
    names, one a line in row order. Returns the words that say where the names went."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".csv":
        save_array(path, array, suffixes=suffixes)
        names = _names_file(path)
        text = "".join(f"{name}\n" for name in images.files)

        def write_names(tmp: str) -> None:
            Path(tmp).write_text(text, encoding="utf-8")

        atomic_write(names, write_names)
        return f" and the file name of each row, one a line, to {names}"
    _check_output(path, suffixes)
    rows = array.reshape(len(array), -1)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["file", *header])
            for name, row in zip(images.files, rows, strict=True):
                out.writerow([name, *exact_text(row)])

    atomic_write(path, write)
    return ", each row named by its file (column 'file')"


def save_pngs(folder: Path, files: list[str], images: np.ndarray) -> None:
    """Write (N, C, H, W) images in [0, 1] as 8-bit PNGs into a new or empty ``folder``,
    each named after its file (``cat.jpg`` -> ``cat.png``; the whole name, ``cat.jpg.png``,
    where two files share a stem)."""
    from PIL import Image

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} exists and is not an empty folder: reconstructions go to a new or "
            "empty folder, so that no file is overwritten"
        )
    if not folder.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {folder.parent}")
    if images.ndim != 4 or images.shape[1] not in (1, 2, 3, 4):
        raise ConfigError(f"reconstructions of shape {images.shape[1:]} are not images")
    names = [Path(name).stem + ".png" for name in files]
    if len(set(names)) < len(names):
        names = [name + ".png" for name in files]
    folder.mkdir(exist_ok=True)
    for name, image in zip(names, images, strict=True):
        pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        pixels = pixels[0] if len(pixels) == 1 else pixels.transpose(1, 2, 0)
        picture = Image.fromarray(np.ascontiguousarray(pixels))
        atomic_write(folder / name, lambda tmp, p=picture: p.save(tmp, format="PNG"))


def save_table(path: str | Path, table: np.ndarray, header: list[str]) -> None:
    """Write a table with its header row to a CSV file."""
    save_array(path, table, header, suffixes=(".csv",))


def save_array(
    path: str | Path,
    array: np.ndarray,
    header: list[str] | None = None,
    suffixes: tuple[str, ...] = (".npy", ".csv"),
) -> None:
    """Write ``array`` to a file of one of ``suffixes``: .npy, or .csv (with ``header``
    as its first row, where given)."""
    path = Path(path)
    suffix = _check_output(path, suffixes)
    if suffix == ".csv":
        array = array.reshape(len(array), -1)

    def write(tmp: str) -> None:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, array)
            return
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            if header is not None:
                out.writerow(header)
            for row in array:
                f.write(",".join(exact_text(row)) + "\n")

    atomic_write(path, write)


def exact_text(row: np.ndarray) -> list[str]:
    """The values of ``row`` as the shortest text that reads back as the same value in
    their dtype (float64 in full: 1234567891.0, not 1.234568e+09; float32 as 0.1, not
    0.10000000149011612); NaN as nan (a missing value, read back as one)."""
    return [str(v) for v in row]


def _check_output(path: Path, suffixes: tuple[str, ...]) -> str:
    """Refuse an output path of another type or in a folder that does not exist; its
    suffix, in lower case."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ConfigError(f"output must end in {' or '.join(suffixes)}, got {path.name!r}")
    if not path.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {path.parent}")
    return suffix


def save_image_grid(path: Path, images: np.ndarray, per_row: int = 8, least: int = 32) -> None:
    """Write (N, C, H, W) images in [0, 1] as one 8-bit PNG, ``per_row`` to a row with a
    white gap between them, each enlarged (nearest pixel) to at least ``least`` pixels
    on its longer side. The same images give the same file, byte for byte."""
    from PIL import Image

    _check_output(path, (".png",))
    if images.ndim != 4 or images.shape[1] not in (1, 3, 4):
        raise ConfigError(f"samples of shape {images.shape[1:]} are not images")
    n, c, h, w = images.shape
    zoom = max(1, -(-least // max(h, w)))
    cols, rows, gap = min(n, per_row), -(-n // per_row), 2
    height, width = rows * (h * zoom + gap) + gap, cols * (w * zoom + gap) + gap
    grid = np.ones((height, width, c), dtype=np.float32)
    for i, image in enumerate(np.clip(images, 0, 1)):
        r, col = divmod(i, cols)
        top, left = gap + r * (h * zoom + gap), gap + col * (w * zoom + gap)
        big = image.transpose(1, 2, 0).repeat(zoom, axis=0).repeat(zoom, axis=1)
        grid[top : top + h * zoom, left : left + w * zoom] = big
    pixels = (grid * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))
