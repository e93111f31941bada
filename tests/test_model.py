"""The model: every architecture builds from parts, losses have the field's scale, tied
weights are shared, a linear autoencoder matches PCA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from torch import nn

import aekit
from aekit.models.nets import TiedConvTranspose2d, TiedLinear, TopK


@pytest.mark.parametrize("kind", sorted(aekit.KINDS))
def test_every_kind_builds_trains_and_reconstructs(kind, X):
    model = aekit.AutoEncoder.build(kind, input_dim=64, hidden=[32], code_dim=8)
    assert model.config.kind == kind
    result = aekit.fit(model, X, epochs=2, progress=False)
    assert len(result.history) == 2
    assert model.encode(X).shape == (len(X), 8)
    assert model.reconstruct(X).shape == X.shape


def test_mlp_any_depth_and_activation():
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[48, 32, 16], code_dim=4, activation="elu")
    linears = [m for m in model.encoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (64, 48),
        (48, 32),
        (32, 16),
        (16, 4),
    ]
    assert sum(isinstance(m, nn.ELU) for m in model.encoder) == 3
    dec = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in dec] == [(4, 16), (16, 32), (32, 48), (48, 64)]


def test_linear_kind_has_no_nonlinearity():
    model = aekit.AutoEncoder.build("linear", input_dim=10, hidden=[6], code_dim=3)
    x = torch.randn(5, 10)
    # A linear map: f(a x + b y) = a f(x) + b f(y) up to the bias terms.
    f = model.encode
    z = f(torch.zeros(1, 10))
    torch.testing.assert_close(f(2 * x) - z, 2 * (f(x) - z), atol=1e-5, rtol=1e-5)
    r = model.reconstruct(torch.zeros(1, 10))
    torch.testing.assert_close(
        model.reconstruct(3 * x) - r, 3 * (model.reconstruct(x) - r), atol=1e-5, rtol=1e-5
    )


def test_tied_weights_are_shared_and_stored_once(X):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8, tied=True)
    tied = [m for m in model.decoder if isinstance(m, TiedLinear)]
    enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
    assert len(tied) == 2
    assert tied[0].source is enc[1] and tied[1].source is enc[0]
    names = set(model.state_dict())
    assert not any(n.startswith("decoder") and n.endswith("weight") for n in names)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 64 * 32 + 32 * 8 + (32 + 8) + (32 + 64)
    # training moves the shared weight; the decoder sees the change
    before = enc[0].weight.detach().clone()
    aekit.fit(model, X, epochs=1, progress=False)
    assert not torch.equal(before, enc[0].weight.cpu())
    torch.testing.assert_close(tied[1].source.weight, enc[0].weight)


def test_conv_autoencoder_shapes_and_training(X, digits):
    model = aekit.AutoEncoder.build(
        input_dim=64,
        code_dim=8,
        architecture="conv",
        image_shape=(1, 8, 8),
        conv_channels=[8, 16],
        hidden=[32],
    )
    assert any(isinstance(m, nn.Conv2d) for m in model.encoder)
    assert model.encode(X).shape == (len(X), 8)
    assert model.reconstruct(X).shape == (len(X), 64)
    before = aekit.evaluate(model, X)["squared_error"]
    aekit.fit(model, X, epochs=5, progress=False)
    assert aekit.evaluate(model, X)["squared_error"] < before


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 7, 10), (2, 5, 5)])
def test_conv_decoder_restores_odd_and_even_sizes(shape):
    d = int(np.prod(shape))
    model = aekit.AutoEncoder.build(
        input_dim=d, code_dim=4, architecture="conv", image_shape=shape, conv_channels=[4, 8, 8]
    )
    assert model.reconstruct(torch.rand(3, d)).shape == (3, d)


def test_conv_tied_weights():
    model = aekit.AutoEncoder.build(
        input_dim=64,
        code_dim=6,
        architecture="conv",
        image_shape=(1, 8, 8),
        conv_channels=[4, 8],
        tied=True,
    )
    tied = [m for m in model.decoder if isinstance(m, TiedConvTranspose2d)]
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [t.source for t in tied] == convs[::-1]
    assert model.reconstruct(torch.rand(2, 64)).shape == (2, 64)


def test_top_k_module():
    h = torch.tensor([[0.1, -3.0, 2.0, 0.5], [1.0, 2.0, 3.0, 4.0]])
    out = TopK(2)(h)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 2.0, 0.5], [0.0, 0.0, 3.0, 4.0]]))


def test_squared_error_is_summed_over_features_and_averaged_over_samples():
    model = aekit.AutoEncoder.build("linear", input_dim=4, code_dim=2)
    x = torch.rand(6, 4)
    r = model.reconstruct(x)
    expected = ((r - x) ** 2).sum(1).mean()
    torch.testing.assert_close(model(x)[1]["reconstruction"], expected)


def test_bce_loss_works_on_logits_and_matches_the_definition():
    model = aekit.AutoEncoder.build(input_dim=4, code_dim=2, loss="bce")
    x = torch.rand(6, 4)
    r = model.reconstruct(x).double()
    expected = -(x * torch.log(r) + (1 - x) * torch.log(1 - r)).sum(1).mean()
    assert model(x)[1]["reconstruction"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_unregularized_code_as_large_as_input_warns():
    with pytest.warns(UserWarning, match="learn the identity"):
        aekit.AutoEncoder.build(input_dim=16, code_dim=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aekit.AutoEncoder.build(input_dim=16, code_dim=32, corruption=aekit.Masking(0.25))
        aekit.AutoEncoder.build("sparse", input_dim=16, code_dim=32)
        aekit.AutoEncoder.build(input_dim=16, code_dim=8)


def test_array_in_array_out_and_tensor_in_tensor_out(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    codes = model.encode(X)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float32
    t = model.encode(torch.as_tensor(X[:4]))
    assert isinstance(t, torch.Tensor) and t.requires_grad
    np.testing.assert_allclose(
        model.decode(codes[:4]), model.decode(t).detach().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        model.reconstruct(X[:4]), model.decode(codes[:4]), rtol=1e-5, atol=1e-6
    )
    # images (N, 8, 8) are flattened per sample
    assert model.encode(X.reshape(-1, 8, 8)).shape == (len(X), 8)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 10), np.float32), "10 features but the model expects 64"),
        (np.zeros((0, 64), np.float32), "empty"),
        (np.zeros(64, np.float32), "2-D"),
        (np.full((2, 64), np.nan, np.float32), "NaN"),
        (np.full((2, 64), np.inf, np.float32), "infinite"),
        (np.array([["a"] * 64]), "numeric"),
        (np.array([[object()] * 64]), "numeric"),
    ],
)
def test_bad_input_to_encode_is_a_clear_error(bad, message):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.DataError, match=message):
        model.encode(bad)


def test_decode_checks_the_code_size():
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.DataError, match="code has 8"):
        model.decode(np.zeros((2, 5), np.float32))


def test_linear_autoencoder_matches_pca(X):
    """Baldi & Hornik: a linear autoencoder with squared error reaches PCA's error and its
    decoder spans the principal subspace. The data is centred, as PCA centres it (uncentred
    inputs only slow the optimisation down)."""
    Xc = X - X.mean(0)
    k = 8
    pca = PCA(k).fit(Xc)
    pca_error = ((pca.inverse_transform(pca.transform(Xc)) - Xc) ** 2).sum(1).mean()
    model = aekit.AutoEncoder.build("linear", input_dim=64, code_dim=k)
    aekit.fit(
        model,
        Xc,
        epochs=200,
        batch_size=128,
        lr=1e-2,
        schedule="cosine",
        val_fraction=0,
        progress=False,
    )
    error = aekit.evaluate(model, Xc)["squared_error"]
    assert error <= pca_error * 1.02, (error, pca_error)
    decoder_columns = model.decoder[0].weight.detach().cpu().numpy()  # (64, k)
    largest_angle = np.degrees(subspace_angles(decoder_columns, pca.components_.T)).max()
    assert largest_angle < 5.0, largest_angle


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_a_model_that_scales_its_inputs_has_an_output_for_the_scaled_units(scaling):
    """As aekit train builds it: scaled data is judged in its own units, which a sigmoid
    output cannot reproduce, so a built model gets a linear output and squared error."""
    from sklearn.datasets import load_wine

    x = load_wine().data.astype(np.float32)
    for kind in ("undercomplete", "deep", "denoising"):
        model = aekit.AutoEncoder.build(kind, input_dim=13, scaling=scaling)
        assert (model.config.output_activation, model.config.loss) == ("linear", "mse")
    model = aekit.AutoEncoder.build(input_dim=13, scaling=scaling)
    assert aekit.fit(model, x, epochs=2, progress=False).final["train_loss"] > 0
    given = aekit.AutoEncoder.build(input_dim=13, scaling=scaling, output_activation="sigmoid")
    assert given.config.output_activation == "sigmoid"  # a choice made is kept
