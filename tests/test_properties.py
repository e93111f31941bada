"""Property-based tests (hypothesis) over shapes and parameter values for the data, config
and model layers: every input either works as specified or raises an aekit error, never
anything else."""

from __future__ import annotations

import math
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aekit
from aekit.data.validation import to_tensor
from aekit.models.parts import Part

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dtypes = st.one_of(
    hnp.floating_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.boolean_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.unicode_string_dtypes(max_len=3),
)


@FAST
@given(hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_to_tensor_returns_valid_data_or_a_data_error(array):
    try:
        t = to_tensor(array)
    except aekit.DataError:
        numeric = array.dtype.kind in "biuf"
        with np.errstate(over="ignore", invalid="ignore"):
            bad = (
                not numeric
                or array.ndim < 2
                or array.size == 0
                or not np.isfinite(array.astype(np.float64)).all()
                or not np.isfinite(array.astype(np.float32)).all()
            )
        assert bad, array
        return
    assert t.dtype == torch.float32 and t.ndim == 2
    assert t.shape == (array.shape[0], math.prod(array.shape[1:]))
    np.testing.assert_array_equal(t.numpy(), array.reshape(len(array), -1).astype(np.float32))
    assert torch.isfinite(t).all()


idx_dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


@FAST
@given(
    idx_dtypes.flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6))
    ),
    st.integers(min_value=0, max_value=10_000),
)
def test_idx_round_trip_and_any_truncation_is_an_error(array, cut):
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.idx"
        path.write_bytes(raw)
        np.testing.assert_array_equal(aekit.read_idx(path), array)
        cut = cut % len(raw)
        path.write_bytes(raw[:cut])
        with pytest.raises(aekit.DataError):
            aekit.read_idx(path)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_are_never_read_as_idx_by_accident(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.idx"
        path.write_bytes(blob)
        try:
            out = aekit.read_idx(path)
        except aekit.DataError:
            return
        assert blob[:2] == b"\0\0" and out.size * out.itemsize + 4 + 4 * out.ndim == len(blob)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5000)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
model_keys = st.sampled_from([*sorted(aekit.ModelConfig.__dataclass_fields__), "bogus"])


@FAST
@given(st.dictionaries(model_keys, json_values, max_size=6))
def test_model_config_from_any_json_is_valid_or_a_config_error(data):
    data = {"input_dim": 8, "code_dim": 3, **data}
    try:
        config = aekit.ModelConfig.from_dict(data)
    except aekit.ConfigError:
        return
    assert aekit.ModelConfig.from_dict(config.to_dict()) == config


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + ":=,._-", max_size=40))
def test_part_specs_parse_or_raise_a_config_error(spec):
    for family in (aekit.Penalty, aekit.Corruption):
        try:
            part = family.parse(spec)
        except aekit.ConfigError:
            continue
        assert isinstance(part, Part) and family.from_json(part.to_json()) == part


architectures = st.fixed_dictionaries(
    {
        "input_dim": st.integers(1, 24),
        "hidden": st.lists(st.integers(1, 16), max_size=3),
        "code_dim": st.integers(1, 12),
        "activation": st.sampled_from(["relu", "tanh", "sigmoid", "elu", "linear", "gelu"]),
        "code_activation": st.sampled_from(["linear", "sigmoid", "relu", "tanh"]),
        "output_activation": st.sampled_from(["sigmoid", "linear"]),
        "tied": st.booleans(),
        "top_k": st.none() | st.integers(0, 14),
        "kind": st.sampled_from(sorted(aekit.KINDS)),
    }
)


@pytest.mark.filterwarnings(
    "ignore:the code:UserWarning"
)  # overcomplete draws warn, as they should
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures, st.integers(1, 9), st.data())
def test_any_valid_architecture_encodes_decodes_and_round_trips(arch, n, draw):
    arch = dict(arch)  # hypothesis may replay the same dict: do not change it
    kind = arch.pop("kind")
    if kind in ("sparse", "contractive", "linear"):
        arch.pop("code_activation")  # let the preset choose what its penalty needs
        if kind == "linear":
            arch.pop("activation")
            arch.pop("output_activation")
    try:
        model = aekit.AutoEncoder.build(kind, **arch)
    except aekit.ConfigError as exc:
        top_k = arch.get("top_k")
        assert top_k is not None and not 1 <= top_k <= arch["code_dim"], exc
        return
    x = draw.draw(
        hnp.arrays(np.float32, (n, arch["input_dim"]), elements=st.floats(0, 1, width=32))
    )
    codes, recon = model.encode(x), model.reconstruct(x)
    assert codes.shape == (n, arch["code_dim"]) and recon.shape == (n, arch["input_dim"])
    assert np.isfinite(codes).all() and np.isfinite(recon).all()
    if model.config.top_k is not None:
        assert ((codes != 0).sum(1) <= model.config.top_k).all()
    loss, terms = model(torch.as_tensor(x))
    assert torch.isfinite(loss) and "reconstruction" in terms
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        loaded = aekit.load(tmp)
        # Equal to the last bit but for BLAS kernels that may sum in another order for
        # differently aligned weights (seen: 1 ulp).
        np.testing.assert_allclose(loaded.reconstruct(x), recon, rtol=3e-7, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=0, max_size=2000))
def test_random_weight_files_are_a_checkpoint_error(blob):
    model = aekit.AutoEncoder.build(input_dim=6, code_dim=2)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        (Path(tmp) / "model.safetensors").write_bytes(blob)
        with pytest.raises(aekit.CheckpointError):
            aekit.load(tmp)
