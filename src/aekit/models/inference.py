"""Inference a block of rows at a time: :func:`infer`, the same for each row whatever rows
share its batch (a model's method evaluated in float64 and rounded to float32 once; the
autoencoder's and the VAE's).

The matrix products of float32 sum in an order that depends on the shape (blocking,
threads, the CPU's kernels), so a row's float32 result can change in its last bits with
the batch around it. In float64 those differences of order lie some 29 bits below
float32's last bit. The float64 copy of the weights is made once per state of the float32
weights and held beside the model, not in it (not pickled, copied or saved with it)."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

# Each model's weights in float64, with the state of the float32 weights they were made
# from; weak, so a model no longer used is not kept alive.
_FLOAT64: weakref.WeakKeyDictionary[nn.Module, tuple[Any, dict[str, Tensor]]] = (
    weakref.WeakKeyDictionary()
)


class _Method(nn.Module):
    """A model's method as a module's forward, for :func:`torch.func.functional_call`."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self.model, self.method)(x)


def infer(model: nn.Module, method: str, x: Tensor, batch_size: int = 4096) -> np.ndarray:
    """``model``'s ``method`` (a name: "_encode", "_decode", "_reconstruct") of ``x`` in
    inference mode, a block of rows at a time, as a float32 array: each row's result the
    same bit for bit whatever rows share its batch, in whatever order and however many
    (in float64, rounded once; on Apple's MPS, which has no float64, in float32)."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        if device.type != "mps":
            state = float64_state(model)
            call = _Method(model, method)
            try:
                out = [
                    functional_call(call, state, (b.to(device, torch.float64),)).float().cpu()
                    for b in x.split(batch_size)
                ]
                return torch.cat(out).numpy()
            except RuntimeError as exc:
                if "dtype" not in str(exc) and "Double" not in str(exc):
                    raise
                # A module of your own holding float32 tensors besides its parameters
                # and buffers: in float32, as it was written.
        fn = getattr(model, method)
        out = [fn(b.to(device, non_blocking=True)).cpu() for b in x.split(batch_size)]
    return torch.cat(out).numpy()


def float64_state(model: nn.Module) -> dict[str, Tensor]:
    """``model``'s parameters and buffers in float64 (for :func:`infer`), made again only
    when the weights changed (training steps, loads and moves change a tensor's version,
    storage or device)."""
    tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    key = tuple((name, t.data_ptr(), t._version, t.dtype, t.device) for name, t in tensors.items())
    cached = _FLOAT64.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    state = {
        f"model.{name}": t.detach().double() if t.is_floating_point() else t
        for name, t in tensors.items()
    }
    _FLOAT64[model] = (key, state)
    return state
