"""aekit's VAE against Pythae's, side by side in one process: training samples per second,
and the test NLL after the same wall time of training (issue #27).

    python3 -m venv /work/pythae-venv
    /work/pythae-venv/bin/pip install torch==2.13.0    # the CPU wheel, as in aekit's venv
    /work/pythae-venv/bin/pip install pythae           # 0.1.2: pydantic 2.14, numpy 2.4.6
    /work/pythae-venv/bin/pip install -e .             # aekit, editable
    AEKIT_DATA=/path/to/mnist /work/pythae-venv/bin/python benchmarks/vae_pythae.py

Pythae lives in a virtual environment of its own, so aekit's is untouched; pythae 0.1.2
installed from the package index with no pins (its pydantic>=2 and numpy>=1.19 resolve to
current versions, which work with it). Without pythae the script stops and says how to
install it.

The same model for both: Burda et al.'s one-stochastic-layer VAE, 784-200-200-50 and back,
tanh, a Bernoulli decoder (aekit's :class:`~aekit.models.vae.VAE`; for Pythae its
``VAE`` with ``reconstruction_loss="bce"`` and custom ``BaseEncoder``/``BaseDecoder``
nets of the same layers, the decoder ending in a sigmoid as Pythae's BCE needs), both
starting from the same initial weights (aekit's, seed 0, copied into Pythae's nets).
The same data: MNIST from ``AEKIT_DATA`` through aekit's loader, binarised once (a
seeded Bernoulli draw: seed 1 for the 60,000 training images, seed 0 for the test
images), since Pythae has no dynamic binarisation; aekit's VAE is built with
``binarize=False`` so both see the same fixed binary images. The same training: Adam,
lr 1e-3, constant rate, batch 100, all 60,000 images, no validation split, the same
intra-op thread count (``--threads``, set with ``torch.set_num_threads`` for both and
recorded as each trainer ran).

Each library trains as a user runs it: ``aekit.fit(model, x, epochs=..., batch_size=100,
lr=1e-3, optimizer="adam", schedule="constant", val_fraction=0, progress=False)``; and
Pythae's ``BaseTrainer(model, BaseDataset(x, labels), training_config=BaseTrainerConfig(
per_device_train_batch_size=100, learning_rate=1e-3, optimizer_cls="Adam",
num_epochs=..., no_cuda=True))``, then ``trainer.train()``, with Pythae's documented
settings for no extra work: ``steps_saving=None`` (no checkpoints), ``steps_predict=None``
(no prediction step), no evaluation set (it then keeps a copy of the model whenever the
training loss improves, as it always does, and saves the final model once at the end,
after the timed epochs); its progress bar (tqdm, always on) is turned off with tqdm's
documented ``TQDM_DISABLE=1`` and its per-epoch log lines are raised to WARNING; aekit
runs with ``progress=False``.

What is timed. Throughput: ``--rounds`` rounds, each training a fresh aekit model and then
a fresh Pythae model for ``--epochs`` epochs; the wall time at the end of each epoch is
taken in each library's own per-epoch callback, and the steady state is the epochs after
the first (the first holds the start-up: building the trainer, the first steps); samples
per second = 60,000 x (epochs - 1) / (end of the last epoch - end of the first).
NLL after the same wall time: aekit trains for ``--seconds`` (counted from the call of
``aekit.fit``, stopping at the first epoch end past it); then Pythae trains for exactly
the time aekit took (counted from the construction of its ``BaseTrainer``, stopped after
the step that passes it by an exception raised from a step callback; its model is the
one trained in place). Both keep their last weights.

The NLL is judged by one estimator for both: aekit's importance-weighted bound
(:func:`aekit.evaluation.likelihood.log_likelihood`, as ``iwae_nll`` averages it, ``--k`` samples, on the first ``--subset``
test images), applied to Pythae's trained nets through an adapter: its weights copied
into an aekit ``VAE`` of the same layers (the decoder's logits are the input of Pythae's
final sigmoid), checked to give the same posterior and the same Bernoulli means. The
ELBO (one draw of z, the KL in closed form) is given on all 10,000 test images. As a
cross-check, Pythae's own ``VAE.get_nll`` (importance sampling, batches of 100) on the
first ``--check`` test images, for both models (aekit's weights copied into a Pythae VAE),
beside aekit's estimator on the same images.

Writes ``benchmarks/results/vae_pythae.json`` and ``.txt`` (``--out`` names them;
``--throughput-only`` runs the alternated rounds alone). BENCHMARKS.md section 18 has the
figures, the machine and its load.
"""

from __future__ import annotations

import os

# Pythae's trainer always draws a tqdm progress bar; tqdm's documented switch turns it off
# (read when tqdm is imported, so before anything imports it).
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

try:
    import pythae
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE as PythaeVAE
    from pythae.models import VAEConfig as PythaeVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback
except ImportError as exc:
    sys.exit(
        f"benchmarks/vae_pythae.py needs pythae ({exc}). Install it in a virtual environment "
        "of its own and run the script with that interpreter:\n"
        "  python3 -m venv /work/pythae-venv\n"
        "  /work/pythae-venv/bin/pip install torch==2.13.0 pythae\n"
        "  /work/pythae-venv/bin/pip install -e .\n"
        "  AEKIT_DATA=/path/to/mnist /work/pythae-venv/bin/python benchmarks/vae_pythae.py"
    )

import aekit
from aekit.evaluation.likelihood import elbo, log_likelihood
from aekit.models.vae import VAE, VAEConfig, binarize

RESULTS = Path(__file__).parent / "results"
HIDDEN, CODE, PIXELS, BATCH, LR = [200, 200], 50, 784, 100, 1e-3
TRAIN_SEED, TEST_SEED = 1, 0  # the fixed binary draws of the training and test images


# ---- the same model in both libraries ---------------------------------------------------------


def aekit_model() -> VAE:
    """Burda's VAE in aekit, weights from seed 0; fixed binary data, so no binarisation."""
    return VAE.from_config(VAEConfig(input_dim=PIXELS, code_dim=CODE, hidden=HIDDEN), seed=0)


class Encoder(BaseEncoder):
    """The encoder's layers as aekit builds them (784-200-200-100, tanh; mean and
    log-variance side by side), in Pythae's interface."""

    def __init__(self) -> None:
        BaseEncoder.__init__(self)
        self.net = nn.Sequential(
            nn.Linear(PIXELS, 200),
            nn.Tanh(),
            nn.Linear(200, 200),
            nn.Tanh(),
            nn.Linear(200, 2 * CODE),
        )

    def forward(self, x: torch.Tensor) -> ModelOutput:
        mean, logvar = self.net(x.reshape(len(x), -1)).chunk(2, dim=1)
        return ModelOutput(embedding=mean, log_covariance=logvar)


class Decoder(BaseDecoder):
    """The decoder's layers (50-200-200-784, tanh), ending in the sigmoid Pythae's BCE
    loss takes the Bernoulli means from."""

    def __init__(self) -> None:
        BaseDecoder.__init__(self)
        self.net = nn.Sequential(
            nn.Linear(CODE, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(), nn.Linear(200, PIXELS)
        )

    def forward(self, z: torch.Tensor) -> ModelOutput:
        return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))


def pythae_model(weights: VAE) -> PythaeVAE:
    """Pythae's VAE of the same layers, with the weights of aekit's ``weights``."""
    config = PythaeVAEConfig(input_dim=(PIXELS,), latent_dim=CODE, reconstruction_loss="bce")
    model = PythaeVAE(config, encoder=Encoder(), decoder=Decoder())
    model.encoder.net.load_state_dict(weights.encoder.state_dict())
    model.decoder.net.load_state_dict(weights.decoder.state_dict())
    return model


def as_aekit(model: PythaeVAE, x: torch.Tensor) -> VAE:
    """The adapter: Pythae's trained nets as an aekit VAE (the same layers, the decoder's
    logits before Pythae's sigmoid), checked on ``x`` to give the same posterior and the
    same Bernoulli means; aekit's estimators then judge it as they judge aekit's."""
    out = aekit_model()
    out.encoder.load_state_dict(model.encoder.net.state_dict())
    out.decoder.load_state_dict(model.decoder.net.state_dict())
    with torch.no_grad():
        theirs = model.encoder(x)
        mean, logvar = out.posterior(x)
        assert torch.allclose(mean, theirs.embedding) and torch.allclose(
            logvar, theirs.log_covariance
        )
        probs = model.decoder(mean)["reconstruction"]
        assert torch.allclose(torch.sigmoid(out.decoder(mean)), probs)
    return out


# ---- training, as each library's user runs it --------------------------------------------------


class TimeUp(Exception):
    """Raised from Pythae's step callback when its time is up."""


class Clock(TrainingCallback):
    """Pythae's side: the wall time at each epoch's end; steps counted; raises
    :class:`TimeUp` after the step that passes ``deadline`` (a perf_counter time)."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline, self.ends, self.steps, self.threads = deadline, [], 0, None

    def on_train_step_end(self, training_config: Any, **kwargs: Any) -> None:
        self.steps += 1
        self.threads = torch.get_num_threads()
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise TimeUp

    def on_epoch_end(self, training_config: Any, **kwargs: Any) -> None:
        self.ends.append(time.perf_counter())


def train_aekit(x: torch.Tensor, epochs: int, seconds: float | None = None) -> dict[str, Any]:
    """Train a fresh aekit VAE on ``x`` with ``aekit.fit``; the epoch ends' times; with
    ``seconds``, stop at the first epoch end past that many seconds from the call."""
    model = aekit_model()
    ends: list[float] = []
    threads: list[int] = []

    def clock(trainer: Any, row: dict[str, float]) -> bool:
        ends.append(time.perf_counter())
        threads.append(torch.get_num_threads())
        return seconds is not None and ends[-1] - start >= seconds

    start = time.perf_counter()
    result = aekit.fit(
        model,
        x,
        epochs=epochs,
        batch_size=BATCH,
        lr=LR,
        optimizer="adam",
        schedule="constant",
        val_fraction=0,
        seed=0,
        progress=False,
        callbacks=[clock],
    )
    return {
        "model": model,
        "start": start,
        "ends": ends,
        "steps": result.steps,
        "threads": sorted(set(threads)),
        "final_train_loss": result.final.get("train_loss"),
    }


def train_pythae(x: torch.Tensor, epochs: int, seconds: float | None = None) -> dict[str, Any]:
    """Train a fresh Pythae VAE (aekit's initial weights) on ``x`` with its BaseTrainer;
    with ``seconds``, stop after the step that passes that many seconds from the
    construction of the trainer."""
    model = pythae_model(aekit_model())
    dataset = BaseDataset(x, torch.zeros(len(x)))
    out_dir = tempfile.mkdtemp(prefix="pythae_run_")
    config = BaseTrainerConfig(
        output_dir=out_dir,
        per_device_train_batch_size=BATCH,
        num_epochs=epochs,
        learning_rate=LR,
        optimizer_cls="Adam",
        steps_saving=None,
        steps_predict=None,
        no_cuda=True,
        seed=0,
    )
    start = time.perf_counter()
    clock = Clock(None if seconds is None else start + seconds)
    trainer = BaseTrainer(model, dataset, training_config=config, callbacks=[clock])
    stopped = False
    try:
        trainer.train()
    except TimeUp:
        stopped = True
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "model": trainer.model,
        "start": start,
        "ends": clock.ends,
        "stopped_at": time.perf_counter() if stopped else None,
        "steps": clock.steps,
        "threads": [clock.threads],
    }


def steady(run: dict[str, Any], samples: int) -> dict[str, Any]:
    """Samples per second over the epochs after the first, and each epoch's seconds."""
    ends = run["ends"]
    seconds = np.diff([run["start"], *ends])
    return {
        "epoch_seconds": [round(float(s), 2) for s in seconds],
        "samples_per_second": round(samples * (len(ends) - 1) / (ends[-1] - ends[0]), 1),
        "threads": run["threads"],
    }


# ---- judging both by the same estimator --------------------------------------------------------


def judge(model: VAE, test: torch.Tensor, args: argparse.Namespace) -> dict[str, Any]:
    """The ELBO on all test images, and aekit's importance-weighted bound on the subset."""
    timed = time.perf_counter()
    bound = elbo(model, test)
    figures: dict[str, Any] = {
        "test_elbo": round(bound.elbo, 3),
        "test_reconstruction_nll": round(bound.reconstruction, 3),
        "test_kl": round(bound.kl, 3),
    }
    # Each row's bound once; the mean over the subset, and over the get_nll check's images.
    rows = log_likelihood(model, test[: max(args.subset, args.check)], args.k)
    figures[f"iwae_nll_k{args.k}_first_{args.subset}"] = round(
        -float(rows[: args.subset].mean()), 3
    )
    figures[f"iwae_nll_k{args.k}_first_{args.check}"] = round(-float(rows[: args.check].mean()), 3)
    figures["judge_seconds"] = round(time.perf_counter() - timed, 1)
    return figures


def pythae_nll(model: PythaeVAE, test: torch.Tensor, args: argparse.Namespace) -> float:
    """Pythae's own estimate (``get_nll``, negated: nats per example) on the first
    ``--check`` test images, seeded through torch's global generator."""
    torch.manual_seed(0)
    model.eval()
    with torch.no_grad():
        return round(-float(model.get_nll(test[: args.check], n_samples=args.k, batch_size=100)), 3)


def machine() -> dict[str, Any]:
    name = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": name,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "pythae": getattr(pythae, "__version__", "0.1.2"),
        "aekit": aekit.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads, both")
    parser.add_argument("--rounds", type=int, default=3, help="alternated throughput rounds")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each throughput run")
    parser.add_argument("--seconds", type=float, default=240.0, help="training time for the NLL")
    parser.add_argument("--k", type=int, default=5000, help="importance samples")
    parser.add_argument("--subset", type=int, default=300, help="test images of the bound")
    parser.add_argument("--check", type=int, default=100, help="test images of get_nll")
    parser.add_argument("--samples", type=int, default=60_000, help="training images used")
    parser.add_argument("--out", default="vae_pythae", help="results file name")
    parser.add_argument(
        "--throughput-only", action="store_true", help="the alternated rounds alone, no NLL"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    logging.getLogger("pythae").setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)

    data = aekit.load_mnist(os.environ.get("AEKIT_DATA"), download=False)
    train = binarize(data.train[: args.samples], TRAIN_SEED)
    test = binarize(data.test, TEST_SEED)
    n = len(train)
    out: dict[str, Any] = {
        "command": " ".join(["python benchmarks/vae_pythae.py", *sys.argv[1:]]),
        "machine": machine(),
        "threads_set": args.threads,
        "model": "VAE 784-200-200-50-200-200-784 (tanh), Bernoulli decoder, same initial weights",
        "data": f"MNIST, statically binarised (seed {TRAIN_SEED} train, {TEST_SEED} test); "
        f"{n} training images",
        "training": "Adam lr 1e-3 constant, batch 100, no validation",
        "load_start": load(),
        "throughput": [],
    }
    print(json.dumps({k: v for k, v in out.items() if k != "throughput"}), flush=True)

    for r in range(args.rounds):
        for name, fn in (("aekit", train_aekit), ("pythae", train_pythae)):
            row = {"round": r + 1, "library": name, **steady(fn(train, args.epochs), n)}
            row["load"] = load()
            out["throughput"].append(row)
            print(json.dumps(row), flush=True)
    rates = {
        lib: [row["samples_per_second"] for row in out["throughput"] if row["library"] == lib]
        for lib in ("aekit", "pythae")
    }
    out["samples_per_second_median"] = {k: float(np.median(v)) for k, v in rates.items()}
    out["ratio_per_round"] = [
        round(a / p, 2) for a, p in zip(rates["aekit"], rates["pythae"], strict=True)
    ]
    out["ratio_of_medians"] = round(
        out["samples_per_second_median"]["aekit"] / out["samples_per_second_median"]["pythae"], 2
    )
    print(json.dumps({k: out[k] for k in ("samples_per_second_median", "ratio_per_round")}))

    if not args.throughput_only:
        same_time(out, train, test, args)
    out["load_end"] = load()
    out["throughput_target_met"] = out["ratio_of_medians"] >= 1.5

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"{k}: {json.dumps(v)}" for k, v in out.items() if k != "throughput"]
    lines[7:7] = [json.dumps(row) for row in out["throughput"]]
    (RESULTS / f"{args.out}.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def same_time(
    out: dict[str, Any], train: torch.Tensor, test: torch.Tensor, args: argparse.Namespace
) -> None:
    """Train both for the same wall time; judge both by the same estimator; into ``out``."""
    n = len(train)
    # The NLL after the same wall time: aekit for --seconds (to an epoch's end), Pythae for
    # exactly as long.
    a = train_aekit(train, 10_000, args.seconds)
    aekit_seconds = a["ends"][-1] - a["start"]
    p = train_pythae(train, 10_000, aekit_seconds)
    pythae_seconds = (p["stopped_at"] or p["ends"][-1]) - p["start"]
    out["same_time"] = {
        "aekit": {
            "seconds": round(aekit_seconds, 1),
            "steps": a["steps"],
            "epochs": len(a["ends"]),
            "threads": a["threads"],
        },
        "pythae": {
            "seconds": round(pythae_seconds, 1),
            "steps": p["steps"],
            "epochs": round(p["steps"] * BATCH / n, 2),
            "threads": p["threads"],
        },
        "load_after_training": load(),
    }
    print(json.dumps(out["same_time"]), flush=True)
    pythae_trained = p["model"]
    judged = {"aekit": a["model"], "pythae": as_aekit(pythae_trained, test[:500])}
    for name, model in judged.items():
        out["same_time"][name].update(judge(model, test, args))
        print(name, json.dumps(out["same_time"][name]), flush=True)
    # Pythae's own estimator on both models, as a cross-check of the shared one.
    cross = {"aekit": pythae_model(a["model"]), "pythae": pythae_trained}
    for name, model in cross.items():
        timed = time.perf_counter()
        out["same_time"][name][f"pythae_get_nll_k{args.k}_first_{args.check}"] = pythae_nll(
            model, test, args
        )
        out["same_time"][name]["get_nll_seconds"] = round(time.perf_counter() - timed, 1)
        print(name, json.dumps(out["same_time"][name]), flush=True)
    key = f"iwae_nll_k{args.k}_first_{args.subset}"
    out["nll_difference_aekit_minus_pythae"] = round(
        out["same_time"]["aekit"][key] - out["same_time"]["pythae"][key], 3
    )
    out["bound_no_worse"] = out["nll_difference_aekit_minus_pythae"] <= 0


if __name__ == "__main__":
    main()
