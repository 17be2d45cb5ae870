"""Input checks shared by the public functions.

Every public function converts its array arguments here, so that the rules
(which dtypes are accepted, what a bad ``beta`` is) are written once.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_float_array(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a floating-point array.

    Floating dtypes are kept; integers, booleans and Python numbers become
    float64. Anything else (strings, objects, complex numbers) is a TypeError.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, for example
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must contain real numbers, got an array of dtype {arr.dtype}"
    )


def check_beta(beta) -> float:
    """Return ``beta`` as a Python float, or raise if it is not a finite real."""
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(
            f"beta must be a finite real number, got {beta!r} of type {type(beta).__name__}"
        )
    value = float(beta)
    if not np.isfinite(value):
        raise ValueError(f"beta must be a finite real number, got {beta!r}")
    return value


def check_axis(arr: np.ndarray, axis: int, name: str = "x") -> int:
    """Return ``axis`` as a non-negative index, refusing 0-d input and empty axes."""
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {arr.shape}")
    axis = int(axis) % arr.ndim
    if arr.shape[axis] == 0:
        raise ValueError(
            f"{name} has an empty axis {axis} (shape {arr.shape}): softmax over no entries is undefined"
        )
    return axis


def first_bad_slice(bad: np.ndarray) -> tuple[int, ...]:
    """Index (over the non-softmax axes) of the first True entry of ``bad``."""
    return tuple(int(i) for i in np.argwhere(bad)[0])
