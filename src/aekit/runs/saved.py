"""What a run folder saved, read back: its ``config.json`` checked section by section
(:func:`read_run_config`), where its model learned from (:func:`data_origin`), and the
model itself (:func:`load`, ``aekit.load``), whatever its family.

Nothing here unpickles: a run folder from a stranger can at worst fail to load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import CHECKPOINT_FILE
from ..core.errors import AekitError, CheckpointError, ConfigError
from ..core.io import read_json
from ..core.schema import check_known
from ..core.version import __version__
from ..models.families import (
    CONFIG_FILE,
    DEFAULT_FAMILY,
    FAMILIES,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    model_config_of,
    rebuild_model,
)
from .config import RUN_METADATA, RunConfig

ESTIMATOR_FILE = "estimator.json"  # beside config.json in a folder a scikit-learn estimator saved


def read_run_config(path: str | Path) -> dict[str, Any]:
    """config.json of a run folder, checked for its sections, format and library version."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"run folder not found: {path}")
    run_files = (CONFIG_FILE, WEIGHTS_FILE, CHECKPOINT_FILE)
    if not path.is_dir() or not any((path / name).exists() for name in run_files):
        raise CheckpointError(
            f"{path} is not a run folder (expected a folder holding {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    config = read_json(path / CONFIG_FILE)
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"{path / CONFIG_FILE} has no 'model' section")
    known = {*RUN_METADATA, *RunConfig.__dataclass_fields__}
    try:
        check_known(config, known, str(path / CONFIG_FILE))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    version = config.get("aekit_version")
    if not isinstance(version, str) or _version_tuple(version) is None:
        raise CheckpointError(
            f"{path / CONFIG_FILE}: missing or malformed aekit_version {version!r}"
        )
    if _version_tuple(version) > _version_tuple(__version__):  # type: ignore[operator]
        raise CheckpointError(
            f"{path} was written by aekit {version}, newer than this aekit {__version__}; "
            "upgrade aekit to load it"
        )
    if config.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise CheckpointError(f"{path / CONFIG_FILE}: unsupported format {config.get('format')!r}")
    family = config.get("family", DEFAULT_FAMILY)
    if not isinstance(family, str) or family not in FAMILIES:
        raise CheckpointError(
            f"{path / CONFIG_FILE}: unknown model family {family!r}; known: {', '.join(FAMILIES)}"
        )
    _check_sections(config, path)
    return config


def _check_sections(config: dict[str, Any], path: Path) -> None:
    """Refuse a config.json whose sections are not what aekit writes (a setting of the
    wrong type, ``"hidden": null``, a result that is no object), naming the file and the
    setting, so that no command reads a value it cannot use."""
    where = path / CONFIG_FILE
    model_config_of(config, path)
    sections = {k: config[k] for k in ("data", "training", "pretrain", "output") if k in config}
    for name, section in sections.items():
        if not isinstance(section, dict) and not (name == "pretrain" and section is None):
            raise CheckpointError(
                f"{where}: '{name}' must be an object, got {type(section).__name__}"
            )
    try:
        RunConfig.from_dict(sections, "")
    except AekitError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    result = config.get("result")
    if result is not None and not isinstance(result, dict):
        raise CheckpointError(f"{where}: 'result' must be an object, got {type(result).__name__}")
    world = config.get("world_size", 1)
    if isinstance(world, bool) or not isinstance(world, int) or world < 1:
        raise CheckpointError(f"{where}: 'world_size' must be a whole number >= 1, got {world!r}")


IN_MEMORY = "array"  # the data source recorded for data given in Python, not by name


def data_origin(config: dict[str, Any]) -> str | None:
    """Where a run folder's model learned from, as recorded in its config.json: the data
    source ("digits", "mnist", a file's name or path), ``IN_MEMORY`` ("array") for data
    given in Python, or None where the folder names no data (a folder saved by a
    scikit-learn estimator or by :func:`save_model` before aekit recorded it)."""
    section = config.get("data")
    if not isinstance(section, dict) or not isinstance(section.get("source"), str):
        return None
    return section["source"]


def describe_origin(source: str | None) -> str:
    """A run's data in words, for ``aekit info`` and the report."""
    if source is None:
        return "not recorded (the model was saved from Python, from data in memory)"
    if source == IN_MEMORY:
        return "an in-memory array from Python"
    return source


def describe_data(config: dict[str, Any]) -> str:
    """A run's training data in words (:func:`describe_origin`), and the test file it was
    judged on where one was named (``--test``): what ``aekit info`` and the report say."""
    words = describe_origin(data_origin(config))
    section = config.get("data")
    test = section.get("test") if isinstance(section, dict) else None
    return f"{words}; tested on {test}" if isinstance(test, str) else words


def unnamed_data(path: str | Path, config: dict[str, Any], need: str) -> str:
    """Why a run folder cannot say which data to use, and what to give instead: its data
    was an array in memory, or a file (paths in a run folder are never used), or it
    records none. ``need`` is what the data is wanted for ("to evaluate on")."""
    path = Path(path)
    source = data_origin(config)
    give = f"name the data {need} (data= in Python, --data FILE on the command line)"
    if (path / ESTIMATOR_FILE).exists():
        return (
            f"{path} was saved by a scikit-learn estimator (it holds {ESTIMATOR_FILE}), which "
            f"learned from an array in memory that the folder does not hold: {give}"
        )
    if source is None:
        return f"{path} records no training data (its config.json has no 'data' section): {give}"
    if source == IN_MEMORY:
        return (
            f"{path} was trained on an in-memory array from Python, which the folder does not "
            f"hold: {give}"
        )
    return f"{path} was trained on the file {source!r}; paths in a run folder are not used: {give}"


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version.split(".")[:3])
    except ValueError:
        return None


def load(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Load the model saved in run folder ``path``, whatever its family; the rebuilt model
    gives the same outputs as the saved one. Raises :class:`CheckpointError` for a missing
    or corrupt folder, an unknown config or weights that do not match the config."""
    return read_run(path, device)[0]


def read_run(path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, dict[str, Any]]:
    """The model saved in run folder ``path`` (as :func:`load` gives it) and the folder's
    config.json (as :func:`read_run_config` gives it), the file read once."""
    path = Path(path)
    config = read_run_config(path)
    return rebuild_model(path, config, device), config
