"""The training loop: mini-batches already on the device, Adam, optional schedule,
validation, early stopping, checkpoints that resume bit for bit, graceful stop on
SIGINT/SIGTERM, and a clear stop (or a rollback) when the loss stops being finite.

The step itself reads top to bottom in :meth:`Trainer._train_epoch`; everything else hangs
around it.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .checkpoint import CHECKPOINT_FILE, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import ModelConfig, TrainConfig
from .data import InMemoryBatches, StreamBatches
from .errors import CheckpointError, ConfigError, DataError, TrainingError
from .io import CONFIG_FILE, atomic_write, read_run_config, save_model, write_config
from .model import AutoEncoder

METRICS_FILE = "metrics.csv"
FLAT_PARAMETERS_UP_TO = 100_000
STATE_FORMAT = 1


class TrainingInterrupted(TrainingError):
    """Training was stopped by SIGINT/SIGTERM after writing a checkpoint."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


class _NonFinite(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: per-epoch metrics and how training ended."""

    history: list[dict[str, float]]
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    steps: int
    run_dir: Path | None = None

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def fingerprint(x: Tensor) -> str:
    """A short hash of a data tensor, so a resume can check it sees the same data: its
    shape, its column sums and up to 1,000 of its rows (cheap even for large data)."""
    x = x.detach().cpu()
    rows = x[:: max(1, len(x) // 1000)]
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(tuple(x.shape)).encode())
    digest.update(x.sum(dim=0, dtype=torch.float64).numpy().tobytes())
    digest.update(rows.contiguous().numpy().tobytes())
    return digest.hexdigest()


class Trainer:
    """Trains an :class:`AutoEncoder`; its whole state can be checkpointed and resumed.

    Parameters
    ----------
    model : the model to train (moved to the configured device).
    config : training settings.
    run_dir : folder for checkpoints, ``metrics.csv`` and the final model; None keeps
        everything in memory.
    progress : show a tqdm progress bar.
    extra_config : extra top-level sections for the run's config.json (e.g. ``data``).
    desc : label of the progress bar.
    on_epoch : called as ``on_epoch(trainer, row)`` after each epoch with that epoch's
        metrics row (before the checkpoint); returning True stops training, like early
        stopping. For measurements such as time to a target error.
    """

    def __init__(
        self,
        model: AutoEncoder,
        config: TrainConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        progress: bool = True,
        extra_config: dict[str, Any] | None = None,
        desc: str = "train",
        on_epoch: Callable[[Trainer, dict[str, float]], bool | None] | None = None,
    ) -> None:
        self.config = config = config or TrainConfig()
        self.desc = desc
        self.on_epoch = on_epoch
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.extra_config = extra_config or {}
        # Small models: one flat buffer behind all parameters and one behind their
        # gradients, so the optimizer steps a single tensor; its per-tensor overhead is most
        # of a small model's step on the CPU. Large models keep separate tensors: zeroing
        # and accumulating into a big gradient buffer costs more memory traffic than it
        # saves (BENCHMARKS.md).
        self.params: list[torch.nn.Parameter] = list(self.model.parameters())
        self.flat_grad: Tensor | None = None
        if sum(p.numel() for p in self.params) <= FLAT_PARAMETERS_UP_TO:
            flat_param, self.flat_grad = flatten_parameters(self.model)
            self.params = [flat_param]
        self.optimizer = self._make_optimizer()
        # Static shapes: the last, smaller batch of an epoch gets its own graph rather than
        # turning every graph into slower shape-generic code.
        self._loss = torch.compile(model.loss, dynamic=False) if config.compile else model.loss
        self.scheduler: Any = None
        self.generator = torch.Generator().manual_seed(config.seed)
        # Position and bookkeeping: everything below is part of the checkpoint.
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0
        self.global_step = 0
        self.epoch_rng = self.generator.get_state()
        self.epoch_sums: list[float] | None = None  # per loss term, over this epoch
        self.epoch_samples = 0
        self.history: list[dict[str, float]] = []
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.best_weights: dict[str, Tensor] | None = None
        self.rollbacks = 0
        self.elapsed = 0.0
        self.data_fingerprint: str | None = None
        self._terms: list[str] | None = None
        self._stop_signal: int | None = None
        self._good_state: dict[str, Any] | None = None
        self._pending_scheduler: dict[str, Any] | None = None
        self._started = 0.0

    # ---- public API -------------------------------------------------------------------------

    def fit(self, train: Any, val: Any = None) -> FitResult:
        """Train on ``train`` (array, tensor, or an iterable of batches such as a
        DataLoader), validating on ``val`` (array/tensor) or on a held-out
        ``val_fraction`` of in-memory training data."""
        cfg = self.config
        batches, val_x = self._prepare(train, val)
        if cfg.patience is not None and val_x is None:
            raise ConfigError(
                "early stopping (patience) needs validation data: pass val or set val_fraction > 0"
            )
        if self.scheduler is None:
            self.scheduler = self._make_scheduler(max(len(batches), 1))
        if self.global_step == 0:
            torch.manual_seed(cfg.seed)
        if self.run_dir is not None:
            self._start_run_dir()
        self._started = time.perf_counter() - self.elapsed
        stopped_early = False
        bar = tqdm(
            total=cfg.epochs * len(batches) or None,
            initial=self.global_step,
            desc=self.desc,
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        try:
            with self._signals():
                while self.epoch < cfg.epochs and not stopped_early:
                    if cfg.on_nan == "rollback" and self._good_state is None:
                        self._good_state = self._snapshot()
                    try:
                        self._train_epoch(batches, bar)
                    except _NonFinite as exc:
                        self._handle_non_finite(str(exc))
                        continue
                    self.elapsed = time.perf_counter() - self._started
                    stopped_early = self._end_epoch(val_x, bar)
        finally:
            bar.close()
        self.elapsed = time.perf_counter() - self._started
        if self.best_weights is not None and cfg.patience is not None:
            self.model.load_state_dict(self.best_weights)
        self.model.eval()
        if self.run_dir is not None:
            save_model(self.model, self.run_dir, self._run_config(finished=True))
        return FitResult(
            self.history,
            self.best_epoch,
            stopped_early,
            self.elapsed,
            self.global_step,
            self.run_dir,
        )

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        progress: bool = True,
        epochs: int | None = None,
        desc: str = "train",
    ) -> Trainer:
        """The trainer of an interrupted run, restored from its last checkpoint; call
        :meth:`fit` with the same data to continue. ``epochs`` may extend the run."""
        run_dir = Path(run_dir)
        config = read_run_config(run_dir)
        if "training" not in config:
            raise CheckpointError(f"{run_dir / CONFIG_FILE} has no 'training' section to resume")
        try:
            model_config = ModelConfig.from_dict(config["model"], "model")
            train_config = TrainConfig.from_dict(config["training"], "training")
            if epochs is not None:
                train_config = train_config.replace(epochs=epochs)
        except ConfigError as exc:
            raise CheckpointError(f"{run_dir / CONFIG_FILE}: {exc}") from None
        state = load_checkpoint(run_dir / CHECKPOINT_FILE)
        model = AutoEncoder.from_config(model_config)
        extra = {
            k: v
            for k, v in config.items()
            if k not in ("format", "aekit_version", "model", "training", "result")
        }
        trainer = cls(
            model, train_config, run_dir=run_dir, progress=progress, extra_config=extra, desc=desc
        )
        trainer.load_state_dict(state)
        return trainer

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it is."""
        return {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "epoch_rng": self.epoch_rng,
            "rng": rng_state(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch_sums": self.epoch_sums,
            "epoch_samples": self.epoch_samples,
            "terms": self._terms,
            "history": self.history,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_weights": self.best_weights,
            "rollbacks": self.rollbacks,
            "elapsed": self.elapsed,
            "data_fingerprint": self.data_fingerprint,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"unsupported checkpoint format {state.get('format')!r}")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.epoch = int(state["epoch"])
            self.step_in_epoch = int(state["step_in_epoch"])
            self.global_step = int(state["global_step"])
            self.epoch_rng = state["epoch_rng"].clone()
            self.epoch_sums = state["epoch_sums"]
            self.epoch_samples = int(state["epoch_samples"])
            self._terms = state["terms"]
            self.history = list(state["history"])
            self.best_loss = float(state["best_loss"])
            self.best_epoch = state["best_epoch"]
            self.bad_epochs = int(state["bad_epochs"])
            self.best_weights = state["best_weights"]
            self.rollbacks = int(state["rollbacks"])
            self.elapsed = float(state["elapsed"])
            self.data_fingerprint = state["data_fingerprint"]
            self._pending_scheduler = state["scheduler"]
            set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint does not match this model/trainer: {exc}") from None

    def checkpoint(self) -> None:
        """Write the trainer state to ``run_dir/checkpoint.safetensors`` (atomically) and
        the metrics so far to ``metrics.csv``."""
        if self.run_dir is None:
            return
        save_checkpoint(self.run_dir / CHECKPOINT_FILE, self.state_dict())
        self._write_metrics()

    # ---- the loop -----------------------------------------------------------------------------

    def _train_epoch(self, batches: InMemoryBatches | StreamBatches, bar: tqdm) -> None:
        cfg, model, optimizer = self.config, self.model, self.optimizer
        model.train()
        self.generator.set_state(self.epoch_rng)
        for x in batches.epoch(start_step=self.step_in_epoch):
            loss, terms = self._compute_loss(x)
            values = self._check_finite(loss, terms)
            if self.flat_grad is not None:
                self.flat_grad.zero_()  # one buffer behind every gradient: zero it, keep it
            else:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
            optimizer.step()
            if cfg.schedule == "cosine":
                self.scheduler.step()

            self._accumulate(terms, values, len(x))
            self.step_in_epoch += 1
            self.global_step += 1
            bar.update(1)
            if self.step_in_epoch % 50 == 1:
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{sum(values):.4g}", refresh=False)
            if cfg.checkpoint_every_steps and self.global_step % cfg.checkpoint_every_steps == 0:
                self.checkpoint()
            if self._stop_signal is not None:
                self._interrupt()

    def _end_epoch(self, val_x: Tensor | None, bar: tqdm) -> bool:
        """Close the epoch: metrics row, schedule, early stopping, checkpoint.
        Returns True when early stopping ends training."""
        cfg = self.config
        row: dict[str, float] = {"epoch": self.epoch + 1}
        sums = self.epoch_sums or []
        for name, total in zip(self._terms or [], sums, strict=False):
            row[f"train_{name}"] = total / max(self.epoch_samples, 1)
        row["train_loss"] = sum(sums) / max(self.epoch_samples, 1)
        if val_x is not None:
            val_terms = evaluate_loss(self.model, val_x, cfg.eval_batch_size)
            row.update({f"val_{k}": v for k, v in val_terms.items()})
        row["lr"] = self.optimizer.param_groups[0]["lr"]
        row["seconds"] = self.elapsed
        self.history.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        if cfg.schedule == "plateau":
            self.scheduler.step(monitored)
        stop = False
        if val_x is not None:
            if monitored < self.best_loss - cfg.min_delta:
                self.best_loss, self.best_epoch, self.bad_epochs = monitored, self.epoch + 1, 0
                if cfg.patience is not None:
                    self.best_weights = {
                        k: v.detach().clone() for k, v in self.model.state_dict().items()
                    }
            else:
                self.bad_epochs += 1
                stop = cfg.patience is not None and self.bad_epochs >= cfg.patience
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums, self.epoch_samples = None, 0
        self.epoch_rng = self.generator.get_state()
        bar.set_postfix(
            epoch=self.epoch,
            loss=f"{row['train_loss']:.4g}",
            **({"val": f"{row['val_loss']:.4g}"} if "val_loss" in row else {}),
        )
        if self.on_epoch is not None:
            callback_start = time.perf_counter()
            stop = bool(self.on_epoch(self, row)) or stop
            # Time spent in the callback (e.g. a test-set evaluation) is not training time.
            self._started += time.perf_counter() - callback_start
        if cfg.on_nan == "rollback":
            self._good_state = self._snapshot()
        if self.run_dir is not None and (
            self.epoch % cfg.checkpoint_every == 0 or stop or self.epoch == cfg.epochs
        ):
            self.checkpoint()
        return stop

    # ---- pieces -------------------------------------------------------------------------------

    def _compute_loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self._loss == self.model.loss:
            return self._loss(x)
        try:
            return self._loss(x)
        except Exception as exc:  # torch.compile needs a working C++ toolchain, among others
            warnings.warn(
                f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "training continues without it",
                RuntimeWarning,
                stacklevel=2,
            )
            self._loss = self.model.loss
            return self._loss(x)

    def _accumulate(self, terms: dict[str, Tensor], values: list[float], n: int) -> None:
        if self.epoch_sums is None:
            self._terms = list(terms)
            self.epoch_sums = [0.0] * len(values)
        for i, value in enumerate(values):
            self.epoch_sums[i] += value * n
        self.epoch_samples += n

    def _check_finite(self, loss: Tensor, terms: dict[str, Tensor]) -> list[float]:
        """The terms' values as floats (one read of each; on a GPU, one wait per step);
        raises if the loss is NaN or infinite, naming the step and the term."""
        values = [t.item() for t in terms.values()]
        total = loss.item()
        if math.isfinite(total):
            return values
        bad = [f"{k} = {v}" for k, v in zip(terms, values, strict=True) if not math.isfinite(v)]
        raise _NonFinite(
            f"the loss became {total} at epoch {self.epoch + 1}, step {self.step_in_epoch + 1} "
            f"(global step {self.global_step + 1}); non-finite term(s): {', '.join(bad) or 'the sum'}"
        )

    def _handle_non_finite(self, message: str) -> None:
        cfg = self.config
        if (
            cfg.on_nan == "rollback"
            and self._good_state is not None
            and self.rollbacks < cfg.max_rollbacks
        ):
            rollbacks = self.rollbacks + 1
            self._restore(self._good_state)
            self.rollbacks = rollbacks
            for group in self.optimizer.param_groups:
                group["lr"] *= cfg.rollback_lr_factor
            if self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
                self.scheduler.base_lrs = [
                    lr * cfg.rollback_lr_factor for lr in self.scheduler.base_lrs
                ]
            tqdm.write(
                f"aekit: {message}; rolled back to the start of epoch {self.epoch + 1} and lowered "
                f"the learning rate to {self.optimizer.param_groups[0]['lr']:.3g} "
                f"(rollback {rollbacks} of {cfg.max_rollbacks})"
            )
            return
        kept = ""
        if self.run_dir is not None and (self.run_dir / CHECKPOINT_FILE).exists():
            kept = f"; the last good checkpoint is kept in {self.run_dir}"
        hint = (
            " (on_nan='rollback' retries with a lower learning rate)"
            if cfg.on_nan == "stop"
            else ""
        )
        raise TrainingError(f"training stopped: {message}{kept}. Lower the learning rate{hint}.")

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.state_dict())

    def _restore(self, state: dict[str, Any]) -> None:
        self.load_state_dict(copy.deepcopy(state))
        if self._pending_scheduler is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(self._pending_scheduler)
        self._pending_scheduler = None

    def _interrupt(self) -> None:
        signum = self._stop_signal or signal.SIGINT
        name = signal.Signals(signum).name
        self.checkpoint()
        where = f"epoch {self.epoch + 1}, step {self.step_in_epoch}"
        if self.run_dir is not None:
            raise TrainingInterrupted(
                f"training stopped by {name} at {where}; checkpoint written to {self.run_dir}. "
                f"Resume with: aekit train --resume {self.run_dir}",
                signum,
            )
        raise TrainingInterrupted(
            f"training stopped by {name} at {where} (no run folder, nothing saved)", signum
        )

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, checkpoint and stop; a second SIGINT
        stops at once."""
        if self.run_dir is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signum

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def _prepare(
        self, train: Any, val: Any
    ) -> tuple[InMemoryBatches | StreamBatches, Tensor | None]:
        cfg, model = self.config, self.model
        val_x = model.check_input(val, "validation data", targets=True) if val is not None else None
        if isinstance(train, Tensor | np.ndarray | list | tuple):
            x = model.check_input(train, "training data", targets=True)
            if val_x is None and cfg.val_fraction > 0:
                n_val = round(len(x) * cfg.val_fraction)
                if n_val >= 1 and len(x) - n_val >= 1:
                    order = torch.from_numpy(np.random.default_rng(cfg.seed).permutation(len(x)))
                    val_x, x = x[order[:n_val]], x[order[n_val:]]
            self._check_fingerprint(fingerprint(x))
            batches: InMemoryBatches | StreamBatches = InMemoryBatches(
                x.to(self.device), cfg.batch_size, self.generator
            )
        elif isinstance(train, Iterable):
            batches = StreamBatches(train, self.device)
        else:
            raise DataError(
                f"training data must be an array, a tensor or an iterable of batches, got {type(train).__name__}"
            )
        if val_x is not None:
            val_x = val_x.to(self.device)
        return batches, val_x

    def _check_fingerprint(self, fp: str) -> None:
        if self.data_fingerprint is not None and self.data_fingerprint != fp:
            raise DataError(
                "the training data differs from the data this run was started with; "
                "resume with the same data (and the same validation split)"
            )
        self.data_fingerprint = fp

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg, params = self.config, self.params
        if cfg.optimizer in ("adam", "adamw"):
            cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
            # The fused step (one kernel over all parameters) is measurably faster on CPU
            # and CUDA (BENCHMARKS.md); older torch or other devices fall back to foreach.
            try:
                return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
            except (RuntimeError, TypeError, ValueError):
                return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )

    def _make_scheduler(self, steps_per_epoch: int) -> Any:
        cfg = self.config
        scheduler: Any = None
        if cfg.schedule == "cosine":
            warmup = cfg.warmup_epochs * steps_per_epoch
            total = cfg.epochs * steps_per_epoch

            def factor(step: int) -> float:
                if step < warmup:
                    return (step + 1) / warmup
                return 0.5 * (
                    1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup)))
                )

            scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        elif cfg.schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=0.5, patience=max(1, (cfg.patience or 10) // 3)
            )
        if scheduler is not None and self._pending_scheduler is not None:
            scheduler.load_state_dict(self._pending_scheduler)
        self._pending_scheduler = None
        return scheduler

    def _start_run_dir(self) -> None:
        assert self.run_dir is not None
        if self.model.config is None:
            raise ConfigError("training into a run folder needs a model built from a config")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Temporary files of writes a crash interrupted: the files they were replacing
        # are intact, the temporaries are garbage.
        for stale in self.run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        write_config(self.run_dir, self.model.config, self._run_config(finished=False))

    def _run_config(self, finished: bool) -> dict[str, Any]:
        extra = {k: v for k, v in self.extra_config.items() if k != "result"}
        extra["training"] = self.config.to_dict()
        if finished:
            extra["result"] = {
                "epochs_trained": self.epoch,
                "steps": self.global_step,
                "seconds": round(self.elapsed, 3),
                "best_epoch": self.best_epoch,
                "final": self.history[-1] if self.history else None,
            }
        return extra

    def _write_metrics(self) -> None:
        assert self.run_dir is not None
        if not self.history:
            return
        columns: list[str] = []
        for row in self.history:
            columns += [k for k in row if k not in columns]

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.history)

        atomic_write(self.run_dir / METRICS_FILE, write)


def flatten_parameters(model: torch.nn.Module) -> tuple[torch.nn.Parameter, Tensor]:
    """Move ``model``'s parameters into one contiguous buffer, and their gradients into
    another; each parameter (and its ``.grad``) becomes a view into them.

    Returns the buffer as a single parameter for the optimizer, and the gradient buffer:
    backward accumulates into the views in place, so zeroing the buffer zeroes every
    gradient. The model is unchanged otherwise (same values, names and state_dict).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
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


def evaluate_loss(model: AutoEncoder, x: Tensor, batch_size: int = 4096) -> dict[str, float]:
    """Loss terms of ``model`` on ``x`` in eval mode (no corruption), averaged per sample.

    Runs in inference mode, or without a graph (``no_grad``) when a penalty differentiates
    the encoder itself (the exact or estimated contractive penalty).
    """
    needs_autograd = any(p.needs_autograd(model.encoder) for p in model.penalties)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad() if needs_autograd else torch.inference_mode():
        for batch in x.split(batch_size):
            total, terms = model.loss(batch)
            for name, value in {"loss": total, **terms}.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


def fit(
    model: AutoEncoder,
    X: Any,
    *,
    val: Any = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
    on_epoch: Callable[[Trainer, dict[str, float]], bool | None] | None = None,
    **settings: Any,
) -> FitResult:
    """Train ``model`` on ``X`` (array, tensor or DataLoader); ``settings`` are
    :class:`TrainConfig` fields (epochs, batch_size, lr, seed, patience...). ``run_dir``,
    ``progress`` and ``on_epoch`` are as in :class:`Trainer`.

    Examples
    --------
    >>> import aekit
    >>> data = aekit.load_digits()
    >>> model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
    >>> result = aekit.fit(model, data.train, epochs=2, progress=False)
    >>> len(result.history), result.final["train_loss"] > 0
    (2, True)
    """
    try:
        config = TrainConfig(**settings)
    except TypeError as exc:
        raise ConfigError(f"unknown training setting: {exc}") from None
    trainer = Trainer(model, config, run_dir=run_dir, progress=progress, on_epoch=on_epoch)
    return trainer.fit(X, val)
