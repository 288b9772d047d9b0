"""User losses: ``"package.module:function"`` names code to import and run (DESIGN.md: only
where a config names code)."""

from __future__ import annotations

import importlib
import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses.base import Loss

__all__ = ["UserLoss"]


class UserLoss(Loss):
    """A loss written by the user, named ``"package.module:function"``.

    ``function(y_true, y_pred, **params)`` returns per-element losses as a numpy array. If it has
    an attribute ``gradient`` (same signature, per-element d loss / d y_pred) that is used;
    otherwise the derivative is taken by central differences. Optional attributes ``labels``
    (bool) and ``prediction`` ("real", "probability", "logit") describe its inputs. Naming a
    user loss imports and runs that code. Only ``impl="numpy"`` is available.
    """

    formula = "user code"
    summary = "a user-defined loss"
    impls = ("numpy",)

    def __init__(self, spec: str, **params: Any) -> None:
        self.name = spec
        self.params = dict(params)
        self._function = _import_function(spec)
        self._gradient = getattr(self._function, "gradient", None)
        self.labels = bool(getattr(self._function, "labels", False))
        self.prediction = str(getattr(self._function, "prediction", "real"))
        self.summary = (
            (self._function.__doc__ or "").strip().splitlines() or ["a user-defined loss"]
        )[0]
        self._dry_run()

    def _dry_run(self) -> None:
        """Call the code once on four elements, so that a loss that fails does so before a run
        starts (a function that raises, returns strings or the wrong shape)."""
        y_true = np.array([0.0, 1.0, 1.0, 0.0]) if self.labels else np.array([0.5, -1.0, 2.0, 0.0])
        y_pred = np.array([0.2, 0.7, 0.9, 0.4]) if self.prediction == "probability" else (
            np.array([-1.0, 0.5, 2.0, 0.1]))  # fmt: skip
        self._values(y_true, y_pred)
        if self._gradient is not None:
            self._call(self._gradient, y_true, y_pred)

    def _call(self, function, y_true, y_pred) -> np.ndarray:
        try:
            out = function(y_true, y_pred, **self.params)
        except Exception as error:  # the user's code: any failure is theirs to see
            raise LossbenchError(
                f"user loss {self.name} raised {type(error).__name__}: {str(error)[:200]}"
            ) from None
        try:
            out = np.array(out, dtype=y_pred.dtype, copy=True)
        except (TypeError, ValueError):
            raise LossbenchError(
                f"user loss {self.name} must return numbers; got {reprlib.repr(out)}"
            ) from None
        if out.shape != y_pred.shape:
            raise LossbenchError(
                f"user loss {self.name} must return one value per element, shape "
                f"{y_pred.shape}; got shape {out.shape}"
            )
        return out

    def _values(self, y_true, y_pred):
        return self._call(self._function, y_true, y_pred)

    def _derivatives(self, y_true, y_pred):
        if self._gradient is not None:
            return self._call(self._gradient, y_true, y_pred)
        # elementwise losses make the Jacobian diagonal: two calls give every derivative
        h = np.finfo(y_pred.dtype).eps ** (1 / 3) * np.maximum(1.0, np.abs(y_pred))
        up = self._call(self._function, y_true, y_pred + h)
        down = self._call(self._function, y_true, y_pred - h)
        return ((up - down) / (2.0 * h)).astype(y_pred.dtype)


def _import_function(spec: str) -> Callable:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise LossbenchError(f"a user loss is named 'package.module:function'; got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LossbenchError(
            f"user loss {spec!r}: cannot import {module_name!r} ({error})"
        ) from None
    except SyntaxError as error:
        raise LossbenchError(
            f"user loss {spec!r}: {error.filename}, line {error.lineno}: {error.msg}"
        ) from None
    except Exception as error:  # the module's own code failed as it was imported
        raise LossbenchError(
            f"user loss {spec!r}: importing {module_name} raised {type(error).__name__}: "
            f"{str(error)[:200]}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise LossbenchError(f"user loss {spec!r}: {module_name} has no function {attribute!r}")
    return function
