"""The ``aekit`` command: parses arguments, calls the library, prints. No logic of its own.

Every error about the user's input prints one line ``aekit: error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .checkpoint import CHECKPOINT_FILE
from .config import DataConfig, ModelConfig, TrainConfig
from .corruption import CORRUPTIONS, Corruption
from .data import Dataset, load_array, load_source, to_tensor
from .errors import AekitError, ConfigError
from .io import WEIGHTS_FILE, atomic_write, load, read_run_config, write_config, write_json
from .losses import LOSSES
from .metrics import evaluate
from .model import AutoEncoder
from .nets import ACTIVATIONS
from .penalties import PENALTIES, Penalty
from .plots import loss_curves, reconstruction_grid
from .presets import KINDS, model_config
from .pretrain import PretrainConfig, layer_configs, pretrain_greedy
from .train import Trainer, TrainingInterrupted

EXIT_USAGE = 2
NAMED_SOURCES = ("digits", "mnist")

# ---- argument parsing ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other aekit error."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aekit",
        description="Train, evaluate and use autoencoders.",
        epilog="Run 'aekit COMMAND --help' for a command's options.",
    )
    p.add_argument("--version", action="version", version=f"aekit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser(
        "train",
        help="train an autoencoder and write a run folder",
        description=(
            "Train an autoencoder and write a run folder (config.json, model.safetensors, "
            "checkpoint, metrics.csv, reconstructions.png, curves.png). With no options it "
            "trains the default undercomplete autoencoder on scikit-learn's digits."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  aekit train --kind sparse --arch 64-32-16 --epochs 100\n"
            "  aekit train --kind denoising --corruption gaussian:sigma=0.3\n"
            "  aekit train --penalty contractive:lam=0.05,method=exact --code-activation sigmoid\n"
            "  aekit train --data mnist --data-dir ../shared/data/mnist --arch 784-1000-500-250-30\n"
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
    g = t.add_argument_group("data")
    g.add_argument(
        "--data", metavar="SOURCE", help="'digits' (default), 'mnist', or a .npy/.npz/.csv file"
    )
    g.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST files (else $AEKIT_DATA or the cache)",
    )
    g.add_argument("--test", metavar="FILE", help="held-out data file for the final evaluation")
    g.add_argument("--limit", type=int, metavar="N", help="use only the first N training samples")
    g = t.add_argument_group("model")
    g.add_argument("--kind", choices=KINDS.names(), help="preset of parts (default: undercomplete)")
    g.add_argument(
        "--arch", metavar="SIZES", help="layer sizes from input to code, e.g. 784-1000-500-250-30"
    )
    g.add_argument(
        "--architecture", choices=["mlp", "conv"], help="fully connected (default) or convolutional"
    )
    g.add_argument(
        "--conv-channels", metavar="C1,C2", help="channels of the stride-2 convolutions (conv)"
    )
    g.add_argument(
        "--kernel-size", type=int, metavar="K", help="odd convolution kernel size (conv)"
    )
    g.add_argument("--activation", choices=ACTIVATIONS.names(), help="hidden-layer activation")
    g.add_argument(
        "--code-activation", choices=ACTIVATIONS.names(), help="activation of the code layer"
    )
    g.add_argument(
        "--output-activation", choices=ACTIVATIONS.names(), help="activation of the output"
    )
    g.add_argument("--loss", choices=LOSSES.names(), help="reconstruction loss")
    g.add_argument(
        "--tied",
        action="store_true",
        default=None,
        help="decoder weights = encoder weights transposed",
    )
    g.add_argument("--top-k", type=int, metavar="K", help="keep only the K largest code units")
    g.add_argument(
        "--penalty",
        action="append",
        metavar="SPEC",
        help="code penalty NAME[:key=value,...], repeatable, e.g. kl_sparsity:rho=0.05,beta=3",
    )
    g.add_argument(
        "--corruption",
        metavar="SPEC",
        help="input corruption NAME[:key=value,...], e.g. masking:nu=0.25",
    )
    g = t.add_argument_group("training")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--optimizer", choices=["adam", "adamw", "sgd"])
    g.add_argument("--weight-decay", type=float)
    g.add_argument(
        "--schedule", choices=["constant", "cosine", "plateau"], help="learning-rate schedule"
    )
    g.add_argument("--warmup-epochs", type=int)
    g.add_argument(
        "--val-fraction", type=float, help="share of training data held out for validation"
    )
    g.add_argument(
        "--patience", type=int, help="early stopping: epochs without validation improvement"
    )
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto (CUDA when present), cpu, cuda")
    g.add_argument("--checkpoint-every", type=int, metavar="EPOCHS")
    g.add_argument("--checkpoint-every-steps", type=int, metavar="STEPS")
    g.add_argument(
        "--on-nan", choices=["stop", "rollback"], help="what to do when the loss is NaN/inf"
    )
    g.add_argument("--grad-clip", type=float, metavar="NORM")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the loss")
    g = t.add_argument_group(
        "greedy layer-wise pretraining (MLP), then fine-tuning with the options above"
    )
    g.add_argument(
        "--pretrain", choices=["greedy"], help="pretrain a stack of shallow autoencoders first"
    )
    g.add_argument("--pretrain-epochs", type=int, metavar="N", help="epochs per layer (default 5)")
    g.add_argument(
        "--pretrain-corruption", metavar="SPEC", help="corruption of each layer (stacked denoising)"
    )
    g.add_argument(
        "--pretrain-penalty",
        action="append",
        metavar="SPEC",
        help="penalty of each layer, repeatable",
    )
    g.add_argument("--pretrain-lr", type=float, help="learning rate of the layers (default: --lr)")
    g.add_argument(
        "--pretrain-batch-size", type=int, help="batch size of the layers (default: --batch-size)"
    )
    g = t.add_argument_group("run")
    g.add_argument(
        "--config", metavar="FILE", help="JSON file with kind/model/training/data sections"
    )
    g.add_argument(
        "--out", metavar="DIR", help="run folder to create (default runs/KIND-TIMESTAMP)"
    )
    g.add_argument(
        "--resume", metavar="RUN", help="continue an interrupted run from its last checkpoint"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = sub.add_parser(
        "evaluate",
        help="metrics of a trained model on data",
        description="Print the metrics of a trained model on data (default: the run's test split).",
    )
    e.add_argument("run", metavar="RUN", help="run folder")
    e.add_argument(
        "--data",
        metavar="SOURCE",
        help="'digits', 'mnist' or a data file (default: the run's data)",
    )
    e.add_argument("--data-dir", metavar="DIR", help="folder with the MNIST files")
    e.add_argument(
        "--split", choices=["test", "train"], default="test", help="split of a named data set"
    )
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    c = sub.add_parser(
        "encode",
        help="write the codes of data to a file",
        description="Encode INPUT and write the codes (.npy or .csv).",
    )
    c.add_argument("run", metavar="RUN", help="run folder")
    c.add_argument(
        "input", metavar="INPUT", help="a .npy/.npz/.csv file, or 'digits'/'mnist' (test split)"
    )
    c.add_argument("-o", "--output", required=True, metavar="FILE", help="codes.npy or codes.csv")
    c.add_argument("--data-dir", metavar="DIR", help="folder with the MNIST files")

    r = sub.add_parser(
        "reconstruct",
        help="reconstruct data: a picture or an array",
        description="Reconstruct INPUT: -o grid.png draws originals over reconstructions; "
        "-o recon.npy writes all reconstructions.",
    )
    r.add_argument("run", metavar="RUN", help="run folder")
    r.add_argument(
        "input", metavar="INPUT", help="a .npy/.npz/.csv file, or 'digits'/'mnist' (test split)"
    )
    r.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="grid.png, recon.npy or recon.csv"
    )
    r.add_argument("-n", type=int, default=10, help="number of samples in the picture (default 10)")
    r.add_argument("--data-dir", metavar="DIR", help="folder with the MNIST files")

    i = sub.add_parser("info", help="describe a run folder", description="Describe a run folder.")
    i.add_argument("run", metavar="RUN", help="run folder")
    i.add_argument("--json", action="store_true", help="print config.json")
    return p


# ---- commands ------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        return _resume(args)
    file_cfg = _read_config_file(args.config) if args.config else {}
    given_data = _given(args, data="source", data_dir="data_dir", test="test", limit="limit")
    file_data = file_cfg.get("data", {})
    if args.config:
        unset = tuple(k for k in ("source", "data_dir", "test") if k not in given_data)
        file_data = _config_file_paths(file_data, unset, Path(args.config), "data")
    data_cfg = DataConfig.from_dict({**file_data, **given_data}, "data")
    data = _load_data(data_cfg)
    model_cfg = _model_config(args, file_cfg, data)
    train_cfg = TrainConfig.from_dict(
        {
            **file_cfg.get("training", {}),
            **_given(
                args,
                epochs="epochs",
                batch_size="batch_size",
                lr="lr",
                optimizer="optimizer",
                weight_decay="weight_decay",
                schedule="schedule",
                warmup_epochs="warmup_epochs",
                val_fraction="val_fraction",
                patience="patience",
                seed="seed",
                device="device",
                checkpoint_every="checkpoint_every",
                checkpoint_every_steps="checkpoint_every_steps",
                on_nan="on_nan",
                grad_clip="grad_clip",
                compile="compile",
            ),
        },
        "training",
    )
    pretrain_cfg = _pretrain_config(args, file_cfg)
    if args.out:
        out = Path(args.out)
    elif file_cfg.get("out"):
        out = Path(_config_file_paths(file_cfg, ("out",), Path(args.config), "config")["out"])
    else:
        out = Path(f"runs/{model_cfg.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"{out} already exists; choose another --out, or continue it with --resume {out}"
        )

    import torch

    torch.manual_seed(train_cfg.seed)
    model = AutoEncoder.from_config(model_cfg)
    # Validate the data against the model before anything is written.
    model.check_input(data.train, "training data", targets=True)
    if data.test is not None:
        model.check_input(data.test, "test data", targets=True)
    sections: dict[str, Any] = {"data": data_cfg.to_dict()}
    progress = not args.no_progress
    if pretrain_cfg is not None:
        layer_configs(model_cfg, pretrain_cfg)  # a bad stack fails before the run folder exists
        sections["pretrain"] = pretrain_cfg.to_dict()
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, model_cfg, {**sections, "training": train_cfg.to_dict()})
        model = _pretrain(model_cfg, data, pretrain_cfg, train_cfg, out, progress)
    trainer = Trainer(model, train_cfg, run_dir=out, progress=progress, extra_config=sections)
    return _train_and_report(trainer, data)


def _pretrain(
    model_cfg: ModelConfig,
    data: Dataset,
    pretrain_cfg: PretrainConfig,
    train_cfg: TrainConfig,
    out: Path,
    progress: bool,
) -> AutoEncoder:
    model, layers = pretrain_greedy(
        model_cfg, data.train, pretrain_cfg, train_cfg, run_dir=out, progress=progress
    )
    summary = []
    for layer in layers:
        n_in, n_out = layer.sizes
        print(
            f"pretrained layer {layer.index} {n_in}-{n_out}: squared error of its input "
            f"{_fmt(layer.error_before)} -> {_fmt(layer.error_after)} in {layer.fit.seconds:.1f} s"
        )
        summary.append(
            {
                "layer": layer.index,
                "sizes": [n_in, n_out],
                "error_before": layer.error_before,
                "error_after": layer.error_after,
                "epochs": len(layer.fit.history),
                "seconds": layer.fit.seconds,
            }
        )
    write_json(out / "pretrain" / "layers.json", summary)
    return model


def _resume(args: argparse.Namespace) -> int:
    run = Path(args.resume)
    config = read_run_config(run)
    data = _load_data(_resume_data_config(args, config, run))
    progress = not args.no_progress
    if (run / CHECKPOINT_FILE).exists():
        trainer = Trainer.resume(run, progress=progress, epochs=args.epochs)
        print(
            f"resuming {run} at epoch {trainer.epoch + 1}, step {trainer.step_in_epoch} "
            f"of {trainer.config.epochs} epochs",
            file=sys.stderr,
        )
        return _train_and_report(trainer, data)
    # No checkpoint: the run stopped during pretraining (finished layers are reused, the
    # interrupted one resumes) or before its first checkpoint (it starts again: same seed,
    # same run).
    model_cfg = ModelConfig.from_dict(config["model"], "model")
    train_cfg = TrainConfig.from_dict(config.get("training", {}), "training")
    if args.epochs is not None:
        train_cfg = train_cfg.replace(epochs=args.epochs)
    sections = {k: config[k] for k in ("data", "pretrain") if k in config}
    import torch

    torch.manual_seed(train_cfg.seed)
    model = AutoEncoder.from_config(model_cfg)
    if "pretrain" in config:
        print(f"resuming the pretraining of {run}", file=sys.stderr)
        pretrain_cfg = PretrainConfig.from_dict(config["pretrain"], "pretrain")
        model = _pretrain(model_cfg, data, pretrain_cfg, train_cfg, run, progress)
    else:
        print(f"{run} has no checkpoint yet: starting it again", file=sys.stderr)
    trainer = Trainer(model, train_cfg, run_dir=run, progress=progress, extra_config=sections)
    return _train_and_report(trainer, data)


def _resume_data_config(args: argparse.Namespace, config: dict[str, Any], run: Path) -> DataConfig:
    """The data of a resumed run. Paths stored in a run folder are not trusted (the folder
    may come from someone else): file data and MNIST folders must be named again."""
    data_cfg = DataConfig.from_dict(config.get("data", {}), "data")
    if args.data:
        data_cfg = data_cfg.replace(source=args.data)
    elif data_cfg.source not in NAMED_SOURCES:
        raise ConfigError(
            f"{run} was trained on the file {data_cfg.source!r}; paths stored in a run folder "
            "are not used: give the same data again with --data FILE"
        )
    if args.data_dir:
        data_cfg = data_cfg.replace(data_dir=args.data_dir)
    elif data_cfg.data_dir is not None and not args.data:
        data_cfg = data_cfg.replace(data_dir=None)  # search $AEKIT_DATA and the cache
    if data_cfg.test is not None and not args.test:
        data_cfg = data_cfg.replace(test=None)
    elif args.test:
        data_cfg = data_cfg.replace(test=args.test)
    return data_cfg


def _config_file_paths(
    section: dict[str, Any], keys: tuple[str, ...], origin: Path, where: str
) -> dict[str, Any]:
    """Resolve the paths a config file names, relative to its folder; a path that leaves
    that folder (absolute, or through '..') is refused: a config file may come from
    someone else, and must not make aekit read or write elsewhere."""
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


def _train_and_report(trainer: Trainer, data: Dataset) -> int:
    out = trainer.run_dir
    assert out is not None
    model = trainer.model
    result = trainer.fit(data.train)
    held_out, split = (data.test, "test") if data.test is not None else (data.train, "train")
    metrics = evaluate(model, held_out)
    sample = held_out[:10].numpy()
    reconstruction_grid(
        sample, model.reconstruct(sample), out / "reconstructions.png", model.config.image_shape
    )
    if result.history:
        loss_curves(result.history, out / "curves.png")
    write_json(out / "metrics.json", {"split": split, **metrics})
    cfg = model.config
    print(
        f"trained {cfg.kind} {_arch(cfg)} on {data.name} ({len(data.train)} samples) for "
        f"{trainer.epoch} epochs, {result.steps} steps in {result.seconds:.1f} s -> {out}"
    )
    print(f"{split}: " + "  ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load(args.run)
    x = _input_data(args.run, args.data, args.data_dir, args.split)
    metrics = evaluate(model, x)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        width = max(map(len, metrics))
        for k, v in metrics.items():
            print(f"{k:<{width}}  {_fmt(v)}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    model = load(args.run)
    x = _input_data(args.run, args.input, args.data_dir, "test")
    codes = model.encode(x.numpy())
    _save_array(args.output, codes)
    print(f"wrote codes of {len(codes)} samples ({codes.shape[1]} units) to {args.output}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    model = load(args.run)
    x = _input_data(args.run, args.input, args.data_dir, "test")
    out = Path(args.output)
    if out.suffix.lower() == ".png":
        if args.n < 1:
            raise ConfigError(f"-n must be >= 1, got {args.n}")
        sample = x[: args.n].numpy()
        reconstruction_grid(
            sample, model.reconstruct(sample), out, model.config.image_shape, n=args.n
        )
        print(f"wrote {min(args.n, len(x))} originals and reconstructions to {out}")
    else:
        recon = model.reconstruct(x.numpy())
        _save_array(out, recon)
        print(f"wrote reconstructions of {len(recon)} samples to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if args.json:
        print(json.dumps(config, indent=2))
        return 0
    run = Path(args.run)
    model_cfg = ModelConfig.from_dict(config["model"], "model")
    model = load(run) if (run / WEIGHTS_FILE).exists() else None
    print(f"run folder   {run}")
    print(f"aekit        {config['aekit_version']}")
    print(f"kind         {model_cfg.kind}")
    print(
        f"architecture {model_cfg.architecture} {_arch(model_cfg)}"
        f"{' (tied)' if model_cfg.tied else ''}; activations {model_cfg.activation} / "
        f"code {model_cfg.code_activation} / output {model_cfg.output_activation}; loss {model_cfg.loss}"
    )
    parts = [_spec(p) for p in model_cfg.penalties]
    if model_cfg.top_k:
        parts.append(f"top_k={model_cfg.top_k}")
    print(f"penalties    {', '.join(parts) or 'none'}")
    print(f"corruption   {_spec(model_cfg.corruption) if model_cfg.corruption else 'none'}")
    if model is not None:
        print(f"parameters   {sum(p.numel() for p in model.parameters()):,}")
    if "data" in config:
        print(f"data         {config['data'].get('source')}")
    if "training" in config:
        t = config["training"]
        print(
            f"training     {t.get('epochs')} epochs, batch {t.get('batch_size')}, lr {t.get('lr')}, "
            f"{t.get('optimizer')}, schedule {t.get('schedule')}, seed {t.get('seed')}"
        )
    result = config.get("result")
    if result:
        print(
            f"result       {result.get('epochs_trained')} epochs, {result.get('steps')} steps, "
            f"{result.get('seconds')} s"
        )
    else:
        state = (
            "incomplete (resume with --resume)"
            if (run / "checkpoint.safetensors").exists()
            else "not trained"
        )
        print(f"result       {state}")
    metrics_file = run / "metrics.json"
    if metrics_file.exists():
        try:
            metrics = json.loads(metrics_file.read_text())
            print("evaluation   " + "  ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()))
        except json.JSONDecodeError:
            print("evaluation   (metrics.json unreadable)")
    print(
        "files        "
        + ", ".join(sorted(p.name for p in run.iterdir() if not p.name.startswith(".")))
    )
    return 0


# ---- helpers -------------------------------------------------------------------------------


def _given(args: argparse.Namespace, **mapping: str) -> dict[str, Any]:
    """The options the user actually gave, renamed to config keys."""
    return {
        key: getattr(args, attr) for attr, key in mapping.items() if getattr(args, attr) is not None
    }


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        cfg = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    known = {
        "kind",
        "model",
        "training",
        "data",
        "out",
        "format",
        "aekit_version",
        "result",
        "pretrain",
    }
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; known: kind, model, training, data, out"
        )
    for section in ("model", "training", "data", "pretrain"):
        if section in cfg and not isinstance(cfg[section], dict):
            raise ConfigError(f"config file {path}: '{section}' must be an object")
    for key in ("kind", "out"):
        if key in cfg and not isinstance(cfg[key], str):
            raise ConfigError(f"config file {path}: '{key}' must be a string")
    return cfg


def _load_data(cfg: DataConfig) -> Dataset:
    data = load_source(cfg.source, cfg.data_dir, cfg.test)
    if cfg.limit is not None:
        data.train = data.train[: cfg.limit]
    return data


def _model_config(args: argparse.Namespace, file_cfg: dict[str, Any], data: Dataset) -> ModelConfig:
    settings: dict[str, Any] = dict(file_cfg.get("model", {}))
    kind = args.kind or file_cfg.get("kind") or settings.pop("kind", None) or "undercomplete"
    settings.pop("kind", None)
    if args.arch:
        sizes = _sizes(args.arch, "--arch")
        if len(sizes) < 2:
            raise ConfigError(
                f"--arch needs at least input and code sizes, e.g. {data.input_dim}-8"
            )
        if sizes[0] != data.input_dim:
            raise ConfigError(
                f"--arch starts with {sizes[0]} but the data has {data.input_dim} features"
            )
        settings.update(hidden=sizes[1:-1], code_dim=sizes[-1])
    settings.setdefault("input_dim", data.input_dim)
    settings.setdefault("code_dim", 8 if data.input_dim <= 100 else 30)
    if data.image_shape is not None:
        settings.setdefault("image_shape", data.image_shape)
    settings.update(
        _given(
            args,
            architecture="architecture",
            kernel_size="kernel_size",
            activation="activation",
            code_activation="code_activation",
            output_activation="output_activation",
            loss="loss",
            tied="tied",
            top_k="top_k",
        )
    )
    if args.conv_channels:
        settings["conv_channels"] = _sizes(args.conv_channels, "--conv-channels", sep=",")
    # Parts from the file are JSON; parse them so the CLI's parts can replace them by name.
    penalties = [Penalty.from_json(p, "model.penalties") for p in settings.pop("penalties", [])]
    if args.penalty:
        defaults = KINDS.get(kind)(settings["input_dim"], settings["code_dim"]).get("penalties", [])
        chosen = {p.name: p for p in [*defaults, *penalties]}
        for spec in args.penalty:
            p = Penalty.parse(spec)
            chosen[p.name] = p
        penalties = list(chosen.values())
    if penalties or "penalties" in file_cfg.get("model", {}):
        settings["penalties"] = penalties
    if args.corruption:
        settings["corruption"] = Corruption.parse(args.corruption)
    elif settings.get("corruption") is not None:
        settings["corruption"] = Corruption.from_json(settings["corruption"], "model.corruption")
    try:
        return model_config(kind, **settings)
    except TypeError as exc:
        raise ConfigError(f"bad model settings: {exc}") from None


def _pretrain_config(args: argparse.Namespace, file_cfg: dict[str, Any]) -> PretrainConfig | None:
    section = dict(file_cfg.get("pretrain") or {})
    method = args.pretrain or section.pop("method", None) or ("greedy" if section else None)
    section.pop("method", None)
    if method is None:
        options = ("epochs", "corruption", "penalty", "lr", "batch_size")
        given = [o for o in options if getattr(args, f"pretrain_{o}") is not None]
        if given:
            raise ConfigError(f"--pretrain-{given[0].replace('_', '-')} needs --pretrain greedy")
        return None
    if method != "greedy":
        raise ConfigError(f"unknown pretraining method {method!r}; known: greedy")
    section.update(
        _given(args, pretrain_epochs="epochs", pretrain_lr="lr", pretrain_batch_size="batch_size")
    )
    if args.pretrain_corruption:
        section["corruption"] = Corruption.parse(args.pretrain_corruption)
    if args.pretrain_penalty:
        section["penalties"] = [Penalty.parse(spec) for spec in args.pretrain_penalty]
    return PretrainConfig.from_dict(section, "pretrain")


def _sizes(text: str, option: str, sep: str = "-") -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(",", sep).split(sep)]
    except ValueError:
        raise ConfigError(f"{option} must be sizes like 64{sep}32{sep}8, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"{option} sizes must be positive, got {text!r}")
    return sizes


def _input_data(run: str, source: str | None, data_dir: str | None, split: str) -> Any:
    """Data for evaluate/encode/reconstruct: a named data set's split, or a file."""
    if source is None:
        data_section = read_run_config(run).get("data") or {}
        source = data_section.get("source")
        if source not in NAMED_SOURCES:
            raise ConfigError(
                "this run was trained on a file; name the data to use with --data FILE"
            )
        data_dir = data_dir or data_section.get("data_dir")
    if source in NAMED_SOURCES:
        data = load_source(source, data_dir)
        x = data.test if split == "test" and data.test is not None else data.train
        return x
    return to_tensor(load_array(source), source)


def _save_array(path: str | Path, array: np.ndarray) -> None:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise ConfigError(f"output must end in .npy or .csv, got {path.name!r}")
    if not path.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {path.parent}")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            if suffix == ".npy":
                np.save(f, array)
            else:
                np.savetxt(f, array, delimiter=",", fmt="%.7g")

    atomic_write(path, write)


def _arch(cfg: ModelConfig) -> str:
    return "-".join(str(n) for n in (cfg.input_dim, *cfg.hidden, cfg.code_dim))


def _spec(part: Any) -> str:
    params = {k: v for k, v in part.to_json().items() if k != "name"}
    return f"{part.name}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return str(value)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "encode": cmd_encode,
    "reconstruct": cmd_reconstruct,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def show_warning(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        print(f"aekit: warning: {message}", file=sys.stderr)

    warnings.showwarning = show_warning  # type: ignore[assignment]
    try:
        return COMMANDS[args.command](args)
    except TrainingInterrupted as exc:
        print(f"aekit: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except AekitError as exc:
        print(f"aekit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aekit: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"aekit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
