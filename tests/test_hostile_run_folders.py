"""Run folders as a hostile user leaves them (issue 25, classes 2, 6, 7 and 8): folders
that did not train on a named data set, pipes and devices where files should be, what
aekit itself writes (null metrics, an evaluation that failed), and the messages about
them. Cases that could block run in a subprocess or a thread with a deadline, so a
regression fails instead of hanging the suite."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.core.io import open_checked, read_checked
from aekit.runs.report import versus

SRC = Path(aekit.__file__).resolve().parents[1]
DEADLINE = 120  # seconds


def _aekit(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in its own process, killed at the deadline (a blocked read fails)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "aekit", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A finished run of an array (aekit.train(data=X)) and a saved outlier detector."""
    from aekit.sklearn import AutoEncoderOutlierDetector

    root = tmp_path_factory.mktemp("folders")
    x = np.random.default_rng(0).random((80, 16))
    np.save(root / "x.npy", x.astype(np.float32))
    aekit.train({"training": {"epochs": 1}}, data=x, out=root / "run", progress=False)
    AutoEncoderOutlierDetector(epochs=1, random_state=0).fit(x).save(root / "det")
    return root


def _copy(folders: Path, name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folders / name, tmp_path / name, symlinks=True))


# ---- class 2: no default data set for a folder that did not train on it -----------------


def test_an_estimator_folder_is_never_taken_for_a_run_on_the_digits(folders, tmp_path, capsys):
    det = _copy(folders, "det", tmp_path)
    assert json.loads((det / "config.json").read_text())["data"] == {"source": "array"}
    weights = (det / "model.safetensors").read_bytes()
    assert main(["info", str(det)]) == 0
    out = capsys.readouterr().out
    assert "data         an in-memory array from Python" in out and "digits" not in out
    for argv in (["evaluate", str(det)], ["train", "--resume", str(det), "--no-progress"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "saved by a scikit-learn estimator" in err and len(err.splitlines()) == 1
    assert (det / "model.safetensors").read_bytes() == weights  # not retrained
    # Given data, every command works on it.
    x = str(folders / "x.npy")
    assert main(["evaluate", str(det), "--data", x, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["squared_error"] > 0
    assert main(["score", str(det), x, "-o", str(tmp_path / "s.csv")]) == 0
    assert "above" in capsys.readouterr().out  # the detector's own threshold
    assert main(["encode", str(det), x, "-o", str(tmp_path / "c.npy")]) == 0
    assert np.load(tmp_path / "c.npy").shape[0] == 80
    assert main(["report", str(det)]) == 0
    assert "an in-memory array from Python" in (det / "report.html").read_text()
    with pytest.raises(aekit.ConfigError, match="saved by a scikit-learn estimator"):
        aekit.encode(det)


def test_a_folder_that_records_no_data_asks_for_it(folders, tmp_path, capsys):
    """A folder of an older aekit's estimator, or of save_model: no data section."""
    det = _copy(folders, "det", tmp_path)
    config = json.loads((det / "config.json").read_text())
    del config["data"]
    (det / "config.json").write_text(json.dumps(config))
    (det / "estimator.json").unlink()
    assert main(["info", str(det)]) == 0
    assert "data         not recorded" in capsys.readouterr().out
    assert main(["evaluate", str(det)]) == 2
    assert "records no training data" in capsys.readouterr().err
    with pytest.raises(aekit.ConfigError, match="records no training data"):
        aekit.reconstruct(det)


def test_arrays_given_in_python_are_recorded_as_arrays(folders, tmp_path):
    run = folders / "run"
    assert json.loads((run / "config.json").read_text())["data"]["source"] == "array"
    x = np.load(folders / "x.npy")
    mine = aekit.Dataset("mine", aekit.data.sources.to_tensor(x, "x"))
    aekit.train({"training": {"epochs": 1}}, data=mine, out=tmp_path / "ds", progress=False)
    assert json.loads((tmp_path / "ds" / "config.json").read_text())["data"]["source"] == "array"
    for call in (lambda: aekit.evaluate(run), lambda: aekit.resume(run, progress=False)):
        with pytest.raises(aekit.ConfigError, match="in-memory array from Python"):
            call()


# ---- class 6: one checked, capped reader; nothing blocks -----------------------------------


def test_the_checked_reader_refuses_a_pipe_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            open_checked(tmp_path / "pipe", "data file", aekit.DataError)
        except BaseException as exc:  # reported below
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():  # unblock the opener so the thread ends
        os.close(os.open(tmp_path / "pipe", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("opening a pipe blocked")
    assert isinstance(outcome[0], aekit.DataError)
    assert "not a regular file (a pipe (FIFO))" in str(outcome[0])


def test_the_checked_reader_caps_what_it_reads(tmp_path):
    (tmp_path / "big").write_bytes(bytes(2000))
    with pytest.raises(aekit.CheckpointError, match="is over 1,000 bytes"):
        read_checked(tmp_path / "big", "figure", limit=1000)
    assert len(read_checked(tmp_path / "big", "figure", limit=2000)) == 2000
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(aekit.CheckpointError, match=r"not a regular file \(a device\)"):
        read_checked(tmp_path / "zero", "figure", limit=1000)
    (tmp_path / "nothing").symlink_to(tmp_path / "gone")
    with pytest.raises(aekit.CheckpointError, match="a link to nothing"):
        read_checked(tmp_path / "nothing")


# (links to /dev/zero in a run folder are also among test_bad_input's cases, in-process)
@pytest.mark.parametrize("kind", ["fifo", pytest.param("zero", marks=pytest.mark.slow)])
def test_info_and_report_never_block_on_a_run_folders_files(folders, tmp_path, kind):
    run = _copy(folders, "run", tmp_path)
    for path in (run / "metrics.json", run / "figures" / "curves.png"):
        path.unlink()
        os.mkfifo(path) if kind == "fifo" else path.symlink_to("/dev/zero")
    what = "a pipe (FIFO)" if kind == "fifo" else "a device"
    info = _aekit("info", str(run), cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert f"metrics.json unreadable: metrics file {run}/metrics.json is not a regular file" in (
        info.stdout
    )
    report = _aekit("report", str(run), cwd=tmp_path)
    assert report.returncode == 2 and len(report.stderr.splitlines()) == 1, report.stderr
    assert f"is not a regular file ({what})" in report.stderr


def test_an_idx_file_is_read_only_as_far_as_its_header_says(tmp_path):
    """A gzip that expands far beyond its header's shape is refused without expanding it
    all; a raw one too."""
    header = b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(header + bytes(50 * 2**20)))
    with pytest.raises(aekit.DataError, match="longer than its header says"):
        aekit.read_idx(tmp_path / "bomb.gz")
    (tmp_path / "fine").write_bytes(header + bytes(range(6)))
    assert aekit.read_idx(tmp_path / "fine").tolist() == [[0, 1, 2], [3, 4, 5]]


# ---- class 7: what aekit writes is read; a failed evaluation leaves a usable folder ---------


def test_a_report_of_null_metrics_and_a_pca_error_of_0(folders, tmp_path, capsys):
    run = _copy(folders, "run", tmp_path)
    metrics = {"split": "validation", "squared_error": None, "psnr": None}
    (run / "metrics.json").write_text(json.dumps({**metrics, "pca_squared_error": None}))
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "<td class='num'>n/a</td>" not in page  # None is no number: a text cell
    assert "<td>n/a</td>" in page and "not comparable" in page
    (run / "metrics.json").write_text(json.dumps({"squared_error": 0.25, "pca_squared_error": 0.0}))
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "higher: PCA&#x27;s error is 0, it reconstructs this data exactly" in page
    assert "nan%" not in page and "0% higher" not in page
    assert main(["info", str(run)]) == 0
    capsys.readouterr()


def test_versus_states_the_comparison_truly():
    assert versus(0.25, 0.0) == "higher: PCA's error is 0, it reconstructs this data exactly"
    assert versus(0.0, 0.0) == "the same: both reconstruct this data exactly"
    assert versus(1.0004, 1.0) == "0.04% higher"  # not "0% higher"
    assert versus(0.77, 1.0) == "23% lower"
    assert versus(float("inf"), 1.0).startswith("not comparable")
    assert versus(None, 1.0).startswith("not comparable")


def test_a_test_error_beyond_float32_still_finishes_the_run(folders, tmp_path, capsys):
    x = np.load(folders / "x.npy") * 10
    test = x[:10].copy()
    test[0, 0], test[1, 1] = 3e38, -3e38
    np.save(tmp_path / "train.npy", x)
    np.save(tmp_path / "test.npy", test)
    out = tmp_path / "r"
    argv = ["train", "--data", str(tmp_path / "train.npy"), "--test", str(tmp_path / "test.npy")]
    assert main([*argv, "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["squared_error"] is None and metrics["psnr"] is None  # inf and -inf
    assert (out / "report.html").is_file()
    assert main(["info", str(out)]) == 0 and main(["report", str(out)]) == 0
    capsys.readouterr()


def test_an_evaluation_that_fails_after_training_leaves_a_usable_run(
    folders, tmp_path, capsys, monkeypatch
):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(aekit.runs.result, "evaluate_model", broken)
    out = tmp_path / "r"
    data = str(folders / "x.npy")
    code = main(["train", "--data", data, "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "the model trained and is saved" in err and "ZeroDivisionError" in err
    assert {"model.safetensors", "config.json", "metrics.json", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation_error"] == "ZeroDivisionError: float division by zero"
    assert "failed: ZeroDivisionError" in (out / "report.html").read_text()
    assert main(["info", str(out)]) == 0
    assert "evaluation_error" in capsys.readouterr().out
    assert aekit.load(out).config.input_dim == 16
    with pytest.raises(aekit.EvaluationError, match="evaluating it failed"):
        aekit.train({"training": {"epochs": 1}}, data=data, out=tmp_path / "p", progress=False)
    assert (tmp_path / "p" / "model.safetensors").is_file()


def test_a_shard_of_no_rows_adds_none(tmp_path):
    x = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "a.npy", x[:10])
    np.save(tmp_path / "shards" / "b.npy", np.zeros((0, 4), np.float32))
    np.save(tmp_path / "shards" / "c.npy", x[10:])
    np.testing.assert_array_equal(aekit.load_array(tmp_path / "shards"), x)
    disk = aekit.data.streaming.open_disk_array(tmp_path / "shards")
    np.testing.assert_array_equal(np.concatenate([b for _, b in disk.chunks(7)]), x)
    np.testing.assert_array_equal(disk.take(np.array([12, 3, 9, 10])), x[[12, 3, 9, 10]])


# ---- class 8: messages that state the true fact and the fix --------------------------------


def test_the_output_folder_message_suggests_resume_only_for_a_run(folders, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    for path, said in ((tmp_path / "file", "is a file"), (tmp_path / "other", "holds no run")):
        with pytest.raises(aekit.ConfigError, match=said) as info:
            aekit.train(out=path, progress=False)
        assert "--resume" not in str(info.value)
    with pytest.raises(aekit.ConfigError, match="holds a run") as info:
        aekit.train(out=folders / "run", progress=False)
    assert f"aekit train --resume {folders / 'run'}" in str(info.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.update(fitted=None), "'fitted' must be an object"),
        (lambda e: e["fitted"].update(n_features_in_="64"), "'fitted.n_features_in_'"),
        (lambda e: e["fitted"].update(n_features_in_=3), "takes 16 features"),
        (lambda e: e["fitted"].update(offset_=[1]), "'fitted.offset_'"),
        (lambda e: e["fitted"].update(feature_names_in_=["a"]), "a list of 16 names"),
        (lambda e: e.update(params="x"), "'params' must be an object"),
        (lambda e: e.update(estimator="Forest"), "'estimator' must be one of"),
        (lambda e: e.update(estimator=["AutoEncoderOutlierDetector"]), "'estimator' must be"),
        (lambda e: e.update(estimator={"name": "x"}), "'estimator' must be one of"),
    ],
)
def test_a_damaged_estimator_file_names_the_file_and_the_field(folders, tmp_path, change, field):
    det = _copy(folders, "det", tmp_path)
    info = json.loads((det / "estimator.json").read_text())
    change(info)
    (det / "estimator.json").write_text(json.dumps(info))
    with pytest.raises(aekit.ConfigError, match=r"estimator\.json") as raised:
        aekit.sklearn.load(det)
    assert field in str(raised.value)
