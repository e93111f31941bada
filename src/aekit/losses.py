"""Reconstruction losses: summed over features, averaged over samples (the field's
"error per image"), so figures compare directly with the literature."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Registry

ReconstructionLoss = Callable[[Tensor, Tensor, nn.Module], Tensor]
LOSSES: Registry[ReconstructionLoss] = Registry("loss")


@LOSSES.register("mse")
def squared_error(logits: Tensor, target: Tensor, output_activation: nn.Module) -> Tensor:
    """Squared error ``sum_i (r_i - x_i)^2`` per sample, averaged over the batch."""
    return F.mse_loss(output_activation(logits), target, reduction="sum") / target.shape[0]


@LOSSES.register("bce")
def binary_cross_entropy(logits: Tensor, target: Tensor, output_activation: nn.Module) -> Tensor:
    """Binary cross-entropy on logits (numerically stable) for targets in [0, 1], summed over
    features and averaged over the batch. Requires a sigmoid output activation."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target.shape[0]
