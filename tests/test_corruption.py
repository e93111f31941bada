"""Corruptions have the configured statistics, compare against the clean input, and are
off outside training."""

from __future__ import annotations

import pytest
import torch

import aekit
from aekit.models.corruption import Corruption, GaussianNoise, Masking, SaltAndPepper

N = (2000, 100)  # 200,000 components: fractions are accurate to about 0.003


def test_gaussian_noise_has_the_configured_std():
    x = torch.rand(*N)
    noise = GaussianNoise(sigma=0.3)(x) - x
    assert abs(noise.mean().item()) < 0.005
    assert noise.std().item() == pytest.approx(0.3, abs=0.005)


def test_masking_zeroes_the_configured_fraction():
    x = torch.rand(*N) + 0.5  # no zeros before corruption
    out = Masking(nu=0.25)(x)
    zeroed = out == 0
    assert zeroed.float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.equal(out[~zeroed], x[~zeroed])  # the rest is untouched


def test_salt_and_pepper_sets_the_fraction_to_min_or_max():
    x = torch.full(N, 0.5)
    out = SaltAndPepper(nu=0.4)(x)
    low, high = (out == 0.0).float().mean().item(), (out == 1.0).float().mean().item()
    assert low + high == pytest.approx(0.4, abs=0.01)
    assert low == pytest.approx(0.2, abs=0.01) and high == pytest.approx(0.2, abs=0.01)
    assert torch.all((out == 0) | (out == 1) | (out == 0.5))


def test_salt_and_pepper_custom_range():
    out = SaltAndPepper(nu=1.0 - 1e-9, low=-1.0, high=2.0)(torch.zeros(1000, 10))
    assert set(out.unique().tolist()) == {-1.0, 2.0}


@pytest.mark.parametrize("corruption", [GaussianNoise(0.5), Masking(0.5), SaltAndPepper(0.5)])
def test_corruption_is_applied_in_training_only_and_loss_uses_clean_input(corruption, X):
    x = torch.as_tensor(X[:128])
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, corruption=corruption)
    plain = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    plain.load_state_dict(model.state_dict())
    model.eval()
    plain.eval()
    # eval: identical to the uncorrupted model, and repeatable
    torch.testing.assert_close(model(x)[0], plain(x)[0])
    torch.testing.assert_close(model(x)[0], model(x)[0])
    model.train()
    torch.manual_seed(3)
    noisy_loss = model(x)[0]
    # train: the loss equals the plain model's loss on corrupted inputs against clean targets
    torch.manual_seed(3)
    corrupted = corruption(x)
    expected = plain.reconstruction_loss(
        plain.decoder(plain.encoder(corrupted)), x, plain.output_activation
    )
    torch.testing.assert_close(noisy_loss, expected)
    assert not torch.allclose(noisy_loss, plain(x)[0])


def test_parse_and_serialise_round_trip():
    c = Corruption.parse("salt_and_pepper:nu=0.1,low=-1,high=1")
    assert c == SaltAndPepper(nu=0.1, low=-1.0, high=1.0)
    assert Corruption.from_json(c.to_json()) == c


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gaussian:sigma=-0.1", "sigma"),
        ("masking:nu=1.5", "nu"),
        ("masking:nu=-0.2", "nu"),
        ("salt_and_pepper:low=1,high=0", "low"),
        ("blur", "unknown corruption 'blur'"),
        ("masking:rate=0.1", "unknown setting"),
        ("masking:nu=abc", "expected float"),
        ("masking:nu", "key=value"),
    ],
)
def test_bad_corruption_specs_are_clear_errors(spec, message):
    with pytest.raises(aekit.ConfigError, match=message):
        Corruption.parse(spec)
