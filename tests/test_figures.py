"""Each figure drawn from a tiny trained model: the file is a PNG that is not blank, and
the data-bearing figures plot the model's own values."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
import torch

import aekit
from aekit.evaluation import plots


@pytest.fixture(scope="module")
def trained(digits):
    model = aekit.AutoEncoder.build(
        "denoising",
        input_dim=64,
        code_dim=2,
        hidden=[16],
        image_shape=(1, 8, 8),
        pca_fallback=False,  # 3 epochs lose to PCA: the figures are of the layers
    )
    result = aekit.fit(model, digits.train, epochs=3, progress=False)
    return model, result.history


def _png(path, min_bytes=2000):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > min_bytes
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.01  # not blank


def test_reconstruction_grid_shows_originals_corrupted_and_the_models_reconstructions(
    trained, digits, tmp_path
):
    model, _ = trained
    x = digits.test[:4].numpy()
    recon = model.reconstruct(x)
    fig = plots.reconstruction_grid(x, recon, tmp_path / "r.png", (1, 8, 8), corrupted=x * 0, n=4)
    _png(tmp_path / "r.png")
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 12  # 4 originals, 4 corrupted, 4 reconstructions
    np.testing.assert_allclose(images[8], recon[0].reshape(8, 8), rtol=1e-6)


def test_feature_errors_bars_are_the_mean_errors(trained, digits, tmp_path):
    model, _ = trained
    errors = aekit.evaluation.metrics.feature_errors(model, digits.test.numpy())
    fig = plots.feature_errors_plot(errors, tmp_path / "f.png")
    _png(tmp_path / "f.png")
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, errors.mean(0))


def test_filters_are_the_first_layer_weights(trained, tmp_path):
    model, _ = trained
    fig = plots.filters(model, tmp_path / "w.png", (1, 8, 8))
    _png(tmp_path / "w.png")
    first = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    weights = first.weight.detach().numpy()
    shown = {int(ax.get_title()): ax.images[0].get_array() for ax in fig.axes if ax.images}
    assert sorted(shown) == list(range(16))  # each unit once, titled by its number
    np.testing.assert_allclose(shown[3], weights[3].reshape(8, 8), rtol=1e-6)


def test_code_space_plots_the_codes(trained, digits, tmp_path):
    model, _ = trained
    x = digits.test.numpy()
    codes = model.encode(x)
    fig = plots.code_space(codes, tmp_path / "c.png", digits.test_labels)
    _png(tmp_path / "c.png")
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), codes, rtol=1e-6)


def test_loss_curves_have_one_panel_per_term_and_whole_epochs(tmp_path, digits):
    model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[], code_dim=25)
    history = aekit.fit(model, digits.train, epochs=3, progress=False).history
    fig = plots.loss_curves(history, tmp_path / "l.png", "mse", "64 pixels")
    _png(tmp_path / "l.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "total loss = squared error + kl_sparsity",
        "reconstruction: squared error",
        "kl_sparsity penalty",
    ]
    line = fig.axes[1].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [r["train_reconstruction"] for r in history])
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert all(float(t).is_integer() for t in ticks)


def test_activation_frequencies_count_active_units_the_metrics_way(tmp_path, digits):
    model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[], code_dim=25)
    aekit.fit(model, digits.train, epochs=3, progress=False)
    x = digits.test.numpy()
    fig = plots.activation_frequencies(model, x, tmp_path / "a.png")
    _png(tmp_path / "a.png", min_bytes=1000)
    codes = model.encode(x)
    np.testing.assert_allclose(fig.frequencies, (codes > 0.5).mean(0))
    m = aekit.evaluate(model, x)
    assert int((fig.frequencies == 0).sum()) == m["inactive_units"]
    assert len(fig.dead_units) == m["dead_units"]


def test_jacobian_spectrum_is_the_svd_of_the_encoder_jacobian(tmp_path, digits):
    plain = aekit.AutoEncoder.build(input_dim=64, hidden=[], code_dim=8, code_activation="sigmoid")
    x = digits.test[:5].numpy()
    fig = plots.jacobian_spectrum({"plain": plain}, x, tmp_path / "j.png")
    _png(tmp_path / "j.png", min_bytes=1000)

    def svd(row):
        jac = torch.autograd.functional.jacobian(
            lambda v: plain.encoder(v[None])[0], torch.as_tensor(row)
        )
        assert jac.shape == (8, 64)
        return torch.linalg.svdvals(jac).numpy()

    expected = np.mean([svd(row) for row in x], axis=0)
    np.testing.assert_allclose(fig.spectra["plain"], expected, rtol=1e-4)


def test_interpolation_starts_and_ends_at_the_two_reconstructions(trained, digits, tmp_path):
    model, _ = trained
    a, b = digits.test[0].numpy(), digits.test[1].numpy()
    fig = plots.interpolation(model, a, b, tmp_path / "i.png", (1, 8, 8))
    _png(tmp_path / "i.png", min_bytes=1000)
    np.testing.assert_allclose(fig.decoded[0], model.reconstruct(a[None])[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fig.decoded[-1], model.reconstruct(b[None])[0], rtol=1e-5, atol=1e-6)


def test_the_interpolation_runs_between_the_two_farthest_codes(trained, digits):
    """Its ends are the pair of the first 200 held-out samples whose codes lie farthest
    apart (brute force over every pair agrees), not the first two, which may be alike."""
    model, _ = trained
    codes = np.asarray(model.encode(digits.test[:300].numpy()))
    i, j = plots.distant_pair(codes)
    first = codes[:200].astype(np.float64)
    gaps = np.linalg.norm(first[:, None] - first[None, :], axis=-1)
    assert gaps[i, j] == pytest.approx(gaps.max(), rel=1e-9) and i != j
    assert plots.distant_pair(np.zeros((5, 3))) == (0, 1)  # all alike: the first two
    with pytest.raises(ValueError, match="two samples"):
        plots.distant_pair(codes[:1])


def test_pretraining_curves_and_score_histogram(tmp_path, trained):
    _, history = trained
    fig = plots.pretraining_curves(
        [history, history[:2], history], tmp_path / "p.png", ["bce", "mse", "mse"]
    )
    _png(tmp_path / "p.png", min_bytes=1000)
    # Losses in other units never share an axis: one panel per loss, each layer in its own.
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    assert legends == [
        ["layer 1 (cross-entropy)"],
        ["layer 2 (squared error)", "layer 3 (squared error)"],
    ]
    assert (
        "cross-entropy" in fig.axes[0].get_ylabel() and "squared error" in fig.axes[1].get_ylabel()
    )
    errors = np.random.default_rng(0).gamma(2.0, size=500)
    fig = plots.score_histogram(errors, 6.0, tmp_path / "s.png")
    _png(tmp_path / "s.png", min_bytes=1000)
    assert "above" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_tabular_runs_get_feature_errors_not_line_plots(tmp_path):
    from sklearn.datasets import load_breast_cancer

    run = aekit.train(
        {"training": {"epochs": 2}},
        data=load_breast_cancer().data.astype(np.float32),
        out=tmp_path / "t",
        progress=False,
    )
    names = {p.name for p in (run.path / "figures").iterdir()}
    assert "feature_errors.png" in names and "reconstructions.png" not in names
    assert {"curves.png", "codes.png"} <= names


def test_code_space_by_tsne(trained, digits, tmp_path):
    model, _ = trained
    wide = aekit.AutoEncoder.build(input_dim=64, hidden=[], code_dim=6)
    fig = plots.code_space(wide.encode(digits.test.numpy()[:40]), tmp_path / "t.png", method="tsne")
    _png(tmp_path / "t.png", min_bytes=1000)
    assert fig.axes[0].get_xlabel() == "t-SNE 1"
    with pytest.raises(ValueError, match="method must be"):
        plots.code_space(model.encode(digits.test.numpy()), method="umap")


def test_a_table_is_never_drawn_as_images(tmp_path):
    """A vector whose length is a square (4 features: 2x2; 64: 8x8) is not an image unless
    the data is known to be one (issue 25); a table's figures name its columns."""
    assert plots.as_image(np.arange(4.0), None) is None
    assert plots.as_image(np.arange(64.0), None) is None
    assert plots.as_image(np.arange(64.0), (1, 8, 8)).shape == (8, 8)
    from aekit.cli import main

    rng = np.random.default_rng(0)
    table = rng.normal(size=(80, 4)) * [1, 10, 100, 1000]
    header = "mpg,cyl,hp,weight\n"
    (tmp_path / "t.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in table))
    out = tmp_path / "r"
    argv = ["train", "--data", str(tmp_path / "t.csv"), "--epochs", "2", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    figures = {p.name for p in (out / "figures").iterdir()}
    assert "feature_errors.png" in figures
    assert not figures & {"reconstructions.png", "filters.png", "interpolation.png"}
    fig = plots.feature_errors_plot(np.ones((3, 4)), names=aekit.load(out).feature_names)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["mpg", "cyl", "hp", "weight"]
