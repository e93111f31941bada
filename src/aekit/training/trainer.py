"""The training loop, and nothing else: mini-batches already on the device, the model's
loss, an optimizer step, a schedule; validation, early stopping and keeping the best
weights at the end of each epoch; a clear stop (or a rollback) when the loss stops being
finite; a state that checkpoints and resumes bit for bit.

What happens around the loop is handed in: a ``checkpointer`` (anything with
``save(state, history)`` and a ``location``, such as a :class:`~aekit.runs.folder.RunFolder`)
and ``callbacks``. The step reads top to bottom in :meth:`Trainer._train_epoch`.

The pieces around it, each in its own module: the state and its checkpoint round trip
(``state.py``), the data fed to the loop (``feeding.py``), the metrics rows and the
:class:`FitResult` (``history.py``), the moving average and best weights
(``weights.py``), the PCA fallback (``fallback.py``), and the CPU threads and a step's
time on this machine (``speed.py``).
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..core.errors import ConfigError, TrainingError, TrainingInterrupted
from ..core.seeding import seeded
from ..data.batches import resolve_device
from ..data.streaming import DiskArray
from . import distributed
from .config import TrainConfig
from .config import warn_ignored as warn_ignored  # the run layer imports it from here
from .fallback import fall_back_to_pca, train_own_layers
from .fallback import why_pca as why_pca  # the command line imports it from here
from .feeding import Batches, Feeder
from .hardware import bf16_autocast
from .history import FitResult, epoch_row, evaluate_loss, shows_progress
from .optim import build_optimizer, build_schedule
from .speed import cpu_threads_for, spoken_duration, step_seconds
from .state import Checkpointer, TrainerState
from .weights import KeptWeights

Callback = Callable[["Trainer", dict[str, float]], "bool | None"]


class _NonFinite(Exception):
    pass


class Trainer(TrainerState):
    """Trains a model whose ``forward(x)`` returns ``(loss, terms)``; its whole state can
    be checkpointed and resumed.

    Parameters
    ----------
    model : the model to train (moved to the configured device).
    config : training settings.
    checkpointer : where checkpoints go (None: nowhere; SIGINT/SIGTERM then stop at once).
    callbacks : each called as ``callback(trainer, row)`` after each epoch with that
        epoch's metrics row (before the checkpoint); returning True stops training, like
        early stopping. For measurements such as time to a target error.
    progress : show a tqdm progress bar: True always, False never, None (the default)
        where stderr is a terminal or a notebook (see :func:`shows_progress`), so that
        logs get no carriage returns.
    desc : label of the progress bar.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig | None = None,
        *,
        checkpointer: Checkpointer | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        desc: str = "train",
    ) -> None:
        self.config = config = (config or TrainConfig()).settled()
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.checkpointer = checkpointer
        self.callbacks = list(callbacks)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.progress = shows_progress(progress) and self.rank == 0
        self.desc = desc
        self.optimizer = build_optimizer(self.model, config)
        self.machine: dict[str, str] = {}  # what was chosen for this machine (FitResult's)
        if getattr(self.optimizer, "muon", None) is not None:
            self.machine["newton_schulz"] = self.optimizer.note  # type: ignore[attr-defined]
        self.autocast, precision = bf16_autocast(config.precision, self.device)
        if precision is not None:
            self.machine["precision"] = precision  # what precision "auto" chose
        self.schedule = None  # built once the epoch length is known
        # Under torchrun the step runs through DistributedDataParallel (gradients averaged
        # across ranks); the model itself is what is evaluated and saved.
        self._wrapped = distributed.wrap(self.model, self.device)
        # Static shapes: the last, smaller batch of an epoch gets its own graph rather than
        # turning every graph into slower shape-generic code.
        self._forward = (
            torch.compile(self._wrapped, dynamic=False) if config.compile else self._wrapped
        )
        self.generator = torch.Generator().manual_seed(config.seed)  # the data order
        self.weights = KeptWeights(self.model)  # the average and the best epoch's
        self._init_state()  # position and bookkeeping: the checkpoint (state.py)
        self._stop_signal: int | None = None
        self._good_state: dict[str, Any] | None = None  # where a rollback goes back to
        self._started = 0.0
        self._probe_x: Tensor | None = None  # a training batch, to time steps on
        # A step's seconds where the caller timed it already (the run layer, to fit the
        # time budget): the estimate uses it rather than timing steps again.
        self.step_time: float | None = None
        # The rows training steps on (not the validation rows), for the PCA fallback.
        self._training_rows: Callable[[], Tensor] | None = None
        self.estimated: float | None = None

    # ---- public API -------------------------------------------------------------------------

    def fit(
        self, train: Any, val: Any = None, *, split: tuple[Tensor, Tensor] | None = None
    ) -> FitResult:
        """Train on ``train`` (array, tensor, or an iterable of batches such as a
        DataLoader), validating on ``val`` (array/tensor) or on a held-out
        ``val_fraction`` of in-memory training data: the rows ``split`` gives (training
        rows, validation rows; the run layer draws it once, :func:`validation_split`), else
        drawn here. Training draws its noise from generators of its own: the caller's
        random state is left as it was. Settings left to the data (epochs, batch size,
        warm-up) are chosen here from its size, where the caller has not chosen them
        (the run layer does, with a time budget: :func:`aekit.runs.fit`)."""
        sized = isinstance(train, Tensor | np.ndarray | list | tuple | DiskArray)
        self.config = cfg = self.config.resolved(len(train) if sized else None)
        batches, val_x = self._prepare(train, val, split)
        self._start(val_x, len(batches))
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
            # A rank lost mid-step (killed, unreachable) fails every rank with one message.
            batch = cfg.batch_size // self.world if cfg.batch_size else None
            threads = cpu_threads_for(self.model, self.device, batch)
            with seeded(None), self._signals(), distributed.collective(), threads:
                if self.progress and self._probe_x is not None:
                    # Before the generators are set: the probe's draws change nothing.
                    self.estimated = self._estimate(self._probe_x, len(batches), bar)
                self._set_rng()
                self._in_fit = True
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
                self.rng = self._get_rng()
        except distributed.LostPeer as exc:
            raise distributed.LostPeer(f"{exc}; {self._where_to_resume()}") from None
        finally:
            self._in_fit = False
            bar.close()
        return self._finish(val_x, stopped_early)

    # ---- the loop -----------------------------------------------------------------------------

    def _train_epoch(self, batches: Batches, bar: tqdm) -> None:
        cfg, model, optimizer, schedule = self.config, self.model, self.optimizer, self.schedule
        assert schedule is not None
        model.train()
        self.generator.set_state(self.epoch_order)
        # A model whose objective follows training (a VAE's KL warm-up) is told where it stands.
        # (Epochs done count whole where an epoch's length is unknown: a stream's.)
        progress, steps = getattr(model, "set_progress", None), len(batches)
        for x in batches.epoch(start_step=self.step_in_epoch):
            if progress is not None:
                progress(
                    self.global_step, self.epoch + (self.step_in_epoch / steps if steps else 0)
                )
            loss, terms = self._loss(x)
            values, stop, due = self._check_step(loss, terms)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            schedule.after_step()
            if cfg.ema:
                self.weights.update_ema(cfg.ema, self.global_step)

            self._accumulate(terms, values, len(x))
            self.step_in_epoch += 1
            self.global_step += 1
            bar.update(1)
            if self.step_in_epoch % 50 == 1:
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{sum(values):.4g}", refresh=False)
            if due:
                self.checkpoint()
            if stop:
                self._interrupt()

    def _loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self.autocast:
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self._forward_once(x)
        return self._forward_once(x)

    def _forward_once(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self._forward is self._wrapped:
            return self._wrapped(x)
        try:
            return self._forward(x)
        except Exception as exc:  # torch.compile needs a working C++ toolchain, among others
            warnings.warn(
                f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "training continues without it",
                RuntimeWarning,
                stacklevel=2,
            )
            self._forward = self._wrapped
            return self._wrapped(x)

    def _check_step(self, loss: Tensor, terms: dict[str, Tensor]) -> tuple[list[float], bool, bool]:
        """The terms' values as floats (one read of each; on a GPU, one wait per step),
        and whether to stop or checkpoint after this step. Raises if the loss is NaN or
        infinite, naming the step and the term. Under torchrun the ranks decide together,
        before gradients are exchanged: a NaN on any rank, a signal to any, a checkpoint
        due on any, holds for all, so they stay in step."""
        values = [t.item() for t in terms.values()]
        total = loss.item()
        bad_anywhere, stop, due = distributed.any_of(
            not math.isfinite(total),
            self._stop_signal is not None,
            self._checkpoint_due(every_steps=True, ahead=1),
        )
        if not bad_anywhere:
            return values, stop, due
        where = f"epoch {self.epoch + 1}, step {self.step_in_epoch + 1} (global step {self.global_step + 1})"
        if math.isfinite(total):
            raise _NonFinite(f"the loss became non-finite on another rank at {where}")
        bad = [f"{k} = {v}" for k, v in zip(terms, values, strict=True) if not math.isfinite(v)]
        raise _NonFinite(
            f"the loss became {total} at {where}; non-finite term(s): {', '.join(bad) or 'the sum'}"
        )

    def _accumulate(self, terms: dict[str, Tensor], values: list[float], n: int) -> None:
        """Add a step's terms (whatever the model names them) to the epoch's sums."""
        if self.epoch_sums is None:
            self.terms = list(terms)
            self.epoch_sums = [0.0] * len(values)
        for i, value in enumerate(values):
            self.epoch_sums[i] += value * n
        self.epoch_samples += n

    # ---- around the loop ----------------------------------------------------------------------

    def _prepare(
        self, train: Any, val: Any, split: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Batches, Tensor | None]:
        """The batches to train on and the validation data (:mod:`.feeding`)."""
        feed = Feeder(
            self.model,
            self.config,
            self.device,
            self.generator,
            self.rank,
            self.world,
            self._check_fingerprint,
        )
        fed = feed(train, val, split)
        if fed.training_rows is not None:  # data in memory or on disk; kept for a stream
            self._training_rows, self._probe_x = fed.training_rows, fed.probe_x
        return fed.batches, fed.val_x

    def _start(self, val_x: Tensor | None, steps_per_epoch: int) -> None:
        """Before the first step of a fit: the model's own layers and training weights,
        the average where it is still wanted, the schedule, the clocks."""
        cfg = self.config
        train_own_layers(self.model)  # training goes on with the model's own layers
        self.weights.release()  # a second fit continues from the training weights
        if not cfg.ema:
            self.weights.ema = None  # resumed without ema: no stale average
        if cfg.patience is not None and val_x is None:
            raise ConfigError(
                "early stopping (patience) needs validation data: pass val or set val_fraction > 0"
            )
        if self.schedule is None:
            self.schedule = build_schedule(self.optimizer, cfg, steps_per_epoch)
            if self._pending_schedule is not None:
                self.schedule.load_state_dict(self._pending_schedule)
                self._pending_schedule = None
        self._started = time.perf_counter() - self.elapsed
        self._last_checkpoint = time.perf_counter()

    def _finish(self, val_x: Tensor | None, stopped_early: bool) -> FitResult:
        """After the last step: the kept weights in the model (the best epoch's, else the
        average), checked; the PCA fallback; the result."""
        self.elapsed = time.perf_counter() - self._started
        if self.weights.best is not None and self.config.keep == "best":
            self.weights.hold(self.weights.best)
        elif self.weights.ema is not None:
            self.weights.hold(self.weights.ema)  # the finished model is the average, as evaluated
        self._check_weights()
        self.model.eval()
        comparison, kept_pca = fall_back_to_pca(
            self.model, val_x, self._training_rows, self.config.keep
        )
        if kept_pca:
            self.best_epoch = 0  # the model is PCA
        return FitResult(
            self.history,
            self.best_epoch,
            stopped_early,
            self.elapsed,
            self.global_step,
            dict(self.machine),
            self.estimated,
            comparison,
            kept_pca,
        )

    def _end_epoch(self, val_x: Tensor | None, bar: tqdm) -> bool:
        """Close the epoch: metrics row, schedule, early stopping, best weights,
        callbacks, checkpoint. Returns True when training should stop. With ema, the
        averaged weights are the ones validated, kept and shown to callbacks."""
        with self.weights.averaged():
            stop = self._judge_epoch(val_x, bar)
        if self.config.on_nan == "rollback":
            self._good_state = self._snapshot()
        stop, due = distributed.any_of(stop, self._checkpoint_due(every_steps=False))
        if stop or self.epoch == self.config.epochs or due:
            self.checkpoint()
        return stop

    def _judge_epoch(self, val_x: Tensor | None, bar: tqdm) -> bool:
        """Metrics row, schedule, early stopping, best weights and callbacks."""
        cfg = self.config
        # Every rank saw its share of the epoch: the row is over all of them.
        *sums, samples = distributed.sum_of([*(self.epoch_sums or []), self.epoch_samples])
        val = evaluate_loss(self.model, val_x, cfg.eval_batch_size) if val_x is not None else {}
        lr = self.optimizer.param_groups[0]["lr"]
        row = epoch_row(self.epoch + 1, self.terms or [], sums, samples, val, lr, self.elapsed)
        self.history.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        assert self.schedule is not None
        self.schedule.after_epoch(monitored)
        stop = val_x is not None and self._stops_early(monitored)
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums, self.epoch_samples = None, 0
        self.epoch_order = self.generator.get_state()
        bar.set_postfix(
            epoch=self.epoch,
            loss=f"{row['train_loss']:.4g}",
            **({"val": f"{row['val_loss']:.4g}"} if "val_loss" in row else {}),
        )
        callback_start = time.perf_counter()
        for callback in self.callbacks:
            stop = bool(callback(self, row)) or stop
        # Time spent in callbacks (e.g. a test-set evaluation) is not training time.
        self._started += time.perf_counter() - callback_start
        return stop

    def _stops_early(self, monitored: float) -> bool:
        """Early stopping on the validation loss of the epoch ending: a new best is kept
        (its weights, with ``keep="best"``); ``patience`` epochs without one stop."""
        cfg = self.config
        if monitored < self.best_loss - cfg.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = monitored, self.epoch + 1, 0
            if cfg.keep == "best":
                self.weights.keep_best()
            return False
        self.bad_epochs += 1
        return cfg.patience is not None and self.bad_epochs >= cfg.patience

    def _estimate(self, x: Tensor, steps_per_epoch: int, bar: tqdm) -> float | None:
        """The training time left, from a few timed steps on a real batch here
        (:func:`step_seconds`), said before training starts."""
        steps = self.config.epochs * steps_per_epoch - self.global_step
        if steps <= 0 or len(x) == 0:
            return None
        per_step = self.step_time or step_seconds(self.model, self.config, x)
        seconds = per_step * steps
        bar.write(
            f"estimated training time: about {spoken_duration(seconds)} ({steps:,} steps of "
            f"{per_step * 1e3:.3g} ms, timed here)",
            file=sys.stderr,
        )
        return seconds

    def _checkpoint_due(self, every_steps: bool, ahead: int = 0) -> bool:
        """Within an epoch: the step cadence or the time cadence (for the step ``ahead``
        of the current one); at an epoch's end: the epoch cadence or the time cadence."""
        cfg = self.config
        if self.checkpointer is None:
            return False
        if every_steps:
            step = self.global_step + ahead
            if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0:
                return True
        elif cfg.checkpoint_every is not None and self.epoch % cfg.checkpoint_every == 0:
            return True
        return (
            cfg.checkpoint_seconds is not None
            and time.perf_counter() - self._last_checkpoint >= cfg.checkpoint_seconds
        )

    # ---- stopping -----------------------------------------------------------------------------

    def _handle_non_finite(self, message: str) -> None:
        cfg = self.config
        if (
            cfg.on_nan == "rollback"
            and self._good_state is not None
            and self.rollbacks < cfg.max_rollbacks
        ):
            rollbacks = self.rollbacks + 1
            self.load_state_dict(copy.deepcopy(self._good_state))
            self._set_rng()
            self.rollbacks = rollbacks
            assert self.schedule is not None
            self.schedule.scale(cfg.rollback_lr_factor)
            tqdm.write(
                f"aekit: {message}; rolled back to the start of epoch {self.epoch + 1} and lowered "
                f"the learning rate to {self.optimizer.param_groups[0]['lr']:.3g} "
                f"(rollback {rollbacks} of {cfg.max_rollbacks})"
            )
            return
        kept = ""
        if self.checkpointer is not None and self._has_checkpoint:
            kept = f"; the last good checkpoint is kept in {self.checkpointer.location}"
        hint = (
            " (on_nan='rollback' retries with a lower learning rate)"
            if cfg.on_nan == "stop"
            else ""
        )
        raise TrainingError(f"training stopped: {message}{kept}. Lower the learning rate{hint}.")

    def _check_weights(self) -> None:
        """The loss is checked before each step; a step can still leave the weights
        non-finite (a huge learning rate): say so, rather than hand back a broken model."""
        bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            raise TrainingError(
                f"training ended with non-finite weights ({', '.join(bad[:3])}"
                f"{' ...' if len(bad) > 3 else ''}) after step {self.global_step}: the "
                "updates diverged. Lower the learning rate (or the weight decay)."
            )

    def _interrupt(self) -> None:
        signum = self._stop_signal or signal.SIGINT
        name = signal.Signals(signum).name
        self.checkpoint()
        where = f"epoch {self.epoch + 1}, step {self.step_in_epoch}"
        if self.checkpointer is not None:
            location = self.checkpointer.location
            raise TrainingInterrupted(
                f"training stopped by {name} at {where}; checkpoint written to {location}",
                signum,
                location,
            )
        raise TrainingInterrupted(
            f"training stopped by {name} at {where} (no checkpointer, nothing saved)", signum
        )

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, checkpoint and stop; a second SIGINT
        stops at once."""
        if self.checkpointer is None or threading.current_thread() is not threading.main_thread():
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
