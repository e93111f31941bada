"""Optimizers and learning-rate schedules, by name.

``OPTIMIZERS`` and ``SCHEDULES`` are registries: a new optimizer or schedule is one
registered function here, and it is then a valid ``TrainConfig.optimizer`` /
``TrainConfig.schedule``, a choice of the ``--optimizer`` / ``--schedule`` flags and a
setting config files accept. A schedule without a warm-up sets ``warms_up = False`` on
its function, so that ``warmup_epochs`` is neither chosen for it nor accepted silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..core.errors import ConfigError
from ..core.registry import Registry
from .hardware import bf16_speed

if TYPE_CHECKING:
    from .config import TrainConfig

# (model, its trainable parameters, the training config) -> the optimizer over them.
OptimizerFactory = Callable[
    [torch.nn.Module, list[torch.nn.Parameter], "TrainConfig"], torch.optim.Optimizer
]
OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")

# Models up to this many parameters keep them in one flat buffer (see build_optimizer).
FLAT_PARAMETERS_UP_TO = 100_000


def fused(
    cls: type[torch.optim.Optimizer],
    params: list[torch.nn.Parameter],
    lr: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    """``cls`` (Adam or AdamW) with its fused step where the device and torch have one."""
    # The fused step (one kernel over all parameters) is measurably faster on CPU and
    # CUDA (BENCHMARKS.md); older torch or other devices fall back to foreach.
    try:
        return cls(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def _adam(
    model: torch.nn.Module, params: list[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    return fused(torch.optim.Adam, params, cfg.lr, cfg.weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(
    model: torch.nn.Module, params: list[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    return fused(torch.optim.AdamW, params, cfg.lr, cfg.weight_decay)


class MuonWithAdam(torch.optim.Optimizer):
    """Muon (Jordan et al., 2024) for the hidden weight matrices, AdamW for the rest.

    Muon replaces each matrix's momentum-averaged gradient by its nearest semi-orthogonal
    matrix (a Newton-Schulz iteration), so every direction of the layer moves at the same
    rate; it is meant for hidden layers only, and the input and output layers, biases and
    other parameters keep an Adam, as its authors advise. Weight decay is decoupled in both
    (AdamW; without weight decay AdamW is Adam). On the deep MNIST autoencoder it needs far
    fewer samples than Adam for the same error (BENCHMARKS.md, section 11).

    The two are one optimizer to the trainer: its ``param_groups`` are the AdamW groups
    then the Muon groups (the same dictionaries the inner optimizers step with, so a
    schedule sets both rates), and its state is both inner states.

    ``newton_schulz`` is the dtype of the Newton-Schulz iterations: bfloat16 is
    ``torch.optim.Muon``'s own step, float32 the same step with the iterations in float32
    (:func:`muon_step`); None (the default) chooses bfloat16 where it is faster than
    float32 on the matrices' device (:func:`aekit.training.hardware.bf16_is_fast`; ``AEKIT_BF16``
    overrides it), as on a CPU without bfloat16 units it is about 8x slower. Either way the
    state is ``torch.optim.Muon``'s, so a checkpoint resumes with either. ``note`` says
    which and why, for the training summary ("Newton-Schulz in float32: bfloat16 measured
    7.9x slower here").
    """

    def __init__(
        self,
        matrices: list[torch.nn.Parameter],
        others: list[torch.nn.Parameter],
        lr: float,
        muon_lr: float,
        weight_decay: float = 0.0,
        newton_schulz: torch.dtype | None = None,
    ) -> None:
        muon = getattr(torch.optim, "Muon", None)
        if muon is None:
            raise ConfigError(
                f"optimizer 'muon' needs torch.optim.Muon (torch >= 2.9; this is "
                f"torch {torch.__version__}): upgrade torch or choose adam"
            )
        self.muon = muon(matrices, lr=muon_lr, weight_decay=weight_decay) if matrices else None
        self.adam = fused(torch.optim.AdamW, others, lr, weight_decay) if others else None
        inner = [o for o in (self.adam, self.muon) if o is not None]
        super().__init__([g for o in inner for g in o.param_groups], {})
        self._inner = inner
        if newton_schulz is None:
            speed = bf16_speed(matrices[0].device if matrices else None)
            newton_schulz = torch.bfloat16 if speed.fast else torch.float32
            self.note = f"Newton-Schulz in {speed.choice()}"
        else:
            self.note = f"Newton-Schulz in {str(newton_schulz).removeprefix('torch.')}"
        if newton_schulz not in (torch.bfloat16, torch.float32):
            raise ValueError(f"newton_schulz must be bfloat16 or float32, got {newton_schulz}")
        self.newton_schulz = newton_schulz

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.adam is not None:
            self.adam.step()
        if self.muon is not None:
            if self.newton_schulz == torch.bfloat16:
                self.muon.step()  # torch's own, bit for bit
            else:
                muon_step(self.muon, self.newton_schulz)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"inner": [o.state_dict() for o in self._inner]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("inner") if isinstance(state, dict) else None
        if not isinstance(saved, list) or len(saved) != len(self._inner):
            raise ValueError("the saved optimizer state is not a Muon-with-Adam state")
        for optimizer, part in zip(self._inner, saved, strict=True):
            optimizer.load_state_dict(part)
        # Loading gives each inner optimizer new group dictionaries: share them again, so
        # that the schedule's and a rollback's rates reach the steps.
        self.param_groups = [g for o in self._inner for g in o.param_groups]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if getattr(self, "_inner", None) is not None:
            raise NotImplementedError("add groups to the inner optimizers, .muon or .adam")
        super().add_param_group(param_group)


def newton_schulz(
    grad: Tensor,
    coefficients: tuple[float, float, float],
    steps: int,
    eps: float,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The Newton-Schulz iteration of ``torch.optim.Muon`` (``_zeropower_via_newtonschulz``,
    torch 2.9 to 2.13), in ``dtype``: in bfloat16 it gives torch's result bit for bit."""
    if grad.ndim != 2:
        raise ValueError("Muon's Newton-Schulz iteration takes a 2-D matrix")
    a, b, c = coefficients
    x = grad.to(dtype, copy=True)  # a copy: the in-place division must not reach the buffer
    tall = grad.size(0) > grad.size(1)
    if tall:
        x = x.T
    x.div_(x.norm().clamp(min=eps))  # spectral norm at most 1
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def _adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    """torch.optim.Muon's rate for a matrix of ``shape`` (its ``_adjust_lr``)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    return lr


@torch.no_grad()
def muon_step(muon: torch.optim.Optimizer, dtype: torch.dtype = torch.float32) -> None:
    """One step of the ``torch.optim.Muon`` ``muon``, as its own ``step()`` takes it (torch
    2.9 to 2.13), with the Newton-Schulz iterations in ``dtype``; its state stays torch's
    (a ``momentum_buffer`` per matrix), so either step continues from the other's."""
    for group in muon.param_groups:
        lr = group["lr"]
        lr = lr.item() if isinstance(lr, Tensor) else lr
        momentum, decay = group["momentum"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad
            state = muon.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(
                    grad, memory_format=torch.preserve_format
                )
            buf = state["momentum_buffer"]
            buf.lerp_(grad, 1 - momentum)
            update = grad.lerp(buf, momentum) if group.get("nesterov", True) else buf
            update = newton_schulz(
                update, group["ns_coefficients"], group["ns_steps"], group["eps"], dtype
            )
            p.mul_(1 - lr * decay)
            p.add_(update, alpha=-_adjusted_lr(lr, group.get("adjust_lr_fn"), p.shape))


def _weight_of(layer: torch.nn.Module) -> torch.nn.Parameter | None:
    """A dense or convolutional layer's weight (a tied layer's is its source's)."""
    weight = getattr(getattr(layer, "source", layer), "weight", None)
    return weight if isinstance(weight, torch.nn.Parameter) and weight.ndim >= 2 else None


def hidden_matrices(
    model: torch.nn.Module, params: list[torch.nn.Parameter]
) -> list[torch.nn.Parameter]:
    """The 2-D weights among ``params`` other than the input layer's and the output
    layer's: those of the encoder's first layer and the decoder's last (which, with tied
    weights, is the encoder's first again). Convolutions are not 2-D and stay with Adam;
    the dense layers between them are hidden. For a model without ``encoder`` and
    ``decoder``, the first and the last 2-D parameters are taken for the outer layers."""
    matrices = [p for p in params if p.ndim == 2]
    encoder, decoder = getattr(model, "encoder", None), getattr(model, "decoder", None)
    if not isinstance(encoder, torch.nn.Module) or not isinstance(decoder, torch.nn.Module):
        return matrices[1:-1]
    first = [w for m in encoder.modules() if (w := _weight_of(m)) is not None][:1]
    last = [w for m in decoder.modules() if (w := _weight_of(m)) is not None][-1:]
    return [p for p in matrices if all(p is not q for q in first + last)]


@OPTIMIZERS.register("muon")
def _muon(
    model: torch.nn.Module, params: list[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    matrices = hidden_matrices(model, params)
    chosen = {id(p) for p in matrices}
    others = [p for p in params if id(p) not in chosen]
    return MuonWithAdam(matrices, others, cfg.lr, cfg.muon_lr, cfg.weight_decay)


# Muon needs each matrix whole: its parameters are never moved into one flat buffer.
_muon.flat = False  # type: ignore[attr-defined]


@OPTIMIZERS.register("sgd")
def _sgd(
    model: torch.nn.Module, params: list[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``cfg`` names, over ``model``'s trainable parameters.

    Small models get their parameters moved into one flat buffer (and their gradients into
    another), so the optimizer steps a single tensor: its per-tensor overhead is most of a
    small model's step on the CPU (BENCHMARKS.md: 1.17-1.23x on the digits model). That is
    invisible to the caller: the model keeps its parameters (views into the buffer), and
    ``zero_grad`` zeroes the gradient buffer in place. Large models keep separate tensors,
    where zeroing and accumulating into one big buffer costs more than it saves.
    """
    cfg = cfg.settled()  # the optimizer and weight decay a kind leaves open: aekit's
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
    factory = OPTIMIZERS.get(cfg.optimizer)
    flat_grad: Tensor | None = None
    if getattr(factory, "flat", True) and sum(p.numel() for p in params) <= FLAT_PARAMETERS_UP_TO:
        flat, flat_grad = flatten_parameters(params)
        params = [flat]
    optimizer = factory(model, params, cfg)
    if flat_grad is not None:
        grad = flat_grad

        def zero_grad(set_to_none: bool = True) -> None:
            grad.zero_()  # the views stay attached to the buffer; zero it, keep it

        optimizer.zero_grad = zero_grad  # type: ignore[method-assign]
    return optimizer


def flatten_parameters(
    params: list[torch.nn.Parameter],
) -> tuple[torch.nn.Parameter, Tensor]:
    """Move ``params`` into one contiguous buffer and their gradients into another; each
    parameter (and its ``.grad``) becomes a view into them.

    Returns the buffer as a single parameter for the optimizer, and the gradient buffer:
    backward accumulates into the views in place, so zeroing the buffer zeroes every
    gradient. The model is unchanged otherwise (same values, names and state_dict).
    """
    # Each parameter starts on a 64-byte boundary, as a fresh allocation would.
    align = max(1, 64 // params[0].element_size())
    offsets, total = [], 0
    for p in params:
        offsets.append(total)
        total += -(-p.numel() // align) * align
    flat = torch.zeros(total, dtype=params[0].dtype, device=params[0].device)
    grad = torch.zeros_like(flat)
    with torch.no_grad():
        for p, offset in zip(params, offsets, strict=True):
            n = p.numel()
            flat[offset : offset + n].copy_(p.reshape(-1))
            p.data = flat[offset : offset + n].view_as(p)
            p.grad = grad[offset : offset + n].view_as(p)
    flat_param = torch.nn.Parameter(flat)
    flat_param.grad = grad
    return flat_param, grad


class Schedule:
    """A learning-rate schedule with one interface for the trainer: ``after_step()``
    after each optimizer step, ``after_epoch(loss)`` after each epoch (with the monitored
    loss), ``scale(factor)`` to lower the rate for good (a NaN rollback), and a state."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def after_step(self) -> None:
        pass

    def after_epoch(self, loss: float) -> None:
        pass

    def scale(self, factor: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] *= factor

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


ScheduleFactory = Callable[[torch.optim.Optimizer, "TrainConfig", int], Schedule]
SCHEDULES: Registry[ScheduleFactory] = Registry("schedule")


@SCHEDULES.register("constant")
def _constant(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    return Schedule(optimizer)


_constant.warms_up = False  # type: ignore[attr-defined]


class _Wrapped(Schedule):
    """A torch scheduler behind the :class:`Schedule` interface."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        super().__init__(optimizer)
        self.scheduler = scheduler

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)
        # Making the scheduler set the rate of its step 0; the restored one continues from
        # the rate it last set, so the first step after a resume uses the same rate as an
        # uninterrupted run.
        last = getattr(self.scheduler, "_last_lr", None)
        if last is not None:
            for group, lr in zip(self.optimizer.param_groups, last, strict=True):
                group["lr"] = lr


class _Cosine(_Wrapped):
    def after_step(self) -> None:
        self.scheduler.step()

    def scale(self, factor: float) -> None:
        super().scale(factor)
        self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]


class _Plateau(_Wrapped):
    def after_epoch(self, loss: float) -> None:
        self.scheduler.step(loss)


@SCHEDULES.register("cosine")
def _cosine(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    warmup = cfg.warmup_epochs * steps_per_epoch
    total = cfg.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return _Cosine(optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor))


@SCHEDULES.register("plateau")
def _plateau(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=max(1, (cfg.patience or 10) // 3)
    )
    return _Plateau(optimizer, scheduler)


_plateau.warms_up = False  # type: ignore[attr-defined]


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> Schedule:
    return SCHEDULES.get(cfg.schedule)(optimizer, cfg, max(steps_per_epoch, 1))
