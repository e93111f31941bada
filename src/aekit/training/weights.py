"""The weights a trainer keeps besides the ones it steps: the moving average of the
parameters (``TrainConfig.ema``) and the best epoch's weights (``keep="best"``), and the
training weights set aside, whole, while the model holds either of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from ..core.errors import CheckpointError


class KeptWeights:
    """A model's other weights: ``ema`` (the moving average, in ``model.parameters()``
    order), ``best`` (the best epoch's state dict), and ``training`` (the weights training
    continues from, set aside while the model holds others: the average while an epoch is
    judged; the kept weights once fit returns)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.best: dict[str, Tensor] | None = None
        self.ema: list[Tensor] | None = None
        self.training: list[Tensor] | None = None

    def keep_best(self) -> None:
        """The model's weights now are the best epoch's."""
        self.best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    @torch.no_grad()
    def update_ema(self, ema: float, step: int) -> None:
        """Move the average towards the weights after global step ``step`` (0-based), by
        decay ``ema`` ramped up over the first steps, so that early averages do not
        remember the initial weights; the first step starts the average."""
        params = [p.detach() for p in self.model.parameters()]
        if self.ema is None:
            self.ema = [p.clone() for p in params]
            return
        assert ema
        decay = min(ema, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.ema, params, 1 - decay)

    def loaded_average(self, saved: Any) -> list[Tensor] | None:
        """A checkpoint's moving average, checked against the model and moved to its device
        (None: there was none, as in checkpoints written before ema existed)."""
        if saved is None:
            return None
        params = [p.detach() for p in self.model.parameters()]
        if not (
            isinstance(saved, list)
            and len(saved) == len(params)
            and all(
                isinstance(w, Tensor) and w.shape == p.shape
                for w, p in zip(saved, params, strict=False)
            )
        ):
            raise CheckpointError(
                "checkpoint's moving average of the weights does not match this model"
            )
        return [w.to(device=p.device, dtype=p.dtype) for w, p in zip(saved, params, strict=True)]

    @torch.no_grad()
    def hold(self, weights: list[Tensor] | dict[str, Tensor]) -> None:
        """Put ``weights`` (a list in parameter order, or a state dict) in the model and set
        the training weights aside, whole, before anything is overwritten."""
        if self.training is None:
            self.training = [p.detach().clone() for p in self.model.parameters()]
        if isinstance(weights, dict):
            self.model.load_state_dict(weights)
        else:
            torch._foreach_copy_([p.detach() for p in self.model.parameters()], weights)

    @torch.no_grad()
    def release(self) -> None:
        """Give the model its training weights back (if they were set aside)."""
        if self.training is not None:
            params = [p.detach() for p in self.model.parameters()]
            torch._foreach_copy_(params, self.training)
            self.training = None

    @contextmanager
    def averaged(self) -> Iterator[None]:
        """The model holds the averaged weights inside (when there are any)."""
        if self.ema is None:
            yield
            return
        self.hold(self.ema)
        try:
            yield
        finally:
            self.release()

    def model_state(self) -> dict[str, Tensor]:
        """The model's state dict with the training weights, also while it holds others."""
        state = self.model.state_dict()
        if self.training is None:
            return state
        held = {id(p): w for p, w in zip(self.model.parameters(), self.training, strict=True)}
        live = self.model.state_dict(keep_vars=True)
        return {k: held.get(id(v), state[k]) for k, v in live.items()}
