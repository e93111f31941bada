"""Metrics match their definitions, computed independently here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.evaluation import metrics
from aekit.evaluation.metrics import denoising_shortfall


def test_reconstruction_metrics_match_their_definitions(X):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
    aekit.fit(model, X, epochs=3, progress=False)
    m = aekit.evaluate(model, X, batch_size=100)  # several batches
    r = model.reconstruct(X).astype(np.float64)
    x = X.astype(np.float64)
    sse = ((r - x) ** 2).sum()
    assert m["squared_error"] == pytest.approx(sse / len(x), rel=1e-5)
    assert m["mse"] == pytest.approx(sse / x.size, rel=1e-5)
    assert m["psnr"] == pytest.approx(10 * math.log10(1.0 / (sse / x.size)), rel=1e-5)
    assert m["explained_variance"] == pytest.approx(
        1 - sse / ((x - x.mean(0)) ** 2).sum(), rel=1e-5
    )


def test_sparsity_metrics(X):
    model = aekit.AutoEncoder.build("topk", input_dim=64, code_dim=12, top_k=3)
    m = aekit.evaluate(model, X)
    codes = model.encode(X)
    assert m["l0"] == pytest.approx(3.0)
    assert m["mean_activation"] == pytest.approx(codes.mean(), rel=1e-4, abs=1e-6)
    assert m["dead_units"] == int((codes == 0).all(0).sum())  # never chosen: always 0
    # a unit that can never fire is dead
    model = aekit.AutoEncoder.build("sparse_l1", input_dim=64, code_dim=6)
    with torch.no_grad():
        model.encoder[0].weight[2] = 0.0
        model.encoder[0].bias[2] = -1.0
    m = aekit.evaluate(model, X)
    assert 2 in metrics.dead_code_units(model, X)
    assert m["dead_units"] == len(metrics.dead_code_units(model, X)) >= 1
    # a sigmoid unit is active where it fires (h > 0.5), not wherever it is above 0; one
    # that never fires but varies is inactive, not dead
    model = aekit.AutoEncoder.build("sparse", input_dim=64, code_dim=10)
    codes = model.encode(X)
    m = aekit.evaluate(model, X)
    assert m["l0"] == pytest.approx((codes > 0.5).sum(1).mean(), rel=1e-5)
    assert m["inactive_units"] == int((codes <= 0.5).all(0).sum())
    spread = codes.max(0) - codes.min(0)
    assert m["dead_units"] == int((spread <= 1e-3 * spread.max()).sum())


def test_jacobian_metric_is_the_mean_frobenius_norm(X):
    model = aekit.AutoEncoder.build("contractive", input_dim=64, code_dim=10)
    m = aekit.evaluate(model, X[:50])
    x = torch.as_tensor(X[:50])
    norms = [
        torch.autograd.functional.jacobian(lambda z: model.encoder(z[None])[0], xi).norm()
        for xi in x
    ]
    assert m["jacobian_frobenius"] == pytest.approx(torch.stack(norms).mean().item(), rel=1e-5)
    # on request for any model
    plain = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4)
    assert "jacobian_frobenius" in aekit.evaluate(plain, X[:20], jacobian=True)


def test_denoising_metrics_show_the_model_removes_noise(X, digits):
    model = aekit.AutoEncoder.build(
        "denoising",
        input_dim=64,
        hidden=[64],
        code_dim=32,
        corruption=aekit.Masking(nu=0.3),
        pca_fallback=False,  # the layers' denoising is measured, not PCA's
    )
    aekit.fit(model, X, epochs=60, progress=False)
    m = aekit.evaluate(model, digits.test.numpy())
    assert m["psnr_denoised"] > m["psnr_corrupted"] + 1.0
    again = aekit.evaluate(model, digits.test.numpy())
    assert again["psnr_corrupted"] == m["psnr_corrupted"]  # seeded noise: repeatable


def test_a_corruption_that_leaves_the_data_as_it_was_has_no_denoising_figures(tmp_path, X):
    """Missing patterns hide nothing in complete data: no PSNR of an uncorrupted "corrupted"
    input (it was infinite), and metrics.json stays standard JSON whatever a metric is."""
    holes = X[:300].copy()
    holes[::3, :8] = np.nan
    np.save(tmp_path / "holes.npy", holes)
    cfg = {
        "model": {"missing": True, "corruption": "missing_patterns:p=1"},
        "training": {"epochs": 2},
    }
    run = aekit.train(cfg, data=holes, out=tmp_path / "r", progress=False)
    assert "psnr_denoised" in aekit.evaluate(run.model, holes)
    assert not {"psnr_corrupted", "psnr_denoised"} & set(aekit.evaluate(run.model, X))

    def refuse(name):
        raise ValueError(f"not standard JSON: {name}")

    constant = aekit.AutoEncoder.build(input_dim=64, code_dim=2)
    aekit.core.io.write_json(tmp_path / "m.json", aekit.evaluate(constant, np.zeros((5, 64))))
    loaded = json.loads((tmp_path / "m.json").read_text(), parse_constant=refuse)
    assert loaded["explained_variance"] is None  # NaN: no variance to explain


def test_a_denoising_run_names_its_noise_and_warns_where_it_makes_it_worse(tmp_path, capsys):
    """A code of 2 units after 2 epochs reconstructs even clean digits far worse than
    Gaussian noise of sigma 0.1 corrupts them: the run says so, with both PSNRs."""
    args = ["--corruption", "gaussian:sigma=0.1", "--code-dim", "2", "--epochs", "2"]
    out = tmp_path / "worse"
    code = main(
        ["train", "--kind", "denoising", *args, "--out", str(out), "--no-progress", "--no-report"]
    )
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "denoising: trained to undo additive Gaussian noise (sigma 0.1); " in stdout
    warned = [line for line in stderr.splitlines() if line.startswith("aekit: warning:")]
    assert len(warned) == 1, stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["psnr_denoised"] <= m["psnr_corrupted"]
    said = f"PSNR {m['psnr_corrupted']:.2f} dB noisy, {m['psnr_denoised']:.2f} dB after"
    assert said in warned[0] and "additive Gaussian noise (sigma 0.1)" in warned[0]
    assert f"clean inputs come back at {m['psnr']:.2f} dB" in warned[0]
    assert "--code-dim 64" in warned[0]
    # aekit evaluate of the run says it again; from Python, a UserWarning
    assert main(["evaluate", str(out)]) == 0
    assert said in capsys.readouterr().err
    with pytest.warns(UserWarning, match="worse than they came: PSNR"):
        aekit.evaluate(out)


def test_a_denoising_run_that_removes_its_noise_names_it_without_a_warning(tmp_path, capsys):
    out = tmp_path / "better"
    code = main(
        [
            "train",
            "--kind",
            "denoising",
            "--epochs",
            "6",  # 1.8 dB better than the noisy inputs (10 epochs: 2.6 dB)
            "--out",
            str(out),
            "--no-progress",
            "--no-report",
        ]
    )
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert (
        "denoising: trained to undo masking noise (25% of inputs set to 0); to remove other "
        "noise, train for it: --corruption gaussian:sigma=0.1" in stdout
    )
    assert "aekit: warning" not in stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["psnr_denoised"] > m["psnr_corrupted"]


def test_the_denoising_warning_names_the_likely_cause():
    model = aekit.AutoEncoder.build(
        "denoising", input_dim=64, code_dim=8, corruption=aekit.GaussianNoise(0.2)
    )
    noisy = {"psnr_corrupted": 14.0}
    assert denoising_shortfall(model, {**noisy, "psnr": 20.0, "psnr_denoised": 14.5}) is None
    capacity = denoising_shortfall(model, {**noisy, "psnr": 20.0, "psnr_denoised": 13.0})
    assert "additive Gaussian noise (sigma 0.2)" in capacity
    assert "PSNR 14.00 dB noisy, 13.00 dB after" in capacity
    assert "clean inputs at 20.00 dB: train it longer" in capacity
    assert "--code-dim" not in capacity
    bottleneck = denoising_shortfall(model, {**noisy, "psnr": 13.5, "psnr_denoised": 13.0})
    assert "Even clean inputs come back at 13.50 dB" in bottleneck
    assert "--code-dim 64, code_dim=64" in bottleneck
    # no corruption, or none that changed the data: nothing to judge
    assert denoising_shortfall(model, {"psnr": 13.0}) is None
    imputer = aekit.AutoEncoder.build(
        input_dim=64, code_dim=8, missing=True, corruption=aekit.MissingPatterns(1.0)
    )
    assert denoising_shortfall(imputer, {**noisy, "psnr": 13.5, "psnr_denoised": 13.0}) is None
