"""Named kinds of autoencoder: presets of the same parts, not subclasses.

A preset maps the sizes a user chose, and whether the data lies in [0, 1], to default
parts. The rule, the same in Python,
config files and flags: a preset only supplies defaults; every field you set replaces the
preset's value for that field, whole (``penalties`` is one field: the list you give is the
list used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.registry import Registry
from .corruption import GaussianNoise, Masking
from .penalties import Contractive, KLSparsity, L1Sparsity

Preset = Callable[[int, int, bool], dict[str, Any]]
KINDS: Registry[Preset] = Registry("kind")


# The compressing kinds fall back to PCA where they do not beat it on validation data
# (ModelConfig.pca_fallback): on a few hundred samples their layers often learn nothing
# that holds beyond the training samples.
FALLS_BACK_TO_PCA = {"pca_fallback": True}


# The narrowest mapping layer. Twice the code alone left small inputs without room: on
# the digits (64-16-8) the layers' test error was 1.21 against 0.87 at 64-32-8 (3 seeds),
# and tables of 4 to 14 features had no layer at all (2 * code >= input), so an affine
# decoder that can at best match PCA (BENCHMARKS.md, section 4, fifth round).
MAPPING_MIN = 32


def mapping_layer(input_dim: int, code_dim: int) -> list[int]:
    """One hidden layer twice as wide as the code and at least :data:`MAPPING_MIN` wide,
    wider than a small input if need be (Kramer's nonlinear PCA: mapping, bottleneck,
    demapping; the bottleneck is the code, not this layer)."""
    return [max(2 * code_dim, MAPPING_MIN)] if code_dim > 0 else []


@KINDS.register("undercomplete")
def undercomplete(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """A code smaller than the input and nothing else, with one ELU layer on each side of
    it (:func:`mapping_layer`): a nonlinear PCA. Without that layer the decoder of data
    outside [0, 1] is affine, and an affine decoder can at best match PCA."""
    return {"hidden": mapping_layer(input_dim, code_dim), "activation": "elu", **FALLS_BACK_TO_PCA}


@KINDS.register("linear")
def linear(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """No nonlinearity anywhere: with squared error it spans the PCA subspace."""
    return {
        "activation": "linear",
        "code_activation": "linear",
        "output_activation": "linear",
        **FALLS_BACK_TO_PCA,
    }


def wide_code(input_dim: int) -> int:
    """The code of the regularized kinds, as wide as in the papers: 25 units for 8x8
    patches (Ng's exercise), 196 for MNIST (a quarter of the input)."""
    return max(25, input_dim // 4)


@KINDS.register("sparse")
def sparse(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """A wide sigmoid code pushed towards a mean activation rho by a KL penalty (Ng)."""
    return {"code_activation": "sigmoid", "penalties": [KLSparsity(rho=0.05, beta=3.0)]}


sparse.code_dim = wide_code  # type: ignore[attr-defined]


@KINDS.register("sparse_l1")
def sparse_l1(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """A wide ReLU code with an L1 penalty on its activations."""
    return {"code_activation": "relu", "penalties": [L1Sparsity(lam=0.01)]}


sparse_l1.code_dim = wide_code  # type: ignore[attr-defined]


@KINDS.register("topk")
def topk(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """A wide k-sparse code: only the k largest units of each sample are kept (k = code/4)."""
    return {"code_activation": "linear", "top_k": max(1, code_dim // 4)}


topk.code_dim = wide_code  # type: ignore[attr-defined]


@KINDS.register("contractive")
def contractive(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """A wide sigmoid code with the contractive penalty lam * ||J_f(x)||_F^2 (Rifai et al.)."""
    return {"code_activation": "sigmoid", "penalties": [Contractive(lam=0.1)]}


contractive.code_dim = wide_code  # type: ignore[attr-defined]


@KINDS.register("denoising")
def denoising(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """Trained to undo corruption, as Vincent et al. chose it: masking noise (25% of inputs
    set to 0) for data in [0, 1], additive Gaussian noise (sigma 0.1, for standardised
    features) for real-valued data, where masking a feature to 0 destroys too much. An ELU
    code as wide as the input and no hidden layer: the noise, not a bottleneck, keeps the
    model from copying its input (Vincent et al.'s codes are as wide or wider). A narrow
    code or a hidden layer lost more than the noise cost: with Gaussian noise its output was
    worse than the noisy input (BENCHMARKS.md, section 12). Given a smaller code, it
    compresses, and falls back to PCA where PCA denoises better."""
    return {
        "corruption": Masking(nu=0.25) if unit_range else GaussianNoise(sigma=0.1),
        "hidden": [],
        "activation": "elu",
        "code_activation": "elu",
        **FALLS_BACK_TO_PCA,
    }


def as_wide_as_the_input(input_dim: int) -> int:
    """The denoising kind's code: as many units as the input has values."""
    return input_dim


denoising.code_dim = as_wide_as_the_input  # type: ignore[attr-defined]


@KINDS.register("deep")
def deep(input_dim: int, code_dim: int, unit_range: bool = True) -> dict[str, Any]:
    """Hinton & Salakhutdinov's shape (784-1000-500-250-30) scaled to a smaller input (kept
    for a larger one), with the
    activations the MNIST recipe search found best: ELU hidden layers, a linear code, a
    sigmoid output with cross-entropy for data in [0, 1] (a linear output with squared
    error otherwise). Layers narrower than twice the code are left out: on small inputs
    they only add a second bottleneck."""
    # Scaled down to smaller inputs, not up to larger ones: 1000 units is as wide as the
    # recipe was measured, and a step costs the square of the width (Muon, a fortiori).
    widths = [round(min(input_dim, 784) * w / 784) for w in (1000, 500, 250)]
    hidden = [n for n in widths if n >= 2 * code_dim]
    return {
        "hidden": hidden or [2 * code_dim],
        "activation": "elu",
        "code_activation": "linear",
        "output_activation": "sigmoid" if unit_range else "linear",
        "loss": "bce" if unit_range else "mse",
        **FALLS_BACK_TO_PCA,
    }


# What the deep kind trains with where the user leaves it open: the recipe that won the
# MNIST search (Muon for the hidden matrices, weight decay 0.1, a moving average of the
# weights), which also keeps depth from overfitting small tables; Muon needs fewer passes,
# so the budget is a third of the default (10 epochs on MNIST; small data keeps 300).
deep.training = {  # type: ignore[attr-defined]
    "optimizer": "muon",
    "weight_decay": 0.1,
    "ema": 0.99,
    "sample_budget": 600_000,
}


# Where the step of that recipe is too slow for the time budget (a CPU without bfloat16
# units runs Muon's Newton-Schulz iterations in float32: 132 ms a step at batch 256 on
# two AVX2 cores, 28 s an epoch), the deep kind trains at batch 512 with the rates of
# configs/mnist_deep_fast.json instead: Muon's cost is per step, not per sample, so an
# epoch takes 17 s there, and 10 epochs end at 2.75 rather than 2.64 (BENCHMARKS.md,
# sections 11 and 16). Used only where the user sets none of these.
deep.large_batch = {  # type: ignore[attr-defined]
    "batch_size": 512,
    "lr": 5e-3,
    "muon_lr": 0.03,
}


def training_defaults(kind: str | None) -> dict[str, Any]:
    """The training settings ``kind`` chooses where the user does not (see
    :meth:`~aekit.TrainConfig.settled`); none for most kinds."""
    preset = KINDS.get(kind) if kind is not None and kind in KINDS else None
    return dict(getattr(preset, "training", {}))


def default_code_dim(input_dim: int, kind: str | None = None) -> int:
    """The code size used when none is given: the kind's own rule (the regularized kinds
    are wide), else 8 for inputs of at most 100 features and 30 for larger ones, and at
    most half the input (a code as large as the input can copy it)."""
    rule = getattr(KINDS.get(kind), "code_dim", None) if kind is not None else None
    if rule is not None:
        return int(rule(input_dim))
    return min(8 if input_dim <= 100 else 30, max(1, input_dim // 2))


def has_wide_code(kind: str) -> bool:
    """Whether the kind chooses a wide code of its own (the regularized kinds)."""
    return kind in KINDS and getattr(KINDS.get(kind), "code_dim", None) is not None


def large_batch_training(kind: str | None) -> dict[str, Any]:
    """The settings ``kind`` trains with where its own step is too slow for the time
    budget (a larger batch and its rates); none for most kinds."""
    preset = KINDS.get(kind) if kind is not None and kind in KINDS else None
    return dict(getattr(preset, "large_batch", {}))
