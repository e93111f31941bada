"""The one schema: typed configs for a run's model, training, data, pretraining and output.

Each config is a dataclass whose annotations are the schema. It validates itself however it
was made (Python keywords, JSON, command-line flags): wrong types, unknown choices and
out-of-range values raise :class:`~aekit.ConfigError`. Config files, the ``config.json``
of a run folder and the ``aekit train`` flags all come from :class:`RunConfig`; the CLI's
options are generated from its fields (see :mod:`aekit.cli`), with the help text taken from
each class's Parameters section below.

Examples
--------
>>> from aekit.core.config import ModelConfig
>>> from aekit.models.penalties import KLSparsity
>>> cfg = ModelConfig(input_dim=64, hidden=[32], code_dim=8, code_activation="sigmoid",
...                   penalties=[KLSparsity(rho=0.05, beta=3.0)])
>>> ModelConfig.from_dict(cfg.to_dict()) == cfg
True
>>> TrainConfig(optimizer="lbfgs")
Traceback (most recent call last):
...
aekit.core.errors.ConfigError: TrainConfig.optimizer: unknown optimizer 'lbfgs'; known: adam, adamw, muon, sgd
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import json
import math
import os
import re
import typing
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..data.images import is_image_folder
from ..models.corruption import Corruption
from ..models.losses import LOSSES
from ..models.nets import ACTIVATIONS, conv_shapes
from ..models.parts import require
from ..models.penalties import Penalty
from ..models.presets import KINDS, default_code_dim
from ..training.optim import OPTIMIZERS, SCHEDULES
from .errors import ConfigError
from .registry import Registry
from .schema import Bounds, check_known, coerce, from_dict, number, to_dict
from .seeding import MAX_SEED

MAX_BATCH = 2**31 - 1
MAX_EPOCHS = 1_000_000  # bounds the work one setting can ask for
MAX_IMAGE_SIDE = 1 << 16


def physical_memory() -> int:
    """Bytes of memory this machine has (a large number where it cannot be told)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**50


def choices(registry: Registry[Any], flag: str | None = None) -> dict[str, Any]:
    """Field metadata: the value is a name in ``registry`` (checked, and the CLI's choices)."""
    return {"registry": registry, **({"flag": flag} if flag else {})}


def within(low: float | None = None, high: float | None = None, **more: Any) -> dict[str, Any]:
    """Field metadata: the allowed range of a numeric field (see
    :class:`~aekit.core.schema.Bounds`), checked with NaN and infinities refused."""
    return {"bounds": Bounds(low, high, **more)}


def flag(name: str, **more: Any) -> dict[str, Any]:
    """Field metadata: the command-line flag of a field, when not ``--field-name``."""
    return {"flag": name, **more}


def _rearranges(given: Any, images: tuple[int, ...]) -> bool:
    """Whether ``given`` is another shape of as many values as ``images`` (a shape of
    another size is refused elsewhere, with the sizes)."""
    try:
        shape = tuple(int(n) for n in given)
    except (TypeError, ValueError):
        return False
    return shape != tuple(images) and math.prod(shape) == math.prod(images)


@functools.cache
def _keywords(cls: type) -> tuple[str, ...] | None:
    """The keywords ``cls(...)`` takes (None: any, a subclass's ``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL)


class _Config:
    """Validation and the JSON round trip shared by the configs.

    After construction every field is checked against its annotation (and converted where
    JSON, Python and numpy differ: int to float, np.float32 to float, list to tuple, a
    part's spec to the part); every float must be a finite number within the range its
    field declares (``within``), registry-backed names must be registered; then
    :meth:`validate` checks the other ranges and the relations between fields.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Before __init__, whose TypeError would not list the known ones.
        known = _keywords(cls)
        if known is not None:
            check_known(kwargs, known, cls.__name__)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        name = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            where = f"{name}.{f.name}"
            value = coerce(getattr(self, f.name), hints[f.name], where)
            if isinstance(value, float):
                value = number(value, where, f.metadata.get("bounds"))
            registry = f.metadata.get("registry")
            if registry is not None and value is not None and value not in registry:
                raise ConfigError(
                    f"{where}: unknown {registry.family} {value!r}; known: {', '.join(registry)}"
                )
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` if a value is out of range."""

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
        epoch), where PCA's reconstruction error on the validation data is lower than the
        trained model's, the model is PCA: it encodes, decodes and is saved as PCA, and
        the output says so. On by default for the compressing kinds (undercomplete,
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
        need = 20 * self.parameter_count() + 3 * 4 * batch_size * self.activation_count()
        have = physical_memory()
        if need > have:
            raise ConfigError(
                f"training this model with batches of {batch_size} needs about "
                f"{need / 2**30:,.1f} GiB (parameters, optimizer state and activations), and "
                f"this machine has {have / 2**30:,.1f} GiB; use smaller layers or batches"
            )

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


@dataclasses.dataclass
class TrainConfig(_Config):
    """Settings of the training loop (:class:`~aekit.Trainer`, :func:`~aekit.fit`).

    Parameters
    ----------
    epochs : passes over the training data (default: chosen from the data,
        sample_budget samples' worth, between 10 and 300 epochs: 300 on the digits, 30 on
        MNIST, 10 for the deep kind on MNIST).
    batch_size : samples per optimizer step (default: the power of two nearest sqrt(n) for
        n training samples, within 16..256: 16 for 455 samples, 32 for digits' 1,437, 256
        for MNIST; 64 for a stream of unknown length).
    lr : learning rate (default: the kind's, 3e-3; 5e-3 where the deep kind trains at
        batch 512 to fit the time budget).
    optimizer : the optimizer: adam; adamw with decoupled weight decay; sgd with momentum;
        muon: Muon for the hidden layers' weight matrices, AdamW at the rate lr for the
        input and output layers, biases and the rest (default: the kind's, muon for deep,
        else adam; choosing another than the kind's leaves out the kind's weight decay,
        ema and sample budget too).
    muon_lr : learning rate of Muon's matrices (optimizer muon; scaled per matrix by
        sqrt(max(1, rows/columns)), as Muon's authors do) (default: 0.02; 0.03 where the
        deep kind trains at batch 512 to fit the time budget).
    momentum : momentum of sgd.
    weight_decay : L2 penalty on the weights, decoupled for adamw and muon (the latter for
        both Muon's matrices and the AdamW rest) (default: the kind's, 0.1 for deep, else 0).
    schedule : learning-rate schedule: constant; cosine (to 0 over all steps, after
        warmup_epochs of linear warm-up); plateau (halve the rate when the validation loss
        stalls).
    warmup_epochs : epochs of linear warm-up before the cosine schedule (default: 1 when
        training for 10 epochs or more with a schedule other than constant and plateau,
        else 0).
    val_fraction : share of the training data held out for validation when no validation
        data is given; 0 disables validation (default: 0.1, at most 2,000 samples' worth).
    patience : stop when the validation loss has not improved by min_delta for this many
        epochs; none trains all epochs.
    min_delta : the smallest decrease of the validation loss that counts as improvement.
    keep : the weights the model ends with where there is validation data: those of the
        epoch with the lowest validation loss (best) or of the last epoch (last).
    seed : seeds the weights, the data order and the corruption noise: the same seed gives
        the same run.
    device : auto (CUDA when present), cpu, cuda, cuda:1...
    eval_batch_size : batch size of validation and inference (no autograd).
    checkpoint_seconds : when training into a run folder, checkpoint at most this often
        (in seconds of training), and always at the end and on SIGINT/SIGTERM; a killed run
        resumes from its last checkpoint, so at most this much training is repeated.
    checkpoint_every : also checkpoint every this many epochs.
    checkpoint_every_steps : also checkpoint every this many optimizer steps.
    on_nan : what a NaN/inf loss does: stop (raise, keeping the last checkpoint) or
        rollback (restore the last good state and lower the learning rate).
    rollback_lr_factor : the learning rate is multiplied by this at each rollback.
    max_rollbacks : rollbacks allowed before training stops.
    grad_clip : clip the gradient norm to this value.
    ema : decay of an exponential moving average of the weights, updated after every step
        (e.g. 0.99, an average over about the last 100 steps); validation, callbacks, the
        best epoch and the finished model use the averaged weights, which smooth out the
        noise of the last steps. The decay ramps up as (1 + step) / (10 + step) until it
        reaches this value, so the average does not remember the initial weights.
        Parameters are averaged, buffers (a batch norm's statistics) are not.
        0: the weights as trained (default: the kind's, 0.99 for deep, else 0).
    sample_budget : samples' worth of training that chooses the number of epochs when
        epochs is not given (default: the kind's, 600,000 for deep, else 1,800,000).
    compile : run the model through torch.compile (pays off for long runs of large
        models; costs compile time up front).
    precision : the forward pass in float32 ("fp32"), under bfloat16 autocast ("bf16":
        fast on GPUs and on CPUs with bfloat16 units, avx512_bf16 or amx_bf16 in
        /proc/cpuinfo; slower than float32 on other CPUs, where it warns), or in bfloat16
        where it is measured faster than float32 on the device and else in float32
        ("auto"; :func:`aekit.training.hardware.bf16_is_fast`, which ``AEKIT_BF16=on|off``
        overrides); weights, optimizer state and evaluation stay float32.
    """

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = dataclasses.field(default=None, metadata=within(0, low_open=True))
    optimizer: str | None = dataclasses.field(default=None, metadata=choices(OPTIMIZERS))
    muon_lr: float | None = dataclasses.field(default=None, metadata=within(0, low_open=True))
    momentum: float = dataclasses.field(default=0.9, metadata=within(0, 1, high_open=True))
    weight_decay: float | None = dataclasses.field(default=None, metadata=within(0))
    schedule: str = dataclasses.field(default="cosine", metadata=choices(SCHEDULES))
    warmup_epochs: int | None = None
    val_fraction: float | None = dataclasses.field(
        default=None, metadata=within(0, 1, high_open=True)
    )
    patience: int | None = None
    min_delta: float = dataclasses.field(default=0.0, metadata=within(0))
    keep: Literal["best", "last"] = "best"
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 4096
    checkpoint_seconds: float | None = dataclasses.field(default=30.0, metadata=within(0))
    checkpoint_every: int | None = None
    checkpoint_every_steps: int | None = None
    on_nan: Literal["stop", "rollback"] = "stop"
    rollback_lr_factor: float = dataclasses.field(
        default=0.5, metadata=within(0, 1, low_open=True, high_open=True)
    )
    max_rollbacks: int = 3
    grad_clip: float | None = dataclasses.field(default=None, metadata=within(0, low_open=True))
    ema: float | None = dataclasses.field(
        default=None,
        metadata=within(0, 1, high_open=True, note="a decay such as 0.99; 0: no average"),
    )
    sample_budget: int | None = None
    compile: bool = False
    precision: Literal["fp32", "bf16", "auto"] = "fp32"

    def validate(self) -> None:
        require(
            self.epochs is None or 1 <= self.epochs <= MAX_EPOCHS,
            f"epochs must be in [1, {MAX_EPOCHS:,}], got {self.epochs}",
        )
        require(
            self.batch_size is None or 1 <= self.batch_size <= MAX_BATCH,
            f"batch_size must be in [1, {MAX_BATCH}], got {self.batch_size}",
        )
        require(
            1 <= self.eval_batch_size <= MAX_BATCH,
            f"eval_batch_size must be in [1, {MAX_BATCH}], got {self.eval_batch_size}",
        )
        require(
            self.sample_budget is None or 1 <= self.sample_budget <= MAX_SAMPLE_BUDGET,
            f"sample_budget must be in [1, {MAX_SAMPLE_BUDGET:,}], got {self.sample_budget}",
        )
        require(
            self.warmup_epochs is None
            or self.warmup_epochs == 0
            or 0 < self.warmup_epochs < (self.epochs or math.inf)
            # a schedule without a warm-up leaves it unused, and says so (ignored())
            or (self.warmup_epochs > 0 and not warms_up(self.schedule)),
            f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}",
        )
        require(
            self.patience is None or self.patience >= 1,
            f"patience must be >= 1, got {self.patience}",
        )
        require(0 <= self.seed <= MAX_SEED, f"seed must be in [0, 2**63 - 1], got {self.seed}")
        require(
            self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}"
        )
        require(
            self.checkpoint_every is None or self.checkpoint_every >= 1,
            f"checkpoint_every must be >= 1, got {self.checkpoint_every}",
        )
        require(
            self.checkpoint_every_steps is None or self.checkpoint_every_steps >= 1,
            f"checkpoint_every_steps must be >= 1, got {self.checkpoint_every_steps}",
        )
        require(
            0 <= self.max_rollbacks <= 1000,
            f"max_rollbacks must be in [0, 1000], got {self.max_rollbacks}",
        )

    def ignored(self) -> list[str]:
        """Settings changed from their default that the rest of this config leaves unused
        (a rate for another optimizer, a warm-up without the schedule that has one...): one
        message each, so a setting that does nothing is said, not silently dropped. Checked
        on the settings a user gave (see :func:`~aekit.training.trainer.warn_ignored`), not on
        configs aekit derives or reads back from a run folder."""
        # setting: (the setting it depends on, the test of that setting, what it needs)
        uses = {
            "muon_lr": ("optimizer", lambda v: v == "muon", "muon"),
            "momentum": ("optimizer", lambda v: v == "sgd", "sgd"),
            "warmup_epochs": ("schedule", warms_up, "cosine"),
            "rollback_lr_factor": ("on_nan", lambda v: v == "rollback", "rollback"),
            "max_rollbacks": ("on_nan", lambda v: v == "rollback", "rollback"),
        }
        defaults = type(self)()
        out = []
        for name, (owner, used, needs) in uses.items():
            value, by = getattr(self, name), getattr(self, owner)
            unset = (getattr(defaults, name), KIND_SETTABLE.get(name), None, 0)
            if value not in unset and not used(by):
                out.append(
                    f"{name}={value:g} does nothing with {owner}={by} (needs {owner} {needs})"
                )
        return out

    def summary(self, machine: Mapping[str, str] | None = None) -> str:
        """One line naming the optimizer and what shapes the run beyond its length;
        ``machine``: what the run chose for its machine (a fit's ``machine``: the
        Newton-Schulz dtype of Muon, the precision "auto" chose), said where known."""
        machine = machine or {}
        if self.optimizer == "muon":  # two rates: say which is which
            rates = f"muon_lr {self.muon_lr:g} hidden matrices, AdamW lr {self.lr:g} rest"
            if "newton_schulz" in machine:
                rates += f"; {machine['newton_schulz']}"
            parts = [f"muon ({rates})"]
        else:
            parts = [f"{self.optimizer} lr {self.lr:g}"]
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        if self.ema:
            parts.append(f"ema {self.ema:g} (weights averaged)")
        parts.append(f"schedule {self.schedule}")
        if self.precision == "auto":
            parts.append(f"precision auto: {machine.get('precision', 'bf16 where faster')}")
        elif self.precision != "fp32":
            parts.append(self.precision)
        if self.compile:
            parts.append("compiled")
        return ", ".join([*parts, f"seed {self.seed}"])

    def settled(self, defaults: Mapping[str, Any] | None = None) -> TrainConfig:
        """These settings with the ones a kind of model may choose filled in where unset
        (None): from ``defaults`` (a kind's own training, e.g. the deep kind's Muon), else
        aekit's (adam, no weight decay, no average, SAMPLE_BUDGET). Settings already set
        are kept, so a value a user gives always wins. A kind's settings are one recipe
        for its optimizer: choosing another optimizer leaves all of them out (the deep
        kind's weight decay 0.1 is decoupled under Muon, but an L2 penalty that ruins Adam)."""
        defaults = dict(defaults or {})
        if (
            self.optimizer is not None
            and defaults.get("optimizer", self.optimizer) != self.optimizer
        ):
            defaults = {}
        defaults = {**KIND_SETTABLE, **defaults}
        unset = {k: defaults[k] for k in KIND_SETTABLE if getattr(self, k) is None}
        return self.replace(**unset) if unset else self

    def resolved(self, samples: int | None, step_seconds: float | None = None) -> TrainConfig:
        """These settings with the ones chosen from the data filled in (epochs, batch size,
        warm-up, validation share) for ``samples`` training samples (None: unknown, as for
        a stream), and aekit's defaults for any left to a kind (:meth:`settled`).

        With ``step_seconds``, a training step's time measured on this machine, the
        epochs left to choose are cut, where they would take more than twice
        :data:`TIME_BUDGET` seconds (3 minutes), to fit about that, down to 10 at the
        least (the sample-budget rule's floor), or to :data:`LEAST_SAMPLES` samples' worth
        where 10 epochs are more: a large model on a slow CPU trains fewer epochs rather
        than for hours.

        Examples
        --------
        >>> TrainConfig().resolved(1437).epochs  # 1.8 million samples' worth, at most 300
        300
        >>> TrainConfig().resolved(1437, step_seconds=0.02).epochs  # 246 s: kept
        300
        >>> TrainConfig().resolved(1437, step_seconds=0.1).epochs  # 41 steps of 0.1 s an epoch
        44
        >>> TrainConfig().resolved(1437, step_seconds=3.0).epochs  # never below 10
        10
        >>> TrainConfig().resolved(60_000, step_seconds=3.0).epochs  # 150,000 samples' worth
        3
        """
        cfg = self.settled()
        epochs, batch_size = cfg.epochs, cfg.batch_size
        if samples is not None:
            samples = max(samples, 1)  # empty data is refused later, with its own message
        if epochs is None:
            budget = cfg.sample_budget
            epochs = 30 if samples is None else min(300, max(10, round(budget / samples)))
        if batch_size is None:
            # About sqrt(n) samples per batch (and so sqrt(n) steps per epoch): small tables
            # get the many small steps they need, MNIST its large fast ones.
            root = 64 if samples is None else samples**0.5
            batch_size = min(256, max(16, 2 ** round(math.log2(root))))
        val = cfg.val_fraction
        if val is None:
            # Enough to pick the best epoch by; large data sets keep the rest for training.
            # Small data sets hold out up to a quarter, to have about 50 samples to pick
            # the best epoch (and PCA or the layers) by: 16 of 160 chose noisily, and
            # every sample held out is one the layers do not learn from.
            val = 0.1
            if samples is not None:
                val = round(max(min(0.1, 2000 / samples), min(0.25, 50 / samples)), 4)
        if cfg.epochs is None and step_seconds is not None and samples is not None:
            steps = math.ceil(samples * (1 - val) / batch_size)
            if epochs * steps * step_seconds > 2 * TIME_BUDGET:
                # Only a run far over the budget is cut: a timing on a busy machine does
                # not change the length of one that is near it.
                fits = round(TIME_BUDGET / max(step_seconds * steps, 1e-9))
                epochs = max(min(epochs, least_epochs(samples)), min(epochs, fits))
        warmup = cfg.warmup_epochs
        if warmup is None:
            warmup = 1 if epochs >= 10 and warms_up(cfg.schedule) else 0
        return cfg.replace(
            epochs=epochs, batch_size=batch_size, warmup_epochs=warmup, val_fraction=val
        )

    def seconds(self, samples: int, step_seconds: float) -> float:
        """The training time of these resolved settings on ``samples`` samples (less the
        validation share), at ``step_seconds`` a step."""
        train = samples * (1 - (self.val_fraction or 0))
        return (self.epochs or 0) * math.ceil(train / (self.batch_size or 1)) * step_seconds

    def chosen(self) -> dict[str, Any]:
        """The settings left to be chosen from the data (None here)."""
        names = ("epochs", "batch_size", "warmup_epochs", "val_fraction")
        return {k: None for k in names if getattr(self, k) is None}


def least_epochs(samples: int) -> int:
    """The fewest epochs a cut to the time budget leaves: 10, or on a data set so large
    that 10 epochs are more than :data:`LEAST_SAMPLES` samples, as many as make that
    (3 on MNIST's 54,000 training images)."""
    return max(1, min(10, math.ceil(LEAST_SAMPLES / max(samples, 1))))


def warms_up(schedule: str) -> bool:
    """Whether ``schedule`` reads ``warmup_epochs``: a registered schedule says so with a
    ``warms_up`` attribute (the built-in constant and plateau set it False); one that
    does not say is assumed to."""
    return schedule not in SCHEDULES or getattr(SCHEDULES.get(schedule), "warms_up", True)


SAMPLE_BUDGET = 1_800_000  # samples a default run trains on (30 MNIST epochs)
# Seconds of training a run whose epochs are left to choose aims at, at most, from a step
# timed on the machine at hand (TrainConfig.resolved): about 3 minutes.
TIME_BUDGET = 180.0
# The fewest samples a run cut to the time budget still trains on (unless 10 epochs are
# fewer): about 3 MNIST epochs, which the deep kind needs to get below an error of 3.00.
LEAST_SAMPLES = 150_000
MAX_SAMPLE_BUDGET = 10**12
# The training settings a kind of model may choose (a preset's ``training``), and aekit's
# values where neither the user nor the kind does.
KIND_SETTABLE: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-3,
    "muon_lr": 0.02,
    "weight_decay": 0.0,
    "ema": 0.0,
    "sample_budget": SAMPLE_BUDGET,
}


@dataclasses.dataclass
class DataConfig(_Config):
    """Where the data comes from.

    Parameters
    ----------
    source : "digits" (scikit-learn's, no download), "mnist" (IDX files in data_dir,
        $AEKIT_DATA or the cache), a .npy, .npz or .csv file, or a folder of images
        (.png, .jpg, ...: one image a sample, in name order).
    data_dir : folder with the MNIST files (else $AEKIT_DATA or the cache).
    test : a file or a folder of images of held-out data for the final evaluation (file
        sources only).
    limit : use only the first N training samples.
    stream : read the data from disk a buffer at a time instead of loading it (.npy files,
        folders of .npy shards, uncompressed IDX files); default: for files above 1 GiB
        and for folders of shards.
    shuffle_buffer_mb : streaming: MiB of data shuffled together (blocks of 4 MiB are
        shuffled, then the rows of each buffer).
    read_workers : streaming: threads reading the next buffers while the model trains.
    image_size : folders of images: resize every image to H,W (Lanczos filter; the aspect
        ratio is not kept); without it, images of different sizes are refused.
    image_mode : folders of images: convert every image to grey, rgb or rgba (alpha is
        dropped, not composited); without it, images are kept as they are (grey 1
        channel, RGB 3, RGBA 4) and a folder of mixed kinds is refused.
    header : CSV files: whether the first line names the columns ("yes", "no"); "auto"
        reads a line of names as a header and a line of numbers or missing values as a
        sample, and refuses a line that could be either (pandas' column numbers 0,1,...).
    """

    source: str = dataclasses.field(default="digits", metadata=flag("--data"))
    data_dir: str | None = None
    test: str | None = None
    limit: int | None = None
    stream: bool | None = None
    shuffle_buffer_mb: int = 64
    read_workers: int = 2
    image_size: tuple[int, int] | None = None
    image_mode: Literal["grey", "rgb", "rgba"] | None = None
    header: Literal["auto", "yes", "no"] = "auto"

    def validate(self) -> None:
        require(bool(self.source), "data source must not be empty")
        require(
            self.image_size is None or all(1 <= n <= MAX_IMAGE_SIDE for n in self.image_size),
            f"image_size must be two sizes (height, width) in [1, {MAX_IMAGE_SIDE}], "
            f"got {self.image_size}",
        )
        require(self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}")
        require(
            1 <= self.shuffle_buffer_mb <= 1 << 20,
            f"shuffle_buffer_mb must be in [1, {1 << 20}], got {self.shuffle_buffer_mb}",
        )
        require(
            1 <= self.read_workers <= 64,
            f"read_workers must be in [1, 64], got {self.read_workers}",
        )

    @property
    def named(self) -> bool:
        """Whether the source is a built-in data set rather than a file."""
        return self.source in NAMED_SOURCES

    def ignored(self, streamed: bool, given: bool = False) -> list[str]:
        """Settings given that the data leaves unused, one message each (as
        :meth:`TrainConfig.ignored`): ``streamed`` whether the training data is read from
        disk, ``given`` whether it came in Python (an array, a tensor, a Dataset or a
        DiskArray) rather than from ``source``; check the config with the source used."""
        defaults = type(self)()
        imaging = [name for name in ("image_size", "image_mode") if getattr(self, name)]
        reads = [
            name
            for name in ("shuffle_buffer_mb", "read_workers")
            if getattr(self, name) != getattr(defaults, name)
        ]
        if given:
            unused = [name for name in ("data_dir", "test") if getattr(self, name) is not None]
            if self.header != "auto":
                unused.append("header")
            if self.stream is not None and self.stream != streamed:
                unused.append("stream")
            return [
                f"{n}={getattr(self, n)} does nothing with data given in Python"
                for n in unused + reads
            ] + [
                f"{n}={describe(getattr(self, n))} does nothing with data given in Python"
                for n in imaging
            ]
        out = []
        if imaging and not any(
            path is not None and is_image_folder(path) for path in (self.source, self.test)
        ):
            out += [
                f"{n}={describe(getattr(self, n))} does nothing with source={self.source} "
                "(it applies to folders of images)"
                for n in imaging
            ]
        tables = [p for p in (self.source, self.test) if p and p.lower().endswith((".csv", ".txt"))]
        if self.header != "auto" and not tables:
            out.append(
                f"header={self.header} does nothing with source={self.source} (it applies "
                "to CSV files)"
            )
        if self.data_dir is not None and self.source != "mnist":
            out.append(
                f"data_dir={self.data_dir} does nothing with source={self.source} "
                "(it is the folder of the MNIST files)"
            )
        if not streamed:
            out += [
                f"{n}={getattr(self, n)} does nothing: the data is in memory, not streamed "
                "from disk"
                for n in reads
            ]
        return out


NAMED_SOURCES = ("digits", "mnist")


@dataclasses.dataclass
class PretrainConfig(_Config):
    """Greedy layer-wise pretraining (MLP), then fine-tuning with the training settings.

    Parameters
    ----------
    method : pretrain a stack of shallow autoencoders, one per layer, first (greedy).
    epochs : training epochs per layer.
    corruption : input corruption of every layer, NAME[:key=value,...] (stacked denoising).
    penalties : code penalty of every layer, NAME[:key=value,...] (repeatable).
    lr : learning rate of the layers (default: the training lr).
    batch_size : batch size of the layers (default: the training batch size).
    """

    method: Literal["greedy"] = dataclasses.field(default="greedy", metadata=flag("--pretrain"))
    epochs: int = 5
    corruption: Corruption | None = None
    penalties: list[Penalty] = dataclasses.field(
        default_factory=list, metadata=flag("--pretrain-penalty", append=True)
    )
    lr: float | None = dataclasses.field(default=None, metadata=within(0, low_open=True))
    batch_size: int | None = None

    def validate(self) -> None:
        require(
            1 <= self.epochs <= MAX_EPOCHS,
            f"pretraining epochs must be in [1, {MAX_EPOCHS:,}], got {self.epochs}",
        )
        require(
            self.batch_size is None or self.batch_size >= 1,
            f"pretraining batch_size must be >= 1, got {self.batch_size}",
        )


@dataclasses.dataclass
class OutputConfig(_Config):
    """Where a run goes and what it shows while it trains.

    Parameters
    ----------
    out : the run folder to create (default: runs/KIND-DATE-TIME, made unique).
    progress : show a progress bar (default: where stderr is a terminal or a notebook, so
        that logs get none of its carriage returns; --progress draws it anyway).
    report : write the run's figures (RUN/figures) and its one-page HTML report
        (RUN/report.html) at the end.
    tensorboard : also log every epoch's losses and the figures for TensorBoard into
        RUN/tensorboard (needs the tensorboard package).
    """

    out: str | None = None
    progress: bool | None = None
    report: bool = True
    tensorboard: bool = False


# Top-level keys of a run folder's config.json besides the RunConfig sections.
# Written by aekit beside the settings: "columns" names the columns a run trained on,
# where its data named them (a CSV's header line, a DataFrame).
RUN_METADATA = ("format", "aekit_version", "family", "result", "world_size", "columns")


@dataclasses.dataclass
class RunConfig(_Config):
    """All the settings of a run: the one schema behind :func:`aekit.train`, config files,
    run folders' ``config.json`` and the ``aekit train`` flags.

    ``model`` holds model settings (fields of :class:`ModelConfig`, ``kind`` among them);
    what it does not set comes from the kind's preset and the data (input size, image
    shape, the code-size rule). :meth:`model_config` resolves them.

    Examples
    --------
    >>> cfg = RunConfig.from_dict({"model": {"kind": "sparse", "code_dim": 16},
    ...                            "training": {"epochs": 5}})
    >>> cfg.model_config(input_dim=64).arch, cfg.training.epochs
    ('64-16', 5)
    >>> RunConfig(model={"hidden": "wide"})
    Traceback (most recent call last):
    ...
    aekit.core.errors.ConfigError: model.hidden: expected a list, got str 'wide'
    """

    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    pretrain: PretrainConfig | None = None
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)

    def validate(self) -> None:
        hints = typing.get_type_hints(ModelConfig)
        check_known(self.model, hints, "model")
        self.model = {k: coerce(v, hints[k], f"model.{k}") for k, v in self.model.items()}
        KINDS.get(self.kind)

    @property
    def kind(self) -> str:
        return self.model.get("kind", "undercomplete")

    def model_config(
        self,
        input_dim: int,
        image_shape: tuple[int, int, int] | None = None,
        unit_range: bool = True,
    ) -> ModelConfig:
        """The model these settings describe for data of ``input_dim`` features.

        ``unit_range``: whether the data lies in [0, 1] (see :func:`model_config`)."""
        settings = dict(self.model)
        if "scaling" not in settings and not unit_range:
            settings["scaling"] = "standard"
        given = settings.pop("input_dim", input_dim)
        if given != input_dim:
            raise ConfigError(
                f"the model's input_dim is {given} but the data has {input_dim} features"
            )
        if image_shape is not None and "image_shape" not in settings:
            settings["image_shape"] = image_shape
        elif image_shape is not None and _rearranges(settings["image_shape"], image_shape):
            given = tuple(settings["image_shape"])
            warnings.warn(
                f"model.image_shape {given} differs from the data's images, "
                f"{tuple(image_shape)}: the model sees each image rearranged",
                UserWarning,
                stacklevel=3,
            )
        kind = settings.pop("kind", "undercomplete")
        return model_config(kind, unit_range=unit_range, input_dim=input_dim, **settings)

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> RunConfig:
        """From a config file's or a run folder's JSON; a run folder's metadata keys
        (format, aekit_version, family, result) are accepted and ignored."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in RUN_METADATA}
            # Config files of aekit 0.1.0 put the kind and the run folder at the top.
            if isinstance(data.get("kind"), str) and isinstance(data.get("model", {}), dict):
                data["model"] = {"kind": data.pop("kind"), **data.get("model", {})}
            if isinstance(data.get("out"), str) and isinstance(data.get("output", {}), dict):
                data["output"] = {"out": data.pop("out"), **data.get("output", {})}
        return from_dict(cls, data, "" if where is None else where)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read a JSON config file. Paths it names (data files, the MNIST folder, the
        output folder) are relative to the file's folder and must stay inside it: a config
        file may come from someone else, and must not make aekit read or write elsewhere."""
        from .io import read_json  # files are layer 1; imported here to keep config light

        path = Path(path)
        raw = read_json(path, what="config file", error=ConfigError)
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        for section in ("data", "output"):
            if section in raw and not isinstance(raw[section], dict):
                raise ConfigError(f"config file {path}: '{section}' must be an object")
        raw = _legacy(dict(raw))
        raw["data"] = _inside(raw.get("data", {}), ("source", "data_dir", "test"), path, "data")
        raw["output"] = _inside(raw.get("output", {}), ("out",), path, "output")
        try:
            return cls.from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if self.pretrain is None:
            out.pop("pretrain")
        return out


def _legacy(raw: dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw.get("out"), str) and isinstance(raw.get("output", {}), dict):
        raw["output"] = {"out": raw.pop("out"), **raw.get("output", {})}
    return raw


def _inside(section: dict[str, Any], keys: tuple[str, ...], origin: Path, where: str) -> Any:
    out = dict(section)
    base = origin.parent.resolve()
    for key in keys:
        value = out.get(key)
        if not isinstance(value, str) or (key == "source" and value in NAMED_SOURCES):
            continue
        path = Path(value)
        if path.is_absolute() or not (base / path).resolve().is_relative_to(base):
            raise ConfigError(
                f"{where}.{key} {value!r} in {origin} points outside the folder of that file; "
                "paths in config files must stay inside it (give it on the command line instead)"
            )
        out[key] = str(base / path)
    return out


def field_help(cls: type) -> dict[str, str]:
    """Each field's help text, from the Parameters section of ``cls``'s docstring."""
    doc = inspect.getdoc(cls) or ""
    section = doc.split("----------", 1)[1] if "----------" in doc else ""
    helps: dict[str, str] = {}
    current: list[str] = []
    for line in section.splitlines():
        match = re.match(r"^(\w+(?:, \w+)*) : (.*)$", line)
        if match:
            current = match.group(1).split(", ")
            for name in current:
                helps[name] = match.group(2)
        elif line.startswith("    ") and current:
            for name in current:
                helps[name] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            current = []
            if helps:
                break
    return helps


def describe(value: Any) -> str:
    """A setting as the command line writes it (for help texts and summaries)."""
    if isinstance(value, list | tuple):
        return ",".join(describe(v) for v in value) or "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        params = {k: v for k, v in to_json().items() if k != "name"}
        return f"{value.name}:" + ",".join(f"{k}={json.dumps(v)}" for k, v in params.items())
    return str(value)
