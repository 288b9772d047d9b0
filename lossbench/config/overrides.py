"""``--set KEY=VALUE`` overrides, and which of them (or the file) gave a field."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from lossbench import text
from lossbench.config.reading import parse_yaml
from lossbench.errors import LossbenchError

__all__ = ["blame", "set_values", "shown"]

LONGEST = 48  # characters of a --set shown in a message: the error stays one short line


def shown(item: str, quoted: bool = True) -> str:
    """A ``--set`` item as a message shows it: its middle elided beyond `LONGEST`."""
    item = text.elided(item, LONGEST)
    return repr(item) if quoted else item


def blame(source: str, overrides: Sequence[str], where: tuple[str | int, ...]) -> str:
    """`source`, or the ``--set`` that set the field at `where`
    (``("experiments", 0, "trials")``, which ``--set experiments.0.trials=5`` sets)."""
    dotted = ".".join(map(str, where))
    for item in reversed(overrides):
        key = item.partition("=")[0].strip()
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {shown(item, quoted=False)}"
    return source


def set_values(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `raw` with each ``dotted.path=value`` applied (value parsed as YAML; list items
    by index: ``experiments.0.trials=5``)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        said = f"--set {shown(item)}"
        if not sep or not key.strip():
            raise LossbenchError(f"{said}: expected KEY=VALUE, e.g. --set trials=10")
        value = parse_yaml(text, said)
        node: Any = raw
        parts = key.strip().split(".")
        for depth, name in enumerate(parts):
            part: str | int = name
            last = depth == len(parts) - 1
            here = shown(".".join(parts[:depth]), quoted=False) or "the config"
            if isinstance(node, list):
                if not name.isdigit() or int(name) >= len(node):
                    raise LossbenchError(
                        f"{said}: {here} has no item {shown(name)} (it has {len(node)})"
                    )
                part = int(name)
            elif not isinstance(node, dict):
                raise LossbenchError(f"{said}: {here} is a value, not a section")
            if last:
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw
