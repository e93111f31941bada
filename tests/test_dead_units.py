"""Dead code units (issue #28): a unit is dead when its value does not vary across the
held-out samples, whatever its level; the figure, the metrics, the training output, the
report and ``aekit info`` name the same units by number, at any width."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.cli.printing import dead_line
from aekit.core.errors import CheckpointError
from aekit.evaluation import metrics, plots
from aekit.runs.records import read_metrics
from aekit.runs.report import write_report

RHO_LOGIT = float(np.log(0.05 / 0.95))  # a sigmoid unit at this level sits at rho = 0.05


def _named(text: str) -> tuple[list[int], int, int]:
    """The unit numbers a sentence names ("3, 17-19, and 40 more of 156"): the numbers
    listed (ranges expanded), how many more it says there are, and of how many units."""
    match = re.search(r": ((?:none)|[0-9][0-9, \n-]*?)(?:,\s+and (\d+) more)?\s+of (\d+)", text)
    assert match, text
    listed: list[int] = []
    if match.group(1) != "none":
        for part in re.split(r",\s*", match.group(1).strip()):
            a, _, b = part.partition("-")
            listed.extend(range(int(a), int(b or a) + 1))
    return listed, int(match.group(2) or 0), int(match.group(3))


def _with_dead_units(k: int, x: np.ndarray) -> tuple[aekit.AutoEncoder, list[int], list[int]]:
    """A sparse model of ``k`` sigmoid code units with some made dead (no input weights:
    the same value on every sample; half of them sitting at rho, where a KL penalty wants
    them) and some made never active but still varying (alive); the dead and the idle."""
    model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[], code_dim=k, seed=0)
    rng = np.random.default_rng(k)
    chosen = rng.choice(k, size=max(4, k // 10), replace=False)
    dead, idle = (
        sorted(chosen[: len(chosen) // 2].tolist()),
        sorted(chosen[len(chosen) // 2 :].tolist()),
    )
    layer = model.encoder[0]
    with torch.no_grad():
        layer.weight[dead] = 0.0
        layer.bias[dead[::2]] = RHO_LOGIT
        layer.bias[dead[1::2]] = 3.0  # always "active" (h > 0.5), and still dead
        layer.weight[idle] *= 0.3
        layer.bias[idle] = -2.5  # below 0.5 on every sample, yet following the input
    codes = model.encode(x)
    assert (codes[:, idle] < 0.5).all() and (np.ptp(codes[:, idle], axis=0) > 1e-2).all()
    return model, dead, idle


def test_units_are_said_by_number_as_ranges_and_truncated():
    assert metrics.said_units([42, 3, 17], 156) == "3, 17, 42 of 156"
    assert metrics.said_units([], 8) == "none of 8"
    assert (
        metrics.said_units([*range(100), 101, 103, 104, 105], 1000) == "0-99, 101, 103-105 of 1000"
    )
    many = list(range(0, 1000, 3))
    said = metrics.said_units(many, 1000)
    listed, more, total = _named("units: " + said)
    assert len(said) < 160 and total == 1000
    assert listed == many[: len(listed)] and len(listed) + more == len(many)


@pytest.mark.parametrize("k", [8, 156, 1000])
def test_the_dead_units_named_are_exactly_those_made_dead(digits, k):
    x = digits.test.numpy()
    model, dead, idle = _with_dead_units(k, x)
    m = aekit.evaluate(model, x)
    assert m["dead_units"] == len(dead)
    assert metrics.dead_code_units(model, x) == dead
    # never active: the dead at rho and the idle (the dead at 3.0 are active)
    codes = model.encode(x)
    assert m["inactive_units"] == int((codes <= 0.5).all(0).sum()) >= len(idle)

    fig = plots.activation_frequencies(model, x)
    ax = fig.axes[0]
    assert fig.dead_units == dead
    listed, more, total = _named(ax.get_title())
    assert total == k and listed == dead[: len(listed)] and len(listed) + more == len(dead)
    crosses = [c for c in ax.collections if c.get_label().startswith("dead units")]
    assert len(crosses[0].get_offsets()) == len(dead)
    # a dead unit always above 0.5 is drawn at its share active (1), the others at 0
    assert sorted(crosses[0].get_offsets()[:, 1].tolist()) == sorted(fig.frequencies[dead].tolist())
    circles = [c for c in ax.collections if c.get_label().startswith("never active, yet")]
    assert len(circles[0].get_offsets()) >= len(idle)
    if k <= 64:  # numbered on the axis too, the dead in red
        red = [int(t.get_text()) for t in ax.get_xticklabels() if t.get_color() == "C3"]
        assert sorted(red) == dead

    line = dead_line({**m, "dead_unit_numbers": dead}, k)
    listed, more, total = _named(line)
    assert total == k and listed == dead[: len(listed)] and len(listed) + more == len(dead)
    assert ("metrics.json lists them all" in line) == (more > 0)


def test_the_run_records_its_dead_units_and_the_report_and_info_name_them(
    sparse_run, digits, tmp_path, capsys
):
    recorded = read_metrics(sparse_run)
    model = aekit.load(sparse_run)
    # what the run recorded is the rule applied to the data it was judged on
    assert recorded["split"] == "test"
    assert recorded["dead_unit_numbers"] == metrics.dead_code_units(model, digits.test)
    assert recorded["dead_units"] == len(recorded["dead_unit_numbers"])

    # the same run with units 3, 7, 8 and 9 made dead, its metrics.json measured again
    run = tmp_path / "run"
    shutil.copytree(sparse_run, run)
    code_layer = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        code_layer.weight[[3, 7, 8, 9]] = 0.0
    measured = aekit.evaluate(model, digits.test)
    numbers = metrics.dead_code_units(model, digits.test)
    assert numbers == [3, 7, 8, 9] and measured["dead_units"] == 4
    on_disk = json.loads((run / "metrics.json").read_text())
    on_disk.update(measured, dead_unit_numbers=numbers)
    (run / "metrics.json").write_text(json.dumps(on_disk))

    page = write_report(run).read_text()
    assert "whose value is the same on every held-out sample: 3, 7-9 of 16." in page
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "dead units (the same value on every held-out sample): 3, 7-9 of 16" in out
    assert "dead_unit_numbers" not in out  # named once, in words, not as a list


def test_a_metrics_file_with_other_than_unit_numbers_is_refused(sparse_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(sparse_run, run)
    for bad in (["3"], [-1], [True], 3):
        on_disk = json.loads((sparse_run / "metrics.json").read_text())
        on_disk["dead_unit_numbers"] = bad
        (run / "metrics.json").write_text(json.dumps(on_disk))
        with pytest.raises(CheckpointError, match="a list of unit numbers"):
            read_metrics(run)
