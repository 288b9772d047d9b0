"""Input checks shared by every loss; messages read "expected X, got Y"."""

from __future__ import annotations

import numpy as np

from lossbench.errors import LossbenchError

__all__ = ["as_loss_inputs", "check_choice", "locate_bad_input"]

_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)
_FLOAT_DTYPES = (_FLOAT64, _FLOAT32)


def check_choice(argument: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise unless `value` is one of `choices`."""
    if value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise LossbenchError(f"{argument} must be one of {expected}; got {value!r}")


def _as_array(argument: str, x: object) -> np.ndarray:
    if type(x) is np.ndarray:  # the fast path: no conversion, no copy
        return x
    try:
        return np.asarray(x, dtype=None if isinstance(x, np.ndarray) else np.float64)
    except (TypeError, ValueError) as error:
        raise LossbenchError(
            f"{argument} must be an array of numbers; got {type(x).__name__} ({error})"
        ) from None


def as_loss_inputs(
    y_true: object, y_pred: object
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Return `(y_true, y_pred, shape)`: 1-D contiguous arrays of y_pred's float dtype, and
    the shape they came in.

    y_pred must be float32 or float64 (predictions are continuous); y_true may be any real
    dtype (integer or boolean labels are fine) and is cast to y_pred's dtype. Shapes must match
    exactly (no broadcasting); empty inputs are refused. Lists and scalars become float64.
    """
    # The common case, 1-D arrays of one float dtype, costs a few attribute reads: small arrays
    # are called in tight loops. (A strided 1-D view passes too; numba handles any layout.)
    if (
        type(y_pred) is np.ndarray
        and type(y_true) is np.ndarray
        and y_true.dtype is y_pred.dtype
        and (y_pred.dtype is _FLOAT64 or y_pred.dtype is _FLOAT32)
        and y_pred.ndim == 1
        and y_true.ndim == 1
        and len(y_true) == len(y_pred) > 0
    ):
        return y_true, y_pred, y_pred.shape
    yp = _as_array("y_pred", y_pred)
    yt = _as_array("y_true", y_true)
    if yp.dtype not in _FLOAT_DTYPES:
        hint = " (use y_pred.astype(np.float64))" if yp.dtype.kind in "biuf" else ""
        raise LossbenchError(f"y_pred must have dtype float32 or float64; got {yp.dtype}{hint}")
    if yt.dtype != yp.dtype:
        if yt.dtype.kind not in "biuf":
            raise LossbenchError(f"y_true must hold real numbers; got dtype {yt.dtype}")
        yt = yt.astype(yp.dtype)
    if yt.shape != yp.shape:
        raise LossbenchError(
            f"y_true and y_pred must have the same shape; got {yt.shape} and {yp.shape}"
        )
    if yp.size == 0:
        raise LossbenchError(f"y_true and y_pred must not be empty; got shape {yp.shape}")
    return yt.ravel(), yp.ravel(), yp.shape


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def locate_bad_input(
    y_true: np.ndarray, y_pred: np.ndarray, shape: tuple[int, ...], *, labels: bool
) -> None:
    """Raise `LossbenchError` naming the first bad element, if there is one.

    Bad means non-finite, or (with `labels`) a y_true outside [0, 1]. Called only when a
    kernel's check came out non-finite, so it may take its time.
    """
    for argument, x in (("y_true", y_true), ("y_pred", y_pred)):
        i = _first(~np.isfinite(x))
        if i is not None:
            raise LossbenchError(f"{argument}{_index(i, shape)} is {x[i]}; expected finite values")
    if labels:
        i = _first((y_true < 0) | (y_true > 1))
        if i is not None:
            raise LossbenchError(
                f"y_true{_index(i, shape)} is {y_true[i]}; expected labels in [0, 1]"
            )


def _index(flat: int, shape: tuple[int, ...]) -> str:
    if len(shape) <= 1:
        return f"[{flat}]"
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"
