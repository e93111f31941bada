"""The ``aekit`` command: parses arguments, calls the library, prints.

The options of ``aekit train`` are generated from the fields of
:class:`~aekit.RunConfig`'s sections (name, type, choices, default and help), so every
setting has a flag and a new field needs no edit here. Each command is a Python function
of the same name (:func:`aekit.train`, :func:`aekit.resume`, :func:`aekit.evaluate`...).

Every error about the user's input prints one line ``aekit: error: ...`` and exits 2; no
user action shows a traceback (``--debug`` shows it for a genuine bug).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import logging
import os
import re
import shlex
import sys
import traceback
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..core.checkpoint import CHECKPOINT_FILE
from ..core.config import describe, field_help
from ..core.errors import AekitError, ConfigError, TrainingError, TrainingInterrupted, one_line
from ..core.io import atomic_write, finite_json
from ..core.schema import number
from ..core.version import __version__
from ..data.config import NAMED_SOURCES, DataConfig
from ..data.formats.csv import csv_header
from ..data.formats.images import Images, is_image_folder, not_streamed
from ..data.sources import streams
from ..data.streaming import DiskArray
from ..evaluation.metrics import feature_errors
from ..evaluation.plots import reconstruction_grid
from ..models.config import ModelConfig
from ..models.corruption import CORRUPTIONS
from ..models.families import WEIGHTS_FILE
from ..models.nets import ACTIVATIONS
from ..models.parts import Part
from ..models.penalties import PENALTIES
from ..models.presets import KINDS, default_code_dim
from ..runs.api import (
    Run,
    checked_blocks,
    evaluate,
    load_model_and_data,
    read_images,
    resume,
    train,
)
from ..runs.api import encode as encode_data
from ..runs.api import impute as impute_data
from ..runs.api import reconstruct as reconstruct_data
from ..runs.api import score as score_data
from ..runs.config import OutputConfig, PretrainConfig, RunConfig
from ..runs.report import read_metrics, versus
from ..runs.saved import IN_MEMORY, data_origin, describe_origin, read_run_config
from ..training import distributed
from ..training.config import TrainConfig
from ..training.trainer import spoken_duration, why_pca

EXIT_USAGE = 2

# The sections of RunConfig and the prefix of their flags.
SECTIONS: tuple[tuple[str, type, str, str], ...] = (
    ("data", DataConfig, "", "data"),
    ("model", ModelConfig, "", "model (defaults: the kind's preset, then these)"),
    ("training", TrainConfig, "", "training"),
    (
        "pretrain",
        PretrainConfig,
        "pretrain-",
        "greedy layer-wise pretraining (MLP); any of these turns it on",
    ),
    ("output", OutputConfig, "", "output"),
)
_NONE = object()  # "none" given for an optional setting


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other aekit error."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---- options generated from the schema -------------------------------------------------------


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether None is allowed)."""
    args = typing.get_args(tp)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _converter(tp: Any, optional: bool, name: str) -> Any:
    origin = typing.get_origin(tp)

    def convert(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return _NONE
        if origin in (list, tuple) and not _is_part_list(tp):
            try:
                return [int(s) for s in text.replace("-", ",").split(",") if s.strip()]
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected sizes like 32,16, got {text!r}"
                ) from None
        if tp is int:
            try:
                return int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if tp is float:
            try:
                return float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        return text

    convert.__name__ = name
    return convert


def _is_part_list(tp: Any) -> bool:
    args = typing.get_args(tp)
    return bool(args) and isinstance(args[0], type) and issubclass(args[0], Part)


def _set_by_kinds() -> frozenset[str]:
    """The model settings some kind's preset chooses, for any data."""
    return frozenset(
        name
        for kind in KINDS
        for unit_range in (True, False)
        for name in KINDS.get(kind)(64, 8, unit_range)
    )


def _default_text(section: str, f: dataclasses.Field[Any]) -> str:
    if section == "model":
        if f.name in ("input_dim", "image_shape"):
            return "from the data"
        if f.name == "code_dim":
            return ""  # the help text states the rule
        if f.name == "kind":
            return "undercomplete"
        if f.name == "scaling":
            return "none for data in [0, 1], else standard"
        if f.name == "output_activation":
            return "sigmoid for data in [0, 1], else linear, unless the kind chooses"
    if section == "pretrain" and f.name == "method":
        return "off"
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return ""
    if section == "model" and f.name in _set_by_kinds():
        return f"the kind's, else {describe(value)}"
    return describe(value)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of each RunConfig section."""
    for section, cls, prefix, title in SECTIONS:
        group = parser.add_argument_group(title)
        helps = field_help(cls)
        hints = typing.get_type_hints(cls)
        # The kind first: its preset is what the other model options change.
        for f in sorted(dataclasses.fields(cls), key=lambda f: f.name != "kind"):
            flag = f.metadata.get("flag") or f"--{prefix}{f.name.replace('_', '-')}"
            tp, optional = _unwrap(hints[f.name])
            default = _default_text(section, f)
            text = helps.get(f.name, "").rstrip(".")
            if default and "(default:" not in text:
                text = f"{text} (default: {default})"
            text = text.replace("%", "%%")
            kwargs: dict[str, Any] = {"dest": f"{section}.{f.name}", "default": None, "help": text}
            if tp is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = _converter(tp, optional, f.name)
                kwargs["metavar"] = f.name.upper()
                registry = f.metadata.get("registry")
                if typing.get_origin(tp) is Literal:
                    kwargs["choices"] = list(typing.get_args(tp))
                    kwargs["metavar"] = "{" + ",".join(map(str, typing.get_args(tp))) + "}"
                elif registry is not None or (section == "model" and f.name == "kind"):
                    names = (registry or KINDS).names()
                    kwargs["choices"] = names
                    kwargs["metavar"] = "{" + ",".join(names) + "}"
                if f.metadata.get("append"):
                    kwargs["action"] = "append"
                    kwargs["metavar"] = "SPEC"
                elif isinstance(tp, type) and issubclass(tp, Part):
                    kwargs["metavar"] = "SPEC"
            group.add_argument(flag, **kwargs)


def given_settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the user gave on the command line, by section."""
    out: dict[str, dict[str, Any]] = {section: {} for section, *_ in SECTIONS}
    for key, value in vars(args).items():
        section, _, name = key.partition(".")
        if section in out and value is not None:
            out[section][name] = None if value is _NONE else value
    return out


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aekit",
        allow_abbrev=False,
        description="Train, evaluate and use autoencoders.",
        epilog="Run 'aekit COMMAND --help' for a command's options.",
    )
    p.add_argument("--version", action="version", version=f"aekit {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    p.set_defaults(subparsers=sub)

    t = sub.add_parser(
        "train",
        allow_abbrev=False,
        help="train an autoencoder and write a run folder",
        description=(
            "Train an autoencoder and write a run folder (config.json, model.safetensors, "
            "checkpoint, metrics.csv, metrics.json, figures/, report.html). With no "
            "options it trains the default undercomplete autoencoder on scikit-learn's digits. "
            "A kind is a preset of parts; every option given replaces the preset's value "
            "(--penalty gives the whole list of penalties)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  aekit train --kind sparse --arch 64-32-16 --epochs 100\n"
            "  aekit train --kind denoising --corruption gaussian:sigma=0.3\n"
            "  aekit train --penalty contractive:lam=0.05,method=exact --code-activation sigmoid\n"
            "  aekit train --data mnist --data-dir ../shared/data/mnist --arch 784-1000-500-250-30\n"
            "  aekit train --data photos/ --image-size 64,64     (a folder of images)\n"
            "  aekit train --arch 64-48-32-8 --pretrain greedy --pretrain-epochs 20 \\\n"
            "              --pretrain-corruption masking:nu=0.25      (stacked denoising)\n"
            "  aekit train --config my_run.json --epochs 10     (flags override the file)\n"
            "  aekit train --resume runs/sparse-20261126-120000\n"
            f"\nkinds: {', '.join(KINDS.names())}\n"
            f"penalties: {', '.join(PENALTIES.names())}\n"
            f"corruptions: {', '.join(CORRUPTIONS.names())}\n"
            f"activations: {', '.join(ACTIVATIONS.names())}"
        ),
    )
    run = t.add_argument_group("run")
    run.add_argument(
        "--config",
        metavar="FILE",
        help="JSON file with model/training/data/pretrain/output sections",
    )
    run.add_argument(
        "--resume", metavar="RUN", help="continue an interrupted run from its last checkpoint"
    )
    run.add_argument(
        "--arch",
        metavar="SIZES",
        help="layer sizes from input to code, e.g. 784-1000-500-250-30 (sets --hidden and --code-dim)",
    )
    add_config_options(t)

    e = sub.add_parser(
        "evaluate",
        allow_abbrev=False,
        help="metrics of a trained model on data",
        description="Print the metrics of a trained model on data (default: the run's test split).",
    )
    e.add_argument("run", metavar="RUN", help="run folder")
    e.add_argument(
        "--data",
        metavar="SOURCE",
        help="'digits', 'mnist', a data file or a folder of images (default: the run's data "
        "set if it was digits "
        "or mnist; a run trained on a file needs its data named: paths in a run folder are "
        "not used)",
    )
    _add_data_dir(e)
    e.add_argument(
        "--split",
        choices=["test", "train"],
        help="split of digits or mnist (default: test)",
    )
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_stream(e)
    _add_header(e)

    c = sub.add_parser(
        "encode",
        allow_abbrev=False,
        help="write the codes of data to a file",
        description="Encode INPUT and write the codes (.npy or .csv).",
    )
    c.add_argument("run", metavar="RUN", help="run folder")
    c.add_argument("input", metavar="INPUT", help=INPUT_HELP)
    c.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="codes.npy or codes.csv (a folder of images: codes.csv has a column 'file'; "
        "beside codes.npy, codes.files.txt names the file of each row)",
    )
    _add_data_dir(c)
    _add_stream(c)
    _add_header(c)

    r = sub.add_parser(
        "reconstruct",
        allow_abbrev=False,
        help="reconstruct data: a picture or an array",
        description="Reconstruct INPUT: -o grid.png draws originals over reconstructions; "
        "-o recon.npy writes all reconstructions, in the shape of the input; for a folder "
        "of images, -o FOLDER (new or empty) writes each reconstruction as an 8-bit PNG "
        "named after its file.",
    )
    r.add_argument("run", metavar="RUN", help="run folder")
    r.add_argument("input", metavar="INPUT", help=INPUT_HELP)
    r.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="grid.png, recon.npy or recon.csv; or a folder, for a folder of images",
    )
    r.add_argument("-n", type=int, default=10, help="number of samples in the picture (default 10)")
    _add_data_dir(r)
    _add_stream(r)
    _add_header(r)

    s = sub.add_parser(
        "score",
        allow_abbrev=False,
        help="per-sample reconstruction errors (anomaly scores) to a CSV",
        description="Score INPUT by reconstruction error: a CSV with one row per sample "
        "(column 'error': the squared error summed over features, in the model's units; "
        "higher is more unusual). With --threshold or --contamination, or for a folder "
        "saved by aekit.sklearn.AutoEncoderOutlierDetector (its threshold), a column "
        "'outlier' (1 or 0); with --per-feature, one error column per feature. For a "
        "folder of images, a first column 'file' names each image.",
    )
    s.add_argument("run", metavar="RUN", help="run folder")
    s.add_argument("input", metavar="INPUT", help=INPUT_HELP)
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="scores.csv")
    limit = s.add_mutually_exclusive_group()
    limit.add_argument(
        "--threshold", type=float, metavar="ERROR", help="an error above this is an outlier"
    )
    limit.add_argument(
        "--contamination",
        type=float,
        metavar="SHARE",
        help="flag this share of INPUT's samples, the worst reconstructed, in (0, 0.5]",
    )
    s.add_argument("--per-feature", action="store_true", help="add each feature's error")
    _add_data_dir(s)
    _add_stream(s)
    _add_header(s)

    m = sub.add_parser(
        "impute",
        allow_abbrev=False,
        help="fill the missing values (NaN, empty CSV fields) of data",
        description="Fill the missing values of INPUT (NaN; in a CSV also empty fields "
        "and NA) with the reconstructions of a model trained for missing values "
        "(aekit train --missing ..., or aekit.sklearn.AutoEncoderImputer.save); "
        "observed values are kept.",
    )
    m.add_argument("run", metavar="RUN", help="run folder")
    m.add_argument("input", metavar="INPUT", help="a .npy/.npz/.csv file")
    m.add_argument("-o", "--output", required=True, metavar="FILE", help="filled.npy or .csv")
    _add_stream(m)
    _add_header(m)

    rp = sub.add_parser(
        "report",
        allow_abbrev=False,
        help="write a run's one-page HTML report, or a page comparing runs",
        description="Write RUN's one-page HTML report (configuration, data, timings, "
        "metrics, every figure; images embedded, no network needed), by default to "
        "RUN/report.html. Given several runs (or a folder of runs), write one page "
        "comparing them (-o required).",
    )
    rp.add_argument("runs", metavar="RUN", nargs="+", help="run folder(s), or a folder of runs")
    rp.add_argument("-o", "--output", metavar="FILE", help="the HTML file to write")

    i = sub.add_parser(
        "info",
        allow_abbrev=False,
        help="describe a run folder",
        description="Describe a run folder.",
    )
    i.add_argument("run", metavar="RUN", help="run folder")
    i.add_argument("--json", action="store_true", help="print config.json")
    return p


INPUT_HELP = "a .npy/.npz/.csv file, a folder of images, or 'digits'/'mnist' (test split)"


def _add_header(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--header",
        choices=["auto", "yes", "no"],
        default="auto",
        help="a CSV input: whether its first line names the columns (default auto: a line "
        "of names is a header, of numbers or missing values a sample; a line that could be "
        "either, like pandas' column numbers 0,1, is refused until you say). Named columns "
        "are matched by name to the columns the run trained on",
    )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST files (default: $AEKIT_DATA, then the cache)",
    )


# ---- commands ------------------------------------------------------------------------------


# What may accompany --resume: the data again (paths in a run folder are never used), a
# longer run, and the display.
RESUME_OPTIONS = {
    ("data", "source"),
    ("data", "data_dir"),
    ("data", "test"),
    ("training", "epochs"),
    ("output", "progress"),
    ("output", "report"),
}


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
    return RunConfig.from_dict(merged)


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        given = given_settings(args)
        extra = sorted(
            f"{s}.{n}" for s, names in given.items() for n in names if (s, n) not in RESUME_OPTIONS
        )
        if extra or args.config or args.arch:
            raise ConfigError(
                "--resume continues a run with its own settings; only --data, --data-dir, "
                "--test, --epochs, --no-progress and --no-report go with it"
            )
        run = resume(
            args.resume,
            data=getattr(args, "data.source"),
            data_dir=getattr(args, "data.data_dir"),
            test=getattr(args, "data.test"),
            epochs=getattr(args, "training.epochs"),
            progress=getattr(args, "output.progress"),
            report=getattr(args, "output.report"),
        )
    else:
        run = train(run_config_from_args(args))
    _report(run)
    return 0


def _estimated(seconds: float | None) -> str:
    return f" (estimated beforehand: {seconds:.1f} s)" if seconds is not None else ""


def _report(run: Run) -> None:
    cfg = run.model.config
    assert cfg is not None
    for layer in run.layers or []:
        n_in, n_out = layer.sizes
        print(
            f"pretrained layer {layer.index} {n_in}-{n_out}: squared error of its input "
            f"{_fmt(layer.error_before)} -> {_fmt(layer.error_after)} in {layer.fit.seconds:.1f} s"
        )
    print(
        f"trained {cfg.kind} {cfg.arch} on {run.data.name} ({len(run.data.train)} samples"
        f"{', streamed from disk' if isinstance(run.data.train, DiskArray) else ''}) "
        f"for {len(run.fit.history)} epochs, {run.fit.steps} steps in {run.fit.seconds:.1f} s"
        f"{_estimated(run.fit.estimated_seconds)} -> {run.path}"
    )
    for note in run.data.notes:
        print(f"data: {note}")
    print(f"model: {cfg.summary()}")
    print(f"training: {run.config.training.summary(run.fit.machine)}")
    if run.chosen:
        settings = ", ".join(f"{k} {v}" for k, v in run.chosen.items())
        flags = ", ".join("--" + k.replace("_", "-") for k in run.chosen)
        print(f"chosen from the data size: {settings} ({flags} to set them)")
    if run.larger_batch is not None:
        batch, before, after = run.larger_batch
        training = run.config.training
        print(
            f"batch {training.batch_size} (lr {training.lr:g}, muon_lr {training.muon_lr:g}) "
            f"instead of the {cfg.kind} kind's {batch}: a step is timed as slow here, and "
            f"at batch {batch} training would take about {spoken_duration(before)} against "
            f"{spoken_duration(after)}"
        )
    if run.uncut_epochs is not None:
        print(
            f"epochs cut from {run.uncut_epochs} to {run.epochs}: a step takes "
            f"{run.fit.seconds / max(run.fit.steps, 1) * 1e3:.3g} ms on this machine, and "
            f"{run.uncut_epochs} epochs would have trained for over 6 minutes (the cut aims "
            "at about 3; --epochs sets them)"
        )
    averaged = "averaged " if run.config.training.ema else ""
    if run.fit.kept_pca and run.fit.pca_comparison is not None:
        print(
            f"kept PCA's solution: {why_pca(run.fit.pca_comparison)}, so here the layers "
            "did not generalise better than PCA; the model now encodes and decodes as PCA (more data or "
            "epochs, or another kind, may do better; --no-pca-fallback keeps the trained "
            "layers)"
        )
    elif run.fit.best_epoch is not None and run.config.training.keep == "best":
        print(f"kept the {averaged}weights of epoch {run.fit.best_epoch} (lowest validation loss)")
    elif averaged:
        print("kept the averaged weights of the last epoch (the raw ones are in the checkpoint)")
    metrics = dict(run.metrics)
    pca = metrics.pop("pca_squared_error", None)
    plain = {k: metrics.pop(k) for k in list(metrics) if re.fullmatch(r"pca\d+_squared_error", k)}
    probe = metrics.pop("probe_accuracy", None)
    judged = {k: metrics.pop(k) for k in JUDGED if k in metrics}
    print(f"{run.split}: " + "  ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()))
    error = metrics["squared_error"]
    if pca is not None:
        wide = "".join(
            f"; PCA-{k[3:].split('_')[0]} {_fmt(v)} (the other kinds' default code size)"
            for k, v in plain.items()
        )
        print(
            f"baseline: PCA-{cfg.code_dim} {_fmt(pca)}; this model {_fmt(error)} "
            f"({versus(error, pca)}){wide}"
        )
    else:
        # A code as wide as the input: PCA with every component is the identity, so the
        # model is compared with PCA at the other kinds' default code size.
        for k, v in plain.items():
            print(
                f"baseline: PCA-{k[3:].split('_')[0]} {_fmt(v)} (the other kinds' default "
                f"code size); this model {_fmt(error)} ({versus(error, v)})"
            )
    for line in judged_lines(cfg, judged, probe):
        print(line)


# Metrics that say whether a kind does what it is for, printed in words.
JUDGED = (
    "mean_activation",
    "l0",
    "dead_units",
    "jacobian_frobenius",
    "psnr_corrupted",
    "psnr_denoised",
    "pca_psnr_denoised",
)


def judged_lines(cfg: Any, judged: dict[str, Any], probe: float | None) -> list[str]:
    lines = []
    if "mean_activation" in judged:
        rho = next((p.rho for p in cfg.penalties if hasattr(p, "rho")), None)
        target = f" (target rho {rho:g})" if rho is not None else ""
        active = "fire (h > 0.5)" if cfg.code_activation == "sigmoid" else "are non-zero"
        lines.append(
            f"sparsity: mean activation {_fmt(judged['mean_activation'])}{target}; per "
            f"sample {_fmt(judged['l0'])} of {cfg.code_dim} units {active}; "
            f"{judged['dead_units']} never do (dead)"
        )
    if "jacobian_frobenius" in judged:
        lines.append(
            f"contraction: mean ||J_f(x)||_F {_fmt(judged['jacobian_frobenius'])} "
            "(lower: the code changes less around the data)"
        )
    if cfg.corruption is not None:
        lines.append(trained_for(cfg))
    if "psnr_denoised" in judged:
        lines.append(
            f"denoising: PSNR of the corrupted input {_fmt(judged['psnr_corrupted'])} dB -> "
            f"of its reconstruction {_fmt(judged['psnr_denoised'])} dB"
            + (
                f" (PCA-{cfg.code_dim if cfg.code_dim < cfg.input_dim else default_code_dim(cfg.input_dim)}"
                f" of the same input: {_fmt(judged['pca_psnr_denoised'])} dB)"
                if "pca_psnr_denoised" in judged
                else ""
            )
        )
    if probe is not None:
        lines.append(f"linear probe: logistic regression on the codes, accuracy {probe:.3f}")
    return lines


def trained_for(cfg: Any) -> str:
    """The noise a model with a corruption learned to remove, and how to train for another:
    a model trained on masking noise does not remove Gaussian noise (it can make it worse)."""
    corruption = cfg.corruption
    said = f"{corruption.in_words()}{' (in the scaled units)' if cfg.scaling != 'none' else ''}"
    if corruption.name == "missing_patterns":
        return f"denoising: trained to fill {said}"
    if corruption.name == "gaussian":
        other = (
            "to remove noise of another size or kind, train for it: --corruption "
            "gaussian:sigma=S (S its standard deviation) or masking:nu=0.25"
        )
    else:
        other = (
            "to remove other noise, train for it: --corruption gaussian:sigma=0.1 (for "
            "Gaussian noise of standard deviation 0.1)"
        )
    return f"denoising: trained to undo {said}; {other}"


def _add_stream(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the data from disk a block at a time (.npy files, folders of .npy "
        "shards, uncompressed IDX files) and write results the same way (.npy); default: "
        "for files above 1 GiB and for shard folders",
    )


def _streamed(args: argparse.Namespace, data: str | None) -> str | None:
    """The output path to write block by block when the input streams, else None."""
    if data is None or data in NAMED_SOURCES or not streams(data, args.stream):
        return None
    if Path(args.output).suffix.lower() != ".npy":
        raise ConfigError(
            f"{data} is read a block at a time (streamed), and so is the result: write it "
            f"to a .npy file, not {Path(args.output).name!r}"
        )
    return args.output


def cmd_evaluate(args: argparse.Namespace) -> int:
    images = _input_images(args, args.data, sys.stderr if args.json else sys.stdout)
    metrics = evaluate(
        args.run,
        images if images is not None else args.data,
        split=args.split,
        data_dir=args.data_dir,
        baseline=True,
        stream=args.stream,
        header=args.header,
    )
    if args.json:
        print(json.dumps(finite_json(metrics), indent=2, allow_nan=False))
        return 0
    pca = metrics.pop("pca_squared_error", None)
    width = max(map(len, metrics))
    for k, v in metrics.items():
        print(f"{k:<{width}}  {_fmt(v)}")
    if pca is not None:
        code = read_run_config(args.run)["model"]["code_dim"]
        error = metrics["squared_error"]
        print(f"baseline: PCA-{code} {_fmt(pca)}; this model {_fmt(error)} ({versus(error, pca)})")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    images = _input_images(args, args.input)
    if images is not None:
        codes = encode_data(args.run, images)
        names = _save_named(
            args.output, images, codes, [f"code_{i}" for i in range(codes.shape[1])]
        )
        print(
            f"wrote codes of {len(codes)} samples ({codes.shape[1]} units) to {args.output}{names}"
        )
        return 0
    out = _streamed(args, args.input)
    codes = encode_data(
        args.run,
        args.input,
        data_dir=args.data_dir,
        stream=args.stream,
        out=out,
        header=args.header,
    )
    if out is None:
        # A table with named columns gives a table with named columns.
        named = _input_header(args) is not None
        _save_array(
            args.output, codes, [f"code_{i}" for i in range(codes.shape[1])] if named else None
        )
    print(f"wrote codes of {len(codes)} samples ({codes.shape[1]} units) to {args.output}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    out = Path(args.output)
    images = _input_images(args, args.input)
    data: Any = images if images is not None else args.input
    if images is not None and out.suffix.lower() != ".png":
        recon = reconstruct_data(args.run, images)
        if out.suffix == "" or out.is_dir():
            _save_pngs(out, images.files, recon)
            print(
                f"wrote reconstructions of {len(recon)} images to {out}/ as 8-bit PNGs "
                "named after their files (values clipped to [0, 1])"
            )
            return 0
        header = [str(i) for i in range(recon[0].size)]
        names = _save_named(out, images, recon, header)
        print(f"wrote reconstructions of {len(recon)} samples to {out}{names}")
        return 0
    if out.suffix.lower() == ".png":
        if args.n < 1:
            raise ConfigError(f"-n must be >= 1, got {args.n}")
        model, x = load_model_and_data(
            args.run, data, data_dir=args.data_dir, stream=args.stream, header=args.header
        )
        sample = x.read(0, args.n) if isinstance(x, DiskArray) else np.asarray(x[: args.n])
        image_shape = model.config.image_shape if model.config is not None else None
        recon = model.reconstruct(sample)
        title = f"the first samples of {args.input or 'the test split'} and their reconstructions"
        if image_shape is None and model.scaling != "none":
            # Features of different ranges, drawn in the model's units so each one shows.
            import torch

            sample, recon = (model.scale(torch.as_tensor(a)).numpy() for a in (sample, recon))
            title += f" ({model.scaling} scaled)"
        reconstruction_grid(sample, recon, out, image_shape, n=args.n, title=title)
        print(f"wrote {min(args.n, len(sample))} originals and reconstructions to {out}")
    else:
        streamed = _streamed(args, args.input)
        recon = reconstruct_data(
            args.run,
            args.input,
            data_dir=args.data_dir,
            stream=args.stream,
            out=streamed,
            header=args.header,
        )
        if streamed is None:
            names = _input_header(args)
            fits = names is not None and len(names) == recon.reshape(len(recon), -1).shape[1]
            _save_array(out, recon, names if fits else None)  # the input's column names
        print(f"wrote reconstructions of {len(recon)} samples to {out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ..sklearn import CONTAMINATION

    # Checked before anything is read: a number, finite, in range.
    if args.threshold is not None:
        args.threshold = number(args.threshold, "--threshold")
    if args.contamination is not None:
        args.contamination = number(args.contamination, "--contamination", CONTAMINATION)
    images = _input_images(args, args.input)
    data: Any = images if images is not None else args.input
    model, x = load_model_and_data(
        args.run, data, data_dir=args.data_dir, stream=args.stream, header=args.header
    )
    if isinstance(x, DiskArray):
        if args.per_feature:
            raise ConfigError(
                f"{args.input} is streamed: its per-feature errors are as large as the data; "
                "write them with aekit.score(RUN, DATA, out='errors.npy')"
            )
        # One score per sample, a block at a time, each checked by its true row.
        total = np.concatenate(
            [feature_errors(model, b).sum(1) for _, b in checked_blocks(model, x)]
        )
        errors = total[:, None]
    else:
        errors = score_data(model, x)
        total = errors.sum(1)
    columns, header = [total], ["error"]
    limit = args.threshold
    if args.contamination is not None:
        limit = float(np.percentile(total, 100 * (1 - args.contamination)))
    elif limit is None:
        limit = _saved_threshold(Path(args.run))
    if limit is not None:
        columns.append((total > limit).astype(np.float64))
        header.append("outlier")
    if args.per_feature:
        columns.extend(errors.T)
        names = getattr(model, "feature_names", None) or _input_header(args)
        if names is None or len(names) != errors.shape[1]:
            names = [str(i) for i in range(errors.shape[1])]
        header.extend(f"error_{name}" for name in names)
    if images is not None:
        _save_named(args.output, images, np.column_stack(columns), header, (".csv",))
    else:
        _save_table(args.output, np.column_stack(columns), header)
    flagged = f"; {int(columns[1].sum())} above {limit:.4g} (outliers)" if limit is not None else ""
    print(f"wrote the errors of {len(total)} samples to {args.output}{flagged}")
    if images is not None:
        worst = np.argsort(-total, kind="stable")[:TOP_ERRORS]
        print("highest errors: " + ", ".join(f"{images.files[i]} {_fmt(total[i])}" for i in worst))
    return 0


TOP_ERRORS = 5  # the images named after scoring a folder


def _saved_threshold(run: Path) -> float | None:
    """The error threshold of a folder saved by AutoEncoderOutlierDetector, if it is one."""
    from ..sklearn import ESTIMATOR_FILE, read_estimator_file

    if not os.path.lexists(run / ESTIMATOR_FILE):
        return None
    info = read_estimator_file(run)  # checked: a damaged file is refused, never ignored
    offset = info["fitted"].get("offset_")
    if info["estimator"] != "AutoEncoderOutlierDetector" or offset is None:
        return None
    return -number(offset, f"{run / ESTIMATOR_FILE}: offset_ (the saved threshold)")


def cmd_impute(args: argparse.Namespace) -> int:
    streamed = _streamed(args, args.input)
    filled = impute_data(args.run, args.input, stream=args.stream, out=streamed, header=args.header)
    if streamed is not None:
        print(f"wrote {len(filled)} samples with their missing values filled to {args.output}")
        return 0
    _save_array(args.output, filled, _input_header(args))  # a CSV keeps its header
    print(f"wrote {len(filled)} samples with their missing values filled to {args.output}")
    return 0


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
    from ..models.families import model_config_of
    from ..runs.saved import load

    config = read_run_config(args.run)
    if args.json:
        print(json.dumps(finite_json(config), indent=2, allow_nan=False))
        return 0
    run = Path(args.run)
    _, model_cfg = model_config_of(config, run)
    model = load(run) if os.path.lexists(run / WEIGHTS_FILE) else None
    print(f"run folder   {run}")
    print(f"aekit        {config['aekit_version']}")
    print(f"kind         {model_cfg.kind}")
    print(f"model        {model_cfg.summary()}")
    if model is not None and model.is_pca:
        print(
            "             fell back to PCA: its validation error was lower than the trained "
            "layers', so the model encodes and decodes as PCA"
        )
    if model is not None:
        print(f"parameters   {sum(p.numel() for p in model.parameters()):,}")
    elif isinstance(config.get("result"), dict):  # it finished, and its weights are gone
        again = (
            "writes them again from the checkpoint"
            if (run / CHECKPOINT_FILE).exists()
            else "trains it again (no checkpoint either)"
        )
        print(f"weights      missing: no {WEIGHTS_FILE}; {resume_command(str(run))} {again}")
    settings = RunConfig.from_dict(config, "config.json") if "training" in config else None
    result = config.get("result")
    print(f"data         {describe_origin(data_origin(config))}")
    if settings is not None:
        t = settings.training
        machine = result.get("machine") if isinstance(result, dict) else None
        machine = machine if isinstance(machine, dict) else None
        print(f"training     {t.epochs} epochs, batch {t.batch_size}, {t.summary(machine)}")
    if isinstance(result, dict):
        print(
            f"result       {result.get('epochs_trained')} epochs, {result.get('steps')} steps, "
            f"{result.get('seconds')} s"
        )
    else:
        state = (
            "incomplete (resume with --resume)"
            if (run / CHECKPOINT_FILE).exists()
            else "not trained"
        )
        print(f"result       {state}")
    metrics_file = run / "metrics.json"
    if os.path.lexists(metrics_file):
        # Described, not refused: info is how a damaged folder is looked at.
        try:
            metrics = read_metrics(run)
            print("evaluation   " + "  ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()))
        except AekitError as exc:
            print(f"evaluation   (metrics.json unreadable: {one_line(exc)})")
    print(
        "files        "
        + ", ".join(sorted(p.name for p in run.iterdir() if not p.name.startswith(".")))
    )
    return 0


# ---- helpers -------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(",", "-").split("-")]
    except ValueError:
        raise ConfigError(f"--arch must be sizes like 64-32-8, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"--arch sizes must be positive, got {text!r}")
    return sizes


def _input_images(args: argparse.Namespace, data: str | None, out: Any = None) -> Images | None:
    """A folder of images named as the input, read as the run read its training images
    (its image_size and image_mode), with what was done to them said; else None."""
    if data is None or data in NAMED_SOURCES or not is_image_folder(data):
        return None
    if args.stream:
        raise not_streamed(data)
    images = read_images(args.run, data)
    for note in images.notes:
        print(f"{data}: {note}", file=out or sys.stdout)
    return images


def _names_file(path: Path) -> Path:
    """Where the file names of the rows of a .npy result go: codes.npy -> codes.files.txt."""
    return path.with_name(path.stem + ".files.txt")


def _save_named(
    path: str | Path,
    images: Images,
    array: np.ndarray,
    header: list[str],
    suffixes: tuple[str, ...] = (".npy", ".csv"),
) -> str:
    """Write the result of a folder of images with each row's file name: in a .csv, a
    first column 'file'; beside a .npy (which holds no text), a .files.txt file of the
    names, one a line in row order. Returns the words that say where the names went."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".csv":
        _save_array(path, array, suffixes=suffixes)
        names = _names_file(path)
        text = "".join(f"{name}\n" for name in images.files)

        def write_names(tmp: str) -> None:
            Path(tmp).write_text(text, encoding="utf-8")

        atomic_write(names, write_names)
        return f" and the file name of each row, one a line, to {names}"
    _check_output(path, suffixes)
    rows = array.reshape(len(array), -1)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["file", *header])
            for name, row in zip(images.files, rows, strict=True):
                out.writerow([name, *exact_text(row)])

    atomic_write(path, write)
    return ", each row named by its file (column 'file')"


def _save_pngs(folder: Path, files: list[str], images: np.ndarray) -> None:
    """Write (N, C, H, W) images in [0, 1] as 8-bit PNGs into a new or empty ``folder``,
    each named after its file (``cat.jpg`` -> ``cat.png``; the whole name, ``cat.jpg.png``,
    where two files share a stem)."""
    from PIL import Image

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} exists and is not an empty folder: reconstructions go to a new or "
            "empty folder, so that no file is overwritten"
        )
    if not folder.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {folder.parent}")
    if images.ndim != 4 or images.shape[1] not in (1, 2, 3, 4):
        raise ConfigError(f"reconstructions of shape {images.shape[1:]} are not images")
    names = [Path(name).stem + ".png" for name in files]
    if len(set(names)) < len(names):
        names = [name + ".png" for name in files]
    folder.mkdir(exist_ok=True)
    for name, image in zip(names, images, strict=True):
        pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        pixels = pixels[0] if len(pixels) == 1 else pixels.transpose(1, 2, 0)
        picture = Image.fromarray(np.ascontiguousarray(pixels))
        atomic_write(folder / name, lambda tmp, p=picture: p.save(tmp, format="PNG"))


def _input_header(args: argparse.Namespace) -> list[str] | None:
    """The column names of the results of a CSV input with a header row (the run's, in its
    order, where it has them: the input's columns were matched to them), else None."""
    data = args.input
    if data is None or not Path(data).is_file():
        return None
    names = csv_header(data, args.header)
    if names is not None:
        stored = read_run_config(args.run).get("columns")
        if isinstance(stored, list) and sorted(map(str, stored)) == sorted(names):
            return [str(n) for n in stored]
    return names


def _save_table(path: str | Path, table: np.ndarray, header: list[str]) -> None:
    """Write a table with its header row to a CSV file."""
    _save_array(path, table, header, suffixes=(".csv",))


def _save_array(
    path: str | Path,
    array: np.ndarray,
    header: list[str] | None = None,
    suffixes: tuple[str, ...] = (".npy", ".csv"),
) -> None:
    """Write ``array`` to a file of one of ``suffixes``: .npy, or .csv (with ``header``
    as its first row, where given)."""
    path = Path(path)
    suffix = _check_output(path, suffixes)
    if suffix == ".csv":
        array = array.reshape(len(array), -1)

    def write(tmp: str) -> None:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, array)
            return
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            if header is not None:
                out.writerow(header)
            for row in array:
                f.write(",".join(exact_text(row)) + "\n")

    atomic_write(path, write)


def exact_text(row: np.ndarray) -> list[str]:
    """The values of ``row`` as the shortest text that reads back as the same value in
    their dtype (float64 in full: 1234567891.0, not 1.234568e+09; float32 as 0.1, not
    0.10000000149011612); NaN as nan (a missing value, read back as one)."""
    return [str(v) for v in row]


def _check_output(path: Path, suffixes: tuple[str, ...]) -> str:
    """Refuse an output path of another type or in a folder that does not exist; its
    suffix, in lower case."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ConfigError(f"output must end in {' or '.join(suffixes)}, got {path.name!r}")
    if not path.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {path.parent}")
    return suffix


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"  # NaN or infinite: JSON null in metrics.json
    if isinstance(value, float):
        return f"{value:.4g}"  # inf, -inf and nan as such
    return str(value)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "encode": cmd_encode,
    "reconstruct": cmd_reconstruct,
    "score": cmd_score,
    "impute": cmd_impute,
    "report": cmd_report,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's parser, so the hint names its --help
        args.subparsers.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")

    def show_warning(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        print(f"aekit: warning: {message}", file=sys.stderr)

    warnings.showwarning = show_warning  # type: ignore[assignment]
    finished = False
    try:
        with _quiet_unless_rank_0():
            code = COMMANDS[args.command](args)
        finished = True
        return code
    except TrainingInterrupted as exc:
        if _says_errors(exc):
            hint = f". Resume with: {resume_command(exc.checkpoint)}" if exc.checkpoint else ""
            print(f"aekit: {exc}{hint}", file=sys.stderr)
        return 128 + exc.signum
    except AekitError as exc:
        if _says_errors(exc):
            print(f"aekit: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aekit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (aekit info RUN | head): nothing left to say to it. Python
        # would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"aekit: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except (RecursionError, MemoryError) as exc:
        print(
            f"aekit: error: out of {'memory' if isinstance(exc, MemoryError) else 'stack'} "
            "on this input (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # a bug: one line, the traceback on request
        if args.debug:
            raise
        print(
            f"aekit: internal error: {type(exc).__name__}: {one_line(exc)} "
            "(this is a bug in aekit; run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        distributed.shutdown(together=finished)


def _says_errors(exc: AekitError) -> bool:
    """Under torchrun rank 0 says the errors every rank meets (settings, data, a stop);
    another rank says only what happened to it (a lost peer)."""
    rank_0 = not distributed.launched() or os.environ.get("RANK", "0") == "0"
    return rank_0 or (isinstance(exc, TrainingError) and not isinstance(exc, TrainingInterrupted))


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


@contextlib.contextmanager
def _quiet_unless_rank_0() -> Iterator[None]:
    """Under torchrun the processes of one job print once: rank 0 prints the results, the
    others only their errors and warnings."""
    if not distributed.launched() or os.environ.get("RANK", "0") == "0":
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def entry() -> typing.NoReturn:
    """The ``aekit`` command and ``python -m aekit``: ``main``, then the process ends.

    Under torchrun the process ends without interpreter shutdown (its output flushed
    first): torch 2.13's gloo keeps a process group that DistributedDataParallel used
    alive past ``destroy_process_group``, and one of its worker threads may free the last
    collective's tensors while the interpreter shuts down, which aborts the process
    (``terminate called without an active exception``, about 1 run in 20 on 2 CPUs; plain
    DDP scripts too). Everything aekit writes is closed by then."""
    try:
        code = main()
    except SystemExit as exc:  # argparse, before any process group; or from a command
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not distributed.launched():
            raise
    except BaseException:  # --debug's traceback
        if not distributed.launched():
            raise
        traceback.print_exc()
        code = 1
    if not distributed.launched():
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
