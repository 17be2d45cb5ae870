"""Input checks shared by every public function.

Every public function converts its array arguments here, so that the rules
are written once: which dtypes are accepted, what a bad ``beta`` or axis is,
and that numpy masked arrays are refused (a masked array would silently lose
its mask in the arithmetic; fill the masked entries first, e.g. with
``x.filled(-np.inf)`` for logits, which softmax gives probability 0). Only
the argument itself is checked: looking inside lists for masked arrays
would cost every call a pass over its elements, and ``np.asarray`` of such a
list drops the masks.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

_ndarray = np.ndarray
_REAL_KINDS = {"f": None, "b": np.float64, "i": np.float64, "u": np.float64}


def reject_masked(x, name: str = "x") -> None:
    """Raise TypeError if ``x`` is a numpy masked array (the mask would be lost)."""
    if type(x) is not _ndarray and isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; softmax_lib does not read masks. Fill the masked "
            f"entries first: {name}.filled(-np.inf) for logits (probability 0), or the value you mean"
        )


def as_float_array(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a floating-point array.

    Floating dtypes are kept; integers, booleans and Python numbers become
    float64. Anything else (strings, objects, complex numbers) is a TypeError,
    and so is a numpy masked array (see the module docstring).
    """
    if type(x) is _ndarray:
        arr = x
    else:
        reject_masked(x, name)
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
    """Return ``beta`` as a Python float, or raise if it is not a finite real.

    A number too large for a float (``2**1100``) is a ValueError naming beta,
    like NaN and infinity; a non-number is a TypeError.
    """
    if type(beta) is float:
        if math.isfinite(beta):
            return beta
    elif isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(
            f"beta must be a finite real number, got {beta!r} of type {type(beta).__name__}"
        )
    try:
        value = float(beta)
    except OverflowError:
        raise ValueError(f"beta must be a finite real number, got {beta!r}, too large for a float") from None
    if not math.isfinite(value):
        raise ValueError(f"beta must be a finite real number, got {beta!r}")
    return value


def check_axis(arr: np.ndarray, axis: int, name: str = "x") -> int:
    """Return ``axis`` as a non-negative index, refusing 0-d input and empty axes."""
    ndim = arr.ndim
    if ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if type(axis) is not int:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"axis must be an integer, got {axis!r}")
        axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {arr.shape}")
    axis %= ndim
    if arr.shape[axis] == 0:
        raise ValueError(
            f"{name} has an empty axis {axis} (shape {arr.shape}): softmax over no entries is undefined"
        )
    return axis


def refuse_nonfinite(arr: np.ndarray, name: str, caller: str) -> None:
    """Raise ValueError naming ``caller``, ``name`` and the first position if ``arr`` holds NaN or inf."""
    finite = np.isfinite(arr)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        at = f"[{', '.join(map(str, where))}]" if where else ""
        value = arr[where]
        what = "NaN" if np.isnan(value) else f"{value} (infinite)"
        raise ValueError(f"{caller}: {name}{at} is {what}")
