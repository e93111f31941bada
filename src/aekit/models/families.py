"""Model families and their files: a registry of model classes, and saving and loading a
model as ``config.json`` (plain JSON naming the family) + ``model.safetensors`` (tensors);
reading a whole run folder's config.json back, checked, is the runs layer's
(:mod:`aekit.runs.saved`).

A family is a registered ``nn.Module`` class with a ``config_class`` (a typed config
that round-trips to JSON), ``from_config(config)`` and a ``config`` attribute. The
autoencoder is the family ``"autoencoder"``; a new one (a variational autoencoder, say) is
one class registered with :func:`register_family` and its config, and then saves, loads,
trains and evaluates through the same paths.

Nothing here unpickles: a run folder from a stranger can at worst fail to load.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..core.checkpoint import CHECKPOINT_FILE
from ..core.errors import AekitError, CheckpointError
from ..core.io import read_tensors, write_json, write_tensors
from ..core.registry import Registry
from ..core.version import __version__

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
DEFAULT_FAMILY = "autoencoder"  # run folders written before families were named

FAMILIES: Registry[type[Any]] = Registry("model family", name_attr="family")
M = TypeVar("M")


def register_family(name: str) -> Callable[[type[M]], type[M]]:
    """Register a model class as the family ``name`` (sets ``cls.family``)."""
    return FAMILIES.register(name)  # type: ignore[return-value]


def family_of(model: Any) -> str:
    family = getattr(type(model), "family", None)
    if family is None or family not in FAMILIES:
        raise AekitError(f"{type(model).__name__} is not a registered model family")
    return family


def run_config_json(model: Any, sections: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of a run folder's config.json for ``model`` plus top-level ``sections``
    (``training``, ``data``, ``pretrain``, ``result``...)."""
    return {
        "format": FORMAT_VERSION,
        "aekit_version": __version__,
        "family": family_of(model),
        "model": model.config.to_dict(),
        **(sections or {}),
    }


def save_model(model: Any, path: str | Path, sections: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config.json into folder ``path`` (created if needed)."""
    if getattr(model, "config", None) is None:
        raise AekitError(
            "this model was built from your own encoder and decoder modules, which aekit "
            "cannot rebuild without pickle, so it cannot save it as a run folder. To make it "
            "loadable: register a model family (aekit.register_family) whose config builds "
            "your modules, or save model.state_dict() with safetensors.torch.save_file and "
            "rebuild the modules yourself before load_state_dict"
        )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_tensors(path / WEIGHTS_FILE, model.state_dict())
    write_json(path / CONFIG_FILE, run_config_json(model, sections))
    return path


def model_config_of(config: dict[str, Any], path: Path) -> tuple[type[Any], Any]:
    """The family class and its parsed model config from a run folder's config.json."""
    cls = FAMILIES.get(config.get("family", DEFAULT_FAMILY))
    try:
        return cls, cls.config_class.from_dict(config["model"], "model")
    except AekitError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None


def rebuild_model(path: Path, config: dict[str, Any], device: str | torch.device = "cpu") -> Any:
    """The model saved in folder ``path`` whose config.json holds ``config`` (read and
    checked by :func:`aekit.runs.saved.read_run_config`), rebuilt from its family and its
    weights; it gives the same outputs as the saved one. Raises :class:`CheckpointError`
    for missing weights, an unknown config or weights that do not match the config."""
    cls, model_config = model_config_of(config, path)
    if not (path / WEIGHTS_FILE).exists() and (path / CHECKPOINT_FILE).exists():
        raise CheckpointError(
            f"{path} has no {WEIGHTS_FILE}: its training did not finish; "
            f"continue it with: aekit train --resume {path}"
        )
    state = read_tensors(path / WEIGHTS_FILE)
    for name, tensor in state.items():
        if tensor.dtype != torch.float32:
            raise CheckpointError(
                f"{path / WEIGHTS_FILE}: tensor {name!r} has dtype {tensor.dtype}, expected float32"
            )
    with warnings.catch_warnings():
        # A warning about the architecture was given when the model was built.
        warnings.simplefilter("ignore", UserWarning)
        with torch.device("meta"):
            model = cls.from_config(model_config)
    problems = state_mismatches(model.state_dict(), state)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckpointError(
            f"{path / WEIGHTS_FILE} does not match the architecture in {CONFIG_FILE}: "
            f"{problems[0]}{more}"
        )
    model.load_state_dict(state, strict=True, assign=True)
    columns = config.get("columns")
    if columns is not None:
        if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            raise CheckpointError(f"{path / CONFIG_FILE}: 'columns' must be a list of names")
        if hasattr(model, "feature_names"):
            model.feature_names = list(columns)
    return model.to(device).eval()


def state_mismatches(
    expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]
) -> list[str]:
    """Differences between the tensors a model needs and those a file holds, one line each."""
    problems = [f"{k} is missing from the file" for k in expected if k not in found]
    problems += [f"the file has an unexpected tensor {k}" for k in found if k not in expected]
    problems += [
        f"{k} has shape {tuple(found[k].shape)} in the file but {tuple(v.shape)} in the config"
        for k, v in expected.items()
        if k in found and found[k].shape != v.shape
    ]
    return problems
