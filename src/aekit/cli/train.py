"""The commands that train: ``aekit train`` (greedy pretraining included, with the
``--pretrain`` flags) and ``aekit train --resume``; and the command line that resumes a run,
which the errors of an interrupted run and ``aekit info`` print.
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

from ..core.errors import AekitError, ConfigError
from ..runs.api import Run, resume, train
from ..runs.config import RunConfig, is_vae_kind, iwae_k_refused
from ..runs.saved import IN_MEMORY, data_origin, read_run_config
from ..training import distributed
from .options import SECTIONS, given_settings
from .printing import training_lines

# What may accompany --resume: the data again (paths in a run folder are never used), a
# longer run, and the display.
RESUME_OPTIONS = {
    ("data", "source"),
    ("data", "data_dir"),
    ("data", "test"),
    ("training", "epochs"),
    ("output", "progress"),
    ("output", "report"),
    ("output", "iwae_k"),
}


def cmd_train(args: argparse.Namespace) -> int:
    run = _resume(args) if args.resume else train(run_config_from_args(args))
    for line in training_lines(run):
        print(line)
    return 0


def _resume(args: argparse.Namespace) -> Run:
    """``aekit train --resume RUN``: the run continued with its own settings."""
    given = given_settings(args)
    extra = sorted(
        f"{s}.{n}" for s, names in given.items() for n in names if (s, n) not in RESUME_OPTIONS
    )
    if extra or args.config or args.arch:
        raise ConfigError(
            "--resume continues a run with its own settings; only --data, --data-dir, "
            "--test, --epochs, --no-progress, --no-report and --iwae-k go with it"
        )
    return resume(
        args.resume,
        data=getattr(args, "data.source"),
        data_dir=getattr(args, "data.data_dir"),
        test=getattr(args, "data.test"),
        epochs=getattr(args, "training.epochs"),
        progress=getattr(args, "output.progress"),
        report=getattr(args, "output.report"),
        iwae_k=getattr(args, "output.iwae_k"),
    )


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of ``aekit train``'s options: the config file's settings, then the
    flags given over them."""
    given = given_settings(args)
    if args.arch:
        sizes = [int(s) for s in _sizes(args.arch)]
        if len(sizes) < 2:
            raise ConfigError("--arch needs at least input and code sizes, e.g. 64-8")
        given["model"].update(input_dim=sizes[0], hidden=sizes[1:-1], code_dim=sizes[-1])
    base = RunConfig.from_file(args.config).to_dict() if args.config else {}
    merged: dict[str, Any] = {}
    for section, *_ in SECTIONS:
        file_section = base.get(section) or {}
        if given[section] or file_section:
            merged[section] = {**file_section, **given[section]}
    kind = (merged.get("model") or {}).get("kind", "undercomplete")
    # Given at all, even at its default: a flag that would do nothing is refused.
    if "iwae_k" in given["output"] and isinstance(kind, str) and not is_vae_kind(kind):
        raise iwae_k_refused(kind, "--iwae-k", "--kind vae")
    return RunConfig.from_dict(merged)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(",", "-").split("-")]
    except ValueError:
        raise ConfigError(f"--arch must be sizes like 64-32-8, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"--arch sizes must be positive, got {text!r}")
    return sizes


def resume_command(run: str) -> str:
    """The command that continues ``run``: under torchrun, torchrun again; a run trained
    on a file names it again, and one on MNIST its folder (paths in a run folder are not
    used: the resume is given them again)."""
    launcher = "aekit train"
    if distributed.launched():
        n = os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("WORLD_SIZE", "N")
        launcher = f"torchrun --standalone --nproc_per_node={n} -m aekit train"
    data = ""
    try:
        config = read_run_config(run)
        source = RunConfig.from_dict(config).data
        if data_origin(config) in (None, IN_MEMORY):
            data = " --data FILE"  # an array from Python: saved to a file, given again
        elif not source.named:
            data = f" --data {shlex.quote(source.source)}"
            data += f" --test {shlex.quote(source.test)}" if source.test else ""
        elif source.source == "mnist" and source.data_dir:
            data = f" --data-dir {shlex.quote(source.data_dir)}"
    except AekitError:
        pass
    return f"{launcher} --resume {run}{data}"
