"""``aekit score`` and ``aekit impute``: anomaly scores and filled-in data from run
folders, and runs trained on data with missing values and on unscaled tables."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import aekit
from aekit.cli import main


@pytest.fixture(scope="module")
def table():
    return load_breast_cancer().data.astype(np.float32)


def _csv_with_holes(path, X, rate=0.2):
    mask = np.random.default_rng(0).random(X.shape) < rate
    lines = [
        ",".join("" if m else f"{v:.6g}" for v, m in zip(row, rm, strict=True))
        for row, rm in zip(X, mask, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return mask


def test_a_run_on_an_unscaled_table_standardises_it_and_beats_pca(tmp_path, table, capsys):
    np.save(tmp_path / "t.npy", table)
    argv = ["train", "--data", str(tmp_path / "t.npy"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "inputs scaled (standard)" in out and "% lower" in out
    model = aekit.load(tmp_path / "r")
    np.testing.assert_allclose(model.input_shift.numpy(), table.mean(0), rtol=1e-4)
    recon = aekit.reconstruct(tmp_path / "r", str(tmp_path / "t.npy"))
    assert abs(recon[:, 3].mean() / table[:, 3].mean() - 1) < 0.05  # area, in its units


def test_score_writes_errors_outlier_flags_and_per_feature_columns(tmp_path, table, capsys):
    np.save(tmp_path / "t.npy", table)
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "t.npy"),
                "--epochs",
                "20",
                "--out",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
        == 0
    )
    out = tmp_path / "scores.csv"
    argv = ["score", str(tmp_path / "r"), str(tmp_path / "t.npy"), "-o", str(out)]
    assert main([*argv, "--contamination", "0.05", "--per-feature"]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header[:3] == ["error", "outlier", "error_0"] and len(header) == 32
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert rows[:, 1].sum() == pytest.approx(0.05 * len(table), abs=1)
    np.testing.assert_allclose(rows[:, 0], rows[:, 2:].sum(1), rtol=1e-4)
    # the flagged rows are the worst reconstructed
    assert rows[rows[:, 1] == 1, 0].min() > rows[rows[:, 1] == 0, 0].max()
    scores = aekit.score(tmp_path / "r", str(tmp_path / "t.npy"))
    np.testing.assert_allclose(scores.sum(1), rows[:, 0], rtol=1e-5)
    with pytest.raises(SystemExit) as info:  # one or the other
        main([*argv, "--threshold", "-1", "--contamination", "0.1"])
    assert info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_score_uses_a_saved_detectors_threshold(tmp_path, table):
    from aekit.sklearn import AutoEncoderOutlierDetector

    det = AutoEncoderOutlierDetector(epochs=20, contamination=0.1, random_state=0).fit(table)
    det.save(tmp_path / "det")
    np.save(tmp_path / "t.npy", table)
    out = tmp_path / "s.csv"
    assert main(["score", str(tmp_path / "det"), str(tmp_path / "t.npy"), "-o", str(out)]) == 0
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rows[:, 1] == 1, det.predict(table) == -1)


def test_train_on_incomplete_data_then_impute(tmp_path, table, capsys):
    mask = _csv_with_holes(tmp_path / "holes.csv", table)
    argv = [
        "train",
        "--data",
        str(tmp_path / "holes.csv"),
        "--missing",
        "--kind",
        "denoising",
        "--corruption",
        "masking:nu=0.25",
        "--out",
        str(tmp_path / "imp"),
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "missing entries (NaN) allowed" in capsys.readouterr().out
    out = tmp_path / "filled.npy"
    assert main(["impute", str(tmp_path / "imp"), str(tmp_path / "holes.csv"), "-o", str(out)]) == 0
    filled = np.load(out)
    assert not np.isnan(filled).any()
    np.testing.assert_allclose(filled[~mask], table[~mask], rtol=1e-5)
    std = table.std(0)
    rmse = np.sqrt((((filled - table) / std)[mask] ** 2).mean())
    mean_fill = np.where(mask, np.nanmean(np.where(mask, np.nan, table), 0), table)
    assert rmse < 0.7 * np.sqrt((((mean_fill - table) / std)[mask] ** 2).mean())


def test_impute_and_nan_refusals_say_what_to_do(tmp_path, table, capsys):
    _csv_with_holes(tmp_path / "holes.csv", table)
    argv = ["train", "--data", str(tmp_path / "holes.csv"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--no-progress"]) == 2
    assert "NaN" in capsys.readouterr().err
    np.save(tmp_path / "t.npy", table)
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "t.npy"),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "plain"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "impute",
                str(tmp_path / "plain"),
                str(tmp_path / "holes.csv"),
                "-o",
                str(tmp_path / "f.npy"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "not trained for missing values" in err and "--missing" in err
    assert not (tmp_path / "f.npy").exists()


def test_csv_column_names_carry_through_impute_and_score(tmp_path, table):
    names = [f"f{i}" for i in range(table.shape[1])]
    mask = _csv_with_holes(tmp_path / "body.csv", table)
    (tmp_path / "named.csv").write_text(
        ",".join(names) + "\n" + (tmp_path / "body.csv").read_text()
    )
    argv = ["train", "--data", str(tmp_path / "named.csv"), "--missing", "--epochs", "5"]
    assert main([*argv, "--out", str(tmp_path / "imp"), "--no-progress"]) == 0
    out = tmp_path / "filled.csv"
    assert main(["impute", str(tmp_path / "imp"), str(tmp_path / "named.csv"), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(names) and len(lines) == len(table) + 1
    filled = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(filled[~mask], table[~mask], rtol=1e-5)
    scores = tmp_path / "s.csv"
    argv = ["score", str(tmp_path / "imp"), str(tmp_path / "named.csv"), "-o", str(scores)]
    assert main([*argv, "--per-feature"]) == 0
    assert scores.read_text().splitlines()[0].split(",")[:3] == ["error", "error_f0", "error_f1"]
