"""Run folders: ``config.json`` (plain JSON) and ``model.safetensors`` (plain tensors).

Nothing here unpickles: a run folder from a stranger can at worst fail to load. Every file
is written atomically (temporary file, fsync, rename), so a crash leaves the previous
version or none, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .config import ModelConfig
from .errors import AekitError, CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the finished file to ``path`` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


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


def write_json(path: str | Path, obj: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, allow_nan=True)
            f.write("\n")

    atomic_write(path, write)


def write_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def write(tmp: str) -> None:
        try:
            save_file(tensors, tmp, metadata=metadata)
        except SafetensorError as exc:  # e.g. a full disk, reported by the Rust writer
            raise OSError(f"cannot write {path}: {exc}") from None

    atomic_write(path, write)


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file; any problem is a :class:`CheckpointError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing {path}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a valid safetensors file ({exc})") from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from None


def write_config(
    path: str | Path, model_config: ModelConfig, extra: dict[str, Any] | None = None
) -> None:
    """Write a run folder's config.json: the model plus ``extra`` top-level sections
    (``training``, ``data``, ``result``...)."""
    config = {
        "format": FORMAT_VERSION,
        "aekit_version": __version__,
        "model": model_config.to_dict(),
        **(extra or {}),
    }
    write_json(Path(path) / CONFIG_FILE, config)


def save_model(model: Any, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s config and weights into folder ``path`` (created if needed).

    ``extra`` adds top-level sections to config.json (e.g. ``training``, ``data``).
    """
    if model.config is None:
        raise AekitError("only models built from a config can be saved (use AutoEncoder.build)")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_tensors(path / WEIGHTS_FILE, model.state_dict())
    write_config(path, model.config, extra)
    return path


def read_run_config(path: str | Path) -> dict[str, Any]:
    """config.json of a run folder, checked for format and library version."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"run folder not found: {path}")
    if not path.is_dir():
        raise CheckpointError(
            f"{path} is not a run folder (expected a folder holding {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    config = read_json(path / CONFIG_FILE)
    if not isinstance(config, dict) or "model" not in config:
        raise CheckpointError(f"{path / CONFIG_FILE} has no 'model' section")
    known = {"format", "aekit_version", "model", "training", "data", "pretrain", "result"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise CheckpointError(f"{path / CONFIG_FILE}: unknown key(s) {', '.join(unknown)}")
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
    return config


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version.split(".")[:3])
    except ValueError:
        return None


def load(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Load the model saved in run folder ``path``; the rebuilt model gives the same
    outputs as the saved one. Raises :class:`CheckpointError` for a missing or corrupt
    folder, an unknown config or weights that do not match the config."""
    from .model import AutoEncoder

    path = Path(path)
    config = read_run_config(path)
    try:
        model_config = ModelConfig.from_dict(config["model"], "model")
    except AekitError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    if not (path / WEIGHTS_FILE).exists() and (path / "checkpoint.safetensors").exists():
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
            model = AutoEncoder.from_config(model_config)
    problems = state_mismatches(model.state_dict(), state)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckpointError(
            f"{path / WEIGHTS_FILE} does not match the architecture in {CONFIG_FILE}: "
            f"{problems[0]}{more}"
        )
    model.load_state_dict(state, strict=True, assign=True)
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
