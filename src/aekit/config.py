"""Typed configs for models, training and data; each validates itself and round-trips to JSON.

Examples
--------
>>> from aekit.config import ModelConfig
>>> from aekit.penalties import KLSparsity
>>> cfg = ModelConfig(input_dim=64, hidden=[32], code_dim=8, code_activation="sigmoid",
...                   penalties=[KLSparsity(rho=0.05, beta=3.0)])
>>> ModelConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from .corruption import Corruption
from .errors import ConfigError
from .losses import LOSSES
from .nets import ACTIVATIONS
from .parts import require
from .penalties import Penalty
from .schema import from_dict, to_dict


class _Config:
    """JSON round trip shared by the config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> Any:
        return from_dict(cls, data, where or cls.__name__)

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclasses.dataclass
class ModelConfig(_Config):
    """Everything needed to rebuild an :class:`~aekit.AutoEncoder` exactly.

    Parameters
    ----------
    input_dim : number of input features (C*H*W for images).
    code_dim : size of the code h.
    hidden : sizes of the encoder's hidden layers (the decoder mirrors them).
    architecture : ``"mlp"`` or ``"conv"`` (stride-2 convolutions, then ``hidden`` dense layers).
    image_shape : (C, H, W) of image data; required for ``"conv"``, used for pictures.
    conv_channels, kernel_size : channels of each convolution and their (odd) kernel size.
    activation, code_activation, output_activation : names from ``aekit.nets.ACTIVATIONS``.
    loss : ``"mse"`` (squared error) or ``"bce"`` (cross-entropy on logits, sigmoid output).
    tied : decoder weights are the transposed encoder weights.
    top_k : keep only the k largest code units of each sample.
    penalties : code penalties added to the loss.
    corruption : input corruption applied in training (denoising).
    kind : the preset this config came from, for display.
    """

    input_dim: int
    code_dim: int
    hidden: list[int] = dataclasses.field(default_factory=list)
    architecture: Literal["mlp", "conv"] = "mlp"
    image_shape: tuple[int, int, int] | None = None
    conv_channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    kernel_size: int = 3
    activation: str = "relu"
    code_activation: str = "linear"
    output_activation: str = "sigmoid"
    loss: str = "mse"
    tied: bool = False
    top_k: int | None = None
    penalties: list[Penalty] = dataclasses.field(default_factory=list)
    corruption: Corruption | None = None
    kind: str = "custom"

    def __post_init__(self) -> None:
        require(self.input_dim >= 1, f"input_dim must be >= 1, got {self.input_dim}")
        require(self.code_dim >= 1, f"code_dim must be >= 1, got {self.code_dim}")
        require(all(n >= 1 for n in self.hidden), f"hidden sizes must be >= 1, got {self.hidden}")
        for field in ("activation", "code_activation", "output_activation"):
            ACTIVATIONS.get(getattr(self, field))
        LOSSES.get(self.loss)
        require(
            self.loss != "bce" or self.output_activation == "sigmoid",
            f"loss 'bce' needs output_activation 'sigmoid', got {self.output_activation!r}",
        )
        if self.image_shape is not None:
            require(
                len(self.image_shape) == 3 and all(n >= 1 for n in self.image_shape),
                f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}",
            )
            require(
                math.prod(self.image_shape) == self.input_dim,
                f"image_shape {tuple(self.image_shape)} has {math.prod(self.image_shape)} "
                f"values but input_dim is {self.input_dim}",
            )
        if self.architecture == "conv":
            require(self.image_shape is not None, "architecture 'conv' needs image_shape (C, H, W)")
            require(
                self.kernel_size >= 1 and self.kernel_size % 2 == 1,
                f"kernel_size must be odd and >= 1, got {self.kernel_size}",
            )
            require(
                len(self.conv_channels) >= 1 and all(c >= 1 for c in self.conv_channels),
                f"conv_channels must be a non-empty list of positive sizes, got {self.conv_channels}",
            )
        if self.top_k is not None:
            require(
                1 <= self.top_k <= self.code_dim,
                f"top_k must be between 1 and code_dim={self.code_dim}, got {self.top_k}",
            )
        names = [p.name for p in self.penalties]
        require(len(set(names)) == len(names), f"each penalty may appear once, got {names}")
        for p in self.penalties:
            if not isinstance(p, Penalty):
                raise ConfigError(f"penalties must be Penalty objects, got {p!r}")
        if self.corruption is not None and not isinstance(self.corruption, Corruption):
            raise ConfigError(f"corruption must be a Corruption object, got {self.corruption!r}")

    @property
    def regularized(self) -> bool:
        """Whether something besides the code size stops the model copying its input."""
        return bool(self.penalties) or self.corruption is not None or self.top_k is not None


@dataclasses.dataclass
class TrainConfig(_Config):
    """Settings of :func:`aekit.fit`.

    Parameters
    ----------
    epochs, batch_size, lr : the usual; Adam by default.
    optimizer : ``"adam"``, ``"adamw"`` or ``"sgd"`` (with ``momentum``).
    weight_decay : L2 penalty on the weights (decoupled for AdamW).
    schedule : ``"constant"``, ``"cosine"`` (to 0 over all steps, after ``warmup_epochs``)
        or ``"plateau"`` (halve the rate when the validation loss stalls).
    val_fraction : share of the training data held out for validation when no validation
        data is given; 0 disables validation.
    patience : stop when the validation loss has not improved by ``min_delta`` for this
        many epochs, and restore the best weights; None trains all epochs.
    seed : seeds weights, data order and corruption noise; runs with the same seed repeat.
    device : ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    eval_batch_size : batch size for validation and inference (no autograd).
    checkpoint_every, checkpoint_every_steps : checkpoint cadence when training into a run
        folder, in epochs and (optionally) in steps.
    on_nan : ``"stop"`` raises on a NaN/inf loss; ``"rollback"`` restores the last good
        state and multiplies the learning rate by ``rollback_lr_factor`` (at most
        ``max_rollbacks`` times).
    grad_clip : clip the gradient norm to this value.
    compile : run the loss through ``torch.compile`` (fuses the elementwise work; pays off
        for long runs of large models, costs compile time up front; BENCHMARKS.md).
    """

    epochs: int = 50
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: Literal["constant", "cosine", "plateau"] = "constant"
    warmup_epochs: int = 0
    val_fraction: float = 0.1
    patience: int | None = None
    min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 4096
    checkpoint_every: int = 1
    checkpoint_every_steps: int | None = None
    on_nan: Literal["stop", "rollback"] = "stop"
    rollback_lr_factor: float = 0.5
    max_rollbacks: int = 3
    grad_clip: float | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.lr > 0 and math.isfinite(self.lr), f"lr must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        require(
            0 <= self.warmup_epochs < self.epochs or self.warmup_epochs == 0,
            f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}",
        )
        require(
            0 <= self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}"
        )
        require(
            self.patience is None or self.patience >= 1,
            f"patience must be >= 1, got {self.patience}",
        )
        require(
            self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}"
        )
        require(
            self.checkpoint_every >= 1,
            f"checkpoint_every must be >= 1, got {self.checkpoint_every}",
        )
        require(
            self.checkpoint_every_steps is None or self.checkpoint_every_steps >= 1,
            f"checkpoint_every_steps must be >= 1, got {self.checkpoint_every_steps}",
        )
        require(
            0 < self.rollback_lr_factor < 1,
            f"rollback_lr_factor must be in (0, 1), got {self.rollback_lr_factor}",
        )
        require(self.max_rollbacks >= 0, f"max_rollbacks must be >= 0, got {self.max_rollbacks}")
        require(
            self.grad_clip is None or self.grad_clip > 0,
            f"grad_clip must be > 0, got {self.grad_clip}",
        )


@dataclasses.dataclass
class DataConfig(_Config):
    """Where the training data comes from (used by the CLI and recorded in run folders).

    ``source`` is ``"digits"`` (scikit-learn, no download), ``"mnist"`` (IDX files in
    ``data_dir``, ``$AEKIT_DATA`` or the cache) or a path to a .npy, .npz or .csv file;
    ``test`` optionally names a file of held-out data; ``limit`` keeps the first N training
    samples.
    """

    source: str = "digits"
    data_dir: str | None = None
    test: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        require(bool(self.source), "data source must not be empty")
        require(self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}")
