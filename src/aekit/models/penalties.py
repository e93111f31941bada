"""Code penalties Omega(h, x, f) added to the reconstruction loss.

Each penalty is a frozen dataclass registered by name; the model calls
``penalty(code, inputs, encoder)`` with the code of the (possibly corrupted) inputs.
Adding a penalty is one registered class here.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.func import jacrev, jvp, vmap

from ..core.config import require
from ..core.registry import Registry
from .parts import Part, within

PENALTIES: Registry[type[Penalty]] = Registry("penalty", name_attr="name")
MAX_PROJECTIONS = 1000


@dataclasses.dataclass(frozen=True)
class Penalty(Part):
    """A regulariser on the code; returns a scalar averaged over the batch."""

    registry = PENALTIES
    # The code activation a model gets by default when this penalty is used.
    code_activation: ClassVar[str | None] = None

    def __call__(self, code: Tensor, inputs: Tensor, encoder: nn.Module) -> Tensor:
        raise NotImplementedError

    def check_model(self, code_activation: str, encoder: nn.Module) -> None:
        """Raise :class:`ConfigError` if the penalty cannot apply to this encoder."""

    def needs_autograd(self, encoder: nn.Module) -> bool:
        """Whether computing the penalty differentiates through ``encoder`` itself (then
        it cannot run in inference mode)."""
        return False


@PENALTIES.register("l1")
@dataclasses.dataclass(frozen=True)
class L1Sparsity(Penalty):
    """``lam * sum_j |h_j|``, averaged over samples.

    Examples
    --------
    >>> import torch
    >>> L1Sparsity(lam=0.5)(torch.tensor([[1.0, -2.0], [0.0, 1.0]]), None, None)
    tensor(1.)
    """

    lam: float = dataclasses.field(default=1e-3, metadata=within(0, what="L1 weight"))

    def __call__(self, code: Tensor, inputs: Tensor, encoder: nn.Module) -> Tensor:
        return self.lam * code.abs().sum(dim=1).mean()


@PENALTIES.register("kl_sparsity")
@dataclasses.dataclass(frozen=True)
class KLSparsity(Penalty):
    """``beta * sum_j KL(rho || rho_hat_j)``, where ``rho_hat_j`` is unit j's mean
    activation over the batch (Ng, CS294A). Needs codes in (0, 1): a sigmoid code."""

    code_activation: ClassVar[str | None] = "sigmoid"
    rho: float = dataclasses.field(
        default=0.05,
        metadata=within(0, 1, low_open=True, high_open=True, what="target activation"),
    )
    beta: float = dataclasses.field(default=3.0, metadata=within(0, what="KL weight"))

    def check_model(self, code_activation: str, encoder: nn.Module) -> None:
        require(
            code_activation == "sigmoid",
            f"kl_sparsity needs code activations in (0, 1): use code_activation='sigmoid', "
            f"not {code_activation!r}",
        )

    def __call__(self, code: Tensor, inputs: Tensor, encoder: nn.Module) -> Tensor:
        rho = self.rho
        # The clamp keeps log finite when a unit saturates on a whole batch.
        rho_hat = code.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.beta * kl.sum()


@PENALTIES.register("contractive")
@dataclasses.dataclass(frozen=True)
class Contractive(Penalty):
    """``lam * ||J_f(x)||_F^2``, the squared Frobenius norm of the encoder's Jacobian
    (Rifai et al. 2011), averaged over samples.

    ``method``: ``"closed_form"`` for a one-layer sigmoid encoder (cost of a forward pass),
    ``"exact"`` for any encoder (autograd Jacobian, one backward pass per code unit, batched),
    ``"estimate"`` an unbiased estimate from ``projections`` random +-1 directions v,
    ``E||J v||^2 = ||J||_F^2`` (one forward-mode pass each; for large encoders),
    ``"auto"`` the closed form where it applies, else exact.
    """

    lam: float = dataclasses.field(default=0.1, metadata=within(0, what="contractive weight"))
    method: Literal["auto", "closed_form", "exact", "estimate"] = "auto"
    projections: int = 1

    def validate(self) -> None:
        require(
            1 <= self.projections <= MAX_PROJECTIONS,
            f"projections must be in [1, {MAX_PROJECTIONS}] (each costs a forward pass per "
            f"step), got {self.projections}",
        )

    def check_model(self, code_activation: str, encoder: nn.Module) -> None:
        if self.method == "closed_form":
            require(
                sigmoid_layer(encoder) is not None,
                "contractive method 'closed_form' needs a one-layer sigmoid encoder; "
                "use method='exact' or 'estimate'",
            )

    def needs_autograd(self, encoder: nn.Module) -> bool:
        closed = self.method == "closed_form" or (
            self.method == "auto" and sigmoid_layer(encoder) is not None
        )
        return not closed

    def __call__(self, code: Tensor, inputs: Tensor, encoder: nn.Module) -> Tensor:
        return (
            self.lam * jacobian_sq_norm(encoder, inputs, code, self.method, self.projections).mean()
        )


def sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The linear layer of a one-layer sigmoid encoder ``sigmoid(W x + b)``, else None."""
    parts = list(encoder.children()) if isinstance(encoder, nn.Sequential) else []
    if len(parts) == 2 and isinstance(parts[0], nn.Linear) and isinstance(parts[1], nn.Sigmoid):
        return parts[0]
    return None


def jacobian_sq_norm(
    encoder: nn.Module,
    inputs: Tensor,
    code: Tensor | None = None,
    method: str = "auto",
    projections: int = 1,
) -> Tensor:
    """Per-sample ``||df/dx||_F^2`` of ``encoder`` at each row of ``inputs``.

    ``code`` (the encoder's output at ``inputs``) saves a forward pass in the closed form.
    """
    layer = sigmoid_layer(encoder)
    if method == "auto":
        method = "closed_form" if layer is not None else "exact"
    if method == "closed_form":
        if layer is None:
            raise ValueError("the closed form needs a one-layer sigmoid encoder")
        h = encoder(inputs) if code is None else code
        # dh_j/dx_i = h_j (1 - h_j) W_ji, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 ||W_j||^2.
        return (h * (1 - h)).pow(2) @ layer.weight.pow(2).sum(dim=1)
    if method == "exact":

        def one(x: Tensor) -> Tensor:
            return encoder(x.unsqueeze(0)).squeeze(0)

        return vmap(jacrev(one))(inputs).pow(2).flatten(1).sum(dim=1)
    if method == "estimate":
        total = inputs.new_zeros(inputs.shape[0])
        for _ in range(projections):
            # Rademacher directions: E[v v^T] = I, so E||J v||^2 = trace(J^T J) = ||J||_F^2.
            v = torch.randint_like(inputs, 2) * 2 - 1
            _, jv = jvp(encoder, (inputs,), (v,))
            total = total + jv.pow(2).flatten(1).sum(dim=1)
        return total / projections
    raise ValueError(f"unknown Jacobian method {method!r}")
