"""The schema of training: :class:`TrainConfig`, the settings of the training loop, and
the rules that choose what is left unset from the data (epochs, batch size, warm-up,
validation share) and the time budget.

Examples
--------
>>> TrainConfig(optimizer="lbfgs")
Traceback (most recent call last):
...
aekit.core.errors.ConfigError: TrainConfig.optimizer: unknown optimizer 'lbfgs'; known: adam, adamw, muon, sgd
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from ..core.config import _Config, choices, require, within
from ..core.seeding import MAX_SEED
from . import distributed
from .optim import OPTIMIZERS, SCHEDULES

MAX_BATCH = 2**31 - 1
MAX_EPOCHS = 1_000_000  # bounds the work one setting can ask for


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
        on the settings a user gave (see :func:`warn_ignored`), not on
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
        cfg = self.settled()  # rates left to a kind: aekit's own where none is given
        if cfg.optimizer == "muon":  # two rates: say which is which
            rates = f"muon_lr {cfg.muon_lr:g} hidden matrices, AdamW lr {cfg.lr:g} rest"
            if "newton_schulz" in machine:
                rates += f"; {machine['newton_schulz']}"
            parts = [f"muon ({rates})"]
        else:
            parts = [f"{cfg.optimizer} lr {cfg.lr:g}"]
        if cfg.weight_decay:
            parts.append(f"weight decay {cfg.weight_decay:g}")
        if cfg.ema:
            parts.append(f"ema {cfg.ema:g} (weights averaged)")
        parts.append(f"schedule {cfg.schedule}")
        if cfg.precision == "auto":
            parts.append(f"precision auto: {machine.get('precision', 'bf16 where faster')}")
        elif cfg.precision != "fp32":
            parts.append(cfg.precision)
        if cfg.compile:
            parts.append("compiled")
        return ", ".join([*parts, f"seed {cfg.seed}"])

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


def warn_ignored(config: TrainConfig | list[str], stacklevel: int = 3) -> None:
    """Warn of each setting the user gave that the rest of ``config`` leaves unused
    (:meth:`TrainConfig.ignored`, or the messages given): once, on rank 0, where a user's
    settings enter (``aekit.train``, ``aekit.fit``, the estimators), not for the configs
    aekit derives (pretraining's layers) or reads back (a resumed run)."""
    messages = config.ignored() if isinstance(config, TrainConfig) else config
    if distributed.is_main():
        for message in messages:
            warnings.warn(message, stacklevel=stacklevel)


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
