"""PCA's level on the loss curves (issue #28): where a run compared its autoencoder with
PCA, the curves figure draws PCA's held-out error on the panel measured in the same unit
(squared error per sample, in the model's units) and nowhere else, and says when the run's
final model is that PCA."""

from __future__ import annotations

import pytest

import aekit
from aekit.evaluation import plots
from aekit.evaluation.plots import PcaLevel
from aekit.runs import result
from aekit.training.history import FitResult


def _pca_lines(fig) -> list[tuple[int, list[float]]]:
    """The PCA lines drawn, as (index of the axes, y values)."""
    return [
        (i, list(line.get_ydata()))
        for i, ax in enumerate(fig.axes)
        for line in ax.get_lines()
        if line.get_label().startswith("PCA-")
    ]


@pytest.fixture(scope="module")
def fallen_back(digits) -> tuple[aekit.AutoEncoder, FitResult]:
    """An undercomplete model trained on too few digits to beat PCA: it falls back."""
    model = aekit.AutoEncoder.build("undercomplete", input_dim=64, code_dim=8, seed=0)
    with pytest.warns(UserWarning, match="kept PCA's solution"):
        fit = aekit.fit(model, digits.train[:300], epochs=4, progress=False)
    assert fit.kept_pca and fit.pca_comparison is not None
    return model, fit


def test_the_level_is_measured_as_the_validation_curve_is(fallen_back):
    """The fallback's comparison holds the trained layers' validation error beside PCA's:
    the former is the validation curve at the epoch kept, so PCA's is in its units."""
    model, fit = fallen_back
    trained, pca, _ = fit.pca_comparison
    best = min(fit.history, key=lambda row: row["val_reconstruction"])
    assert trained == pytest.approx(best["val_reconstruction"], rel=1e-5)
    level = result.pca_level(model, fit, {"pca_squared_error": 123.0}, "test")
    assert level == PcaLevel(pca, 8, "the validation data", final=True)


def test_a_squared_error_panel_gets_the_line_and_the_fallback_is_said(fallen_back, tmp_path):
    model, fit = fallen_back
    level = result.pca_level(model, fit, {}, "validation")
    history = fit.history
    fig = plots.loss_curves(history, tmp_path / "c.png", "mse", "64 pixels", pca=level)
    lines = _pca_lines(fig)
    assert lines and all(ys == [level.error, level.error] for _, ys in lines)
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert f"PCA-8 on the validation data: {level.error:.4g} (the run's final model)" in labels
    assert "the run's final model is PCA-8 (the fallback)" in fig._suptitle.get_text()
    # on the axis's scale: the line lies within the panel's limits
    low, high = fig.axes[0].get_ylim()
    assert low < level.error < high


def test_no_line_on_a_cross_entropy_panel_but_the_fallback_is_said(digits):
    model = aekit.AutoEncoder.build(
        "undercomplete", input_dim=64, code_dim=8, loss="bce", pca_fallback=False
    )
    fit = aekit.fit(model, digits.train[:300], epochs=2, progress=False)
    level = PcaLevel(12.5, 8, "the validation data", final=True)
    fig = plots.loss_curves(fit.history, None, "bce", "64 pixels", pca=level)
    assert _pca_lines(fig) == []
    said = fig._suptitle.get_text()
    assert "final model is PCA-8" in said and "not drawn" in said and "cross-entropy" in said
    # and a run that did not fall back says nothing of it
    baseline = PcaLevel(12.5, 8, "the validation data")
    fig = plots.loss_curves(fit.history, None, "bce", "64 pixels", pca=baseline)
    assert fig._suptitle is None and _pca_lines(fig) == []


def test_the_line_is_on_the_reconstruction_panel_only(digits):
    """A sparse model's total adds its penalty, and its penalty is no squared error: PCA's
    level is drawn on the reconstruction panel alone."""
    model = aekit.AutoEncoder.build("sparse", input_dim=64, code_dim=16, loss="mse")
    fit = aekit.fit(model, digits.train[:300], epochs=2, progress=False)
    fig = plots.loss_curves(
        fit.history, None, "mse", "64 pixels", pca=PcaLevel(9.0, 16, "the test split")
    )
    titles = [ax.get_title() for ax in fig.axes]
    drawn_on = {titles[i] for i, _ in _pca_lines(fig)}
    assert drawn_on == {"reconstruction: squared error"}
    legend = fig.axes[titles.index("reconstruction: squared error")].get_legend()
    assert any(t.get_text().startswith("PCA-16 on the test split") for t in legend.get_texts())
    assert fig._suptitle is None  # the model is not PCA


def test_the_run_layer_chooses_a_level_measured_on_clean_held_out_inputs(fallen_back, digits):
    model, fit = fallen_back
    # a denoiser's comparison was on corrupted inputs, its curve on clean ones: the level
    # is PCA's on the clean held-out data instead
    denoiser = aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8)
    level = result.pca_level(denoiser, fit, {"pca_squared_error": 7.5}, "test")
    assert level == PcaLevel(7.5, 8, "the test split", final=True)
    no_comparison = FitResult(fit.history, 1, False, 0.0, 1)
    assert result.pca_level(model, no_comparison, {"pca_squared_error": 7.5}, "validation") == (
        PcaLevel(7.5, 8, "the validation data")
    )
    # none on the training data (no validation curve), none where PCA's error is unknown
    assert result.pca_level(model, no_comparison, {"pca_squared_error": 7.5}, "train") is None
    assert result.pca_level(model, no_comparison, {"pca_squared_error": None}, "test") is None


def test_a_scaled_model_says_its_loss_is_in_scaled_units():
    label = plots.loss_label("mse", "30 features", "standard")
    assert label == "squared error per sample (sum over 30 features, in standard-scaled units)"


@pytest.mark.slow
def test_a_run_that_falls_back_draws_pca_as_its_final_model(tmp_path, monkeypatch, digits):
    import numpy as np

    np.save(tmp_path / "few.npy", digits.train[:300].numpy())
    given = []
    real = result.run_figures
    monkeypatch.setattr(result, "run_figures", lambda *a: given.append(a[8]) or real(*a))
    config = {"data": {"source": str(tmp_path / "few.npy")}, "training": {"epochs": 4}}
    run = aekit.train(config, out=tmp_path / "r", progress=False)
    assert run.fit.kept_pca
    assert given == [PcaLevel(run.fit.pca_comparison[1], 8, "the validation data", True)]
    # PCA's validation error is metrics.json's PCA baseline on the same validation rows
    assert run.split == "validation"
    assert given[0].error == pytest.approx(run.metrics["pca_squared_error"], rel=1e-4)
    assert (tmp_path / "r" / "figures" / "curves.png").stat().st_size > 10_000


def test_the_line_is_drawn_on_the_zoomed_row_too(digits):
    """Where the first epochs would flatten the rest, the second row repeats the panel from
    a later epoch: PCA's level spans it too, within its scale."""
    model = aekit.AutoEncoder.build("linear", input_dim=64, code_dim=8, pca_fallback=False)
    fit = aekit.fit(model, digits.train[:200], epochs=30, progress=False, lr=0.01)
    level = PcaLevel(float(fit.final["val_reconstruction"]) * 0.8, 8, "the validation data")
    fig = plots.loss_curves(fit.history, None, "mse", "64 pixels", pca=level)
    assert plots.zoom_start([(*plots.curves.series(fit.history, "val_loss"), {})]) is not None
    assert sorted(i for i, _ in _pca_lines(fig)) == [0, 1]
    spans = [
        list(line.get_xdata())
        for ax in fig.axes
        for line in ax.get_lines()
        if line.get_label().startswith("PCA-")
    ]
    assert spans == [[0, 1], [0, 1]]  # from edge to edge of each panel (axes fractions)
    assert fig.axes[1].get_legend() is None  # no legend over the line on the zoomed row
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert low < level.error < high
