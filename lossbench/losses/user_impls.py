"""User implementations of a built-in loss, for timing: ``timing.impls: [package.module:function]``.

A library author's own kernel, timed beside lossbench's as ``<loss>.<op>.<package.module:
function>.<dtype>.<n>`` and gated in CI like them. The function is the value op,
``function(y_true, y_pred, **loss.params) -> float`` (the mean, as lossbench's "mean"
reduction), and says which built-in loss it computes in an attribute ``loss`` (``"mse"``).
Optional attributes ``gradient`` and ``value_and_gradient`` (same arguments; the gradient of
the mean, and the pair) add those ops. Before anything is timed each op is checked against
lossbench's numpy reference on 1,000 typical inputs: a kernel that computes something else is
refused rather than timed.

Imported like user losses (`lossbench.losses.user`): from the config's directory, named
only where the config names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses import impls
from lossbench.losses.labels import names_code
from lossbench.losses.user import import_function, search_path

if TYPE_CHECKING:
    from lossbench.losses.spec import AnyLoss

__all__ = ["UserImpl", "is_user_impl", "user_impl"]

_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
RTOL = 1e-6  # float64 agreement with the numpy reference: another summation order passes


def is_user_impl(name: str) -> bool:
    """Whether an impl name is a user's ``package.module:function``."""
    return names_code(name)


class UserImpl(impls.Implementation):
    """A user's function computing one built-in loss; timed, never used by the loss API."""

    user: ClassVar[bool] = True

    def __init__(self, spec: str, search: Sequence[str]) -> None:
        if not _SPEC.fullmatch(spec):
            raise LossbenchError(
                f"a user implementation is named 'package.module:function'; got {spec!r}"
            )
        self.name = spec
        function = import_function(spec, search, what="user implementation")
        self.summary = ((function.__doc__ or "").strip().splitlines() or ["a user kernel"])[0]
        self.target = _declared_loss(spec, function)
        self.functions: dict[str, Callable] = {"value": function}
        for op in ("gradient", "value_and_gradient"):
            extra = getattr(function, op, None)
            if extra is not None:
                if not callable(extra):
                    raise LossbenchError(f"user implementation {spec}: `{op}` is not callable")
                self.functions[op] = extra
        self.ops = frozenset(self.functions)

    def supports(self, loss: AnyLoss, op: str) -> bool:
        return loss.name == self.target and op in self.functions

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        function, params = self.functions[op], dict(loss.params)
        return lambda: function(y_true, y_pred, **params)

    def check(self, loss: AnyLoss, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Refuse, with the numbers, an op that does not give lossbench's numpy result."""
        for op in sorted(self.functions):
            try:
                got = self.call(loss, op, y_true, y_pred)()
            except Exception as error:  # the user's code: any failure is theirs to see
                raise LossbenchError(
                    f"user implementation {self.name} ({op} of {loss}) raised "
                    f"{type(error).__name__}: {str(error)[:200]}"
                ) from None
            want = getattr(loss, op)(y_true, y_pred, impl="numpy")
            parts = (
                zip(_tuple(got), _tuple(want), strict=False)
                if op == "value_and_gradient"
                else [(got, want)]
            )
            for part, reference in parts:
                _agree(self.name, op, loss, part, reference)


def _tuple(value) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) and len(value) == 2 else (value, None)


def _agree(name: str, op: str, loss: AnyLoss, got, want) -> None:
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        got = None
    want = np.asarray(want, dtype=np.float64)
    if got is None or got.shape != want.shape:
        shape = "a number" if want.shape == () else f"an array of shape {want.shape}"
        raise LossbenchError(f"user implementation {name} ({op} of {loss}) must return {shape}")
    # relative to the largest magnitude: a gradient's elements near 0 are not held to 1e-6 each
    error = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), np.finfo(float).tiny)
    if not error <= RTOL:
        raise LossbenchError(
            f"user implementation {name} does not compute {op} of {loss}: relative difference "
            f"{error:.3g} from lossbench's numpy reference on 1,000 typical float64 inputs "
            f"(at most {RTOL:g} allowed)"
        )


def _declared_loss(spec: str, function: Callable) -> str:
    from lossbench import losses

    built_in = [name for name in losses.names() if not names_code(name)]
    target = getattr(function, "loss", None)
    if target not in built_in:
        name = spec.rpartition(":")[2]
        said = "" if target is None else f" (it says {target!r})"
        raise LossbenchError(
            f"user implementation {spec} must say which built-in loss it computes{said}: set "
            f"`{name}.loss = 'mse'` (one of {', '.join(built_in)})"
        )
    return target


_LOADED: dict[tuple[str, tuple[str, ...]], UserImpl] = {}


def user_impl(spec: str) -> UserImpl:
    """The user implementation `spec`, imported from the current search path (once)."""
    key = (spec, search_path())
    if key not in _LOADED:
        _LOADED[key] = UserImpl(spec, key[1])
    return _LOADED[key]


def implementation(name: str) -> impls.Implementation:
    """A registered implementation by name, or a user's ``package.module:function``
    (imported from the current search path on first use); KeyError for an unknown name."""
    return user_impl(name) if is_user_impl(name) else impls.get(name)
