"""From names to losses: `get` (a name, a label or user code), `names`, and `expand`, which
turns a config's loss entry into losses (a parameter given as a list is a grid)."""

from __future__ import annotations

import difflib
from typing import Any

from lossbench.errors import LossbenchError
from lossbench.losses.base import Loss
from lossbench.losses.builtin import LOSSES
from lossbench.losses.labels import grid, parse
from lossbench.losses.softmax import ROW_LOSSES, CrossEntropy
from lossbench.losses.user import UserLoss

# what `get` names: an elementwise loss, or one over the rows of (n, K) logits
AnyLoss = Loss | CrossEntropy

__all__ = ["AnyLoss", "expand", "get", "names"]


def names() -> list[str]:
    """The built-in elementwise loss names, sorted (``cross_entropy``, over rows of logits
    for multiclass fits, is named apart).

    >>> names()
    ['bce', 'bce_logits', 'huber', 'log_cosh', 'mae', 'mse', 'pseudo_huber']
    """
    return sorted(LOSSES)


def get(name: str, **params: Any) -> AnyLoss:
    """The loss called `name`, with `params` (keyword-only hyperparameters).

    `name` is a built-in name (see `names()`), a label such as ``"huber(delta=1.345)"`` (as
    lossbench writes them in result files; a fit's ``scale=`` is how δ was measured, not a
    parameter of the loss), or ``"package.module:function"`` for a user loss, whose code is
    imported and run.

    >>> from lossbench import losses
    >>> huber = losses.get("huber", delta=1.345)
    >>> str(huber), huber.params
    ('huber(delta=1.345)', {'delta': 1.345})
    >>> losses.get("huber(delta=1.345, scale=mad)") == huber
    True
    >>> losses.get("msee")
    Traceback (most recent call last):
    ...
    lossbench.errors.LossbenchError: unknown loss 'msee' (did you mean 'mse'?); expected one of \
bce, bce_logits, huber, log_cosh, mae, mse, pseudo_huber, cross_entropy (multiclass) or \
'package.module:function'
    """
    label = parse(name)
    if label.variant is not None:
        raise LossbenchError(f"{name!r} is a curve drawn for a loss, not a loss")
    params = {**label.params, **params}
    if label.is_user:
        return UserLoss(label.name, **params)
    cls = LOSSES.get(label.name) or ROW_LOSSES.get(label.name)
    if cls is None:
        close = difflib.get_close_matches(label.name, [*LOSSES, *ROW_LOSSES], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = [*names(), *(f"{name} (multiclass)" for name in sorted(ROW_LOSSES))]
        raise LossbenchError(
            f"unknown loss {label.name!r}{hint}; expected one of {', '.join(known)} or "
            "'package.module:function'"
        )
    return cls(**params)


def expand(entry: str | dict[str, Any]) -> list[AnyLoss]:
    """The losses a config entry names: a name or label, or a mapping with a ``name`` whose
    parameters given as lists are a grid.

    Examples:
        >>> [str(loss) for loss in expand({"name": "huber", "delta": [0.5, 1, 2]})]
        ['huber(delta=0.5)', 'huber(delta=1.0)', 'huber(delta=2.0)']
    """
    if not isinstance(entry, dict):
        return [get(entry)]
    params = dict(entry)
    name = params.pop("name", None)
    if name is None:
        raise LossbenchError("a loss given as a mapping needs a 'name'")
    return [get(name, **combo) for combo in grid(params)]
