"""Training checkpoints as one safetensors file: tensors in the body, everything else as
JSON in the header's metadata. Loading parses JSON and raw tensors only; nothing is
unpickled, so a checkpoint cannot run code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError
from .io import read_safetensors, write_tensors

CHECKPOINT_FILE = "checkpoint.safetensors"
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_INT_KEYS = "__int_keys__"


def split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace each tensor in a nested structure by a reference, collecting the tensors."""
    if isinstance(obj, torch.Tensor):
        key = prefix.lstrip(".")
        tensors[key] = obj
        return {_TENSOR: key}
    if isinstance(obj, dict):
        out = {str(k): split_tensors(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        # JSON keys are strings; the optimizer's state is keyed by parameter index.
        if obj and all(isinstance(k, int) for k in obj):
            return {_INT_KEYS: out}
        return out
    if isinstance(obj, tuple):
        return {_TUPLE: [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`split_tensors`."""
    if isinstance(obj, dict):
        if _TENSOR in obj:
            try:
                return tensors[obj[_TENSOR]]
            except KeyError:
                raise CheckpointError(
                    f"checkpoint refers to missing tensor {obj[_TENSOR]!r}"
                ) from None
        if _TUPLE in obj:
            return tuple(join_tensors(v, tensors) for v in obj[_TUPLE])
        if _INT_KEYS in obj:
            try:
                return {int(k): join_tensors(v, tensors) for k, v in obj[_INT_KEYS].items()}
            except ValueError:
                raise CheckpointError(
                    "corrupt checkpoint: non-integer key in an integer-keyed map"
                ) from None
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def checksum(tensors: dict[str, torch.Tensor], skeleton: str) -> str:
    """A hash of every byte of a checkpoint's tensors and of its metadata: a flipped bit
    anywhere makes the checkpoint refuse to load rather than resume with other weights."""
    digest = hashlib.blake2b(skeleton.encode(), digest_size=16)
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        digest.update(key.encode())
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a nested state (tensors and JSON values) atomically to ``path``, with a
    checksum of all of it."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.dumps(split_tensors(state, "", tensors))
    metadata = {"aekit_state": skeleton, "aekit_checksum": checksum(tensors, skeleton)}
    write_tensors(path, tensors, metadata=metadata)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    tensors, metadata = read_safetensors(path, "checkpoint")
    if "aekit_state" not in metadata:
        raise CheckpointError(f"{path} is not an aekit checkpoint (no aekit_state metadata)")
    if metadata.get("aekit_checksum") != checksum(tensors, metadata["aekit_state"]):
        raise CheckpointError(
            f"{path} is damaged: its checksum does not match its content (a changed or "
            "corrupted file); it cannot be resumed"
        )
    try:
        skeleton = json.loads(metadata["aekit_state"])
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    try:
        state = join_tensors(skeleton, tensors)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{path}: checkpoint metadata nested too deeply") from None
    except Exception as exc:  # a well-formed JSON skeleton of the wrong shape
        raise CheckpointError(f"{path}: corrupt checkpoint structure ({exc!r})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint state is not an object")
    return state
