"""bfloat16 only where it is faster: the probe (aekit.training.hardware), Muon's Newton-Schulz
iterations in float32 or bfloat16, and precision "auto"; AEKIT_BF16 forces either path."""

from __future__ import annotations

import time
import warnings

import pytest
import torch
from torch.overrides import TorchFunctionMode

import aekit
from aekit.training import hardware
from aekit.training.optim import (
    MuonWithAdam,
    build_optimizer,
    hidden_matrices,
    muon_step,
    newton_schulz,
)
from aekit.training.trainer import Trainer

COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # torch.optim.Muon's defaults


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch):
    """Each test measures (or is forced) afresh, and leaves no measurement behind."""
    monkeypatch.delenv(hardware.ENV, raising=False)
    hardware.clear_cache()
    yield
    hardware.clear_cache()


@pytest.fixture
def batch(X):
    return torch.as_tensor(X[:256])


def deep_model():
    return aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)


def muon_with_adam(model, newton_schulz=None):
    params = list(model.parameters())
    matrices = hidden_matrices(model, params)
    chosen = {id(p) for p in matrices}
    others = [p for p in params if id(p) not in chosen]
    return MuonWithAdam(matrices, others, 3e-3, 0.02, 0.1, newton_schulz=newton_schulz)


class ProductDtypes(TorchFunctionMode):
    """The dtypes of the matrix products run inside it."""

    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("mm", "matmul", "addmm", "__matmul__"):
            self.dtypes.update(a.dtype for a in args if isinstance(a, torch.Tensor))
        return func(*args, **(kwargs or {}))


# ---- the probe ----------------------------------------------------------------------------


def test_the_probe_measures_once_quickly_and_answers_a_bool(monkeypatch):
    calls = []
    measure = hardware.measure_bf16
    monkeypatch.setattr(hardware, "measure_bf16", lambda key: calls.append(key) or measure(key))
    start = time.perf_counter()
    fast = hardware.bf16_is_fast("cpu")
    took = time.perf_counter() - start
    assert isinstance(fast, bool)
    assert took < 1.0  # about 10 ms; generous for a busy machine
    speed = hardware.bf16_speed(torch.device("cpu"))
    assert hardware.bf16_speed() is speed and calls == ["cpu"]  # cached: measured once
    assert speed.fast == fast and speed.forced is None
    assert speed.float32_ms > 0 and speed.bfloat16_ms > 0
    assert speed.fast == (speed.ratio < hardware.FAST_BELOW)
    assert ("faster" if fast else "slower") in speed.describe()
    hardware.clear_cache()
    hardware.bf16_speed("cpu")
    assert calls == ["cpu", "cpu"]


@pytest.mark.parametrize("setting", ["on", "off", "ON", " off "])
def test_aekit_bf16_forces_the_answer_without_measuring(monkeypatch, setting):
    monkeypatch.setattr(hardware, "measure_bf16", lambda key: pytest.fail("measured"))
    monkeypatch.setenv(hardware.ENV, setting)
    on = setting.strip().lower() == "on"
    assert hardware.bf16_is_fast("cpu") is on
    assert hardware.bf16_speed("cpu").describe() == f"AEKIT_BF16={setting.strip().lower()}"
    assert hardware.bf16_speed("cpu").choice().startswith("bfloat16" if on else "float32")


def test_a_bad_aekit_bf16_is_a_clear_config_error(monkeypatch):
    monkeypatch.setenv(hardware.ENV, "fast")
    with pytest.raises(aekit.ConfigError, match=r"AEKIT_BF16 must be one of auto, on, off"):
        hardware.bf16_is_fast()


def test_a_measurement_is_described_with_its_ratio():
    slow = hardware.Bf16Speed("cpu", False, float32_ms=1.0, bfloat16_ms=7.9)
    assert slow.describe() == "bfloat16 measured 7.9x slower here"
    assert slow.choice() == "float32: bfloat16 measured 7.9x slower here"
    fast = hardware.Bf16Speed("cpu", True, float32_ms=1.0, bfloat16_ms=0.5)
    assert fast.choice() == "bfloat16: measured 2.0x faster here"
    assert hardware.Bf16Speed("cuda:0", True).describe() == "bfloat16 supported by this GPU"


# ---- Muon's Newton-Schulz iterations ------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "dtype"), [("on", torch.bfloat16), ("off", torch.float32)], ids=["on", "off"]
)
def test_aekit_bf16_chooses_the_dtype_the_iterations_run_in(monkeypatch, batch, setting, dtype):
    monkeypatch.setenv(hardware.ENV, setting)
    model = deep_model()
    optimizer = build_optimizer(model, aekit.TrainConfig(optimizer="muon"))
    assert optimizer.newton_schulz == dtype
    assert optimizer.note == f"Newton-Schulz in {str(dtype)[6:]}: AEKIT_BF16={setting}"
    model(batch)[0].backward()
    with ProductDtypes() as seen:
        optimizer.step()
    assert seen.dtypes == {dtype}


def test_without_aekit_bf16_the_measurement_chooses(batch):
    optimizer = muon_with_adam(deep_model())
    fast = hardware.bf16_is_fast("cpu")
    assert optimizer.newton_schulz == (torch.bfloat16 if fast else torch.float32)
    assert optimizer.note.startswith("Newton-Schulz in " + ("bfloat16" if fast else "float32"))


def test_float32_and_bfloat16_steps_both_learn_and_differ_by_rounding(batch):
    losses, moved = {}, {}
    for dtype in (torch.float32, torch.bfloat16):
        model = deep_model()
        optimizer = muon_with_adam(model, dtype)
        matrices = optimizer.muon.param_groups[0]["params"]
        before = [p.detach().clone() for p in matrices]
        losses[dtype] = []
        for _ in range(5):
            optimizer.zero_grad()
            loss = model(batch)[0]
            loss.backward()
            optimizer.step()
            losses[dtype].append(loss.item())
            moved.setdefault(dtype, [p.detach() - b for p, b in zip(matrices, before, strict=True)])
        assert losses[dtype][-1] < losses[dtype][0]
    assert losses[torch.float32][-1] == pytest.approx(losses[torch.bfloat16][-1], rel=1e-3)
    for a, b in zip(moved[torch.float32], moved[torch.bfloat16], strict=True):
        assert not torch.equal(a, b)
        assert torch.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.8


def test_float32_iterations_are_the_exact_ones_to_float32_rounding():
    """The float32 iterations agree with float64 ones to about 1e-6; bfloat16's to about
    1e-2, which is all the float32 path changes."""
    g = torch.randn(41, 82, generator=torch.Generator().manual_seed(0))
    g = g @ torch.diag(torch.logspace(0, -3, 82, dtype=torch.float32))
    exact = newton_schulz(g.double(), COEFFICIENTS, 5, 1e-7, torch.float64)

    def error(dtype):
        out = newton_schulz(g, COEFFICIENTS, 5, 1e-7, dtype)
        assert out.dtype == dtype
        return ((out.double() - exact).norm() / exact.norm()).item()

    assert error(torch.float32) < 1e-5
    assert 1e-4 < error(torch.bfloat16) < 5e-2


@pytest.mark.parametrize("shape", [(41, 82), (82, 41), (20, 20)])
def test_bfloat16_iterations_are_torchs_bit_for_bit(shape):
    zeropower = pytest.importorskip("torch.optim._muon")._zeropower_via_newtonschulz
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    ours = newton_schulz(g, COEFFICIENTS, 5, 1e-7, torch.bfloat16)
    assert torch.equal(ours, zeropower(g, COEFFICIENTS, 5, 1e-7))


def test_the_bfloat16_path_steps_as_torchs_muon_bit_for_bit(batch):
    """MuonWithAdam in bfloat16 is torch's Muon (and AdamW) bit for bit, and so is
    muon_step in bfloat16, the float32 path's step with torch's dtype."""
    runs = []
    for how in ("ours", "torch", "muon_step"):
        model = deep_model()
        ours = muon_with_adam(model, torch.bfloat16)
        params = list(model.parameters())
        matrices = ours.muon.param_groups[0]["params"]
        others = [p for p in params if all(p is not m for m in matrices)]
        muon = torch.optim.Muon(matrices, lr=0.02, weight_decay=0.1)
        adam = torch.optim.AdamW(others, lr=3e-3, weight_decay=0.1, fused=True)
        for _ in range(3):
            model.zero_grad()
            model(batch)[0].backward()
            if how == "ours":
                ours.step()
            else:
                adam.step()
                muon.step() if how == "torch" else muon_step(muon, torch.bfloat16)
        runs.append([p.detach().clone() for p in params])
    for a, b, c in zip(*runs, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_either_path_saves_torchs_muon_state_and_loads_the_others(batch):
    states = {}
    for dtype in (torch.bfloat16, torch.float32):
        model = deep_model()
        optimizer = muon_with_adam(model, dtype)
        model(batch)[0].backward()
        optimizer.step()
        states[dtype] = optimizer.state_dict()
    reference = torch.optim.Muon(
        [p for p in deep_model().parameters() if p.ndim == 2][1:-1], lr=0.02
    ).state_dict()
    for state in states.values():
        muon_state = state["inner"][1]
        assert muon_state["param_groups"][0].keys() == reference["param_groups"][0].keys()
        assert all(s.keys() == {"momentum_buffer"} for s in muon_state["state"].values())
    for saved, dtype in ((torch.bfloat16, torch.float32), (torch.float32, torch.bfloat16)):
        model = deep_model()
        optimizer = muon_with_adam(model, dtype)
        optimizer.load_state_dict(states[saved])
        model(batch)[0].backward()
        optimizer.step()  # continues from the other path's momentum


def test_a_muon_run_resumes_exactly_with_float32_iterations(X, tmp_path, monkeypatch):
    """As tests/test_train.py's resume test, on the float32 path."""
    from .test_train import same_weights, weights

    monkeypatch.setenv(hardware.ENV, "off")
    kwargs = dict(optimizer="muon", schedule="cosine", progress=False, seed=0)
    full = deep_model()
    uninterrupted = aekit.fit(full, X, epochs=4, **kwargs)
    assert uninterrupted.machine["newton_schulz"].startswith("Newton-Schulz in float32")
    model = deep_model()
    stop_after_two = [lambda trainer, row: trainer.epoch == 2]
    aekit.fit(model, X, epochs=4, run_dir=tmp_path / "run", callbacks=stop_after_two, **kwargs)
    resumed = aekit.resume(tmp_path / "run", data=X, epochs=4, progress=False, report=False)
    assert same_weights(weights(resumed.model), weights(full))


def test_a_bfloat16_checkpoint_resumes_on_the_float32_path(X, tmp_path, monkeypatch):
    """A run checkpointed where bfloat16 was chosen resumes where it is not."""
    monkeypatch.setenv(hardware.ENV, "on")
    stop_after_two = [lambda trainer, row: trainer.epoch == 2]
    kwargs = dict(optimizer="muon", progress=False, seed=0, run_dir=tmp_path / "run")
    aekit.fit(deep_model(), X, epochs=4, callbacks=stop_after_two, **kwargs)
    monkeypatch.setenv(hardware.ENV, "off")
    resumed = aekit.resume(tmp_path / "run", data=X, epochs=4, progress=False, report=False)
    assert len(resumed.fit.history) == 4
    assert resumed.fit.machine["newton_schulz"] == "Newton-Schulz in float32: AEKIT_BF16=off"
    assert resumed.fit.history[-1]["train_loss"] < resumed.fit.history[0]["train_loss"]


# ---- precision ----------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["on", "off"])
def test_precision_auto_autocasts_where_bfloat16_is_fast(monkeypatch, setting):
    monkeypatch.setenv(hardware.ENV, setting)
    trainer = Trainer(deep_model(), aekit.TrainConfig(precision="auto"), progress=False)
    assert trainer.autocast is (setting == "on")
    expected = f"{'bf16' if setting == 'on' else 'fp32'} (AEKIT_BF16={setting})"
    assert trainer.machine["precision"] == expected
    assert f"precision auto: {expected}" in trainer.config.summary(trainer.machine)


def test_precision_bf16_where_bfloat16_is_slow_autocasts_and_warns_once(monkeypatch):
    monkeypatch.setenv(hardware.ENV, "off")
    with pytest.warns(UserWarning, match=r"precision bf16 on cpu, where AEKIT_BF16=off: "):
        trainer = Trainer(deep_model(), aekit.TrainConfig(precision="bf16"), progress=False)
    assert trainer.autocast
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(deep_model(), aekit.TrainConfig(precision="bf16"), progress=False)
        monkeypatch.setenv(hardware.ENV, "on")
        Trainer(deep_model(), aekit.TrainConfig(precision="bf16"), progress=False)
        fp32 = Trainer(deep_model(), aekit.TrainConfig(precision="fp32"), progress=False)
    assert not fp32.autocast and "precision" not in fp32.machine


def test_the_summary_names_what_the_machine_chose():
    cfg = aekit.TrainConfig(optimizer="muon", precision="auto")
    machine = {
        "newton_schulz": "Newton-Schulz in float32: bfloat16 measured 7.9x slower here",
        "precision": "fp32 (bfloat16 measured 7.9x slower here)",
    }
    assert cfg.summary(machine).startswith(
        "muon (muon_lr 0.02 hidden matrices, AdamW lr 0.003 rest; Newton-Schulz in float32: "
        "bfloat16 measured 7.9x slower here), schedule cosine, precision auto: fp32 "
        "(bfloat16 measured 7.9x slower here)"
    )
    assert "precision auto: bf16 where faster" in cfg.summary()  # not known: the rule
