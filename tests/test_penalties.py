"""Penalties: each changes the gradients; the contractive variants agree with the full
autograd Jacobian; KL sparsity reaches its target rate; top-k keeps exactly k units."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import aekit
from aekit.models.penalties import Contractive, KLSparsity, L1Sparsity, jacobian_sq_norm


def full_jacobian_sq_norm(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||J||_F^2 per sample from torch.autograd.functional.jacobian, one sample at a time."""
    norms = []
    for xi in x:
        J = torch.autograd.functional.jacobian(lambda z: encoder(z.unsqueeze(0)).squeeze(0), xi)
        norms.append(J.pow(2).sum())
    return torch.stack(norms)


def encoder_grads(model: aekit.AutoEncoder, x: torch.Tensor) -> torch.Tensor:
    model.zero_grad()
    loss, _ = model(x)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.encoder.parameters()])


@pytest.mark.parametrize(
    "penalty",
    [
        L1Sparsity(lam=0.1),
        KLSparsity(rho=0.05, beta=3.0),
        Contractive(lam=0.5, method="closed_form"),
        Contractive(lam=0.5, method="exact"),
        Contractive(lam=0.5, method="estimate", projections=4),
    ],
    ids=["l1", "kl", "contractive-closed", "contractive-exact", "contractive-estimate"],
)
def test_every_penalty_changes_the_gradients(penalty, X):
    x = torch.as_tensor(X[:64])
    torch.manual_seed(1)
    one_layer = {"input_dim": 64, "code_dim": 16, "hidden": [], "code_activation": "sigmoid"}
    plain = aekit.AutoEncoder.build(**one_layer)
    penalised = aekit.AutoEncoder.build(**one_layer, penalty=penalty)
    penalised.load_state_dict(plain.state_dict())
    _, terms = penalised(x)
    assert set(terms) == {"reconstruction", penalty.name}
    assert terms[penalty.name].item() > 0
    g_plain, g_pen = encoder_grads(plain, x), encoder_grads(penalised, x)
    assert not torch.allclose(g_plain, g_pen, rtol=1e-4, atol=1e-6)


def test_top_k_changes_the_gradients(X):
    x = torch.as_tensor(X[:64])
    dense = aekit.AutoEncoder.build(input_dim=64, code_dim=16)
    sparse = aekit.AutoEncoder.build(input_dim=64, code_dim=16, top_k=4)
    sparse.load_state_dict(dense.state_dict())
    assert not torch.allclose(encoder_grads(dense, x), encoder_grads(sparse, x))


def test_contractive_closed_form_matches_full_jacobian(X):
    encoder = nn.Sequential(nn.Linear(64, 20), nn.Sigmoid())
    x = torch.as_tensor(X[:16])
    expected = full_jacobian_sq_norm(encoder, x)
    closed = jacobian_sq_norm(encoder, x, method="closed_form")
    torch.testing.assert_close(closed, expected, rtol=1e-5, atol=1e-7)
    # "auto" picks the closed form for this encoder and must give the same numbers.
    torch.testing.assert_close(jacobian_sq_norm(encoder, x), expected, rtol=1e-5, atol=1e-7)


def test_contractive_exact_matches_full_jacobian_for_a_deep_encoder(X):
    model = aekit.AutoEncoder.build(
        input_dim=64, hidden=[32, 16], code_dim=6, activation="tanh", code_activation="sigmoid"
    )
    x = torch.as_tensor(X[:16])
    expected = full_jacobian_sq_norm(model.encoder, x)
    torch.testing.assert_close(
        jacobian_sq_norm(model.encoder, x, method="exact"), expected, rtol=1e-5, atol=1e-7
    )


def test_contractive_estimate_is_unbiased(X):
    model = aekit.AutoEncoder.build(
        input_dim=64, hidden=[32], code_dim=6, activation="tanh", code_activation="sigmoid"
    )
    x = torch.as_tensor(X[:8])
    expected = full_jacobian_sq_norm(model.encoder, x)

    def draws(n: int, projections: int = 1) -> torch.Tensor:
        """n independent estimates for each row of x, shape (n, 8): the estimate draws its
        directions row by row, so one call on x repeated n times gives n draws a row."""
        with torch.no_grad():
            estimates = jacobian_sq_norm(
                model.encoder, x.repeat(n, 1), method="estimate", projections=projections
            )
        return estimates.reshape(n, len(x))

    single = draws(4000)
    mean, stderr = single.mean(0), single.std(0) / np.sqrt(len(single))
    # Unbiased: the average of many single-projection estimates is within 4 standard errors.
    assert torch.all((mean - expected).abs() < 4 * stderr + 1e-7), (mean, expected, stderr)
    # More projections per estimate: lower variance around the same value.
    many = draws(200, projections=16)
    assert torch.all(many.std(0) < single.std(0))


def test_contractive_penalty_value_is_lambda_times_mean_norm(X):
    penalty = Contractive(lam=0.3)
    encoder = nn.Sequential(nn.Linear(64, 10), nn.Sigmoid())
    x = torch.as_tensor(X[:32])
    value = penalty(encoder(x), x, encoder)
    torch.testing.assert_close(
        value, 0.3 * full_jacobian_sq_norm(encoder, x).mean(), rtol=1e-5, atol=1e-7
    )


def test_kl_sparsity_reaches_the_target_rate(X):
    rho = 0.1
    model = aekit.AutoEncoder.build(
        "sparse", input_dim=64, code_dim=32, penalties=[KLSparsity(rho=rho, beta=3.0)]
    )
    aekit.fit(model, X, epochs=60, batch_size=64, lr=3e-3, progress=False, val_fraction=0)
    mean_activation = aekit.evaluate(model, X)["mean_activation"]
    assert abs(mean_activation - rho) < 0.02, mean_activation


def test_kl_penalty_formula():
    code = torch.tensor([[0.2, 0.5], [0.4, 0.5]])  # rho_hat = [0.3, 0.5]
    rho = 0.1
    expected = sum(
        rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r)) for r in (0.3, 0.5)
    )
    assert KLSparsity(rho=rho, beta=2.0)(code, None, None).item() == pytest.approx(
        2 * expected, rel=1e-5
    )


def test_top_k_codes_have_exactly_k_nonzeros(X):
    model = aekit.AutoEncoder.build("topk", input_dim=64, code_dim=20, top_k=5)
    aekit.fit(model, X, epochs=3, progress=False)
    codes = model.encode(X)
    assert codes.shape == (len(X), 20)
    assert np.all((codes != 0).sum(axis=1) == 5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: KLSparsity(rho=0.0), "rho"),
        (lambda: KLSparsity(rho=1.5), "rho"),
        (lambda: KLSparsity(beta=-1.0), "beta"),
        (lambda: L1Sparsity(lam=-0.1), "lam"),
        (lambda: Contractive(projections=0), "projections"),
        (lambda: aekit.AutoEncoder.build(input_dim=64, code_dim=8, top_k=9), "top_k"),
        (
            lambda: aekit.AutoEncoder.build(
                "sparse", input_dim=64, code_dim=8, code_activation="relu"
            ),
            "sigmoid",
        ),
        (
            lambda: aekit.AutoEncoder.build(
                input_dim=64, hidden=[16], code_dim=8, penalty=Contractive(method="closed_form")
            ),
            "one-layer sigmoid",
        ),
    ],
)
def test_bad_penalty_parameters_are_clear_errors(make, message):
    with pytest.raises(aekit.ConfigError, match=message):
        make()


if "l2_code" not in aekit.PENALTIES:

    @aekit.PENALTIES.register("l2_code")
    @dataclasses.dataclass(frozen=True)
    class L2Code(aekit.Penalty):
        """The README's example of a new penalty."""

        lam: float = 1e-3

        def __call__(self, code, inputs, encoder):
            return self.lam * code.pow(2).sum(1).mean()


def test_a_new_registered_penalty_works_everywhere(X, tmp_path):
    penalty = aekit.Penalty.parse("l2_code:lam=0.01")
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, penalty=penalty)
    result = aekit.fit(model, X, epochs=1, progress=False)
    assert "train_l2_code" in result.final
    model.save(tmp_path / "run")
    assert aekit.load(tmp_path / "run").config.penalties == [penalty]
