"""What every figure shares: text drawn as plain text (:data:`PLAIN_TEXT`), the layout,
writing a PNG atomically, the loss names and units on an axis, a readable log scale, a
row drawn as an image, and what a sample's loss sums over, in words."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ...core.io import atomic_write

Draw = TypeVar("Draw", bound=Callable[..., Any])
# A run folder named m$x_$y is a name, not math: no string is parsed as mathtext or TeX.
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def plain_text(draw: Draw) -> Draw:
    """``draw`` with every text it creates drawn as plain text (:data:`PLAIN_TEXT`)."""

    @functools.wraps(draw)
    def plain(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        pyplot()
        with matplotlib.rc_context(PLAIN_TEXT):
            return draw(*args, **kwargs)

    return plain  # type: ignore[return-value]


def tight(fig: Any) -> None:
    """Tight layout where it fits; where a figure is too crowded for it, matplotlib's own
    layout, without its warning reaching the user as if aekit had something to say."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout()


def pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str | Path | None) -> Any:
    """Write ``fig`` as a PNG at ``path`` (if given), close it, and return it."""
    if path is not None:
        path = Path(path)
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    pyplot().close(fig)
    return fig


LOSS_NAMES = {"bce": "cross-entropy", "mse": "squared error"}


def loss_label(loss: str | None, summed_over: str | None = None, scaling: str = "none") -> str:
    """A reconstruction loss with its units, for an axis: "squared error per sample (sum
    over 64 pixels)", "cross-entropy per sample (nats, sum over 64 pixels)"; for a model
    that scales its inputs (``scaling``), "..., in standard-scaled units": the loss is
    measured there, not in the data's units."""
    if loss is None:
        return "reconstruction loss per sample"
    name = LOSS_NAMES.get(loss, loss)
    units = ["nats"] if loss == "bce" else []
    if summed_over:
        units.append(f"sum over {summed_over}")
    if scaling != "none":
        units.append(f"in {scaling}-scaled units")
    return f"{name} per sample" + (f" ({', '.join(units)})" if units else "")


def use_log(values: Sequence[float]) -> bool:
    """A log scale where the values are positive and span more than a factor of 3."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 3


def log_ticks(lo: float, hi: float) -> list[float]:
    """Labelled ticks for a log axis showing ``lo`` to ``hi``: at least four, one of them
    in the bottom and one in the top quarter of the axis, so that where a curve starts and
    where it ends can both be read: 1, 2 and 5 of each decade, denser where the range is
    short, evenly spaced numbers where it is shorter still. A tick a little beyond the
    values (within a factor of 1.25) counts: the axis is extended to it."""
    from matplotlib.ticker import MaxNLocator

    first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    for subs in ((1,), (1, 2, 5), (1, 2, 3, 5, 7), tuple(range(1, 10))):
        every = sorted(float(f"{s * 10.0**e:.6g}") for e in range(first, last + 1) for s in subs)
        below = [t for t in every if t <= lo * (1 + 1e-9)]
        above = [t for t in every if t >= hi * (1 - 1e-9)]
        bottom = below[-1] if below and below[-1] * 1.25 >= lo else lo
        top = above[0] if above and above[0] <= hi * 1.25 else hi
        ticks = [t for t in every if bottom * (1 - 1e-9) <= t <= top * (1 + 1e-9)]
        quarter = math.log10(top / bottom) / 4
        if (
            len(ticks) >= 4
            and math.log10(ticks[0] / bottom) <= quarter
            and math.log10(top / ticks[-1]) <= quarter
        ):
            return ticks
    even = MaxNLocator(nbins=6).tick_values(lo, hi)
    return [float(f"{t:.6g}") for t in even if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def readable_scale(ax: Any, values: Sequence[float]) -> None:
    """A log y scale where ``values`` span more than a factor of 3, its ticks from
    :func:`log_ticks` written as plain numbers; else matplotlib's linear one."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullFormatter

    values = [v for v in values if math.isfinite(v)]
    if not use_log(values):
        return
    ticks = log_ticks(min(values), max(values))
    lo, hi = min(*values, *ticks), max(*values, *ticks)
    ax.set_yscale("log")
    margin = (hi / lo) ** 0.04
    ax.set_ylim(lo / margin, hi * margin)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(LogLocator(subs="auto"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def as_image(row: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray | None:
    """``row`` as an image to draw, where it is known to be one (``image_shape``); else
    None: a vector whose length happens to be a square (a table of 4 or 64 features) is
    not drawn as an image."""
    if image_shape is None:
        return None
    c, h, w = image_shape
    img = row.reshape(c, h, w)
    if c in (3, 4):  # RGB, RGBA
        return np.clip(img.transpose(1, 2, 0), 0, 1)
    return img[0]  # one channel, or the first of any other number


def is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def summed_over(features: int, image_shape: Sequence[int] | None = None) -> str:
    """What a sample's reconstruction loss sums over, in words: "64 pixels", "3072 pixel
    values" (several channels), "30 features"."""
    if image_shape is None:
        return f"{features} features"
    return f"{features} pixels" if image_shape[0] == 1 else f"{features} pixel values"
