"""Named kinds of autoencoder: presets of the same parts, not subclasses.

A preset maps the sizes a user chose to default parts. The rule, the same in Python,
config files and flags: a preset only supplies defaults; every field you set replaces the
preset's value for that field, whole (``penalties`` is one field: the list you give is the
list used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .corruption import Masking
from .penalties import Contractive, KLSparsity, L1Sparsity
from .registry import Registry

Preset = Callable[[int, int], dict[str, Any]]
KINDS: Registry[Preset] = Registry("kind")


@KINDS.register("undercomplete")
def undercomplete(input_dim: int, code_dim: int) -> dict[str, Any]:
    """A code smaller than the input and nothing else (a nonlinear PCA)."""
    return {}


@KINDS.register("linear")
def linear(input_dim: int, code_dim: int) -> dict[str, Any]:
    """No nonlinearity anywhere: with squared error it spans the PCA subspace."""
    return {"activation": "linear", "code_activation": "linear", "output_activation": "linear"}


@KINDS.register("sparse")
def sparse(input_dim: int, code_dim: int) -> dict[str, Any]:
    """Sigmoid code pushed towards a mean activation rho by a KL penalty (Ng)."""
    return {"code_activation": "sigmoid", "penalties": [KLSparsity(rho=0.05, beta=3.0)]}


@KINDS.register("sparse_l1")
def sparse_l1(input_dim: int, code_dim: int) -> dict[str, Any]:
    """ReLU code with an L1 penalty on its activations."""
    return {"code_activation": "relu", "penalties": [L1Sparsity(lam=0.01)]}


@KINDS.register("topk")
def topk(input_dim: int, code_dim: int) -> dict[str, Any]:
    """k-sparse code: only the k largest units of each sample are kept (k = code/4)."""
    return {"code_activation": "linear", "top_k": max(1, code_dim // 4)}


@KINDS.register("contractive")
def contractive(input_dim: int, code_dim: int) -> dict[str, Any]:
    """Sigmoid code with the contractive penalty lam * ||J_f(x)||_F^2 (Rifai et al.)."""
    return {"code_activation": "sigmoid", "penalties": [Contractive(lam=0.1)]}


@KINDS.register("denoising")
def denoising(input_dim: int, code_dim: int) -> dict[str, Any]:
    """Trained to undo masking noise (25% of inputs set to 0) (Vincent et al.)."""
    return {"corruption": Masking(nu=0.25)}


@KINDS.register("deep")
def deep(input_dim: int, code_dim: int) -> dict[str, Any]:
    """Several hidden layers, halving in size from the input towards the code."""
    hidden = [n for n in (input_dim // 2, input_dim // 4, input_dim // 8) if n > code_dim]
    return {"hidden": hidden or [2 * code_dim]}


def default_code_dim(input_dim: int) -> int:
    """The code size used when none is given: 8 for inputs of at most 100 features, else 30."""
    return 8 if input_dim <= 100 else 30
