"""The data of a run: the settings a caller gives turned into a :class:`RunConfig`, the
data set a config names or a caller hands in (:func:`load_dataset`), checked for the
model once; the data a resumed run must be given again; and what a run folder records of
its data (never a path), to read a folder of images as the run read its own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import CheckpointError, ConfigError, DataError
from ..data.columns import frame_columns
from ..data.config import NAMED_SOURCES, DataConfig
from ..data.dataset import Dataset
from ..data.formats.images import Images, load_images
from ..data.shapes import channels_first, image_shape_of
from ..data.sources import load_source
from ..data.streaming import DiskArray
from ..data.validation import nearly_binary, observed_range, to_tensor
from ..models.autoencoder import AutoEncoder
from .config import RunConfig
from .folder import RunFolder
from .saved import IN_MEMORY


def run_config(config: Any) -> RunConfig:
    """The :class:`RunConfig` of what :func:`aekit.train` was given: a RunConfig, its dict
    form or a config file's path (None: the default run)."""
    if config is None:
        return RunConfig()
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, str | Path):
        return RunConfig.from_file(config)
    if isinstance(config, dict):
        return RunConfig.from_dict(config)
    raise ConfigError(
        f"config must be a RunConfig, a dict or a config file path, got {type(config).__name__}"
    )


def load_dataset(cfg: DataConfig, allow_missing: bool = False) -> Dataset:
    """The data set ``cfg`` names, with its ``limit`` applied."""
    if cfg.named and cfg.test is not None:
        raise ConfigError(
            f"a test file ({cfg.test}) applies to file data; {cfg.source} has its own test split"
        )
    data = load_source(
        cfg.source,
        cfg.data_dir,
        cfg.test,
        allow_missing,
        cfg.stream,
        cfg.image_size,
        cfg.image_mode,
        cfg.header,
    )
    for part in (data.train, data.test):
        if isinstance(part, DiskArray):
            part.buffer_bytes, part.workers = cfg.shuffle_buffer_mb << 20, cfg.read_workers
    if cfg.limit is not None and isinstance(data.train, DiskArray):
        raise ConfigError("limit applies to data in memory; streamed data is read whole")
    if cfg.limit is not None:
        data.train = data.train[: cfg.limit]
        if data.train_labels is not None:
            data.train_labels = data.train_labels[: cfg.limit]
        if data.files is not None:
            data.files = data.files[: cfg.limit]
    return data


def dataset_of(
    cfg: DataConfig, data: Any, allow_missing: bool = False
) -> tuple[Dataset, DataConfig]:
    """The data of a run: ``data`` given in Python (recorded as source "array"), else
    what ``cfg`` names."""
    if isinstance(data, str | Path):  # a source, as config.data.source names one
        cfg = cfg.replace(source=str(data))
        data = None
    if data is None:
        dataset = load_dataset(cfg, allow_missing)
        # What happened is recorded: streamed or loaded (the default decides by size).
        return dataset, cfg.replace(stream=isinstance(dataset.train, DiskArray))
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, Images):
        x = to_tensor(data.array, data.folder, allow_missing=allow_missing)
        name = Path(data.folder).name
        notes = [f"{data.folder}: {note}" for note in data.notes]
        dataset = Dataset(name, x, image_shape=data.shape, files=data.files, notes=notes)
    elif isinstance(data, DiskArray):
        dataset = Dataset(data.name, data, image_shape=data.image_shape)  # type: ignore[arg-type]
    else:
        # Validates first: ragged lists, strings, NaN (unless the model allows missing values).
        x = to_tensor(data, "training data", allow_missing=allow_missing)
        if np.ndim(data) == 4:  # images, channels first whichever way they came
            data = channels_first(data.numpy() if hasattr(data, "numpy") else np.asarray(data))
            x = to_tensor(data, "training data", allow_missing=allow_missing)
        shape = image_shape_of(np.empty((0, *np.shape(data)[1:])))
        dataset = Dataset("array", x, image_shape=shape, columns=frame_columns(data))
    if cfg.limit is not None:
        if isinstance(dataset.train, DiskArray):
            raise ConfigError("limit applies to data in memory; streamed data is read whole")
        files = dataset.files[: cfg.limit] if dataset.files is not None else None
        dataset = dataclasses.replace(dataset, train=dataset.train[: cfg.limit], files=files)
    # Recorded as what it is: a data set by name, a file or folder by its name, anything
    # else given in Python as an array in memory (never taken for a named data set).
    in_memory = not isinstance(data, Images | DiskArray) and dataset.name not in NAMED_SOURCES
    source = IN_MEMORY if in_memory else dataset.name
    return dataset, cfg.replace(source=source, data_dir=None, test=None)


def in_unit_range(x: Any, missing: bool) -> bool:
    """Whether the training data ``x`` lies in [0, 1] (its missing entries aside)."""
    if isinstance(x, DiskArray):
        x.check("training data", allow_missing=missing)
        lo, hi = x.range()
        return lo >= 0 and hi <= 1
    seen = observed_range(x)  # a missing entry is no evidence of range
    return seen is None or (seen[0] >= 0 and seen[1] <= 1)


def is_nearly_binary(x: Any) -> bool:
    """Whether training data ``x`` in [0, 1] is nearly binary, as pen strokes are
    (:func:`~aekit.data.validation.nearly_binary`; data on disk: its first rows)."""
    if isinstance(x, DiskArray):
        x = x.read(0, min(len(x), 10_000))
    return nearly_binary(torch.as_tensor(x))


def check_data(model: AutoEncoder, x: Any, name: str) -> Any:
    """``x`` checked for ``model`` as data to learn from or be judged on: an in-memory
    array as the tensor check_input returns, data on disk as it is (its one pass cached)."""
    if isinstance(x, DiskArray):
        model.check_disk_input(x, name, targets=True)
        return x
    return model.check_input(x, name, targets=True)


def resume_data_config(
    stored: DataConfig, run: Path, data: Any, data_dir: str | None, test: str | None
) -> DataConfig:
    """The data of a resumed run. Paths stored in a run folder are not trusted: file data
    and MNIST folders must be named again."""
    if isinstance(data, DataConfig):
        return data
    cfg = stored.replace(data_dir=data_dir, test=test)
    if isinstance(data, str):
        if data != stored.source and (stored.named or data in NAMED_SOURCES):
            raise ConfigError(
                f"{run} was trained on {stored.source!r}, not {data!r}: a run resumes on the "
                "data it was trained on"
            )
        return cfg.replace(source=data)
    if data is None and not stored.named:
        if stored.source == IN_MEMORY:
            raise ConfigError(
                f"{run} was trained on an in-memory array from Python, which the folder does "
                "not hold: give the same data again (data= in Python, --data FILE on the "
                "command line, with the array saved to it)"
            )
        raise ConfigError(
            f"{run} was trained on {stored.source!r}; paths stored in a run folder are not "
            "used: give the same data again (data= in Python, --data FILE on the command line)"
        )
    if test is None and stored.test is not None:
        raise ConfigError(
            f"{run} was evaluated on the test file {stored.test!r}; paths stored in a run "
            "folder are not used: give it again (test= in Python, --test FILE on the command "
            "line)"
        )
    return cfg


def _data_section(run: RunFolder) -> Any:
    section = run.read_config().get("data", {})
    if not isinstance(section, dict):
        raise CheckpointError(f"{run.path}/config.json: 'data' must be an object")
    # The source, how much of it trained and how its images were read; never a path
    # (data_dir, test).
    kept = ("source", "limit", "image_size", "image_mode")
    return {k: v for k, v in section.items() if k in kept}


def stored_data(run: RunFolder) -> DataConfig | None:
    """The data a run folder records (never a path in it), or None where it records none
    (a folder saved by a scikit-learn estimator of aekit before 0.2, or by save_model):
    no command falls back to a default data set for such a folder."""
    section = _data_section(run)
    if "source" not in section:
        return None
    return DataConfig.from_dict(section, "data")


def read_images(model: AutoEncoder | str | Path, folder: str | Path) -> Images:
    """The folder of images ``folder`` read for ``model`` (a model, or a run folder): as
    the run read its training images, resized to its ``image_size`` and converted to its
    ``image_mode`` where it had them (see :func:`aekit.load_images`)."""
    settings: dict[str, Any] = {}
    if isinstance(model, str | Path):
        stored = stored_data(RunFolder(model))
        if stored is not None:
            settings = {"image_size": stored.image_size, "image_mode": stored.image_mode}
    return load_images(folder, **settings)


def check_images(model: AutoEncoder, images: Images) -> None:
    """Refuse images of another size or kind than the model's, naming the folder."""
    cfg = model.config
    if cfg is None or cfg.image_shape is None or tuple(cfg.image_shape) == images.shape:
        return
    wanted = "x".join(map(str, cfg.image_shape))
    got = "x".join(map(str, images.shape))
    c, h, w = cfg.image_shape
    mode = {1: "grey", 3: "rgb", 4: "rgba"}.get(c)
    python = f"aekit.load_images(folder, image_size=({h}, {w})" + (
        f", image_mode={mode!r})" if mode else ")"
    )
    raise DataError(
        f"{images.folder} holds {images.describe()} ({got}) but the model takes images of "
        f"{wanted} (channels x height x width): give images of that size and kind, or read "
        f"them resized and converted (in Python: {python})"
    )
