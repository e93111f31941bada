"""Bare defaults show what the book says each kind does (seeded, deterministic on the CPU):
on the digits, every compressing kind beats PCA at the same code size, deep beats shallow,
the sparse kind keeps its activation rate near rho, the contractive kind contracts more
than a plain autoencoder of its shape; and the output says so."""

from __future__ import annotations

import pytest

import aekit
from aekit.cli import main


def _run(kind: str, tmp_path, **model):
    return aekit.train({"model": {"kind": kind, **model}}, out=tmp_path / kind, progress=False)


@pytest.mark.slow
def test_bare_defaults_on_the_digits_order_as_the_book_says(tmp_path):
    runs = {k: _run(k, tmp_path) for k in ("undercomplete", "deep", "denoising")}
    errors = {k: r.metrics["squared_error"] for k, r in runs.items()}
    pca = runs["undercomplete"].metrics["pca_squared_error"]
    assert pca == pytest.approx(1.577, abs=0.001)
    assert errors["deep"] < errors["undercomplete"] < pca
    assert errors["denoising"] < pca
    assert all(r.epochs == 300 and r.chosen["epochs"] == 300 for r in runs.values())

    sparse = _run("sparse", tmp_path)
    assert sparse.model.config.code_dim == 25
    assert sparse.metrics["mean_activation"] == pytest.approx(0.05, abs=0.015)
    assert sparse.metrics["squared_error"] < pca  # PCA with 8 components
    assert 0 < sparse.metrics["l0"] < 25 * 0.2

    contractive = _run("contractive", tmp_path)
    plain = _run(
        "undercomplete", tmp_path / "plain", code_dim=25, hidden=[], code_activation="sigmoid"
    )
    plain_jacobian = aekit.evaluate(plain.model, plain.data.test, jacobian=True)
    assert contractive.metrics["jacobian_frobenius"] < plain_jacobian["jacobian_frobenius"]
    assert contractive.metrics["squared_error"] < pca


def test_the_output_says_what_to_judge_a_kind_by(tmp_path, capsys):
    argv = ["train", "--kind", "sparse", "--epochs", "3", "--out", str(tmp_path / "s")]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "baseline: PCA-25" in out and "sparsity: mean activation" in out
    assert "(target rho 0.05)" in out and "units fire (h > 0.5)" in out and "never do" in out
    assert "dead units (the same value on every held-out sample): " in out
    assert "linear probe: logistic regression on the codes, accuracy" in out
    assert "chosen from the data size: batch_size 32, warmup_epochs 0" in out
    argv = ["train", "--kind", "contractive", "--epochs", "2", "--out", str(tmp_path / "c")]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    assert "contraction: mean ||J_f(x)||_F" in capsys.readouterr().out


def test_data_outside_the_unit_range_gets_a_linear_output(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "t.npy", rng.normal(size=(200, 6)).astype(np.float32) * 3)
    argv = ["train", "--data", str(tmp_path / "t.npy"), "--epochs", "2"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    cfg = aekit.load(tmp_path / "r").config
    assert (cfg.output_activation, cfg.loss) == ("linear", "mse")
    out = capsys.readouterr().out
    assert "validation: squared_error" in out  # judged on the held-out share


def _breast_cancer(folder):
    """scikit-learn's breast-cancer table standardised with its training split's
    statistics: 455 rows of 30 real-valued features for training, 114 for the test."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(load_breast_cancer().data, test_size=0.2, random_state=0)
    mean, std = train.mean(0), train.std(0)
    np.save(folder / "train.npy", ((train - mean) / std).astype(np.float32))
    np.save(folder / "test.npy", ((test - mean) / std).astype(np.float32))
    return {"source": str(folder / "train.npy"), "test": str(folder / "test.npy")}


@pytest.mark.slow
def test_bare_defaults_on_a_real_valued_table_beat_pca_or_are_pca(tmp_path):
    data = _breast_cancer(tmp_path)
    for kind in ("undercomplete", "deep", "denoising"):
        run = aekit.train({"model": {"kind": kind}, "data": data}, out=tmp_path / kind)
        assert run.chosen["batch_size"] == 16
        # The denoising kind's code is as wide as the input (30): it is compared with PCA
        # at the other kinds' code size, and as a denoiser with PCA denoising its input.
        pca = "pca8_squared_error" if kind == "denoising" else "pca_squared_error"
        assert run.metrics[pca] == pytest.approx(2.668, abs=0.001)
        assert run.metrics["squared_error"] <= run.metrics[pca], kind
        if kind != "undercomplete":  # its win on 50 validation rows is within the noise
            assert run.metrics["squared_error"] < run.metrics[pca], kind
    m = run.metrics
    assert "pca_squared_error" not in m  # PCA-30 of 30 features is the identity
    assert m["psnr_denoised"] > max(m["psnr_corrupted"], m["pca_psnr_denoised"])


def test_the_presets_follow_the_data():
    from aekit.models.config import model_config

    # Vincent et al.'s noise for each kind of data: masking for [0, 1], Gaussian otherwise
    assert model_config("denoising", input_dim=64).corruption.name == "masking"
    real = model_config("denoising", input_dim=30, unit_range=False)
    assert real.corruption.name == "gaussian" and real.output_activation == "linear"
    # its code is as wide as the input, with no hidden layer (and so nothing to fall back to)
    assert model_config("denoising", input_dim=64).arch == "64-64"
    assert not model_config("denoising", input_dim=64).pca_fallback
    assert model_config("denoising", input_dim=64, code_dim=8).pca_fallback
    # a layer narrower than twice the code would be a second bottleneck
    assert model_config("deep", input_dim=30, unit_range=False).hidden == [38, 19]
    assert model_config("deep", input_dim=64).hidden == [82, 41, 20]
    assert model_config("undercomplete", input_dim=64).arch == "64-32-8"
    # at least 32 wide, wider than a small input: the code is the bottleneck
    assert model_config("undercomplete", input_dim=12, code_dim=6).hidden == [32]
    assert model_config("undercomplete", input_dim=784, code_dim=30).hidden == [60]
    # a setting given still replaces the kind's
    assert model_config("denoising", input_dim=30, unit_range=False, loss="bce").loss == "bce"


@pytest.mark.parametrize(
    "samples, batch", [(1, 16), (455, 16), (1437, 32), (5000, 64), (60_000, 256), (10**7, 256)]
)
def test_the_default_batch_is_about_the_square_root_of_the_data_size(samples, batch):
    assert aekit.TrainConfig().resolved(samples).batch_size == batch
    assert aekit.TrainConfig(batch_size=7).resolved(samples).batch_size == 7
