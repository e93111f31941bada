"""The schema of a model: :class:`ModelConfig`, everything needed to rebuild an
autoencoder exactly, and :func:`model_config`, a kind's preset with settings replacing
its defaults.

Examples
--------
>>> from aekit.models.config import ModelConfig
>>> from aekit.models.penalties import KLSparsity
>>> cfg = ModelConfig(input_dim=64, hidden=[32], code_dim=8, code_activation="sigmoid",
...                   penalties=[KLSparsity(rho=0.05, beta=3.0)])
>>> ModelConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from typing import Any, Literal

from ..core.config import _Config, choices, describe, flag, require
from ..core.errors import ConfigError
from ..core.schema import check_known, coerce
from .corruption import Corruption
from .losses import LOSSES
from .nets import ACTIVATIONS, conv_shapes
from .penalties import Penalty
from .presets import KINDS, default_code_dim


def physical_memory() -> int:
    """Bytes of memory this machine has (a large number where it cannot be told)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**50


def check_conv(config: Any) -> None:
    """Refuse a convolutional architecture's settings that cannot build one (the checks
    ``ModelConfig`` and ``VAEConfig`` share): an image shape, an odd kernel, channels."""
    if config.architecture != "conv":
        return
    require(config.image_shape is not None, "architecture 'conv' needs image_shape (C, H, W)")
    require(
        config.kernel_size >= 1 and config.kernel_size % 2 == 1,
        f"kernel_size must be odd and >= 1, got {config.kernel_size}",
    )
    channels = config.conv_channels
    require(
        len(channels) >= 1 and all(c >= 1 for c in channels),
        f"conv_channels must be a non-empty list of positive sizes, got {channels}",
    )


def check_training_memory(parameters: int, activations: int, batch_size: int) -> None:
    """Refuse, with the estimate, training that cannot fit in this machine's memory: about
    20 bytes per parameter (weights, gradients, Adam's two moments, the best weights) and,
    for each sample of a batch, 12 bytes per value of ``activations`` (the values a
    forward pass keeps, their gradients, and slack)."""
    need = 20 * parameters + 3 * 4 * batch_size * activations
    have = physical_memory()
    if need > have:
        raise ConfigError(
            f"training this model with batches of {batch_size} needs about "
            f"{need / 2**30:,.1f} GiB (parameters, optimizer state and activations), and "
            f"this machine has {have / 2**30:,.1f} GiB; use smaller layers or batches"
        )


@dataclasses.dataclass
class ModelConfig(_Config):
    """Everything needed to rebuild an :class:`~aekit.AutoEncoder` exactly.

    Parameters
    ----------
    kind : the preset of parts (undercomplete, sparse, contractive, denoising, deep...); its
        defaults apply to every field not given.
    input_dim : number of input features (C*H*W for images).
    code_dim : size of the code h (default: 8 for inputs of at most 100 features, else 30,
        and at most half the input; sparse, sparse_l1, topk and contractive:
        max(25, input/4)).
    hidden : sizes of the encoder's hidden layers, e.g. 256,64 (the decoder mirrors them).
    architecture : fully connected ("mlp") or convolutional ("conv": stride-2
        convolutions, then the hidden dense layers).
    image_shape : C,H,W of image data; required for "conv".
    conv_channels : channels of each stride-2 convolution ("conv").
    kernel_size : odd convolution kernel size ("conv").
    activation : activation of the hidden layers.
    code_activation : activation of the code layer.
    output_activation : activation that maps the decoder's logits to reconstructions.
    loss : reconstruction loss: squared error ("mse") or cross-entropy on logits ("bce",
        for data in [0, 1] with a sigmoid output).
    tied : decoder weights are the transposed encoder weights.
    top_k : keep only the k largest code units of each sample.
    penalties : code penalties NAME[:key=value,...] added to the loss (repeatable; replaces
        the kind's penalties).
    corruption : input corruption NAME[:key=value,...] applied in training (denoising);
        "none" for no corruption.
    missing : the data may have missing entries (NaN): they enter the encoder as 0 (the
        mean of standardised data) and the loss counts only the observed entries; the
        model can then fill them in (imputation).
    scaling : input scaling fitted on the training data, stored with the weights and
        undone on output: "standard" (zero mean, unit variance per feature), "minmax"
        (each feature to [0, 1]) or "none". A run (aekit train) that does not choose gets
        "none" for data in [0, 1] and "standard" otherwise; losses and metrics are in the
        scaled units.
    pca_fallback : PCA with code_dim components is fitted to the training data when
        training starts, and kept with the weights; after training (keeping the best
        epoch), unless the trained model beats PCA clearly on the validation data (its
        mean reconstruction error lower by more than 2 standard errors of the per-sample
        difference, or lower on more samples than not by more than 2 standard deviations
        of a fair coin's count), the model is PCA: it encodes, decodes and is saved as
        PCA, and the output says why, with both errors. On by default for the compressing kinds (undercomplete,
        linear, deep, denoising) where the code is smaller than the input, so that a
        default never ends worse than PCA on data too small for its layers.
    """

    input_dim: int
    code_dim: int
    hidden: list[int] = dataclasses.field(default_factory=list)
    architecture: Literal["mlp", "conv"] = "mlp"
    image_shape: tuple[int, int, int] | None = None
    conv_channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    kernel_size: int = 3
    activation: str = dataclasses.field(default="relu", metadata=choices(ACTIVATIONS))
    code_activation: str = dataclasses.field(default="linear", metadata=choices(ACTIVATIONS))
    output_activation: str = dataclasses.field(default="sigmoid", metadata=choices(ACTIVATIONS))
    loss: str = dataclasses.field(default="mse", metadata=choices(LOSSES))
    tied: bool = False
    top_k: int | None = None
    penalties: list[Penalty] = dataclasses.field(
        default_factory=list, metadata=flag("--penalty", append=True)
    )
    corruption: Corruption | None = None
    missing: bool = False
    scaling: Literal["none", "standard", "minmax"] = "none"
    pca_fallback: bool = False
    kind: str = "custom"

    def validate(self) -> None:
        require(self.input_dim >= 1, f"input_dim must be >= 1, got {self.input_dim}")
        require(self.code_dim >= 1, f"code_dim must be >= 1, got {self.code_dim}")
        require(all(n >= 1 for n in self.hidden), f"hidden sizes must be >= 1, got {self.hidden}")
        require(
            self.loss != "bce" or self.output_activation == "sigmoid",
            f"loss 'bce' needs output_activation 'sigmoid', got {self.output_activation!r}",
        )
        if self.image_shape is not None:
            require(
                all(n >= 1 for n in self.image_shape),
                f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}",
            )
            require(
                math.prod(self.image_shape) == self.input_dim,
                f"image_shape {tuple(self.image_shape)} has {math.prod(self.image_shape)} "
                f"values but input_dim is {self.input_dim}",
            )
        check_conv(self)
        if self.top_k is not None:
            require(
                1 <= self.top_k <= self.code_dim,
                f"top_k must be between 1 and code_dim={self.code_dim}, got {self.top_k}",
            )
        names = [p.name for p in self.penalties]
        require(len(set(names)) == len(names), f"each penalty may appear once, got {names}")
        require(
            not self.pca_fallback or self.code_dim < self.input_dim,
            f"pca_fallback needs a code smaller than the input (code_dim {self.code_dim}, "
            f"input_dim {self.input_dim}): PCA of as many components copies the data",
        )
        self._check_size()

    def parameter_count(self) -> int:
        """Parameters of the model this config builds (counted, not allocated)."""

        def dense(sizes: list[int]) -> int:
            return sum(a * b + b for a, b in itertools.pairwise(sizes))

        sizes = [self.input_dim, *self.hidden, self.code_dim]
        if self.architecture == "conv" and self.image_shape is not None:
            shapes = conv_shapes(self.image_shape, self.conv_channels)
            k2 = self.kernel_size**2
            convs = sum(a[0] * b[0] * k2 + b[0] for a, b in itertools.pairwise(shapes))
            c, h, w = shapes[-1]
            sizes = [c * h * w, *self.hidden, self.code_dim]
            encoder = convs + dense(sizes)
            decoder = (0 if self.tied else convs) + dense(sizes[::-1])
        else:
            encoder, decoder = dense(sizes), dense(sizes[::-1])
        if self.tied:
            decoder = sum(sizes[:-1])  # only the decoder's biases are its own
        return encoder + decoder

    def activation_count(self) -> int:
        """Values one sample's forward pass keeps for backward (every layer's output, in
        the encoder and the decoder; counted, not allocated)."""
        sizes = [self.input_dim, *self.hidden, self.code_dim]
        if self.architecture == "conv" and self.image_shape is not None:
            shapes = conv_shapes(self.image_shape, self.conv_channels)
            sizes = [*(math.prod(s) for s in shapes), *self.hidden, self.code_dim]
        return 2 * sum(sizes)

    def check_memory(self, batch_size: int) -> None:
        """Refuse, with the estimate, a model and batch whose training cannot fit in this
        machine's memory (parameters and their optimizer state, plus the batch's
        activations and their gradients)."""
        check_training_memory(self.parameter_count(), self.activation_count(), batch_size)

    def _check_size(self) -> None:
        """Refuse, with the estimate, a model that cannot fit: training holds about 20
        bytes per parameter (weights, gradients, Adam's two moments, the best weights)."""
        count = self.parameter_count()
        need = 20 * count
        have = physical_memory()
        if need > have:
            raise ConfigError(
                f"the model would have {count:,} parameters: training it needs about "
                f"{need / 2**30:,.1f} GiB (weights, gradients, optimizer state), and this "
                f"machine has {have / 2**30:,.1f} GiB; make the layers smaller"
            )

    @property
    def regularized(self) -> bool:
        """Whether something besides the code size stops the model copying its input."""
        return bool(self.penalties) or self.corruption is not None or self.top_k is not None

    @property
    def arch(self) -> str:
        """Layer sizes from input to code: ``"64-32-8"``, or for a convolutional model
        ``"1x28x28-conv16,32-8"`` (image, convolution channels, dense sizes)."""
        if self.architecture == "conv" and self.image_shape is not None:
            image = "x".join(map(str, self.image_shape))
            convs = "conv" + ",".join(map(str, self.conv_channels))
            return "-".join([image, convs, *map(str, (*self.hidden, self.code_dim))])
        return "-".join(str(n) for n in (self.input_dim, *self.hidden, self.code_dim))

    def summary(self) -> str:
        """One line naming the architecture and the parts."""
        parts = [describe(p) for p in self.penalties]
        if self.top_k is not None:
            parts.append(f"top_k={self.top_k}")
        return (
            f"{self.architecture} {self.arch}{' (tied)' if self.tied else ''}; "
            f"{f'{self.activation} hidden / ' if self.hidden else ''}{self.code_activation} code / "
            f"{self.output_activation} output; loss {self.loss}; "
            f"penalties {', '.join(parts) or 'none'}; corruption {describe(self.corruption)}"
            f"{'; missing entries (NaN) allowed' if self.missing else ''}"
            f"{f'; inputs scaled ({self.scaling})' if self.scaling != 'none' else ''}"
        )


SIZES = ("input_dim", "code_dim")


def model_config(
    kind: str = "undercomplete", *, unit_range: bool = True, **settings: Any
) -> ModelConfig:
    """The :class:`ModelConfig` of preset ``kind`` with ``settings`` (fields of
    ModelConfig) replacing its defaults. A setting given replaces the preset's, None
    included (``corruption=None``: no corruption); ``code_dim`` defaults to
    :func:`~aekit.models.presets.default_code_dim` of ``input_dim``. For data outside [0, 1]
    (``unit_range=False``), and for a model that scales its inputs (``scaling``: its data
    is judged in the scaled units), the output is linear with squared error unless the
    settings choose the output or the loss (a sigmoid cannot reproduce such data), and the
    presets pick parts for real-valued data (the denoising kind's Gaussian noise).

    Examples
    --------
    >>> cfg = model_config("sparse", input_dim=64, code_dim=8)
    >>> cfg.code_activation, [p.name for p in cfg.penalties]
    ('sigmoid', ['kl_sparsity'])
    >>> [p.name for p in model_config("sparse", input_dim=64, penalties=["l1:lam=0.01"]).penalties]
    ['l1']
    """
    given = {k: v for k, v in settings.items() if v is not None or k not in SIZES}
    fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"kind"}
    check_known(given, fields, "model")
    if given.get("scaling", "none") != "none":
        unit_range = False  # scaled data is judged in its own units: a linear output
    if "input_dim" not in given:
        raise ConfigError("input_dim is required")
    for size in ("input_dim", "code_dim"):  # the presets compute with them
        if given.get(size) is not None:
            given[size] = coerce(given[size], int, f"model.{size}")
    if given.get("code_dim") is None:
        given["code_dim"] = default_code_dim(given["input_dim"], kind)
    defaults = KINDS.get(kind)(given["input_dim"], given["code_dim"], unit_range)
    if not unit_range and not {"output_activation", "loss"} & set(given):
        defaults.update(output_activation="linear", loss="mse")
    merged = {**defaults, **given, "kind": kind}
    if "pca_fallback" not in given and given["code_dim"] >= given["input_dim"]:
        merged["pca_fallback"] = False  # a kind's fallback needs a compressing code
    if (
        merged.get("loss") == "bce"
        and "loss" not in given
        and merged.get("output_activation") != "sigmoid"
    ):
        merged["loss"] = "mse"  # a preset's cross-entropy needs its sigmoid output
    if "code_activation" not in given:
        # A penalty that needs a particular code (KL needs (0, 1)) sets it unless the user did.
        penalties = coerce(merged.get("penalties", []), list[Penalty], "model.penalties")
        needed = [p.code_activation for p in penalties if p.code_activation]
        if needed:
            merged["code_activation"] = needed[0]
    return ModelConfig.from_dict(merged, "model")
