"""The commands that describe run folders without data: ``aekit info`` (in the terminal)
and ``aekit report`` (an HTML page of a run, or one comparing runs).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.checkpoint import CHECKPOINT_FILE
from ..core.errors import AekitError, ConfigError, one_line
from ..core.io import finite_json
from ..evaluation.likelihood import likelihood_words
from ..models.autoencoder import AutoEncoder
from ..models.families import WEIGHTS_FILE
from ..runs.config import RunConfig
from ..runs.records import describe_samples, fallback_reason
from ..runs.report import processes, read_metrics
from ..runs.saved import describe_data, read_run_config
from .printing import dead_line, fmt
from .train import resume_command


def cmd_report(args: argparse.Namespace) -> int:
    from ..runs.report import _expand, write_comparison, write_report

    runs = _expand(args.runs)
    if len(runs) == 1:
        out = write_report(runs[0], args.output)
    else:
        if args.output is None:
            raise ConfigError("comparing runs needs -o FILE.html")
        out = write_comparison(runs, args.output)
    print(f"wrote {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if args.json:
        print(json.dumps(finite_json(config), indent=2, allow_nan=False))
        return 0
    for line in _info_lines(Path(args.run), config):
        print(line)
    return 0


def _info_lines(run: Path, config: dict[str, Any]) -> Iterator[str]:
    """The lines of ``aekit info RUN``, its config.json read: the model, the training, the
    metrics, the files."""
    from ..models.families import model_config_of
    from ..runs.saved import load

    _, model_cfg = model_config_of(config, run)
    model = load(run) if os.path.lexists(run / WEIGHTS_FILE) else None
    yield f"run folder   {run}"
    yield f"aekit        {config['aekit_version']}"
    yield f"kind         {model_cfg.kind}"
    replaced = model is not None and getattr(model, "is_pca", False)
    # The layers the config describes were set aside: the model is PCA with their code size.
    pca = f" (trained, then replaced by PCA-{model_cfg.code_dim}: see weights)" if replaced else ""
    yield f"model        {model_cfg.summary()}{pca}"
    yield from _weights_lines(run, config, model)
    yield from _training_lines(run, config)
    if os.path.lexists(run / "metrics.json"):
        # Described, not refused: info is how a damaged folder is looked at.
        try:
            metrics = read_metrics(run)
            # A model that is PCA has no epoch's weights: its weights line says whose.
            pca = bool(metrics.get("fell_back_to_pca"))
            yield "evaluation   " + "  ".join(
                f"{k} {fmt(v)}"
                for k, v in metrics.items()
                if not isinstance(v, list) and not (pca and k == "weights_from_epoch")
            )
            if "dead_units" in metrics:  # which units, by number, not only how many
                yield "             " + dead_line(metrics, model_cfg.code_dim)
            words = likelihood_words(model_cfg, metrics, str(metrics.get("split", "held-out")))
            if words:  # a VAE's: its inactive units by number, as aekit train printed them
                yield "             " + words[1]
        except AekitError as exc:
            yield f"evaluation   (metrics.json unreadable: {one_line(exc)})"
    yield "files        " + ", ".join(
        sorted(p.name for p in run.iterdir() if not p.name.startswith("."))
    )


def _weights_lines(run: Path, config: dict[str, Any], model: AutoEncoder | None) -> Iterator[str]:
    """The model's size, whether it fell back to PCA; or that its weights are missing."""
    if model is not None and getattr(model, "is_pca", False):
        yield (
            f"weights      PCA's solution, not an epoch's (the model fell back to PCA and "
            f"encodes and decodes as PCA): {fallback_reason(config)}"
        )
    if model is not None:
        yield f"parameters   {sum(p.numel() for p in model.parameters()):,}"
    elif isinstance(config.get("result"), dict):  # it finished, and its weights are gone
        again = (
            "writes them again from the checkpoint"
            if (run / CHECKPOINT_FILE).exists()
            else "trains it again (no checkpoint either)"
        )
        yield f"weights      missing: no {WEIGHTS_FILE}; {resume_command(str(run))} {again}"


def _training_lines(run: Path, config: dict[str, Any]) -> Iterator[str]:
    """The data, the training settings, and how far it got."""
    settings = RunConfig.from_dict(config, "config.json") if "training" in config else None
    result = config.get("result")
    yield f"data         {describe_data(config)}"
    yield f"samples      {describe_samples(config)}"
    yield f"processes    {processes(config)}"
    if settings is not None:
        t = settings.training
        machine = result.get("machine") if isinstance(result, dict) else None
        machine = machine if isinstance(machine, dict) else None
        yield f"training     {t.epochs} epochs, batch {t.batch_size}, {t.summary(machine)}"
    if isinstance(result, dict):
        yield (
            f"result       {result.get('epochs_trained')} epochs, {result.get('steps')} steps, "
            f"{result.get('seconds')} s"
        )
    else:
        state = (
            "incomplete (resume with --resume)"
            if (run / CHECKPOINT_FILE).exists()
            else "not trained"
        )
        yield f"result       {state}"
