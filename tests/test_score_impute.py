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


def test_a_run_on_an_unscaled_table_standardises_it_and_is_never_worse_than_pca(
    tmp_path, table, capsys
):
    np.save(tmp_path / "t.npy", table)
    argv = ["train", "--data", str(tmp_path / "t.npy"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "inputs scaled (standard)" in out
    # its layers beat PCA on 57 validation rows by less than two standard errors: PCA kept
    assert "% lower" in out or ("kept PCA's solution" in out and "(the same)" in out)
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
                "--no-report",
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
        "--epochs",
        "50",  # as good a fill as the 300 epochs chosen for 569 rows (error ratio 0.54)
        "--out",
        str(tmp_path / "imp"),
        "--no-progress",
        "--no-report",
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


# ---- round three (issue 25): results keep the input's precision; tables are matched by name


def _wide_values(n: int = 60) -> np.ndarray:
    """Values float32 cannot hold: 1234567891 + i is 1234567936 in float32."""
    X = np.random.default_rng(0).normal(size=(n, 4))
    X[:, 0] = 1234567891 + np.arange(n)
    X[:, 2] = 0.1 + np.arange(n) / 3  # fractions with no short float32 twin
    return X


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    X = _wide_values()
    X[5, 1] = np.nan
    np.save(folder / "h.npy", X)
    argv = ["train", "--data", str(folder / "h.npy"), "--missing", "--epochs", "2"]
    assert main([*argv, "--out", str(folder / "r1"), "--no-progress", "--no-report"]) == 0
    return folder, X


def test_impute_keeps_every_observed_value_byte_for_byte(wide_run):
    folder, X = wide_run
    observed = ~np.isnan(X)
    for suffix in (".npy", ".csv"):
        out = folder / f"f{suffix}"
        assert main(["impute", str(folder / "r1"), str(folder / "h.npy"), "-o", str(out)]) == 0
        filled = np.load(out) if suffix == ".npy" else aekit.load_array(out)
        assert filled.dtype == np.float64 and not np.isnan(filled).any()
        assert filled[~observed].size == 1
        np.testing.assert_array_equal(filled[observed], X[observed])  # exactly, not close
    assert (folder / "f.csv").read_text().startswith("1234567891.0,")
    # Python too: a float64 array, a float32 one (kept float32), a tensor
    filled = aekit.impute(folder / "r1", X)
    assert filled.dtype == np.float64 and np.array_equal(filled[observed], X[observed])
    small = X.astype(np.float32)
    filled = aekit.impute(folder / "r1", small)
    assert filled.dtype == np.float32 and np.array_equal(filled[observed], small[observed])
    import torch

    filled = aekit.impute(folder / "r1", torch.from_numpy(X))
    assert filled.dtype == np.float64 and np.array_equal(filled[observed], X[observed])


def test_impute_streamed_keeps_float64_too(wide_run):
    folder, X = wide_run
    out = folder / "streamed.npy"
    argv = ["impute", str(folder / "r1"), str(folder / "h.npy"), "-o", str(out), "--stream"]
    assert main(argv) == 0
    filled, observed = np.load(out), ~np.isnan(X)
    assert filled.dtype == np.float64
    np.testing.assert_array_equal(filled[observed], X[observed])
    np.testing.assert_array_equal(filled, np.load(folder / "f.npy"))  # as in memory


def test_results_of_float64_data_come_back_float64_and_csvs_round_trip(wide_run):
    folder, X = wide_run
    for command in ("reconstruct", "encode"):
        for suffix in (".npy", ".csv"):
            out = folder / f"{command}{suffix}"
            assert main([command, str(folder / "r1"), str(folder / "h.npy"), "-o", str(out)]) == 0
            got = np.load(out) if suffix == ".npy" else aekit.load_array(out)
            assert got.dtype == np.float64
        # the CSV holds every digit of the .npy: it reads back as the same values
        np.testing.assert_array_equal(
            aekit.load_array(folder / f"{command}.csv"), np.load(folder / f"{command}.npy")
        )
    assert aekit.encode(folder / "r1", X).dtype == np.float64
    assert aekit.encode(folder / "r1", X.astype(np.float32)).dtype == np.float32
    scores = folder / "s.csv"
    argv = ["score", str(folder / "r1"), str(folder / "h.npy"), "-o", str(scores), "--per-feature"]
    assert main(argv) == 0
    written = aekit.load_array(scores, header="yes")
    np.testing.assert_array_equal(written[:, 1:], aekit.score(folder / "r1", X))


def test_a_table_is_matched_to_the_runs_columns_by_name(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    cars = pd.DataFrame(
        {
            "mpg": rng.normal(20, 5, 120),
            "cyl": rng.integers(4, 9, 120).astype(float),
            "hp": rng.normal(100, 30, 120),
            "weight": rng.normal(3000, 500, 120),
        }
    )
    cars.to_csv(tmp_path / "cars.csv", index=False)
    cars[["weight", "hp", "mpg", "cyl"]].to_csv(tmp_path / "reordered.csv", index=False)
    cars.to_csv(tmp_path / "indexed.csv")  # pandas' index: a first column with no name
    run = tmp_path / "r"
    argv = ["train", "--data", str(tmp_path / "cars.csv"), "--epochs", "2", "--out", str(run)]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    assert aekit.load(run).feature_names == ["mpg", "cyl", "hp", "weight"]
    outs = {}
    for name in ("cars", "reordered", "indexed"):
        outs[name] = tmp_path / f"s_{name}.csv"
        args = ["score", str(run), str(tmp_path / f"{name}.csv"), "-o", str(outs[name])]
        assert main([*args, "--per-feature"]) == 0
    first = outs["cars"].read_text()
    assert first.splitlines()[0] == "error,error_mpg,error_cyl,error_hp,error_weight"
    assert outs["reordered"].read_text() == first == outs["indexed"].read_text()
    # reconstructions come back under the run's names, in its order
    assert (
        main(
            [
                "reconstruct",
                str(run),
                str(tmp_path / "reordered.csv"),
                "-o",
                str(tmp_path / "x.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "x.csv").read_text().splitlines()[0] == "mpg,cyl,hp,weight"
    # Python: a path or a DataFrame, in any order, gives the same scores
    expected = aekit.score(run, tmp_path / "cars.csv")
    np.testing.assert_array_equal(aekit.score(run, tmp_path / "reordered.csv"), expected)
    np.testing.assert_array_equal(aekit.score(run, cars[["hp", "weight", "cyl", "mpg"]]), expected)
    with pytest.raises(aekit.DataError, match="it lacks 'weight'"):
        aekit.score(run, cars[["hp", "cyl", "mpg"]])
    # a table without a header is taken in the run's order, and that is said
    cars.to_csv(tmp_path / "bare.csv", index=False, header=False)
    capsys.readouterr()
    args = ["score", str(run), str(tmp_path / "bare.csv"), "-o", str(tmp_path / "b.csv")]
    assert main(args) == 0
    assert "bare.csv has no header line: its columns are taken as" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="no header line"):
        np.testing.assert_array_equal(aekit.score(run, tmp_path / "bare.csv"), expected)


def test_a_saved_estimators_names_match_the_commands_tables(tmp_path):
    pd = pytest.importorskip("pandas")
    from aekit.sklearn import AutoEncoderOutlierDetector

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    det = AutoEncoderOutlierDetector(epochs=2, random_state=0).fit(frame)
    det.save(tmp_path / "det")
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame[["c", "a", "b"]].to_csv(tmp_path / "swapped.csv", index=False)
    for name in ("t", "swapped"):
        out = tmp_path / f"s_{name}.csv"
        assert (
            main(["score", str(tmp_path / "det"), str(tmp_path / f"{name}.csv"), "-o", str(out)])
            == 0
        )
    assert (tmp_path / "s_t.csv").read_text() == (tmp_path / "s_swapped.csv").read_text()
    rows = aekit.load_array(tmp_path / "s_t.csv")
    np.testing.assert_array_equal(rows[:, 1] == 1, det.predict(frame) == -1)
