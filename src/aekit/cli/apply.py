"""The commands that apply a trained run to data (RUN, then INPUT or --data): ``aekit
evaluate``, ``encode``, ``reconstruct``, ``score`` and ``impute``; and how they read INPUT
(a folder of images as the run read its own, a CSV's header, a streamed file). And
``aekit sample``: a VAE run's model applied to draws from its prior, seeded, written as
a grid of images (.png, for image data) or an array (.npy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.io import finite_json
from ..core.schema import number
from ..data.config import NAMED_SOURCES
from ..data.formats.csv import csv_header
from ..data.formats.images import Images, is_image_folder, not_streamed
from ..data.sources import streams
from ..data.streaming import DiskArray
from ..evaluation.likelihood import likelihood_words
from ..evaluation.metrics import feature_errors
from ..evaluation.plots import reconstruction_grid
from ..models.autoencoder import AutoEncoder
from ..models.families import model_config_of
from ..models.vae import VAE
from ..runs.api import checked_blocks, evaluate, load_model_and_data, read_images
from ..runs.api import encode as encode_data
from ..runs.api import impute as impute_data
from ..runs.api import reconstruct as reconstruct_data
from ..runs.api import sample as sample_prior
from ..runs.api import score as score_data
from ..runs.config import iwae_k_refused
from ..runs.saved import load, read_run_config
from .files import save_array, save_image_grid, save_named, save_pngs, save_table
from .printing import baseline_lines, fmt, pop_baselines

TOP_ERRORS = 5  # the images named after scoring a folder


# ---- reading INPUT ------------------------------------------------------------------------------


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


def _reading(args: argparse.Namespace) -> dict[str, Any]:
    """How INPUT is read, from the flags that say it (--data-dir, --stream, --header)."""
    return {
        "data_dir": getattr(args, "data_dir", None),
        "stream": args.stream,
        "header": args.header,
    }


def _from_input(args: argparse.Namespace, apply: Any) -> tuple[np.ndarray, str | None]:
    """``apply`` (encode, reconstruct, impute: the run functions) of INPUT, read as the
    flags say; and the output written block by block where INPUT streams (else None:
    the result is the caller's to save)."""
    streamed = _streamed(args, args.input)
    return apply(args.run, args.input, out=streamed, **_reading(args)), streamed


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


# ---- the commands ------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.iwae_k is not None:  # refused before the data is read
        family, judged = model_config_of(read_run_config(args.run), Path(args.run))
        if not issubclass(family, VAE):
            raise iwae_k_refused(judged.kind, "--iwae-k", "aekit train --kind vae")
    images = _input_images(args, args.data, sys.stderr if args.json else sys.stdout)
    metrics = evaluate(
        args.run,
        images if images is not None else args.data,
        split=args.split,
        baseline=True,
        **_reading(args),
        **({"iwae_k": args.iwae_k} if args.iwae_k is not None else {}),
    )
    if args.json:
        print(json.dumps(finite_json(metrics), indent=2, allow_nan=False))
        return 0
    pca, others = pop_baselines(metrics)
    numbers = {k: v for k, v in metrics.items() if not isinstance(v, list)}  # lists: in words
    width = max(map(len, numbers))
    for k, v in numbers.items():
        print(f"{k:<{width}}  {fmt(v)}")
    _, model_cfg = model_config_of(read_run_config(args.run), Path(args.run))
    named = args.data is None or args.data in NAMED_SOURCES
    split = (args.split or "test") if named else Path(args.data).name
    for line in likelihood_words(model_cfg, metrics, split):
        print(line)
    if pca is not None:
        code = model_cfg.code_dim
        for line in baseline_lines(code, metrics["squared_error"], pca, others):
            print(line)
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    images = _input_images(args, args.input)
    if images is not None:
        codes = encode_data(args.run, images)
        names = save_named(args.output, images, codes, _code_names(codes))
        print(
            f"wrote codes of {len(codes)} samples ({codes.shape[1]} units) to {args.output}{names}"
        )
        return 0
    codes, streamed = _from_input(args, encode_data)
    if streamed is None:
        # A table with named columns gives a table with named columns.
        named = _input_header(args) is not None
        save_array(args.output, codes, _code_names(codes) if named else None)
    print(f"wrote codes of {len(codes)} samples ({codes.shape[1]} units) to {args.output}")
    return 0


def _code_names(codes: np.ndarray) -> list[str]:
    return [f"code_{i}" for i in range(codes.shape[1])]


def cmd_reconstruct(args: argparse.Namespace) -> int:
    out = Path(args.output)
    images = _input_images(args, args.input)
    if images is not None and out.suffix.lower() != ".png":
        _reconstruct_images(args, images, out)
    elif out.suffix.lower() == ".png":
        _reconstruction_grid(args, images if images is not None else args.input, out)
    else:
        _reconstruct_array(args, out)
    return 0


def _reconstruct_images(args: argparse.Namespace, images: Images, out: Path) -> None:
    """A folder's reconstructions: as PNGs into a folder, else as an array (.npy, .csv)."""
    recon = reconstruct_data(args.run, images)
    if out.suffix == "" or out.is_dir():
        save_pngs(out, images.files, recon)
        print(
            f"wrote reconstructions of {len(recon)} images to {out}/ as 8-bit PNGs "
            "named after their files (values clipped to [0, 1])"
        )
        return
    header = [str(i) for i in range(recon[0].size)]
    names = save_named(out, images, recon, header)
    print(f"wrote reconstructions of {len(recon)} samples to {out}{names}")


def _reconstruction_grid(args: argparse.Namespace, data: Any, out: Path) -> None:
    """The first ``-n`` samples over their reconstructions, drawn to a .png."""
    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    model, x = load_model_and_data(args.run, data, **_reading(args))
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


def _reconstruct_array(args: argparse.Namespace, out: Path) -> None:
    recon, streamed = _from_input(args, reconstruct_data)
    if streamed is None:
        names = _input_header(args)
        fits = names is not None and len(names) == recon.reshape(len(recon), -1).shape[1]
        save_array(out, recon, names if fits else None)  # the input's column names
    print(f"wrote reconstructions of {len(recon)} samples to {out}")


def cmd_score(args: argparse.Namespace) -> int:
    from ..sklearn import CONTAMINATION

    # Checked before anything is read: a number, finite, in range.
    if args.threshold is not None:
        args.threshold = number(args.threshold, "--threshold")
    if args.contamination is not None:
        args.contamination = number(args.contamination, "--contamination", CONTAMINATION)
    images = _input_images(args, args.input)
    data: Any = images if images is not None else args.input
    model, x = load_model_and_data(args.run, data, **_reading(args))
    if isinstance(model, VAE):
        total, errors, name, what = _vae_scores(args, model, x)
    else:
        total, errors = _errors(args, model, x)
        name, what = "error", "the errors"
    columns, header = [total], [name]
    limit = _limit(args, total)
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
        save_named(args.output, images, np.column_stack(columns), header, (".csv",))
    else:
        save_table(args.output, np.column_stack(columns), header)
    flagged = f"; {int(columns[1].sum())} above {limit:.4g} (outliers)" if limit is not None else ""
    print(f"wrote {what} of {len(total)} samples to {args.output}{flagged}")
    if images is not None:
        worst = np.argsort(-total, kind="stable")[:TOP_ERRORS]
        highest = "highest errors" if name == "error" else "highest scores"
        print(f"{highest}: " + ", ".join(f"{images.files[i]} {fmt(total[i])}" for i in worst))
    return 0


def _vae_scores(
    args: argparse.Namespace, model: VAE, x: Any
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """A VAE's score of each sample (its negative ELBO, or with --iwae-k its negative
    importance-weighted bound, nats), as :func:`_errors` gives errors; the column's name
    and what the scores are, in words."""
    if args.per_feature:
        raise ConfigError(
            "a VAE scores each sample as a whole, by its likelihood: it has no per-feature "
            "errors (--per-feature)"
        )
    k = args.iwae_k
    total = np.asarray(score_data(model, x, iwae_k=k), dtype=np.float64)
    if k is None or k == 1:
        return total, total[:, None], "negative_elbo", "the negative ELBO (nats)"
    what = f"the negative importance-weighted bound (k={k}, nats)"
    return total, total[:, None], "negative_iwae", what


def _errors(args: argparse.Namespace, model: AutoEncoder, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(each sample's error, the errors of its features); a streamed input's errors a
    block at a time, one column a sample (its features' would be as large as the data)."""
    if args.iwae_k is not None:
        kind = model.config.kind if model.config is not None else "custom"
        raise iwae_k_refused(kind, "--iwae-k", "aekit train --kind vae")
    if not isinstance(x, DiskArray):
        errors = score_data(model, x)
        return errors.sum(1), errors
    if args.per_feature:
        raise ConfigError(
            f"{args.input} is streamed: its per-feature errors are as large as the data; "
            "write them with aekit.score(RUN, DATA, out='errors.npy')"
        )
    # One score per sample, a block at a time, each checked by its true row.
    total = np.concatenate([feature_errors(model, b).sum(1) for _, b in checked_blocks(model, x)])
    return total, total[:, None]


def _limit(args: argparse.Namespace, total: np.ndarray) -> float | None:
    """The error above which a sample is an outlier: --threshold, that of --contamination
    on these errors, or the threshold of a saved outlier detector; else None."""
    if args.contamination is not None:
        return contamination_threshold(total, args.contamination)
    if args.threshold is not None:
        return args.threshold
    return _saved_threshold(Path(args.run))


def contamination_threshold(errors: np.ndarray, contamination: float) -> float:
    """The error above which the ``contamination`` share of ``errors`` lies: the rule of
    :class:`~aekit.sklearn.AutoEncoderOutlierDetector` (:func:`aekit.sklearn.threshold`, on
    its scores, minus the errors), so that ``--contamination`` flags the samples the
    detector would with that contamination."""
    from ..sklearn import threshold

    return 0.0 - threshold(-errors, contamination)  # 0.0 -: no -0 printed


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
    filled, streamed = _from_input(args, impute_data)
    if streamed is None:
        save_array(args.output, filled, _input_header(args))  # a CSV keeps its header
    print(f"wrote {len(filled)} samples with their missing values filled to {args.output}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ConfigError(f"output must end in .png or .npy, got {out.name!r}")
    model = load(args.run)
    samples = sample_prior(model, args.n, seed=args.seed, mean=not args.draw)
    what = "drawn from p(x | z)" if args.draw else "the decoder's mean"
    shape = model.config.image_shape
    if suffix == ".npy":
        if shape is not None:  # images, as the run saw them: (n, H, W) for one channel
            kept = shape[1:] if shape[0] == 1 else shape
            samples = samples.reshape(len(samples), *kept)
        save_array(out, samples, suffixes=(".npy",))
        print(
            f"wrote {len(samples)} samples from the prior ({what}, seed {args.seed}) to {out}, "
            f"shaped {samples.shape}"
        )
        return 0
    if shape is None:
        raise ConfigError(
            f"{args.run} was not trained on images: its samples are rows of "
            f"{samples.shape[1]} features, which a picture cannot show; write them to a "
            ".npy file"
        )
    save_image_grid(out, samples.reshape(len(samples), *shape))
    print(f"wrote {len(samples)} samples from the prior ({what}, seed {args.seed}) to {out}")
    return 0
