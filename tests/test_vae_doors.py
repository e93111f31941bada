"""The variational autoencoder through every door the autoencoders have: ``aekit train
--kind vae`` (its flags, its defaults, the run folder, the report, resume, info),
``aekit evaluate`` and ``aekit.evaluate`` (the bound), ``aekit score`` and ``aekit.score``
(the negative ELBO), ``aekit sample`` and ``aekit.sample``, and the scikit-learn
transformer and outlier detector with ``kind="vae"``. On the digits, in process."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit
from aekit.cli import main
from aekit.evaluation.likelihood import code_note, likelihood_words, sample_scores
from aekit.models.kinds import get_kind, kind_names
from aekit.models.vae import VAE, VAEConfig
from aekit.sklearn import AutoEncoderOutlierDetector, AutoEncoderTransformer

QUIET = ["--no-progress"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A VAE trained by ``aekit train --kind vae`` on the digits, and what it printed."""
    out = tmp_path_factory.mktemp("vae") / "run"
    printed = _main(["train", "--kind", "vae", "--epochs", "8", "--out", str(out), *QUIET])
    return out, printed


def _main(argv):
    """``aekit`` in this process: its stdout (it must succeed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()
    return out.getvalue()


def _fails(argv, capsys) -> str:
    """``aekit`` in this process, refusing: its one line of error."""
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


# ---- aekit train --kind vae ---------------------------------------------------------------


def test_train_writes_a_vae_run_and_says_its_bound_and_its_code(run):
    out, printed = run
    saved = json.loads((out / "config.json").read_text())
    assert saved["family"] == "vae" and saved["model"]["kind"] == "vae"
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"elbo", "reconstruction_nll", "kl", "iwae_nll", "active_units"} <= set(metrics)
    assert metrics["iwae_k"] == 100 and metrics["split"] == "test"
    # The bound in nats, tighter than the ELBO; the reconstruction beside PCA's.
    assert metrics["iwae_nll"] < -metrics["elbo"]
    assert metrics["elbo"] == pytest.approx(-(metrics["reconstruction_nll"] + metrics["kl"]))
    assert "trained vae 64-128-128-8 on digits" in printed
    assert "likelihood: test negative log-likelihood at most" in printed
    assert "(the importance-weighted bound, k=100; --iwae-k 5000 gives" in printed
    assert "of one seeded binary draw of the data" in printed  # binarised by default
    # Why this decoder: the data chose it, and the flag for the other is named.
    assert "\nchosen from the data: a bernoulli decoder: the data is nearly binary" in printed
    assert "(--decoder gaussian for grey values)" in printed
    assert "\ncode: " in printed and "\nbaseline: PCA-8 " in printed
    # The report draws the curves of the objective's terms.
    assert {"elbo_curves.png", "reconstructions.png", "codes.png", "kl_per_unit.png"} <= {
        p.name for p in (out / "figures").iterdir()
    }
    assert "elbo_curves.png" in (out / "report.html").read_text()
    model = aekit.load(out)
    assert isinstance(model, VAE) and model.config.kl_warmup_epochs == 5


def test_the_defaults_follow_the_data(tmp_path):
    # Data in [0, 1]: a Bernoulli decoder, dynamically binarised; two layers of 2 x 64.
    grey = aekit.RunConfig(model={"kind": "vae"}).model_config(64)
    assert (grey.decoder, grey.binarize, grey.scaling) == ("bernoulli", True, "none")
    assert grey.hidden == [128, 128] and grey.code_dim == 8 and grey.kl_warmup_epochs == 5
    # MNIST's size: Burda et al.'s 200-200.
    assert aekit.RunConfig(model={"kind": "vae"}).model_config(784).arch == "784-200-200-30"
    # Real-valued data: a Gaussian decoder on standardised inputs, from the command too.
    np.save(tmp_path / "x.npy", aekit.load_digits().train.numpy()[:300] * 5 - 2)
    out = tmp_path / "g"
    argv = ["train", "--kind", "vae", "--data", str(tmp_path / "x.npy"), "--epochs", "2"]
    printed = _main([*argv, "--out", str(out), *QUIET])
    model = aekit.load(out)
    assert (model.config.decoder, model.config.scaling) == ("gaussian", "standard")
    assert "(of the data in the model's units: scaled, standard)" in printed
    assert float(model.input_scale.min()) > 0  # fitted to the training data


def test_the_vae_settings_are_flags_and_config_keys(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["train", "--kind", "vae", "--arch", "64-32-4", "--beta", "2", "--free-bits", "0.1"]
    argv += ["--kl-warmup-steps", "20", "--no-binarize", "--decoder-hidden", "16,32"]
    _main([*argv, "--epochs", "1", "--iwae-k", "7", "--out", str(out), *QUIET])
    cfg = aekit.load(out).config
    assert (cfg.beta, cfg.free_bits, cfg.kl_warmup_steps, cfg.kl_warmup_epochs) == (2, 0.1, 20, 0)
    assert (cfg.binarize, cfg.decoder_hidden, cfg.hidden, cfg.code_dim) == (
        False,
        [16, 32],
        [32],
        4,
    )
    assert json.loads((out / "metrics.json").read_text())["iwae_k"] == 7
    # The same from a config file, and from Python.
    file = tmp_path / "vae.json"
    file.write_text(json.dumps({"model": {"kind": "vae", "beta": 3.0, "code_dim": 2}}))
    assert aekit.RunConfig.from_file(file).model_config(64).beta == 3.0
    # A setting of another family is refused, naming whose it is.
    said = _fails(
        ["train", "--kind", "sparse", "--beta", "2", "--out", str(tmp_path / "x")], capsys
    )
    assert "model.beta is not a setting of the sparse kind; it belongs to the vae kind" in said
    said = _fails(["train", "--kind", "vae", "--penalty", "l1:lam=0.1"], capsys)
    assert "model.penalties is not a setting of the vae kind; it belongs to the autoencoder" in said
    said = _fails(["train", "--kind", "vae", "--pretrain", "greedy"], capsys)
    assert "the vae kind trains whole" in said
    assert not (tmp_path / "x").exists()


def test_help_lists_the_vae_kind_and_its_settings(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--kind vae: its own model settings (it also takes --code-dim, --hidden" in text
    assert "(default: bernoulli for nearly binary data in [0, 1] (as pen strokes: half its" in text
    assert "--beta BETA weight of the KL term (beta-VAE; 1 is the ELBO) (default: 1.0)" in text
    assert "vae" in kind_names() and get_kind("vae").model_class is VAE


def test_a_vae_run_resumes_and_info_describes_it(run, tmp_path, capsys):
    out = tmp_path / "r"
    _main(["train", "--kind", "vae", "--epochs", "2", "--out", str(out), "--no-report", *QUIET])
    _main(["train", "--resume", str(out), "--epochs", "3", "--iwae-k", "3", *QUIET])
    assert len((out / "metrics.csv").read_text().splitlines()) == 4
    assert json.loads((out / "metrics.json").read_text())["iwae_k"] == 3
    info = _main(["info", str(run[0])])
    assert "kind         vae" in info and "VAE 64-128-128-8-128-128-64 (tanh)" in info
    assert "iwae_nll" in info and "parameters   " in info


# ---- evaluate, score, sample ------------------------------------------------------------------


def test_evaluate_gives_the_bound(run, capsys):
    out, _ = run
    metrics = aekit.evaluate(out)
    stored = json.loads((out / "metrics.json").read_text())
    assert metrics["iwae_nll"] == pytest.approx(stored["iwae_nll"])
    assert metrics["iwae_k"] == 100 and "pca_squared_error" in metrics
    more = aekit.evaluate(out, iwae_k=400)
    assert more["iwae_k"] == 400 and more["iwae_nll"] < metrics["iwae_nll"] + 0.05
    printed = _main(["evaluate", str(out), "--iwae-k", "20"])
    assert "likelihood: test negative log-likelihood at most" in printed and "k=20;" in printed
    autoencoder = aekit.AutoEncoder.build(input_dim=64, code_dim=4)
    with pytest.raises(
        aekit.ConfigError,
        match="iwae_k is the samples of a VAE's importance-weighted bound, and the",
    ):
        aekit.evaluate(autoencoder, aekit.load_digits().test, iwae_k=10)


def test_score_is_the_negative_elbo_of_each_sample(run, tmp_path, capsys):
    out, _ = run
    test = aekit.load_digits().test.numpy()
    scores = aekit.score(out, test)
    assert scores.shape == (len(test),) and scores.dtype == np.float64
    # Each sample's score is its own: the same alone, in another batch, in another order.
    np.testing.assert_array_equal(aekit.score(out, test[7:9]), scores[7:9])
    np.testing.assert_array_equal(aekit.score(out, test[::-1]), scores[::-1])
    # On average about the ELBO's negative (one draw of z per sample, the data as given).
    assert scores.mean() == pytest.approx(-aekit.evaluate(out)["elbo"], rel=0.15)
    _main(["score", str(out), "digits", "-o", str(tmp_path / "s.csv")])
    rows = list(csv.reader((tmp_path / "s.csv").open()))
    assert rows[0] == ["negative_elbo"]
    np.testing.assert_allclose([float(r[0]) for r in rows[1:]], scores)
    argv = ["score", str(out), "digits", "-o", str(tmp_path / "k.csv"), "--iwae-k", "10"]
    printed = _main([*argv, "--contamination", "0.05"])
    assert "the negative importance-weighted bound (k=10, nats) of 360 samples" in printed
    assert "; 18 above" in printed
    header = (tmp_path / "k.csv").read_text().splitlines()[0]
    assert header == "negative_iwae,outlier"
    said = _fails(
        ["score", str(out), "digits", "-o", str(tmp_path / "f.csv"), "--per-feature"], capsys
    )
    assert "a VAE scores each sample as a whole" in said


def test_sample_draws_from_the_prior_seeded(run, tmp_path, capsys):
    out, _ = run
    a, b, c = (tmp_path / f"{n}.png" for n in "abc")
    _main(["sample", str(out), "-n", "64", "-o", str(a), "--seed", "3"])
    _main(["sample", str(out), "-n", "64", "-o", str(b), "--seed", "3"])
    _main(["sample", str(out), "-n", "64", "-o", str(c), "--seed", "4"])
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    from PIL import Image

    assert Image.open(a).size == (8 * 34 + 2, 8 * 34 + 2)  # 8 x 8 images of 32 pixels
    printed = _main(["sample", str(out), "-n", "5", "-o", str(tmp_path / "s.npy"), "--draw"])
    drawn = np.load(tmp_path / "s.npy")
    # Images as the run saw them, which aekit reads back.
    assert drawn.shape == (5, 8, 8) and set(np.unique(drawn)) <= {0.0, 1.0}
    assert "shaped (5, 8, 8)" in printed
    assert aekit.score(out, drawn).shape == (5,)
    assert "drawn from p(x | z)" in printed
    means = aekit.sample(out, 5, seed=1)
    np.testing.assert_array_equal(means, aekit.sample(aekit.load(out), 5, seed=1))
    assert 0 <= means.min() <= means.max() <= 1
    autoencoder = tmp_path / "ae"
    _main(["train", "--epochs", "1", "--out", str(autoencoder), "--no-report", *QUIET])
    said = _fails(["sample", str(autoencoder), "-o", str(tmp_path / "x.png")], capsys)
    assert "samples are drawn from a VAE's prior" in said
    said = _fails(["sample", str(out), "-o", str(tmp_path / "x.csv")], capsys)
    assert "output must end in .png or .npy" in said
    said = _fails(["sample", str(out), "-o", str(tmp_path / "x.npy"), "--seed", "-1"], capsys)
    assert "seed must be in [0, 2**63 - 1], got -1" in said


def test_a_picture_of_samples_needs_images(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((100, 5), dtype=np.float32))
    out = tmp_path / "r"
    argv = ["train", "--kind", "vae", "--data", str(tmp_path / "x.npy"), "--epochs", "1"]
    _main([*argv, "--out", str(out), "--no-report", *QUIET])
    said = _fails(["sample", str(out), "-o", str(tmp_path / "s.png")], capsys)
    assert "was not trained on images" in said
    _main(["sample", str(out), "-n", "3", "-o", str(tmp_path / "s.npy")])
    assert np.load(tmp_path / "s.npy").shape == (3, 5)


# ---- the code's use, in words -------------------------------------------------------------


def test_inactive_units_are_normal_and_every_unit_inactive_is_collapse():
    assert code_note(8, 8).startswith("all 8 code units in use")
    some = code_note(5, 8)
    assert some.startswith("3 of 8 code units inactive") and "normal for a VAE" in some
    assert "not posterior collapse" in some
    assert code_note(0, 8).startswith("posterior collapse: every code unit carries under")
    cfg = VAEConfig(input_dim=64, code_dim=8)
    metrics = {"iwae_nll": 30.0, "iwae_k": 5000, "elbo": -31.0, "reconstruction_nll": 29.0}
    lines = likelihood_words(cfg, {**metrics, "kl": 2.0, "active_units": 0}, "test")
    assert "k=5000)" in lines[0] and lines[1].startswith("code: posterior collapse")
    assert "density" not in lines[0]  # a Bernoulli decoder's: a probability of the data
    # A Gaussian decoder's negative log-likelihood is a density's: said so, as it may be < 0.
    gaussian = VAEConfig(input_dim=64, code_dim=8, decoder="gaussian", scaling="standard")
    lines = likelihood_words(gaussian, {**metrics, "iwae_nll": -107.3, "active_units": 8}, "test")
    assert "at most -107.3 nats" in lines[0]
    assert lines[0].endswith(
        "nats (of the data in the model's units: scaled, standard); a Gaussian decoder's "
        "likelihood is a density of continuous data: it can be negative, and compares only "
        "between models of the same data in the same units"
    )


# ---- scikit-learn ---------------------------------------------------------------------------

QUICK = {"kind": "vae", "epochs": 3, "random_state": 0}


# scikit-learn's whole check suite for the two VAE estimators (about a minute): in the slow
# suite; the next test covers what the VAE changes in them (codes, scores) in the default one.
@pytest.mark.slow
@parametrize_with_checks([AutoEncoderTransformer(**QUICK), AutoEncoderOutlierDetector(**QUICK)])
def test_scikit_learn_estimator_checks_of_the_vae(estimator, check):
    check(estimator)


def test_the_transformer_gives_posterior_means_and_the_detector_scores_by_the_elbo(X):
    vae = AutoEncoderTransformer(kind="vae", code_dim=4, epochs=20, random_state=0).fit(X)
    assert isinstance(vae.model_, VAE)
    codes = vae.transform(X[:10])
    mean, _ = vae.model_.posterior(torch.as_tensor(X[:10]))
    np.testing.assert_allclose(codes, mean.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert vae.score_samples(X[:5]).shape == (5,)
    detector = AutoEncoderOutlierDetector(kind="vae", epochs=20, random_state=0).fit(X)
    scores = detector.score_samples(X)
    np.testing.assert_array_equal(scores, -sample_scores(detector.model_, torch.as_tensor(X)))
    noise = np.random.default_rng(0).random((20, 64)).astype(np.float32)
    assert (detector.predict(noise) == -1).all()  # noise is far less likely than digits
    assert (detector.predict(X) == -1).mean() < 0.1
    with pytest.raises(aekit.ConfigError, match="no per-feature errors"):
        detector.feature_errors(X)
    with pytest.raises(aekit.ConfigError, match=r"model\.loss is not a setting of the vae kind"):
        AutoEncoderTransformer(kind="vae", loss="bce", epochs=1).fit(X)


def test_the_vaes_own_settings_are_estimator_parameters(X, tmp_path):
    X = X[:200]  # a fit of one epoch on a few digits: the settings are what is checked
    from sklearn.base import clone

    from aekit.sklearn import VAE_PARAMS, load

    assert set(VAE_PARAMS) == {
        "beta", "kl_warmup_epochs", "kl_warmup_steps", "free_bits", "decoder",
        "decoder_variance", "decoder_sigma", "binarize", "decoder_hidden",
    }  # fmt: skip
    settings = {"beta": 2.0, "kl_warmup_epochs": 0.0, "free_bits": 0.1, "binarize": False}
    vae = AutoEncoderTransformer(kind="vae", decoder_hidden="32,16", epochs=1, **settings)
    # The scikit-learn way: get_params, set_params, clone, a saved estimator.
    assert {k: vae.get_params()[k] for k in settings} == settings
    again = clone(vae).set_params(beta=3.0, kl_warmup_steps=10, kl_warmup_epochs=None)
    assert again.beta == 3.0 and vae.beta == 2.0 and clone(again).kl_warmup_steps == 10
    cfg = vae.fit(X).model_.config
    assert (cfg.beta, cfg.kl_warmup_epochs, cfg.free_bits, cfg.binarize) == (2.0, 0.0, 0.1, False)
    assert cfg.decoder_hidden == [32, 16] and cfg.kl_warmup_steps == 0
    assert load(vae.save(tmp_path / "t")).get_params() == vae.get_params()
    assert again.fit(X).model_.config.kl_warmup_steps == 10
    gaussian = {"decoder": "gaussian", "decoder_variance": "fixed", "decoder_sigma": 0.5}
    detector = AutoEncoderOutlierDetector(kind="vae", epochs=1, **gaussian).fit(X)
    cfg = detector.model_.config
    assert (cfg.decoder, cfg.decoder_variance, cfg.decoder_sigma) == ("gaussian", "fixed", 0.5)
    # Refused for an autoencoder, naming the fix; and a VAE setting's own checks hold.
    with pytest.raises(aekit.ConfigError, match=r"beta=2\.0: the VAE's own setting, and kind="):
        AutoEncoderTransformer(beta=2.0, epochs=1).fit(X)
    said = r"'sparse' is an autoencoder: leave them as None, or set kind=\"vae\""
    with pytest.raises(aekit.ConfigError, match=said):
        AutoEncoderOutlierDetector(kind="sparse", beta=2.0, free_bits=1.0, epochs=1).fit(X)
    with pytest.raises(aekit.ConfigError, match="not both"):
        AutoEncoderTransformer(kind="vae", kl_warmup_epochs=1, kl_warmup_steps=5).fit(X)


def test_the_decoder_follows_the_data_pen_strokes_bernoulli_grey_photographs_gaussian(tmp_path):
    """Nearly binary data in [0, 1] (the digits: 65% of values within 0.1 of 0 or 1) gets
    the Bernoulli decoder; patches of a grey photograph (scikit-learn's bundled china.jpg:
    7%) the Gaussian one, on the values as they are; data outside [0, 1] the Gaussian one,
    standardised."""
    from sklearn.datasets import load_sample_image

    from aekit.data.validation import nearly_binary

    digits = aekit.load_digits().train
    grey = load_sample_image("china.jpg").mean(-1)[:256, :256] / 255
    image = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))
    patches = image.unfold(0, 8, 8).unfold(1, 8, 8).reshape(-1, 64)  # 1,024 patches
    assert nearly_binary(digits) and not nearly_binary(patches)
    assert nearly_binary(torch.tensor([[0.0, 1.0, 0.5, 0.95]]))  # 3 of 4 near 0 or 1
    assert not nearly_binary(torch.tensor([[0.0, 0.5, 0.5, 0.5]]))  # 1 of 4
    assert nearly_binary(torch.tensor([[float("nan"), 0.0]]))  # missing entries aside

    def decoder(data: torch.Tensor) -> tuple[str, bool, str]:
        config = {"model": {"kind": "vae"}, "training": {"epochs": 1}}
        config["output"] = {"report": False, "progress": False}
        run = aekit.train(config, data=data.numpy(), out=tmp_path / str(len(data)))
        c = run.model.config
        return c.decoder, c.binarize, c.scaling

    assert decoder(digits[:300]) == ("bernoulli", True, "none")
    assert decoder(patches[:301]) == ("gaussian", False, "none")
    assert decoder(patches[:302] * 255) == ("gaussian", False, "standard")
    # A decoder given is the user's, whatever the data.
    est = AutoEncoderTransformer(kind="vae", epochs=1, random_state=0).fit(patches.numpy())
    assert est.model_.config.decoder == "gaussian"
    given = dict(kind="vae", decoder="bernoulli", epochs=1, random_state=0)
    assert AutoEncoderTransformer(**given).fit(patches.numpy()).model_.config.binarize
