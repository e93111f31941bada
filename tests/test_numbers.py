"""Every setting that is a number refuses NaN and the infinities, wherever it is given:
each numeric flag of every command (found in the parser), each numeric field of the
configs (found in their dataclasses), each numeric parameter of the penalties and
corruptions (found in their registries) and of the scikit-learn estimators (found in
their signatures). New flags, fields and parts are covered without an edit here.
numpy's numbers are numbers: np.float32(0.1) and np.int64(8) are accepted as 0.1 and 8.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aekit
from aekit import sklearn as aeskl
from aekit.cli import main
from aekit.cli.options import SECTIONS
from aekit.cli.parser import build_parser as _parser
from aekit.core.schema import Bounds, number
from aekit.runs.config import RunConfig

BAD = ("nan", "inf", "-inf")


def _numeric(action: argparse.Action) -> bool:
    """Whether an option takes a number (its converter turns "2" into an int or float)."""
    if not action.option_strings or action.type is None:
        return False
    try:
        return isinstance(action.type("2"), int | float)
    except (argparse.ArgumentTypeError, TypeError, ValueError):
        return False


def _numeric_flags() -> list[tuple[str, str, str]]:
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        (command, action.option_strings[-1], action.dest)
        for command, parser in subparsers.choices.items()
        for action in parser._actions
        if _numeric(action)
    ]


FLAGS = _numeric_flags()


def test_the_flags_are_found():
    found = {(c, f) for c, f, _ in FLAGS}
    assert {("train", "--lr"), ("train", "--epochs"), ("train", "--pretrain-lr")} <= found
    assert {("score", "--threshold"), ("score", "--contamination"), ("reconstruct", "-n")} <= found
    assert len(found) >= 30


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("numbers") / "run"
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    aekit.fit(model, aekit.load_digits().train, epochs=1, progress=False, run_dir=folder)
    return folder


def _argv(command: str, run: Path, out: Path) -> list[str]:
    if command == "train":
        return ["train", "--out", str(out / "new"), "--no-progress", "--epochs", "1"]
    if command in ("evaluate", "info"):
        return [command, str(run)]
    suffix = {"reconstruct": "png", "score": "csv"}.get(command, "npy")
    return [command, str(run), "digits", "-o", str(out / f"result.{suffix}")]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize(("command", "flag", "dest"), FLAGS, ids=[f"{c} {f}" for c, f, _ in FLAGS])
def test_every_numeric_flag_refuses_nan_and_infinities(
    command, flag, dest, value, run, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = [*_argv(command, run, tmp_path), f"{flag}={value}"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert flag in err or dest in err, err  # the setting is named
    assert list(tmp_path.iterdir()) == []  # nothing written, no run folder


def _numeric_fields() -> list[tuple[str, str, Any]]:
    """(section, field, a value of NaN in the field's shape) of every numeric field."""
    out = []
    for section, cls, *_ in SECTIONS:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            inner = args[0] if typing.get_origin(tp) in (typing.Union, type(int | None)) else tp
            origin, items = typing.get_origin(inner), typing.get_args(inner)
            if inner in (int, float):
                out.append((section, f.name, None))
            elif origin in (list, tuple) and items and items[0] in (int, float):
                out.append((section, f.name, len(items) if origin is tuple else 1))
    return out


FIELDS = _numeric_fields()


def test_the_fields_are_found():
    found = {(s, f) for s, f, _ in FIELDS}
    assert {("training", "lr"), ("training", "epochs"), ("model", "code_dim")} <= found
    assert {("model", "hidden"), ("data", "image_size"), ("pretrain", "lr")} <= found
    assert len(found) >= 30


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=BAD)
@pytest.mark.parametrize(
    ("section", "name", "items"), FIELDS, ids=[f"{s}.{n}" for s, n, _ in FIELDS]
)
def test_every_numeric_config_field_refuses_nan_and_infinities(
    section, name, items, value, tmp_path
):
    given = value if items is None else [value] * items
    settings = {section: {name: given}}
    with pytest.raises(aekit.ConfigError, match="must be a finite") as info:
        RunConfig.from_dict(settings)
    assert f"{section}.{name}" in str(info.value)
    # the same as a config file (JSON's NaN and Infinity), named by the file
    path = tmp_path / "config.json"
    path.write_text(json.dumps(settings))
    with pytest.raises(aekit.ConfigError, match="must be a finite") as info:
        RunConfig.from_file(path)
    assert f"{section}.{name}" in str(info.value) and str(path) in str(info.value)


def _part_parameters() -> list[tuple[Any, str, str]]:
    out = []
    for registry in (aekit.PENALTIES, aekit.CORRUPTIONS):
        for name in registry.names():
            cls = registry.get(name)
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                if hints[f.name] in (int, float):
                    out.append((cls, name, f.name))
    return out


PARTS = _part_parameters()


@pytest.mark.parametrize("text", BAD)
@pytest.mark.parametrize(("cls", "name", "param"), PARTS, ids=[f"{n}.{p}" for _, n, p in PARTS])
def test_every_numeric_part_parameter_refuses_nan_and_infinities(cls, name, param, text):
    assert len(PARTS) >= 10
    for attempt in (
        lambda: cls.parse(f"{name}:{param}={text}"),  # the command line's spec
        lambda: cls.from_json({"name": name, param: float(text)}),  # a config file's
        lambda: cls(**{param: np.float32(text)}),  # Python, with a numpy number
    ):
        with pytest.raises(aekit.ConfigError, match="must be a finite") as info:
            attempt()
        assert param in str(info.value)


def _estimator_parameters() -> list[tuple[type, str]]:
    out = []
    for cls in aeskl.ESTIMATORS.values():
        hints = typing.get_type_hints(cls.__init__)
        for name in inspect.signature(cls.__init__).parameters:
            args = set(typing.get_args(hints.get(name))) | {hints.get(name)}
            numeric = args & {int, float} or any(
                typing.get_origin(a) is list and typing.get_args(a)[0] is int for a in args
            )
            if numeric or name == "random_state":
                out.append((cls, name))
    return out


ESTIMATOR_PARAMS = _estimator_parameters()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=BAD)
@pytest.mark.parametrize(
    ("cls", "param"), ESTIMATOR_PARAMS, ids=[f"{c.__name__}.{p}" for c, p in ESTIMATOR_PARAMS]
)
def test_every_numeric_estimator_parameter_refuses_nan_and_infinities(cls, param, value):
    assert {p for _, p in ESTIMATOR_PARAMS} >= {"lr", "epochs", "code_dim", "contamination"}
    given = [value] if param == "hidden" else value
    estimator = cls(**{"epochs": 1, param: given})
    X = np.random.default_rng(0).random((30, 5))
    with pytest.raises(ValueError) as info:
        estimator.fit(X)
    assert param in str(info.value) and not hasattr(estimator, "model_"), str(info.value)


def test_numpy_numbers_are_numbers(tmp_path):
    """np.float32(0.1) is 0.1 (the value written), np.int64(8) is 8; a 1-D array of sizes
    is a list; the fit is the one of the Python numbers, and saves as JSON numbers."""
    X = np.random.default_rng(0).random((60, 6))
    python = {"contamination": 0.1, "lr": 0.01, "epochs": 2, "code_dim": 2, "hidden": [4]}
    numpy_ = {
        "contamination": np.float32(0.1),
        "lr": np.float32(0.01),
        "epochs": np.int64(2),
        "code_dim": np.int64(2),
        "hidden": np.array([4]),
    }
    a = aeskl.AutoEncoderOutlierDetector(**python).fit(X)
    b = aeskl.AutoEncoderOutlierDetector(**numpy_).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert a.offset_ == b.offset_
    saved = json.loads((b.save(tmp_path / "det") / "estimator.json").read_text())
    assert saved["params"]["contamination"] == 0.1 and saved["params"]["epochs"] == 2
    assert aekit.TrainConfig(lr=np.float32(0.1), epochs=np.int64(3)).to_dict()["lr"] == 0.1
    assert aekit.Masking(nu=np.float32(0.3)).nu == 0.3
    model = aekit.AutoEncoder.build(input_dim=6, hidden=np.array([4]), code_dim=np.int64(2))
    assert model.config.arch == "6-4-2"


def test_one_rule_states_the_range():
    bounds = Bounds(0, 1, high_open=True, what="a share")
    assert number(np.float32(0.25), "x", bounds) == 0.25
    for value, said in [
        (math.nan, "x (a share) must be a finite number in [0, 1), got nan"),
        (-math.inf, "x (a share) must be a finite number in [0, 1), got -inf"),
        (1.0, "x (a share) must be in [0, 1), got 1.0"),
        (True, "x (a share) must be a number in [0, 1), got bool True"),
        ("0.5", "x (a share) must be a number in [0, 1), got str '0.5'"),
    ]:
        with pytest.raises(aekit.ConfigError) as info:
            number(value, "x", bounds)
        assert str(info.value) == said


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "abc"])
def test_the_distributed_timeout_variable_is_a_checked_number(text, monkeypatch):
    """$AEKIT_DIST_TIMEOUT was read with float() at import: NaN or "abc" broke
    ``import aekit``, "inf" overflowed; now it is read when a process group starts."""
    from aekit.training import distributed

    monkeypatch.setenv("AEKIT_DIST_TIMEOUT", text)
    with pytest.raises(aekit.ConfigError, match="AEKIT_DIST_TIMEOUT must be"):
        distributed.timeout()
    monkeypatch.setenv("AEKIT_DIST_TIMEOUT", "30")
    assert distributed.timeout().total_seconds() == 30


@pytest.mark.parametrize("size", [(math.inf, 8), (math.nan, 8), (8.5, 8)])
def test_image_sizes_are_whole_finite_numbers(size, tmp_path):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    with pytest.raises(aekit.DataError, match="image_size must be"):  # not OverflowError
        aekit.load_images(tmp_path, image_size=size)
    assert aekit.load_images(tmp_path, image_size=(np.int64(4), 4)).shape == (1, 4, 4)
