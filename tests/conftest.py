"""Shared fixtures: the digits data (embedded in scikit-learn), MNIST from ../shared when
present, and a runner for the real ``aekit`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("AEKIT_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist"))

torch.set_num_threads(min(2, torch.get_num_threads()))


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
