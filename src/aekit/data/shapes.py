"""The shape of a sample: where an image's channels are, and its (C, H, W).

aekit holds images channels first, ``(C, H, W)``. One rule says when a sample stored
otherwise is an image stored channels last, ``(H, W, C)``, as PIL, Keras and TensorFlow
write them: three axes, the last of 1, 3 or 4 entries (grey, RGB, RGBA) and the first
not. Arrays read whole (:func:`channels_first`) and files read a block at a time
(:mod:`aekit.data.streaming`) both go by it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHANNELS = (1, 3, 4)  # grey, RGB, RGBA


def channels_last(item: Sequence[int]) -> bool:
    """Whether a sample of shape ``item`` is an image stored ``(H, W, C)`` (see the
    module docstring)."""
    return len(item) == 3 and item[2] in CHANNELS and item[0] not in CHANNELS


def channels_first(arr: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images as (N, C, H, W): a 4-D array whose samples are stored channels
    last; any other array as it is."""
    if arr.ndim == 4 and channels_last(arr.shape[1:]):
        return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    return arr


def stored_image_shape(item: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(C, H, W) of a sample stored with shape ``item``: (H, W) grey, (H, W, C) channels
    last, else (C, H, W); None for a sample that is not an image."""
    if len(item) == 2:
        return (1, item[0], item[1])
    if len(item) == 3:
        if channels_last(item):
            return (item[2], item[0], item[1])
        return (item[0], item[1], item[2])
    return None


def image_shape_of(arr: np.ndarray) -> tuple[int, int, int] | None:
    """(C, H, W) of image arrays shaped (N, H, W) or (N, C, H, W), else None."""
    if arr.ndim == 3:
        return (1, arr.shape[1], arr.shape[2])
    if arr.ndim == 4:
        return (arr.shape[1], arr.shape[2], arr.shape[3])
    return None
