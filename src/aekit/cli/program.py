"""The ``aekit`` process: :func:`main` parses a command line, runs its command and turns
every error into one line and an exit code; :func:`entry` is the console script.

Every error about the user's input prints one line ``aekit: error: ...`` and exits 2; no
user action shows a traceback (``--debug`` shows it for a genuine bug).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
import typing
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ..core.errors import AekitError, TrainingError, TrainingInterrupted, one_line
from ..training import distributed
from .apply import (
    cmd_encode,
    cmd_evaluate,
    cmd_impute,
    cmd_reconstruct,
    cmd_sample,
    cmd_score,
)
from .describe import cmd_info, cmd_report
from .parser import EXIT_USAGE, build_parser
from .train import cmd_train, resume_command

# Each command's function, by name (its subparser: cli.parser.COMMAND_PARSERS).
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "encode": cmd_encode,
    "reconstruct": cmd_reconstruct,
    "score": cmd_score,
    "impute": cmd_impute,
    "sample": cmd_sample,
    "report": cmd_report,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    args = _parsed(argv)
    warnings.showwarning = _show_warning  # type: ignore[assignment]
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


def _parsed(argv: list[str] | None) -> argparse.Namespace:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # said by the command's parser, so the hint names its --help
        args.subparsers.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """A warning as one line, ``aekit: warning: ...``."""
    print(f"aekit: warning: {message}", file=sys.stderr)


def _says_errors(exc: AekitError) -> bool:
    """Under torchrun rank 0 says the errors every rank meets (settings, data, a stop);
    another rank says only what happened to it (a lost peer)."""
    rank_0 = not distributed.launched() or os.environ.get("RANK", "0") == "0"
    return rank_0 or (isinstance(exc, TrainingError) and not isinstance(exc, TrainingInterrupted))


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
