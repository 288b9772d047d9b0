"""User losses: ``"package.module:function"`` names code to import and run (docs/losses.md: only
where a config names code).

Where that code is looked for is `searched`'s to say (the config's directory, then the
working directory, for a run): those directories go first on ``sys.path`` only while the
named module is imported, never for anything else lossbench imports (a ``numba.py`` beside a
config is not run). A module of that name already imported from elsewhere (``json``, say)
would be silently used instead: that is refused, with the fix. A `UserLoss` pickles as its
name, parameters and directories, so a worker process imports the same code from there."""

from __future__ import annotations

import contextlib
import importlib
import reprlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses.base import Loss

__all__ = ["UserLoss", "import_function", "search_path", "searched"]

_SEARCH: tuple[str, ...] = ()  # where user code is looked for, first to last


def search_path() -> tuple[str, ...]:
    """The directories user losses are imported from now (for a worker process's spec)."""
    return _SEARCH


@contextlib.contextmanager
def searched(directories: Sequence[str | Path]) -> Iterator[None]:
    """User losses named inside this block are imported from `directories` first."""
    global _SEARCH
    before = _SEARCH
    _SEARCH = tuple(dict.fromkeys(str(Path(d).resolve()) for d in directories))
    try:
        yield
    finally:
        _SEARCH = before


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

    def __init__(self, spec: str, _search: Sequence[str] | None = None, **params: Any) -> None:
        self.name = spec
        self.params = dict(params)
        self._search = tuple(_SEARCH if _search is None else _search)
        self._function = import_function(spec, self._search)
        self._gradient = getattr(self._function, "gradient", None)
        self._hessian = getattr(self._function, "hessian", None)
        self.labels = bool(getattr(self._function, "labels", False))
        self.prediction = str(getattr(self._function, "prediction", "real"))
        self.summary = (
            (self._function.__doc__ or "").strip().splitlines() or ["a user-defined loss"]
        )[0]
        self._dry_run()

    def __reduce__(self):
        # by name, not by the function object: a worker imports it from the same directories
        return _rebuild, (self.name, self._search, self.params)

    def _dry_run(self) -> None:
        """Call the code once on four elements, so that a loss that fails does so before a run
        starts (a function that raises, returns strings or the wrong shape)."""
        y_true = np.array([0.0, 1.0, 1.0, 0.0]) if self.labels else np.array([0.5, -1.0, 2.0, 0.0])
        y_pred = (
            np.array([0.2, 0.7, 0.9, 0.4])
            if self.prediction == "probability"
            else (np.array([-1.0, 0.5, 2.0, 0.1]))
        )
        self._values(y_true, y_pred)
        if self._gradient is not None:
            self._call(self._gradient, y_true, y_pred)
        if self._hessian is not None:
            self._call(self._hessian, y_true, y_pred)

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
        wrong = ~np.isfinite(out)
        if wrong.any():  # its own fault, named before anything downstream blames y_pred
            i = int(np.argmax(wrong))
            what = {id(self._gradient): "its gradient", id(self._hessian): "its hessian"}.get(
                id(function), "it"
            )
            raise LossbenchError(
                f"user loss {self.name}: {what} returned {float(out.flat[i])!r} at y_true = "
                f"{float(y_true.flat[i]):g}, y_pred = {float(y_pred.flat[i]):g}; a loss must be "
                "finite on finite inputs"
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

    def _second_derivatives(self, y_true, y_pred):
        if self._hessian is not None:
            return self._call(self._hessian, y_true, y_pred)
        return super()._second_derivatives(y_true, y_pred)


def _rebuild(spec: str, search: tuple[str, ...], params: dict) -> UserLoss:
    return UserLoss(spec, _search=search, **params)


def import_function(spec: str, search: Sequence[str] = (), what: str = "user loss") -> Callable:
    """The function `spec` ("package.module:function") names, imported with `search` first on
    sys.path; failures are `LossbenchError`s that name `what` it is."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise LossbenchError(f"a {what} is named 'package.module:function'; got {spec!r}")
    _refuse_shadowed(spec, module_name.partition(".")[0], search, what)
    try:
        with _first_on_path(search):
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise LossbenchError(f"{what} {spec!r}: cannot import {module_name!r} ({error})") from None
    except SyntaxError as error:
        raise LossbenchError(
            f"{what} {spec!r}: {error.filename}, line {error.lineno}: {error.msg}"
        ) from None
    except Exception as error:  # the module's own code failed as it was imported
        raise LossbenchError(
            f"{what} {spec!r}: importing {module_name} raised {type(error).__name__}: "
            f"{str(error)[:200]}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise LossbenchError(f"{what} {spec!r}: {module_name} has no function {attribute!r}")
    return function


@contextlib.contextmanager
def _first_on_path(directories: Sequence[str]) -> Iterator[None]:
    """`directories` first on sys.path for the length of one import, then as before."""
    before = list(sys.path)
    sys.path[:0] = [d for d in directories]
    try:
        yield
    finally:
        sys.path[:] = before


def _refuse_shadowed(spec: str, top: str, search: Sequence[str], what: str) -> None:
    """A module `top` found in a searched directory, while one of that name is already loaded
    from elsewhere, would not be the one imported: say so instead."""
    from importlib.machinery import PathFinder

    loaded = sys.modules.get(top)
    if loaded is None:
        return
    found = PathFinder.find_spec(top, list(search)) if search else None
    if found is None or found.origin is None:
        return
    origin = getattr(loaded, "__file__", None)
    if origin is None or Path(origin).resolve() != Path(found.origin).resolve():
        raise LossbenchError(
            f"{what} {spec!r}: {found.origin} has the name of the module {top!r} that is "
            f"already loaded from {origin or 'the interpreter'}; rename the file (and the "
            "loss's name with it)"
        )
