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
    plain = _run("undercomplete", tmp_path / "plain", code_dim=25, code_activation="sigmoid")
    plain_jacobian = aekit.evaluate(plain.model, plain.data.test, jacobian=True)
    assert contractive.metrics["jacobian_frobenius"] < plain_jacobian["jacobian_frobenius"]
    assert contractive.metrics["squared_error"] < pca


def test_the_output_says_what_to_judge_a_kind_by(tmp_path, capsys):
    argv = ["train", "--kind", "sparse", "--epochs", "3", "--out", str(tmp_path / "s")]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "baseline: PCA-25" in out and "sparsity: mean activation" in out
    assert "(target rho 0.05)" in out and "units fire (h > 0.5)" in out and "never do (dead)" in out
    assert "linear probe: logistic regression on the codes, accuracy" in out
    assert "chosen from the data size: batch_size 64, warmup_epochs 0" in out
    argv = ["train", "--kind", "contractive", "--epochs", "2", "--out", str(tmp_path / "c")]
    assert main([*argv, "--no-progress"]) == 0
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
