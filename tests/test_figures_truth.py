"""What each figure claims, checked (issue 28, "figures that tell the truth"): every curve
names its loss and units, a log axis has labelled ticks where the curve ends, runs with
different losses never share an axis, filters share one colour scale centred at 0 with the
pixels the training data barely uses masked, dead units stand apart from live ones, the
code space's colour bar has its ticks on the bands' centres, and a user's string is drawn
as it is."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pytest
import torch

import aekit
from aekit.evaluation import metrics, plots

HOSTILE = ["m$x_$y", "m$\\frac{1}{2}$"]


def _history(epochs=300, start=10.0, end=1.09, key="reconstruction", val_gap=0.01):
    """A loss falling fast from ``start`` over the first epochs, then slowly to ``end``."""
    rows = []
    for e in range(1, epochs + 1):
        value = end + (start - end) * (0.8 * math.exp(-(e - 1) / 4) + 0.2 * math.exp(-e / 60))
        row = {"epoch": float(e), f"train_{key}": value, f"val_{key}": value + val_gap}
        row["train_loss"], row["val_loss"] = row[f"train_{key}"], row[f"val_{key}"]
        rows.append(row)
    return rows


def _labelled_ticks(ax):
    """The y ticks that carry a label, within the axis."""
    lo, hi = ax.get_ylim()
    labels = ax.yaxis.get_major_formatter().format_ticks(ax.get_yticks())
    return [(t, s) for t, s in zip(ax.get_yticks(), labels, strict=True) if lo <= t <= hi and s]


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def test_a_curve_names_its_loss_and_its_units():
    mse = plots.loss_curves(_history(20), loss="mse", summed_over="64 pixels")
    assert mse.axes[0].get_title() == "reconstruction loss: squared error"
    assert mse.axes[0].get_ylabel() == "squared error per sample\n(sum over 64 pixels)"
    bce = plots.loss_curves(_history(20, 40, 15), loss="bce", summed_over="64 pixels")
    assert bce.axes[0].get_ylabel() == "cross-entropy per sample\n(nats, sum over 64 pixels)"
    assert plots.summed_over(64, (1, 8, 8)) == "64 pixels"
    assert plots.summed_over(3072, (3, 32, 32)) == "3072 pixel values"
    assert plots.summed_over(30) == "30 features"


def test_the_log_axis_has_labelled_ticks_where_the_curve_ends():
    """A curve from 10 down to 1.09: a log axis with at least four labelled ticks, one in
    the bottom quarter where the curve ends (the issue's panel had none below 5 for a
    curve ending at 2.3)."""
    for start, end in ((10.0, 1.09), (40.0, 2.3), (25.0, 0.04), (5.0, 1.2)):
        fig = plots.loss_curves(_history(300, start, end), loss="mse")
        ax = fig.axes[0]
        assert ax.get_yscale() == "log"
        ticks = [t for t, _ in _labelled_ticks(ax)]
        assert len(ticks) >= 4, (start, end, ticks)
        lo, hi = (math.log10(v) for v in ax.get_ylim())
        assert (math.log10(min(ticks)) - lo) / (hi - lo) <= 0.3, (start, end, ticks)
        assert (hi - math.log10(max(ticks))) / (hi - lo) <= 0.3, (start, end, ticks)
        assert all("$" not in s for _, s in _labelled_ticks(ax))  # plain numbers


@pytest.mark.parametrize(
    "lo,hi", [(1.09, 9.8), (2.3, 40), (14.8, 40), (0.04, 26), (1, 1.5e4), (0.5, 1.4), (3e-5, 2e-4)]
)
def test_log_ticks_cover_both_ends(lo, hi):
    ticks = plots.log_ticks(lo, hi)
    assert len(ticks) >= 4 and ticks == sorted(ticks)
    bottom, top = min(lo, ticks[0]), max(hi, ticks[-1])
    assert bottom >= lo / 1.25 and top <= hi * 1.25  # the axis grows by at most a quarter
    span = math.log10(top / bottom)
    assert math.log10(ticks[0] / bottom) <= span / 4 + 1e-9
    assert math.log10(top / ticks[-1]) <= span / 4 + 1e-9


def test_the_first_epochs_do_not_flatten_the_rest():
    """300 epochs whose first ones span 10 to 2 and the rest 1.5 to 1.09: a second row
    shows the epochs after the first tenth on a linear scale, filling its panel."""
    history = _history(300)
    fig = plots.loss_curves(history, loss="mse")
    full, zoom = fig.axes
    assert zoom.get_yscale() == "linear" and "epochs 31-300" in zoom.get_title()
    curves = [line for line in zoom.lines if line.get_label() in ("training", "validation")]
    assert len(curves) == 2
    shown = np.concatenate([line.get_ydata() for line in curves])
    lo, hi = zoom.get_ylim()
    assert (shown.max() - shown.min()) / (hi - lo) > 0.8
    assert min(line.get_xdata()[0] for line in curves) == 31
    # a short run needs no zoom; the lowest validation epoch is marked
    assert len(plots.loss_curves(_history(10)).axes) == 1
    best = plots.lowest_validation(history)
    assert any(f"epoch {best}" in t.get_text() for t in full.get_legend().get_texts())


def test_the_comparison_puts_each_loss_on_its_own_axis_and_ranks_runs_on_one_measure():
    runs = [
        ("undercomplete", _history(50, 10, 1.2), "mse"),
        ("deep", _history(50, 40, 15), "bce"),
        ("sparse", _history(50, 9, 0.96), "mse"),
    ]
    fig = plots.compare_curves(runs, summed_over="64 pixels")
    top = [ax for ax in fig.axes if "validation solid" in ax.get_title()]
    assert [ax.get_ylabel().split("\n")[0] for ax in top] == [
        "squared error per sample",
        "cross-entropy per sample",
    ]
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in top]
    assert legends == [["undercomplete", "sparse"], ["deep"]]
    fig = plots.compare_errors(
        [name for name, _, _ in runs], [1.207, 0.6652, 0.9651], [1.577, 1.577, 0.3308]
    )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "held-out squared error per sample (lower is better)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["undercomplete", "deep", "sparse"]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [1.207, 0.6652, 0.9651])
    best = [t.get_text() for t in ax.texts if "best" in t.get_text()]
    assert best == [" 0.6652  best"]


def test_a_missing_error_says_so_and_draws_no_bar():
    fig = plots.compare_errors(["a", "b"], [None, 0.5])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [" n/a", " 0.5  best"]
    assert [p.get_width() for p in fig.axes[0].patches] == [0.0, 0.5]


class _Stub:
    """A dense first layer with given weights, for the filters figure."""

    def __init__(self, weights):
        import torch

        self.encoder = torch.nn.Sequential(torch.nn.Linear(weights.shape[1], weights.shape[0]))
        with torch.no_grad():
            self.encoder[0].weight.copy_(torch.as_tensor(weights))


def test_filters_share_one_scale_centred_at_0_and_mask_the_unused_pixels():
    rng = np.random.default_rng(0)
    weights = rng.normal(scale=0.1, size=(6, 16)).astype(np.float32)
    weights[2] *= 10  # one strong unit: the others are drawn faint beside it
    weights[:, 0] = 50.0  # huge weights on a pixel the data never uses: no say in the scale
    data = rng.random((200, 16))
    data[:, 0] = 0.0  # never inked
    data[:, 5] = 0.5 + rng.normal(scale=0.001, size=200)  # barely varies
    fig = plots.filters(_Stub(weights), image_shape=(1, 4, 4), data=data)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 6
    limits = {im.get_clim() for im in images}
    assert len(limits) == 1
    (vmin, vmax) = limits.pop()
    assert vmin == -vmax and vmax < 5  # one symmetric scale, set by the used pixels
    bars = [im.colorbar for im in images if im.colorbar is not None]
    assert len(bars) == 1 and bars[0].mappable.get_clim() == (vmin, vmax)
    masks = {np.ma.getmaskarray(im.get_array()).tobytes() for im in images}
    assert len(masks) == 1
    mask = np.ma.getmaskarray(images[0].get_array()).ravel()
    assert mask[0] and mask[5] and mask.sum() == 2
    np.testing.assert_array_equal(plots.unused_pixels(data, (1, 4, 4)).ravel(), mask)
    # the strongest unit first, each titled by its number
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles[0] == "2" and sorted(titles) == [str(i) for i in range(6)]
    assert images[0].cmap.get_bad()[:3] == pytest.approx(matplotlib.colors.to_rgb("0.55"))


def test_pixel_variance_is_one_pass_over_blocks_of_any_data(tmp_path):
    """The filters' mask needs each pixel's variance over the training data: over blocks
    combined, of an array, a tensor or data on disk, over given rows only."""
    import torch

    from aekit.data.streaming import open_disk_array

    rng = np.random.default_rng(0)
    data = (rng.random((103, 6)) * [1, 10, 100, 0, 1e-3, 1] + [0, 5, 1e4, 1, 0, 0]).astype(
        np.float32
    )
    np.save(tmp_path / "d.npy", data)
    rows = rng.permutation(103)[:71]
    for given in (data, torch.from_numpy(data), open_disk_array(tmp_path / "d.npy")):
        for block in (7, 4096):
            got = plots.pixel_variance(given, block=block)
            np.testing.assert_allclose(got, data.astype(np.float64).var(0), rtol=1e-9, atol=1e-12)
            got = plots.pixel_variance(given, torch.as_tensor(rows), block=block)
            want = data[rows].astype(np.float64).var(0)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert plots.pixel_variance(data, rows[:0]).tolist() == [0.0] * 6


def _filters_mask(fig):
    return np.ma.getmaskarray(fig.axes[0].images[0].get_array()).ravel()


def test_the_filters_mask_comes_from_the_data_the_model_trained_on(digits, tmp_path, monkeypatch):
    """run_figures was given only the held-out data, and greyed the pixels it barely uses;
    a run's training variance, where given, decides."""
    from aekit.data.streaming import open_disk_array
    from aekit.evaluation.plots import run as plots_run
    from aekit.runs.config import RunConfig
    from aekit.runs.result import training_variance, validation_rows

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(3, 16)).astype(np.float32)
    train = rng.random((200, 16))
    held = train[:50].copy()
    held[:, 3] = 0.5  # constant in the held-out data, varied in training: drawn, not grey
    train[:, 7] = 0.0  # never inked in training: grey
    variance = plots.pixel_variance(train)
    fig = plots.filters(_Stub(weights), image_shape=(1, 4, 4), variance=variance)
    assert np.flatnonzero(_filters_mask(fig)).tolist() == [7]
    fig = plots.filters(_Stub(weights), image_shape=(1, 4, 4), data=held)
    assert np.flatnonzero(_filters_mask(fig)).tolist() == [3]  # without it: the data given
    # A run: the variance of the rows it trained on, not of its validation rows.
    model = aekit.AutoEncoder.build("sparse", input_dim=64, code_dim=8, image_shape=(1, 8, 8))
    cfg = RunConfig.from_dict({"training": {"val_fraction": 0.25}})
    rows = validation_rows(digits, cfg)
    want = digits.train[rows[0]].double().numpy().var(0)
    np.testing.assert_allclose(training_variance(model, digits, rows), want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        training_variance(model, digits, None), digits.train.double().numpy().var(0), rtol=1e-9
    )
    np.save(tmp_path / "train.npy", digits.train.numpy())
    on_disk = aekit.Dataset("disk", open_disk_array(tmp_path / "train.npy"), None, (1, 8, 8))
    got = training_variance(model, on_disk, rows)  # data on disk: its rows only are read
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    tabular = aekit.AutoEncoder.build("sparse", input_dim=64, code_dim=8)
    assert training_variance(tabular, digits, rows) is None  # no filters drawn: not computed
    drawn = []
    real = plots_run.filters
    monkeypatch.setattr(plots_run, "filters", lambda *a, **k: drawn.append(real(*a, **k)))
    odd = np.arange(64) % 2 * 1.0  # the even pixels never vary in this "training data"
    plots.run_figures(model, digits.test.numpy(), tmp_path, train_variance=odd)
    assert _filters_mask(drawn[0]).tolist() == (odd == 0).tolist()


def test_a_run_draws_its_filters_mask_from_the_rows_it_trained_on(tmp_path, monkeypatch):
    from aekit.runs import result

    given = []
    real = result.run_figures
    monkeypatch.setattr(result, "run_figures", lambda *a: given.append(a[7]) or real(*a))
    config = {"model": {"kind": "sparse"}, "training": {"epochs": 1}}
    run = aekit.train(config, out=tmp_path / "r", progress=False)
    rows = result.validation_rows(run.data, run.config)
    want = run.data.train[rows[0]].double().numpy().var(0)
    np.testing.assert_allclose(given[0], want, rtol=1e-9, atol=1e-12)


def test_dead_units_stand_apart_from_live_ones(digits):
    model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[], code_dim=25)
    aekit.fit(model, digits.train, epochs=3, progress=False)
    with torch.no_grad():  # two units the same whatever the input: dead
        model.encoder[0].weight[[4, 9]] = 0.0
    x = digits.test.numpy()
    fig = plots.activation_frequencies(model, x)
    ax = fig.axes[0]
    freq = fig.frequencies
    assert fig.dead_units == [4, 9] == metrics.dead_code_units(model, x)
    assert aekit.evaluate(model, x)["dead_units"] == 2
    # one bar a live unit, one red cross a dead one, at its share active (0 here)
    assert len(ax.patches) == len(freq) - 2
    crosses = [c for c in ax.collections if c.get_label().startswith("dead units")]
    assert len(crosses) == 1 and len(crosses[0].get_offsets()) == 2
    assert np.all(crosses[0].get_offsets()[:, 1] == 0)
    red = [t.get_text() for t in ax.get_xticklabels() if t.get_color() == "C3"]
    assert sorted(int(u) for u in red) == [4, 9]
    heights = sorted((p.get_height() for p in ax.patches), reverse=True)
    assert heights == sorted(np.delete(freq, [4, 9]).tolist(), reverse=True)


def test_dead_units_are_drawn_even_when_every_unit_is_dead():
    """The issue's histogram put 25 units in its first bin: here 3 dead of 4 stand apart."""

    class Coded:
        penalties = ()
        config = aekit.AutoEncoder.build(input_dim=8, hidden=[], code_dim=4).config

        def encode(self, x):
            codes = np.zeros((len(x), 4), dtype=np.float32)
            codes[::100, 0] = 1.0  # unit 0 fires on 1% of the samples
            return codes

    fig = plots.activation_frequencies(Coded(), np.zeros((500, 4), dtype=np.float32))
    ax = fig.axes[0]
    assert len(ax.patches) == 1 and ax.patches[0].get_height() == pytest.approx(0.01)
    assert len(ax.collections[0].get_offsets()) == 3
    assert "dead (the same value on every sample): 1-3 of 4" in ax.get_title()


@pytest.mark.parametrize("labels", [np.arange(10), np.array([3, 7, 11]), np.array([0.5, 1.5])])
def test_the_code_space_colour_bar_ticks_sit_on_the_bands_centres(labels):
    rng = np.random.default_rng(0)
    y = np.repeat(labels, 20)
    fig = plots.code_space(rng.normal(size=(len(y), 2)), labels=y)
    bar = fig.axes[0].collections[0].colorbar
    bounds = bar.norm.boundaries
    centres = (bounds[:-1] + bounds[1:]) / 2
    np.testing.assert_allclose(bar.get_ticks(), centres)
    assert [t.get_text() for t in bar.ax.get_yticklabels()] == [f"{v:g}" for v in labels]
    # each point's colour is its label's band
    index = fig.axes[0].collections[0].get_array()
    np.testing.assert_array_equal(np.asarray(labels)[np.asarray(index, dtype=int)], y)


def test_a_users_string_is_drawn_as_the_text_it_is(tmp_path):
    """A run named m$x_$y made matplotlib fail (mathtext); m$\\frac{1}{2}$ was drawn ½."""
    fig = plots.compare_errors(HOSTILE, [1.0, 2.0], path=tmp_path / "e.png")
    labels = [t for t in fig.axes[0].get_yticklabels()]
    assert [t.get_text() for t in labels] == HOSTILE
    assert all(not t.get_parse_math() for t in _texts(fig))
    fig = plots.compare_curves([(name, _history(5), "mse") for name in HOSTILE], tmp_path / "c.png")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == HOSTILE
    assert all(not t.get_parse_math() for t in _texts(fig))
    fig = plots.feature_errors_plot(np.ones((2, 2)), tmp_path / "f.png", names=HOSTILE)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == HOSTILE
    # drawn as text: as wide as the plain string, not as a fraction
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure was closed when saved
    tick = fig.axes[0].get_xticklabels()[1]
    tick.set_rotation(0)
    size = tick.get_fontsize()
    with plt.rc_context(plots.PLAIN_TEXT):
        plain = fig.text(0, 0, HOSTILE[1], fontsize=size).get_window_extent(renderer).width
    math_text = fig.text(0, 0, HOSTILE[1], fontsize=size).get_window_extent(renderer).width
    assert tick.get_window_extent(renderer).width == pytest.approx(plain, rel=0.05)
    assert plain > 1.5 * math_text  # the test can tell the two apart
    # and matplotlib's own setting is left as it was
    assert matplotlib.rcParams["text.parse_math"] is True
