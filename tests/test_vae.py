"""The variational autoencoder family (models/vae.py) and its likelihood
(evaluation/likelihood.py): the ELBO's terms, the importance-weighted bound, collapse,
free bits, the warm-up, run folders and a bitwise resume, on the digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

import aekit
from aekit.evaluation.likelihood import (
    collapse_note,
    collapsed_units,
    elbo,
    evaluate_vae,
    iwae_nll,
    judged_data,
    kl_per_unit,
    log_likelihood,
)
from aekit.models.vae import VAE, VAEConfig

FAST = dict(progress=False, seed=0)


def vae(**settings) -> VAE:
    return VAE.from_config(VAEConfig(**{"input_dim": 64, "code_dim": 4, **settings}), seed=0)


def hand_built(mean: list[float], logvar: list[float], **settings) -> VAE:
    """A model whose posterior is N(mean, exp(logvar)) whatever the input."""
    model = vae(code_dim=len(mean), **settings)
    last = model.encoder[-2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([*mean, *logvar]))
    return model


@pytest.fixture(scope="module")
def trained(digits) -> VAE:
    model = vae(hidden=[64], code_dim=4)
    aekit.fit(model, digits.train, epochs=15, **FAST)
    return model


@pytest.fixture(scope="module")
def collapsed(digits) -> VAE:
    """A decoder too powerful for its code: wide, beta 1, no warm-up."""
    model = vae(hidden=[32], decoder_hidden=[512, 512], code_dim=16)
    aekit.fit(model, digits.train, epochs=20, **FAST)
    return model


def test_the_config_round_trips_and_refuses_what_cannot_be_built():
    cfg = VAEConfig(input_dim=64, code_dim=4, hidden=[32], beta=4.0, free_bits=0.1)
    assert VAEConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(aekit.ConfigError, match="not both"):
        VAEConfig(input_dim=64, code_dim=4, kl_warmup_epochs=2, kl_warmup_steps=10)
    with pytest.raises(aekit.ConfigError, match="Bernoulli"):
        VAEConfig(input_dim=64, code_dim=4, decoder="gaussian", binarize=True)
    with pytest.raises(aekit.ConfigError, match="beta"):
        VAEConfig(input_dim=64, code_dim=4, beta=-1.0)


def test_the_kl_term_is_the_closed_form_of_the_posterior():
    mean, logvar = [0.5, -1.0, 0.0], [0.2, -0.7, 1.3]
    model = hand_built(mean, logvar).eval()
    with torch.no_grad():
        _, terms = model(torch.rand(5, 64))
    q, p = Normal(torch.tensor(mean), torch.exp(0.5 * torch.tensor(logvar))), Normal(0.0, 1.0)
    expected = kl_divergence(q, p)
    by_hand = sum(0.5 * (m * m + math.exp(v) - 1 - v) for m, v in zip(mean, logvar, strict=True))
    assert float(terms["kl"]) == pytest.approx(float(expected.sum()), rel=1e-6)
    assert float(terms["kl"]) == pytest.approx(by_hand, rel=1e-6)
    np.testing.assert_allclose(kl_per_unit(model, torch.rand(7, 64)), expected, rtol=1e-6)


@pytest.mark.parametrize("variance", ["fixed", "learned"])
def test_the_gaussian_decoder_is_a_normal_log_likelihood(variance):
    model = vae(decoder="gaussian", decoder_variance=variance, decoder_sigma=0.3)
    if variance == "learned":
        with torch.no_grad():
            model.log_sigma.copy_(torch.linspace(-1, 0.5, 64))
    mean, x = torch.randn(3, 64), torch.randn(3, 64)
    sigma = torch.exp(model._log_sigma().detach())
    expected = -Normal(mean, sigma).log_prob(x).sum(1)
    torch.testing.assert_close(model.reconstruction_nll(mean, x), expected)
    if variance == "learned":  # the variance trains
        loss, _ = model.train()(torch.randn(8, 64))
        loss.backward()
        assert model.log_sigma.grad is not None and bool(model.log_sigma.grad.abs().sum() > 0)


def test_the_elbo_and_the_importance_weighted_bounds_agree(trained, digits):
    x = digits.test
    bound = elbo(trained, x)
    assert bound.elbo == pytest.approx(-(bound.reconstruction + bound.kl))
    # IWAE_1 is the ELBO in expectation: over rows and seeds, within its standard error.
    ones = torch.stack([log_likelihood(trained, x, 1, seed=s) for s in range(8)])
    elbos = [elbo(trained, x, seed=s).elbo for s in range(8)]
    standard_error = float(ones.mean(0).std()) / len(x) ** 0.5
    assert float(ones.mean()) == pytest.approx(np.mean(elbos), abs=4 * standard_error)
    # The bound rises with k, and stays above the ELBO.
    nll = {k: iwae_nll(trained, x, k) for k in (1, 10, 100)}
    assert -bound.elbo > nll[10] > nll[100]
    assert nll[1] > nll[10]
    # Chunked to fit a small memory budget (40 samples of a row at a time), the same
    # figure within its noise (other draws).
    small = iwae_nll(trained, x[:60], 100, memory=75_000)
    assert small == pytest.approx(iwae_nll(trained, x[:60], 100), abs=0.05)
    # Seeded: the same call, the same figure; the caller's generator untouched.
    before = torch.get_rng_state()
    assert iwae_nll(trained, x, 10) == nll[10]
    assert torch.equal(torch.get_rng_state(), before)


def test_collapse_is_said_for_a_too_powerful_decoder_and_not_for_a_healthy_one(
    collapsed, trained, digits
):
    kl = kl_per_unit(collapsed, digits.test)
    assert len(collapsed_units(kl)) >= 4
    note = collapse_note(kl)
    # Some units inactive: said as normal, not as posterior collapse.
    units = ", ".join(map(str, collapsed_units(kl)[:10]))
    assert note is not None and f"of 16 code units inactive (units {units}" in note
    assert f"{units}{' ...' if len(collapsed_units(kl)) > 10 else ''}: each carries under " in note
    assert "each carries under 0.01 nats of KL on held-out data)" in note
    # The run's metrics name them too (metrics.json, and from it every door's code: line).
    judged = evaluate_vae(collapsed, digits.test, iwae_k=1)
    assert judged["inactive_unit_numbers"] == collapsed_units(kl)
    assert judged["active_units"] == 16 - len(collapsed_units(kl))
    assert "normal for a VAE" in note and not note.startswith("posterior collapse")
    assert collapse_note(kl_per_unit(trained, digits.test)) is None
    # Every unit inactive: posterior collapse, said with what to do.
    everything = collapse_note(np.zeros(3))
    assert everything.startswith("posterior collapse: every code unit")
    assert "KL warm-up" in everything and "units 0, 1, 2" in everything


def test_free_bits_hold_each_unit_at_its_floor(digits):
    model = vae(hidden=[32], decoder_hidden=[512, 512], code_dim=16, free_bits=0.5)
    result = aekit.fit(model, digits.train, epochs=10, **FAST)
    for row in result.history:  # the objective's KL: each unit counts at least 0.5 nats
        assert row["train_kl"] + row["train_kl_weighting"] >= 16 * 0.5
    kl = kl_per_unit(model, digits.test)
    assert collapsed_units(kl) == [] and kl.min() > 0.3


def test_the_kl_warms_up_as_the_trainer_says_where_training_stands(digits):
    model = vae(kl_warmup_epochs=4)
    result = aekit.fit(model, digits.train, epochs=6, **FAST)
    # The objective's KL less the KL, as a share of the KL: epoch 1 weighs the KL at 0 ..
    # 1/4 (1/8 on average: a share of -7/8), epoch 4 at 3/4 .. 1 (-1/8); then whole.
    share = [row["train_kl_weighting"] / row["train_kl"] for row in result.history]
    assert share[:4] == pytest.approx([-7 / 8, -5 / 8, -3 / 8, -1 / 8], abs=0.05)
    assert share[4:] == [0.0, 0.0]
    assert all(row["val_kl_weighting"] == 0 for row in result.history)  # validation: the ELBO
    model.set_progress(step=10, epochs=1.0)
    assert float(model.kl_scale) == 0.25
    steps = vae(kl_warmup_steps=100)
    steps.set_progress(step=30, epochs=5.0)
    assert float(steps.kl_scale) == pytest.approx(0.3)


def test_a_run_folder_saves_and_loads_the_vae(digits, tmp_path):
    model = vae(hidden=[32], beta=2.0)
    result = aekit.fit(model, digits.train, epochs=2, run_dir=tmp_path / "run", **FAST)
    assert {"train_reconstruction", "train_kl", "val_kl"} <= set(result.final)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["family"] == "vae" and saved["model"]["beta"] == 2.0
    loaded = aekit.load(tmp_path / "run")
    assert isinstance(loaded, VAE) and loaded.config == model.config
    x = digits.test.numpy()
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    torch.testing.assert_close(loaded.sample(5, generator=3), model.sample(5, generator=3))
    gaussian = vae(decoder="gaussian")  # with its learned standard deviations
    gaussian.save(tmp_path / "gaussian")
    back = aekit.load(tmp_path / "gaussian")
    assert torch.equal(back.log_sigma, gaussian.log_sigma.detach())


def test_a_resumed_run_ends_bitwise_identical_noise_included(digits, tmp_path):
    """Binarisation, the sampled codes and the warm-up all continue where they stood."""

    class Crash(RuntimeError):
        pass

    def crash(trainer, row):
        if row["epoch"] == 3:
            raise Crash

    def model():
        return vae(hidden=[32], binarize=True, kl_warmup_steps=60, free_bits=0.05)

    settings = dict(epochs=4, checkpoint_every_steps=7, checkpoint_seconds=None, **FAST)
    whole = model()
    aekit.fit(whole, digits.train, run_dir=tmp_path / "whole", **settings)
    with pytest.raises(Crash):
        aekit.fit(model(), digits.train, run_dir=tmp_path / "cut", callbacks=[crash], **settings)
    resumed = model()
    aekit.fit(resumed, digits.train, run_dir=tmp_path / "cut", **settings)
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_binarised_data_is_drawn_fresh_in_training_and_once_when_judged(digits):
    model = vae(binarize=True)
    x = digits.test[:50]
    judged = judged_data(model, x)
    assert set(judged.unique().tolist()) <= {0.0, 1.0} and torch.equal(
        judged, judged_data(model, x)
    )
    assert torch.equal(judged_data(vae(), x), x)  # grey data is judged as it is
    model.train()
    torch.manual_seed(1)
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(x)
    assert float(a) != float(b)


def test_samples_come_from_the_prior_seeded(trained):
    a, b = trained.sample(6, generator=5), trained.sample(6, generator=5)
    assert a.shape == (6, 64) and torch.equal(a, b) and 0 <= float(a.min()) <= float(a.max()) <= 1
    drawn = trained.sample(6, generator=5, mean=False)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}
    codes = np.zeros((2, 4), dtype=np.float32)
    assert trained.decode(codes).shape == (2, 64)
    with pytest.raises(aekit.DataError, match="codes must have shape"):
        trained.decode(np.zeros((2, 5), dtype=np.float32))


def test_a_convolutional_vae_trains(digits):
    model = vae(architecture="conv", image_shape=(1, 8, 8), conv_channels=[8], hidden=[16])
    result = aekit.fit(model, digits.train, epochs=1, **FAST)
    assert math.isfinite(result.final["val_loss"])
    assert model.encode(digits.test[:3]).shape == (3, 4)
    assert model.reconstruct(digits.test[:3]).shape == (3, 64)


def test_data_outside_the_bernoulli_range_is_refused(digits):
    with pytest.raises(aekit.DataError, match="Bernoulli"):
        aekit.fit(vae(), digits.train.numpy() * 16, epochs=1, **FAST)
