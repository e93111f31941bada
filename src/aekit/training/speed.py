"""How fast training goes on this machine: the CPU threads a model trains on (as many as
it can use and other processes leave free), the seconds one training step takes here, and
a duration as a person says it."""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from ..core.seeding import seeded
from .config import TrainConfig
from .hardware import bf16_speed
from .optim import build_optimizer

# Below this much arithmetic a step (6 flops per weight per sample, forward and backward),
# a second CPU thread costs more in handing work over than it saves, and when other
# processes hold the cores (two runs on two cores) it makes each step several times slower
# (BENCHMARKS.md section 3): such models train on one thread, and larger ones on at most
# one thread per this much.
ONE_THREAD_FLOPS = 5e6
# A core counts as free when other processes leave at least this share of it idle.
FREE_CORE = 0.75


@contextmanager
def cpu_threads_for(
    model: torch.nn.Module, device: torch.device, batch: int | None
) -> Iterator[None]:
    """As many intra-op threads as the model can use and other processes leave cores
    free, while it trains on the CPU: one for a small fully connected model (under
    ``ONE_THREAD_FLOPS`` a step), at most one per ``ONE_THREAD_FLOPS`` for a larger one,
    and never more than the cores found idle at the start (:func:`free_cores`): threads
    that wait for each other on cores other processes hold make each step many times
    slower (BENCHMARKS.md section 3). The caller's setting again afterwards."""
    before = torch.get_num_threads()
    threads = before
    if device.type == "cpu" and before > 1:
        layers = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]
        flops = 6 * sum(p.numel() for p in model.parameters()) * (batch or 0)
        if flops > 0 and all(isinstance(m, torch.nn.Linear) for m in layers):
            threads = min(threads, max(1, math.ceil(flops / ONE_THREAD_FLOPS)))
        if threads > 1:
            free = free_cores()
            if free is not None:
                threads = min(threads, max(1, int(free + 1 - FREE_CORE)))
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads != before:
            torch.set_num_threads(before)


def free_cores(seconds: float = 0.1) -> float | None:
    """How many of the cores this process may run on other processes leave idle: the
    idle share of those cores over ``seconds`` (Linux's /proc/stat) plus what this
    process itself used meanwhile, else their number less the 1-minute load average;
    None where neither can be read.

    This process's own time counts as free: its thread pool's workers still spin for a
    moment after the last parallel operation, and counted as busy they made a bare deep
    MNIST run train on one of two idle cores (twice as slow; BENCHMARKS.md section 16)."""
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        cpus = set(range(os.cpu_count() or 1))
    try:
        (idle, total), own = _cpu_ticks(cpus), _own_ticks()
        time.sleep(seconds)
        (idle_after, total_after), own_after = _cpu_ticks(cpus), _own_ticks()
        if total_after > total:
            free = (idle_after - idle) + (own_after - own)
            return len(cpus) * min(1.0, free / (total_after - total))
    except (OSError, ValueError):
        pass
    try:
        return max(0.0, len(cpus) - os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _cpu_ticks(cpus: set[int]) -> tuple[int, int]:
    """Idle and total clock ticks of ``cpus`` since boot (/proc/stat; steal counts as
    busy: a virtual machine's host gave that time to someone else)."""
    idle = total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(v) for v in fields[:8]]  # user .. steal; guest is within user
                idle += ticks[3] + ticks[4]  # idle, iowait
                total += sum(ticks)
    return idle, total


def _own_ticks() -> int:
    """Clock ticks this process has run since it started (all its threads; /proc/self/stat's
    utime and stime, in the units of /proc/stat); 0 where unreadable."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    except (OSError, IndexError, ValueError):
        return 0


PROBE_STEPS = 3  # timed training steps, after one untimed, to time a step on this machine


def step_seconds(model: torch.nn.Module, config: TrainConfig, x: Tensor) -> float:
    """Seconds one training step of ``model`` takes here on batch ``x``: the median of a
    few steps of a copy of it with ``config``'s optimizer and precision (Muon's
    Newton-Schulz included), on the threads training would use. Nothing of the model's,
    and none of the caller's random state, changes."""
    device = next(model.parameters()).device
    copy_ = copy.deepcopy(model).train()
    optimizer = build_optimizer(copy_, config)
    x = x.to(device).clone()  # a normal tensor, also where x was made in inference mode
    times = []
    bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_speed(device).fast)
    with seeded(None), cpu_threads_for(copy_, device, len(x)):
        for _ in range(PROBE_STEPS + 1):
            start = time.perf_counter()
            optimizer.zero_grad()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, _ = copy_(x)
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def spoken_duration(seconds: float) -> str:
    """``seconds`` as a person says it: "40 s", "3 min", "2 h 15 min"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
