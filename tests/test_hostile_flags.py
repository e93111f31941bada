"""Every numeric flag of ``aekit train`` given hostile values (negative, zero, huge, NaN,
infinite, "none", fractional, text): the command trains (exit 0) or refuses in one line
(exit 2), never a traceback, never an unbounded run."""

from __future__ import annotations

import contextlib
import io

import pytest

from aekit.cli import main

FLAGS = [
    "--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay", "--warmup-epochs",
    "--val-fraction", "--patience", "--min-delta", "--seed", "--eval-batch-size",
    "--checkpoint-seconds", "--checkpoint-every", "--checkpoint-every-steps",
    "--rollback-lr-factor", "--max-rollbacks", "--grad-clip", "--limit", "--code-dim",
    "--input-dim", "--hidden", "--top-k", "--image-shape", "--pretrain-epochs",
    "--pretrain-lr", "--pretrain-batch-size", "--kernel-size", "--conv-channels",
]  # fmt: skip
VALUES = ["-1", "0", str(2**63), "1e308", "nan", "inf", "none", "1.5", "x"]


@pytest.mark.slow
@pytest.mark.parametrize("flag", FLAGS)
def test_hostile_values_train_or_are_refused_in_one_line(flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for value in VALUES:
        argv = ["train", flag, value, "--limit", "64", "--no-progress", "--out", "r"]
        if flag != "--epochs":
            argv += ["--epochs", "1"]
        if flag in ("--kernel-size", "--conv-channels"):
            argv += ["--architecture", "conv"]
        if flag == "--limit":
            argv.remove("64")
            argv.remove("--limit")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        lines = err.getvalue().strip().splitlines()
        assert code in (0, 2), (flag, value, err.getvalue())
        assert code == 0 or (len(lines) == 1 and lines[0].startswith("aekit")), (flag, value)
        if (tmp_path / "r").exists():
            __import__("shutil").rmtree(tmp_path / "r")
