"""A VAE run's report and figures (issue #27): the ELBO's terms per epoch, samples from
the prior, interpolations between posterior means, the KL of each code unit with the
collapsed ones marked, and the collapse said in the report's text; on the digits."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage

import aekit
from aekit.cli import main
from aekit.evaluation.likelihood import COLLAPSED, collapsed_units, kl_per_unit
from aekit.evaluation.plots import elbo_curves, interpolation, kl_per_unit_plot, prior_samples
from aekit.evaluation.vae_figures import vae_figures
from aekit.models.vae import VAE, VAEConfig
from aekit.runs.captions import CAPTIONS, VAE_CAPTIONS
from aekit.runs.records import read_metrics
from aekit.runs.report import write_report

from .conftest import run_cli

SHAPE = (1, 8, 8)
VAE_FIGURES = {
    "elbo_curves.png",
    "reconstructions.png",
    "prior_samples.png",
    "interpolation.png",
    "kl_per_unit.png",
    "codes.png",
}


def vae(**settings) -> VAE:
    cfg = {"input_dim": 64, "code_dim": 4, "hidden": [16], "image_shape": SHAPE, **settings}
    return VAE.from_config(VAEConfig(**cfg), seed=0)


def hand_built(mean: list[float], logvar: list[float]) -> VAE:
    """A model whose posterior is N(mean, exp(logvar)) whatever the input: its KL per
    unit is known in closed form."""
    model = vae(code_dim=len(mean))
    last = model.encoder[-2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([*mean, *logvar]))
    return model


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A tiny VAE run on the digits by aekit.train, figures and report included."""
    out = tmp_path_factory.mktemp("vae-report") / "run"
    settings = {"kind": "vae", "hidden": [32], "code_dim": 4}
    config = {"model": settings, "training": {"epochs": 2}, "output": {"iwae_k": 5}}
    aekit.train(config, out=out, progress=False)
    return out


# ---- the figures ------------------------------------------------------------------------------


def test_the_kl_figure_marks_exactly_the_collapsed_units_in_red():
    # Units 1 and 3 at the prior (KL 0), unit 4 just under the threshold, 0 and 2 in use.
    mean, logvar = [1.0, 0.0, 0.3, 0.0, 0.1], [0.0, 0.0, -0.5, 0.0, 0.0]
    model = hand_built(mean, logvar)
    kl = kl_per_unit(model, torch.rand(20, 64))
    assert collapsed_units(kl) == [1, 3, 4] and kl[4] == pytest.approx(0.005)
    fig = kl_per_unit_plot(kl, samples=20)
    ax = fig.axes[0]
    red = {t.get_text() for t in ax.get_xticklabels() if t.get_color() == "C3"}
    assert red == {"1", "3", "4"} and fig.collapsed == [1, 3, 4]
    # Sorted by KL, largest first; each bar the unit's KL (at the floor where it is 0).
    assert fig.order == [0, 2, 4, 1, 3]
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, np.maximum(kl[fig.order], COLLAPSED / 1000), rtol=1e-12)
    colours = [bar.get_facecolor() for bar in ax.patches]
    assert colours[:2] != colours[2] and len(set(colours[2:])) == 1  # red, the collapsed
    threshold = [line for line in ax.get_lines() if "threshold" in line.get_label()]
    assert [tuple(line.get_ydata()) for line in threshold] == [(COLLAPSED, COLLAPSED)]
    assert "3 under 0.01 nats" in ax.get_title() and "on 20 held-out samples" in ax.get_title()
    # Some units inactive is no collapse: the legend says inactive, and collapse only of all.
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "inactive (KL under 0.01 nats): 3" in legend
    assert not any("collapse" in t for t in legend)
    every = kl_per_unit_plot(np.zeros(4)).axes[0].get_legend().get_texts()
    assert "inactive (KL under 0.01 nats): 4\nall: posterior collapse" in [
        t.get_text() for t in every
    ]
    # The tick labels are plain numbers, never math text.
    assert all("$" not in t.get_text() for t in ax.get_yticklabels())


def test_no_unit_is_red_where_every_unit_is_in_use():
    fig = kl_per_unit_plot(np.array([2.0, 0.5, 0.02]))
    assert fig.collapsed == [] and len(fig.axes[0].patches) == 3
    assert {t.get_color() for t in fig.axes[0].get_xticklabels()} != {"C3"}


def test_the_prior_samples_are_a_seeded_grid_of_n_images(tmp_path):
    model = vae()
    fig = prior_samples(model, tmp_path / "a.png", SHAPE, n=10, seed=3)
    images = [a for ax in fig.axes for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 10
    np.testing.assert_array_equal(fig.samples, model.sample(10, generator=3).numpy())
    np.testing.assert_array_equal(images[9].get_array(), fig.samples[9].reshape(8, 8))
    prior_samples(model, tmp_path / "b.png", SHAPE, n=10, seed=3)
    prior_samples(model, tmp_path / "c.png", SHAPE, n=10, seed=4)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()
    with pytest.raises(ValueError, match="give the data's image_shape"):
        prior_samples(model, None, None)


def test_the_interpolation_runs_between_the_two_samples_posterior_means(digits):
    model = vae()
    a, b = digits.test.numpy()[:2]
    fig = interpolation(model, a, b, None, SHAPE, steps=5)
    means = model.posterior(torch.from_numpy(np.stack([a, b])))[0].detach()
    ends = torch.sigmoid(model.decoder(means)).detach().numpy()
    np.testing.assert_allclose(fig.decoded[0], ends[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fig.decoded[-1], ends[1], rtol=1e-5, atol=1e-6)
    middle = torch.sigmoid(model.decoder(means.mean(0, keepdim=True))).detach().numpy()[0]
    np.testing.assert_allclose(fig.decoded[2], middle, rtol=1e-5, atol=1e-6)


def test_the_curves_are_the_elbos_terms_in_nats():
    history = [
        {"epoch": e, "train_reconstruction": 30.0 - e, "train_kl": 2.0 + e / 10,
         "val_reconstruction": 29.0 - e, "val_kl": 2.5, "train_loss": 31.0, "val_loss": 31.5}
        for e in (1, 2, 3)
    ]  # fmt: skip
    fig = elbo_curves(history, None, "bernoulli", "64 pixels", 8)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "negative ELBO = reconstruction + KL",
        "reconstruction: Bernoulli negative log-likelihood (cross-entropy)",
        "KL(q(z | x) || p(z))",
    ]
    labels = " ".join(ax.get_ylabel() for ax in fig.axes)
    assert "nats, sum over 64 pixels" in labels and "nats, sum over 8 code units" in labels
    # The first panel is the sum of the terms, epoch by epoch, for each split.
    training, validation = fig.axes[0].get_lines()[:2]
    np.testing.assert_allclose(training.get_ydata(), [31.1, 30.2, 29.3])
    np.testing.assert_allclose(validation.get_ydata(), [30.5, 29.5, 28.5])
    # Where the objective weighs the KL otherwise, it gets its own panel.
    weighed = [{**row, "train_kl_weighting": -1.0, "val_kl_weighting": 0.0} for row in history]
    fig = elbo_curves(weighed, None, "gaussian", None, 8)
    assert [ax.get_title() for ax in fig.axes][1:] == [
        "reconstruction: Gaussian negative log-likelihood",
        "KL(q(z | x) || p(z))",
        "training objective: reconstruction + weighted KL",
    ]


def test_table_data_gets_the_figures_that_need_no_image(digits, tmp_path):
    model = vae(image_shape=None)
    history = [{"epoch": 1, "train_reconstruction": 30.0, "train_kl": 1.0}]
    written = vae_figures(model, digits.test.numpy()[:50], tmp_path, history)
    assert {p.name for p in written} == {"elbo_curves.png", "kl_per_unit.png", "codes.png"}
    assert all(p.is_file() for p in written)


# ---- the report -------------------------------------------------------------------------------


def test_the_report_of_a_vae_run_has_its_figures_and_says_its_likelihood(vae_run):
    figures = {p.name for p in (vae_run / "figures").iterdir()}
    assert figures == VAE_FIGURES
    page = (vae_run / "report.html").read_text()
    alts = re.findall(r"<img alt='([^']+)'", page)
    assert alts == [
        "reconstructions.png",
        "elbo_curves.png",
        "prior_samples.png",
        "kl_per_unit.png",
        "codes.png",
        "interpolation.png",
    ]
    for name in VAE_FIGURES:  # every figure captioned, a VAE's own caption where it has one
        assert VAE_CAPTIONS.get(name, CAPTIONS[name])[:60] in page.replace("&#x27;", "'")
    # A VAE's captions speak of a VAE: no corruption, its codes its posterior means.
    assert "denoising" not in page and "corrupted" not in page
    assert "codes, their posterior means, in two dimensions" in page
    assert "<h2>Likelihood and the code</h2>" in page
    metrics = json.loads((vae_run / "metrics.json").read_text())
    assert f"at most {metrics['iwae_nll']:.4g} nats a sample" in page
    assert "k=5;" in page and f"KL {metrics['kl']:.4g}" in page


def test_the_report_says_the_collapse_in_bold(vae_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(vae_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    for active, said in ((0, "posterior collapse: every code unit"), (1, "3 of 4 code units")):
        (run / "metrics.json").write_text(json.dumps({**metrics, "active_units": active}))
        page = write_report(run).read_text()
        note = re.search(r"<p class='code-note'>(.*?)</p>", page).group(1)
        assert note.startswith(f"<strong>code: {said}")
        assert "(the figure of the KL per unit numbers them, in red)" in note
    (run / "metrics.json").write_text(json.dumps({**metrics, "active_units": 4}))
    note = re.search(r"<p class='code-note'>(.*?)</p>", write_report(run).read_text()).group(1)
    assert note == "code: all 4 code units in use (each carries 0.01 nats or more)"


def test_an_autoencoders_report_has_no_likelihood(sparse_run, tmp_path):
    page = write_report(sparse_run, tmp_path / "r.html").read_text()
    page = re.sub(r"base64,[^']*", "", page)  # the words, not the images' bytes
    assert "Likelihood and the code" not in page
    # Its captions are an autoencoder's: no VAE's posterior means in them.
    assert "The held-out samples&#x27; codes in two dimensions" in page
    assert "posterior" not in page and "VAE" not in page


# A decoder far wider than the encoder and a KL weight of 4 from the first step: the
# code is given up (every unit at the prior). About 10 s of CPU.
COLLAPSE = ["--kind", "vae", "--arch", "64-32-16", "--decoder-hidden", "512,512"]
COLLAPSE += ["--beta", "4", "--kl-warmup-epochs", "0", "--epochs", "10", "--iwae-k", "10"]


@pytest.mark.slow
def test_a_collapsed_run_says_so_at_its_end_and_in_its_report(tmp_path):
    done = run_cli("train", *COLLAPSE, "--out", str(tmp_path / "c"), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "\ncode: posterior collapse: every code unit carries under 0.01 nats" in done.stdout
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["active_units"] == 0
    page = (tmp_path / "c" / "report.html").read_text()
    assert "<strong>code: posterior collapse: every code unit" in page
    kl = kl_per_unit(aekit.load(tmp_path / "c"), aekit.load_digits().test)
    assert collapsed_units(kl) == list(range(16))


# ---- --iwae-k is a VAE's: refused for an autoencoder, by every door that takes it ----------

REFUSED = "the sparse kind is an autoencoder, judged by its reconstruction error: leave it out"


def test_iwae_k_for_an_autoencoder_is_refused_by_every_command(sparse_run, tmp_path, capsys):
    run = str(sparse_run)
    before = {p.name: p.read_bytes() for p in sparse_run.iterdir() if p.is_file()}
    out = tmp_path / "scores.csv"
    commands = [
        ["evaluate", run, "--iwae-k", "5"],
        ["score", run, "digits", "-o", str(out), "--iwae-k", "5"],
        ["train", "--resume", run, "--iwae-k", "5", "--epochs", "6"],
        # at its default too: a flag that does nothing is not taken in silence
        ["train", "--kind", "sparse", "--iwae-k", "100", "--out", str(tmp_path / "new")],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        said = " ".join(capsys.readouterr().err.split())
        assert said.count("aekit: error") == 1 and REFUSED in said, said
        assert "--iwae-k" in said and "--kind vae" in said
    # In a config file, at its default too.
    config = tmp_path / "sparse.json"
    config.write_text(json.dumps({"model": {"kind": "sparse"}, "output": {"iwae_k": 100}}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "new")]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert said.count("aekit: error") == 1 and REFUSED in said and "output.iwae_k" in said, said
    assert not out.exists() and not (tmp_path / "new").exists()
    assert {p.name: p.read_bytes() for p in sparse_run.iterdir() if p.is_file()} == before
    # From Python the same, in Python's words.
    with pytest.raises(aekit.ConfigError, match=r"output\.iwae_k is the samples of a VAE's"):
        aekit.train({"model": {"kind": "sparse"}, "output": {"iwae_k": 7}}, out=tmp_path / "p")
    with pytest.raises(aekit.ConfigError, match=r"output\.iwae_k is the samples of a VAE's"):
        aekit.train({"model": {"kind": "sparse"}, "output": {"iwae_k": 100}}, out=tmp_path / "p")
    with pytest.raises(aekit.ConfigError, match=REFUSED):
        aekit.resume(sparse_run, iwae_k=5)
    with pytest.raises(
        aekit.ConfigError,
        match="iwae_k is the samples of a VAE's importance-weighted bound, and the",
    ):
        aekit.score(sparse_run, aekit.load_digits().test, iwae_k=5)
    assert not (tmp_path / "p").exists()


def test_iwae_k_below_one_is_refused_up_front_by_every_door(vae_run, tmp_path, capsys):
    run = str(vae_run)
    before = {p.name: p.read_bytes() for p in vae_run.iterdir() if p.is_file()}
    out, new = tmp_path / "scores.csv", tmp_path / "new"
    commands = [
        ["evaluate", run, "--data", "digits", "--iwae-k", "0"],
        ["score", run, "digits", "-o", str(out), "--iwae-k", "-3"],
        ["train", "--resume", run, "--iwae-k", "0", "--epochs", "6"],
        ["train", "--kind", "vae", "--iwae-k", "0", "--epochs", "1", "--out", str(new)],
    ]
    for argv in commands:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage error: the flag's type refused it
            code = exc.code
        assert code == 2, argv
        said = " ".join(capsys.readouterr().err.split())
        assert said.count("error:") == 1 and "internal error" not in said, said
        assert "iwae" in said and ">= 1 (1 is the ELBO, 5000 the figure papers report)" in said
    assert not out.exists() and not new.exists()  # no run folder left
    assert {p.name: p.read_bytes() for p in vae_run.iterdir() if p.is_file()} == before
    # From Python the same: a ConfigError before anything is read or made.
    digits = aekit.load_digits().test
    for call in (
        lambda: aekit.evaluate(vae_run, digits, iwae_k=0),
        lambda: aekit.score(vae_run, digits, iwae_k=0),
        lambda: aekit.resume(vae_run, iwae_k=0),
        lambda: aekit.train({"model": {"kind": "vae"}, "output": {"iwae_k": 0}}, out=new),
    ):
        with pytest.raises(aekit.ConfigError, match=r"iwae_k.* must be .*>= 1 \(1 is the ELBO"):
            call()
    assert not new.exists()
    assert aekit.OutputConfig(iwae_k=1).iwae_k == 1  # the least allowed


def test_the_inactive_units_are_recorded_and_named_by_every_door(vae_run, tmp_path, capsys):
    metrics = json.loads((vae_run / "metrics.json").read_text())
    assert isinstance(metrics["inactive_unit_numbers"], list)  # recorded by the run
    assert len(metrics["inactive_unit_numbers"]) == 4 - metrics["active_units"]
    run = tmp_path / "run"
    shutil.copytree(vae_run, run)
    named = {**metrics, "active_units": 2, "inactive_unit_numbers": [1, 3]}
    (run / "metrics.json").write_text(json.dumps(named))
    said = "code: 2 of 4 code units inactive (units 1, 3: each carries under 0.01 nats"
    assert said in write_report(run).read_text()  # the report's text
    assert main(["info", str(run)]) == 0  # aekit info
    assert said in capsys.readouterr().out
    assert main(["evaluate", str(run), "--iwae-k", "2"]) == 0  # measured again: its own
    printed = capsys.readouterr().out
    assert "\ncode: " in printed and "inactive_unit_numbers" not in printed  # words, not a list
    # metrics.json is read, not trusted: a list of anything else is refused, naming it.
    (run / "metrics.json").write_text(json.dumps({**named, "inactive_unit_numbers": [-1]}))
    with pytest.raises(aekit.CheckpointError, match="inactive_unit_numbers"):
        read_metrics(run)
