"""Reconstruction losses: summed over features, averaged over samples (the field's
"error per image"), so figures compare directly with the literature. With ``observed`` (a
0/1 mask of the target's entries) only observed entries count: learning from data with
missing values."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from ..core.registry import Registry

ReconstructionLoss = Callable[..., Tensor]
LOSSES: Registry[ReconstructionLoss] = Registry("loss")


@LOSSES.register("mse")
def squared_error(
    logits: Tensor, target: Tensor, output_activation: nn.Module, observed: Tensor | None = None
) -> Tensor:
    """Squared error ``sum_i (r_i - x_i)^2`` per sample, averaged over the batch."""
    if observed is None:
        return F.mse_loss(output_activation(logits), target, reduction="sum") / target.shape[0]
    error = (output_activation(logits) - target).pow(2) * observed
    return error.sum() / target.shape[0]


@LOSSES.register("bce")
def binary_cross_entropy(
    logits: Tensor, target: Tensor, output_activation: nn.Module, observed: Tensor | None = None
) -> Tensor:
    """Binary cross-entropy on logits (numerically stable) for targets in [0, 1], summed over
    features and averaged over the batch. Requires a sigmoid output activation."""
    weight = None if observed is None else observed.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    return loss / target.shape[0]
