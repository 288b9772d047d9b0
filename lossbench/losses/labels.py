"""Labels and grids: the one place that writes a label, reads one back, and expands a grid.

A label names a loss (or a dataset) with its parameters, as result files show it:
``huber(delta=1.345)``; a fit that measures δ in a residual scale says so,
``huber(delta=1.345, scale=mad)``; a derived curve carries a variant, ``bce (unclipped)``.
`parse` reads any of these back into a `Label`, and ``str(parse(text)) == text`` for every
label lossbench writes.

>>> label = parse("huber(delta=1.345, scale=mad)")
>>> label.name, label.params, label.scale
('huber', {'delta': 1.345}, 'mad')
>>> str(label), label.loss_label
('huber(delta=1.345, scale=mad)', 'huber(delta=1.345)')
>>> grid({"delta": [0.5, 1.0], "eps": 0.1})
[{'delta': 0.5, 'eps': 0.1}, {'delta': 1.0, 'eps': 0.1}]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lossbench.errors import LossbenchError

__all__ = ["UNCLIPPED", "Label", "format_label", "grid", "names_code", "parse", "sweeps"]

UNCLIPPED = "unclipped"  # a loss on probabilities drawn as its formula has it, without clipping


def names_code(name: str) -> bool:
    """Whether a loss or implementation name names a user's code (``package.module:function``):
    registered names have no colon.

    >>> names_code("mypkg.kernels:squared"), names_code("huber")
    (True, False)
    """
    return ":" in name


_LABEL = re.compile(r"^\s*([\w.:]+)\s*(?:\((.*)\))?\s*$")
_VARIANT = re.compile(r"^(.*\S)\s+\((\w+)\)$")


@dataclass(frozen=True)
class Label:
    """A parsed label: the loss's name and parameters, the residual scale a fit measured its
    scale parameter in (None: the units of y), and a variant of its curve (None: the loss)."""

    name: str
    params: dict[str, float | None] = field(default_factory=dict)
    scale: str | None = None
    variant: str | None = None

    def __str__(self) -> str:
        return format_label(self.name, self.params, scale=self.scale, variant=self.variant)

    @property
    def loss_label(self) -> str:
        """The label of the loss itself: no scale, no variant."""
        return format_label(self.name, self.params)

    @property
    def is_user(self) -> bool:
        """Whether it names user code (``package.module:function``)."""
        return names_code(self.name)


def format_label(
    name: str,
    params: Mapping[str, Any],
    *,
    scale: str | None = None,
    variant: str | None = None,
    number: Callable[[Any], str] = repr,
) -> str:
    """``name(k=v, ...)`` with the parameters that are set (None is left out), then the scale
    and the variant, if any; `number` writes each value (``repr``: ``delta=1.0``)."""
    shown = [f"{k}={number(v)}" for k, v in params.items() if v is not None]
    if scale is not None:
        shown.append(f"scale={scale}")
    text = f"{name}({', '.join(shown)})" if shown else name
    return f"{text} ({variant})" if variant else text


def parse(text: str) -> Label:
    """The `Label` a label's text stands for; a `LossbenchError` saying what is wrong if it
    is not one (numbers must be numbers, parameters ``key=value``)."""
    if not isinstance(text, str):
        raise LossbenchError(f"a loss name must be a string; got {text!r}")
    variant = None
    derived = _VARIANT.match(text)
    if derived and not derived.group(1).endswith(("(", ",")):
        text, variant = derived.group(1), derived.group(2)
    match = _LABEL.match(text)
    if not match:
        raise LossbenchError(f"cannot read loss label {text!r}: expected name(key=value, ...)")
    name, inside = match.group(1), match.group(2) or ""
    params: dict[str, float | None] = {}
    scale = None
    for item in filter(None, (part.strip() for part in inside.split(","))):
        key, sep, raw = (piece.strip() for piece in item.partition("="))
        if not sep:
            raise LossbenchError(
                f"cannot read loss label {text!r}: expected key=value, got {item!r}"
            )
        if key in params or (key == "scale" and scale is not None):
            raise LossbenchError(f"cannot read loss label {text!r}: {key} is given twice")
        if key == "scale":  # how a fit measured δ, not a loss parameter
            scale = raw
            continue
        try:
            params[key] = None if raw == "None" else float(raw)
        except ValueError:
            raise LossbenchError(
                f"cannot read loss label {text!r}: {key} must be a number, got {raw!r}"
            ) from None
    return Label(name, params, scale, variant)


def grid(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of `params` where a list value is a grid axis (one value per
    combination) and anything else is fixed, in the order given; an empty list makes none."""
    axes = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    empty = next((k for k, values in axes.items() if not values), None)
    if empty is not None:
        raise LossbenchError("an empty list makes nothing to run", where=(empty,))
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def sweeps(texts: Iterable[str]) -> dict[str, list[str]]:
    """Built-in losses run at several parameter settings: name -> its labels, in order.

    >>> sweeps(["mse", "huber(delta=1.0)", "huber(delta=2.0)", "log_cosh"])
    {'huber': ['huber(delta=1.0)', 'huber(delta=2.0)']}
    """
    found: dict[str, list[str]] = {}
    for text in dict.fromkeys(texts):
        try:
            label = parse(text)
        except LossbenchError:
            continue
        if label.variant is None and not label.is_user:
            found.setdefault(label.name, []).append(text)
    return {name: members for name, members in found.items() if len(members) > 1}
