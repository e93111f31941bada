"""Shared fixtures: the digits data (embedded in scikit-learn), MNIST from ../shared when
present, a sparse run trained once by the ``aekit`` command for the whole session, and a
runner for the real ``aekit`` command (in its own process)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

# One thread for every math library, set before numpy, scipy and torch load (the commands
# the tests start inherit it): the suite's arrays and models are small, and a second thread
# on a machine shared with other work mostly spins waiting for the first. A logistic
# regression on 1,437 digits' codes (every run's linear probe) took 0.2-0.7 s of CPU on two
# OpenBLAS threads, 0.02 s on one; the tests of the trainer's thread rule set their own.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import aekit  # noqa: E402
from aekit.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("AEKIT_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist"))

torch.set_num_threads(1)
threadpool_limits(1)  # where a library loaded before this file


@pytest.fixture(scope="session")
def digits() -> aekit.Dataset:
    return aekit.load_digits()


@pytest.fixture(scope="session")
def X(digits: aekit.Dataset) -> np.ndarray:
    """Digits training images as a float32 array in [0, 1], shape (1437, 64)."""
    return digits.train.numpy()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture(scope="session")
def sparse_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of ``aekit train --kind sparse --arch 64-32-16 --epochs 5`` on the
    digits, report and figures included, trained once by the command in this process
    (``run_cli`` and test_cli's real-process tests run the command in its own). Shared:
    a test that changes the folder copies it first."""
    out = tmp_path_factory.mktemp("sparse") / "run"
    argv = ["train", "--kind", "sparse", "--arch", "64-32-16", "--epochs", "5"]
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = main([*argv, "--out", str(out), "--no-progress"])
    assert code == 0
    assert "trained sparse 64-32-16 on digits" in said.getvalue()
    return out


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real ``aekit`` command in a subprocess."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.run(
        [sys.executable, "-m", "aekit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
