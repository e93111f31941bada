"""Whether bfloat16 is fast on a device: measured once per process and device.

bfloat16 halves the bytes a matrix product moves, and where the hardware multiplies in it
(GPUs since Ampere, CPUs with avx512_bf16 or amx_bf16) it is 2-3x faster than float32. A
CPU without bfloat16 units (AVX2 only) converts every element instead and is about 8x
slower. aekit chooses bfloat16 where it pays: Muon's Newton-Schulz iterations
(:class:`~aekit.training.optim.MuonWithAdam`) and ``precision="auto"`` autocast run in it only
where :func:`bf16_is_fast` says so.

On the CPU (and devices other than CUDA) that is measured: a 256x256 @ 256x512 product
timed a few times in each dtype after a warm-up, on one CPU thread (5-30 ms in all, the
most on a busy machine, where restoring the thread count costs the most); bfloat16 is fast
when it takes under 0.9 of float32's time. On CUDA it is what
``torch.cuda.is_bf16_supported()`` says. It answers for products of about that size: on a
small model (the digits'), autocast's casts can cost more than bfloat16 saves. The
environment variable ``AEKIT_BF16`` overrides the measurement: ``on`` (bfloat16 wherever
aekit would choose it), ``off`` (float32), or ``auto`` (measure; the default).

>>> speed = bf16_speed("cpu")  # measured once, then cached
>>> speed.fast in (True, False) and bf16_speed("cpu") is speed
True
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings

import torch

from ..core.errors import ConfigError
from . import distributed

ENV = "AEKIT_BF16"
SETTINGS = ("auto", "on", "off")
# bfloat16 counts as fast below this share of float32's time: the margin keeps a machine
# where the two are about even (and the timing noisy) on float32, the more exact.
FAST_BELOW = 0.9
# The product timed: about the size of a hidden layer's Gram matrix in Muon.
SHAPE = (256, 256, 512)
REPEATS = 3

_cache: dict[str, Bf16Speed] = {}
_warned: set[str] = set()  # the devices warn_slow_bf16 has warned of


@dataclasses.dataclass(frozen=True)
class Bf16Speed:
    """What decides bfloat16 on a device: ``fast``, and why (a measurement in
    milliseconds per product, the GPU's support, or ``AEKIT_BF16``)."""

    device: str
    fast: bool
    float32_ms: float | None = None
    bfloat16_ms: float | None = None
    forced: str | None = None  # "on" or "off" where AEKIT_BF16 decided

    @property
    def ratio(self) -> float | None:
        """bfloat16's time over float32's (below 1: faster), where measured."""
        if self.float32_ms is None or self.bfloat16_ms is None:
            return None
        return self.bfloat16_ms / max(self.float32_ms, 1e-9)

    def describe(self) -> str:
        """Why, in a few words: 'bfloat16 measured 7.9x slower here'."""
        if self.forced is not None:
            return f"{ENV}={self.forced}"
        ratio = self.ratio
        if ratio is None:
            where = "this GPU" if self.device.startswith("cuda") else "this device"
            return f"bfloat16 {'supported' if self.fast else 'not supported'} by {where}"
        if ratio >= 1:
            return f"bfloat16 measured {ratio:.1f}x slower here"
        only = "" if self.fast else "only "  # not by the margin FAST_BELOW asks
        return f"bfloat16 measured {only}{1 / ratio:.1f}x faster here"

    def choice(self) -> str:
        """The dtype this chooses and why: 'float32: bfloat16 measured 7.9x slower here',
        'bfloat16: measured 2.1x faster here'."""
        if self.fast:
            return f"bfloat16: {self.describe().removeprefix('bfloat16 ')}"
        return f"float32: {self.describe()}"


def bf16_setting() -> str:
    """``AEKIT_BF16``: auto (measure), on or off."""
    value = os.environ.get(ENV, "").strip().lower() or "auto"
    if value not in SETTINGS:
        raise ConfigError(f"{ENV} must be one of {', '.join(SETTINGS)}, got {value!r}")
    return value


def device_key(device: torch.device | str | None = None) -> str:
    """The device's name with its index (cuda -> cuda:0), the key of the cache."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def bf16_speed(device: torch.device | str | None = None) -> Bf16Speed:
    """Whether bfloat16 is fast on ``device`` (default: the CPU) and why: ``AEKIT_BF16``
    where it says on or off, else the measurement, made once per process and device."""
    key = device_key(device)
    setting = bf16_setting()
    if setting != "auto":
        return Bf16Speed(key, setting == "on", forced=setting)
    if key not in _cache:
        speed = measure_bf16(key)
        if distributed.active():  # every rank steps as rank 0 does, or the weights drift apart
            speed = dataclasses.replace(distributed.broadcast(speed), device=key)
        _cache[key] = speed
    return _cache[key]


def bf16_is_fast(device: torch.device | str | None = None) -> bool:
    """Whether bfloat16 matrix products are faster than float32 ones on ``device``
    (default: the CPU), as :func:`bf16_speed` decides."""
    return bf16_speed(device).fast


def clear_cache() -> None:
    """Forget the measurements (the next question measures again) and the warnings given."""
    _cache.clear()
    _warned.clear()


def warn_slow_bf16(speed: Bf16Speed, stacklevel: int = 2) -> None:
    """Warn, once per process and device, that bfloat16 autocast was asked for where
    bfloat16 is slower."""
    if speed.fast or speed.device in _warned:
        return
    _warned.add(speed.device)
    warnings.warn(
        f"precision bf16 on {speed.device}, where {speed.describe()}: --precision fp32 "
        "(or auto) trains faster",
        stacklevel=stacklevel + 1,
    )


def bf16_autocast(precision: str, device: torch.device) -> tuple[bool, str | None]:
    """Whether training's forward pass runs under bfloat16 autocast on ``device``:
    precision bf16 always (with a warning, once, where bfloat16 is measured slower), auto
    where it is measured faster (:func:`bf16_speed`), fp32 never; and for auto, what it
    chose and why ("bf16 (bfloat16 measured 2.1x faster here)")."""
    if precision == "fp32":
        return False, None
    speed = bf16_speed(device)
    if precision == "auto":
        return speed.fast, f"{'bf16' if speed.fast else 'fp32'} ({speed.describe()})"
    if not speed.fast and distributed.is_main():
        warn_slow_bf16(speed, stacklevel=4)
    return True, None


def measure_bf16(device: torch.device | str | None = None, repeats: int = REPEATS) -> Bf16Speed:
    """Time a float32 and a bfloat16 matrix product on ``device`` (not cached; CUDA is not
    timed: bfloat16 is fast there where the GPU supports it)."""
    key = device_key(device)
    device = torch.device(key)
    if device.type == "cuda":
        return Bf16Speed(key, bool(torch.cuda.is_bf16_supported()))
    m, k, n = SHAPE
    generator = torch.Generator().manual_seed(0)  # leaves the caller's random state alone
    a = torch.randn(m, k, generator=generator).to(device)
    b = torch.randn(k, n, generator=generator).to(device)
    pairs = {dtype: (a.to(dtype), b.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}
    sync = getattr(getattr(torch, device.type, None), "synchronize", None)
    best = dict.fromkeys(pairs, float("inf"))
    # On one thread: the ratio is the same as on several, and a core busy with other work
    # delays a one-thread product far less than one waiting for all of its threads.
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        for i in range(repeats + 1):  # the first round warms up (and is not counted)
            for dtype, (x, y) in pairs.items():
                start = time.perf_counter()
                torch.mm(x, y)
                if sync is not None and device.type != "cpu":
                    sync()
                if i:
                    best[dtype] = min(best[dtype], time.perf_counter() - start)
    except RuntimeError:  # a device without bfloat16 products
        return Bf16Speed(key, False)
    finally:
        torch.set_num_threads(threads)
    fp32, bf16 = best[torch.float32] * 1e3, best[torch.bfloat16] * 1e3
    return Bf16Speed(key, bf16 < FAST_BELOW * fp32, fp32, bf16)
