"""The ``aekit`` command line: one function per command builds its subparser
(:data:`COMMAND_PARSERS`, in the order ``aekit --help`` lists them); the flags several
commands share are built by one function each.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.errors import ConfigError
from ..core.schema import from_text
from ..core.version import __version__
from ..models.corruption import CORRUPTIONS
from ..models.kinds import kind_names
from ..models.nets import ACTIVATIONS
from ..models.penalties import PENALTIES
from ..runs.config import IWAE_K_NOTE
from .options import add_config_options

EXIT_USAGE = 2

INPUT_HELP = "a .npy/.npz/.csv file, a folder of images, or 'digits'/'mnist' (test split)"

Subparsers = Any  # argparse's _SubParsersAction, private


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other aekit error."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``aekit`` command and its subcommands."""
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
    for add_command in COMMAND_PARSERS:
        add_command(sub)
    return p


def _command(sub: Subparsers, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand's parser (abbreviated flags refused, as everywhere)."""
    parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, **kwargs)
    return parser


# ---- flags several commands share ------------------------------------------------------------


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder")


def _add_run_and_input(parser: argparse.ArgumentParser, input_help: str = INPUT_HELP) -> None:
    _add_run(parser)
    parser.add_argument("input", metavar="INPUT", help=input_help)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST files (default: $AEKIT_DATA, then the cache)",
    )


def _add_stream(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the data from disk a block at a time (.npy files, folders of .npy "
        "shards, uncompressed IDX files) and write results the same way (.npy); default: "
        "for files above 1 GiB and for shard folders",
    )


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


def _add_reading(parser: argparse.ArgumentParser, data_dir: bool = True) -> None:
    """How INPUT is read: --data-dir (where ``data_dir``), --stream, --header."""
    if data_dir:
        _add_data_dir(parser)
    _add_stream(parser)
    _add_header(parser)


def _add_output(parser: argparse.ArgumentParser, output_help: str) -> None:
    """-o/--output FILE, required: what the command writes."""
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help=output_help)


def _iwae_k(text: str) -> int:
    """--iwae-k's K: a whole number, 1 or more, refused as the command's usage error
    before the run or data is read (0 used to reach the bound as an internal error)."""
    try:
        k = from_text(text, int)  # as every whole-number flag is read
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 ({IWAE_K_NOTE}), got {k}")
    return int(k)


def _add_iwae_k(parser: argparse.ArgumentParser, what: str, default: str) -> None:
    parser.add_argument(
        "--iwae-k",
        type=_iwae_k,
        metavar="K",
        help=f"a VAE run: the samples per example of {what}; 5000 gives the figure papers "
        f"report, K times as slow as the ELBO (default: {default})",
    )


# ---- one builder per command -------------------------------------------------------------------

_TRAIN_EXAMPLES = (
    "examples:\n\n"
    "  aekit train --kind sparse --arch 64-32-16 --epochs 100\n"
    "  aekit train --kind denoising --corruption gaussian:sigma=0.3\n"
    "  aekit train --penalty contractive:lam=0.05,method=exact --code-activation sigmoid\n"
    "  aekit train --data mnist --data-dir ../shared/data/mnist --arch 784-1000-500-250-30\n"
    "  aekit train --data photos/ --image-size 64,64     (a folder of images)\n"
    "  aekit train --arch 64-48-32-8 --pretrain greedy --pretrain-corruption masking:nu=0.25"
    "     (stacked denoising)\n"
    "  aekit train --config my_run.json --epochs 10     (flags override the file)\n"
    "  aekit train --kind vae --data mnist --iwae-k 5000     (a variational autoencoder)\n"
    "  aekit train --resume runs/sparse-20261126-120000\n"
)


def _train(sub: Subparsers) -> None:
    t = _command(
        sub,
        "train",
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
            _TRAIN_EXAMPLES + f"\nkinds: {', '.join(kind_names())}\n"
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


def _evaluate(sub: Subparsers) -> None:
    e = _command(
        sub,
        "evaluate",
        help="metrics of a trained model on data",
        description="Print the metrics of a trained model on data (default: the run's test split).",
    )
    _add_run(e)
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
    _add_iwae_k(e, "the importance-weighted bound (iwae_nll)", "100")
    _add_reading(e, data_dir=False)  # --data-dir comes with --data, above


def _encode(sub: Subparsers) -> None:
    c = _command(
        sub,
        "encode",
        help="write the codes of data to a file",
        description="Encode INPUT and write the codes (.npy or .csv).",
    )
    _add_run_and_input(c)
    _add_output(
        c,
        "codes.npy or codes.csv (a folder of images: codes.csv has a column 'file'; "
        "beside codes.npy, codes.files.txt names the file of each row)",
    )
    _add_reading(c)


def _reconstruct(sub: Subparsers) -> None:
    r = _command(
        sub,
        "reconstruct",
        help="reconstruct data: a picture or an array",
        description="Reconstruct INPUT: -o grid.png draws originals over reconstructions; "
        "-o recon.npy writes all reconstructions, in the shape of the input; for a folder "
        "of images, -o FOLDER (new or empty) writes each reconstruction as an 8-bit PNG "
        "named after its file.",
    )
    _add_run_and_input(r)
    _add_output(r, "grid.png, recon.npy or recon.csv; or a folder, for a folder of images")
    r.add_argument("-n", type=int, default=10, help="number of samples in the picture (default 10)")
    _add_reading(r)


def _score(sub: Subparsers) -> None:
    s = _command(
        sub,
        "score",
        help="per-sample reconstruction errors (anomaly scores) to a CSV",
        description="Score INPUT by reconstruction error: a CSV with one row per sample "
        "(column 'error': the squared error summed over features, in the model's units; "
        "higher is more unusual). With --threshold or --contamination, or for a folder "
        "saved by aekit.sklearn.AutoEncoderOutlierDetector (its threshold), a column "
        "'outlier' (1 or 0); with --per-feature, one error column per feature. For a "
        "folder of images, a first column 'file' names each image.",
    )
    _add_run_and_input(s)
    _add_output(s, "scores.csv")
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
    _add_iwae_k(
        s,
        "each sample's score: its negative importance-weighted bound (column "
        "'negative_iwae') rather than its negative ELBO",
        "1, the ELBO",
    )
    _add_reading(s)


def _impute(sub: Subparsers) -> None:
    m = _command(
        sub,
        "impute",
        help="fill the missing values (NaN, empty CSV fields) of data",
        description="Fill the missing values of INPUT (NaN; in a CSV also empty fields "
        "and NA) with the reconstructions of a model trained for missing values "
        "(aekit train --missing ..., or aekit.sklearn.AutoEncoderImputer.save); "
        "observed values are kept.",
    )
    _add_run_and_input(m, input_help="a .npy/.npz/.csv file")
    _add_output(m, "filled.npy or .csv")
    _add_reading(m, data_dir=False)  # no named data sets: they have no missing values


def _sample(sub: Subparsers) -> None:
    s = _command(
        sub,
        "sample",
        help="draw samples from a VAE's prior: a picture or an array",
        description="Draw -n samples from the model of a VAE run (aekit train --kind vae): "
        "codes from the prior N(0, I), decoded to the decoder's mean. -o samples.png draws "
        "them as a grid of images (image data); -o samples.npy writes them in the data's "
        "units, as images (n, H, W) or (n, C, H, W) for a run on images, else as rows "
        "(n, features). The same --seed gives the same file.",
    )
    _add_run(s)
    _add_output(s, "samples.png or samples.npy")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--seed", type=int, default=0, help="seeds the draws (default 0)")
    s.add_argument(
        "--draw",
        action="store_true",
        help="draw each sample from p(x | z) (binary pixels, for a Bernoulli decoder) "
        "rather than taking the decoder's mean",
    )


def _report(sub: Subparsers) -> None:
    rp = _command(
        sub,
        "report",
        help="write a run's one-page HTML report, or a page comparing runs",
        description="Write RUN's one-page HTML report (configuration, data, timings, "
        "metrics, every figure; images embedded, no network needed), by default to "
        "RUN/report.html. Given several runs (or a folder of runs), write one page "
        "comparing them (-o required).",
    )
    rp.add_argument("runs", metavar="RUN", nargs="+", help="run folder(s), or a folder of runs")
    rp.add_argument("-o", "--output", metavar="FILE", help="the HTML file to write")


def _info(sub: Subparsers) -> None:
    i = _command(sub, "info", help="describe a run folder", description="Describe a run folder.")
    _add_run(i)
    i.add_argument("--json", action="store_true", help="print config.json")


# The commands in the order of ``aekit --help``: a new command's builder goes here, its
# function in cli.program.COMMANDS.
COMMAND_PARSERS = (
    _train,
    _evaluate,
    _encode,
    _reconstruct,
    _score,
    _impute,
    _sample,
    _report,
    _info,
)
