"""Reading a config's text safely: size, encoding, YAML 1.2 numbers, duplicate keys, depth and
alias expansion are all bounded, and every problem is one `LossbenchError` naming its source."""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml

from lossbench import text
from lossbench.errors import LossbenchError

__all__ = ["DEFAULT", "MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "parse_yaml", "read_text", "short"]

DEFAULT = "<embedded default>"
MAX_BYTES = 1_000_000  # a config file; lossbench's own are under 3 kB
MAX_VALUES = 100_000  # values in a config once YAML's aliases are expanded
MAX_DEPTH = 32  # nesting; lossbench's schema needs 5


class _Loader(yaml.SafeLoader):
    """YAML as people write configs: numbers like 1e-8 are numbers (YAML 1.2; YAML 1.1 read
    them as strings), and a key given twice is an error rather than silently the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
# values quoted in error messages: a glimpse, never megabytes
short = reprlib.Repr()
short.maxstring, short.maxother, short.maxlist, short.maxdict, short.maxlevel = 40, 40, 4, 4, 2


def parse_yaml(text: str, source: str) -> Any:
    """YAML text as Python values; every problem (syntax, a duplicate key, a number too long,
    nesting too deep, aliases that expand too far) one `LossbenchError` naming `source`."""
    try:
        value = yaml.load(text, Loader=_Loader)  # a SafeLoader: no code runs
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise LossbenchError(f"{source}: {problem}{where}") from None
    except RecursionError:
        raise LossbenchError(f"{source}: nested too deeply to be a config") from None
    except ValueError as error:  # an integer of thousands of digits
        raise LossbenchError(f"{source}: {str(error)[:200]}") from None
    _count(value, source, 0, {})
    _printable(value, source, ())
    return value


def _printable(value: Any, source: str, where: tuple) -> None:
    """Refuse a control or invisible character in any key or string: a config's names are
    shown in terminals, markdown and HTML, where such a character would act, not show."""
    if isinstance(value, str):
        if text.visible(value) != value:
            place = ".".join(str(part) for part in where) or "the config"
            raise LossbenchError(
                f"{source}: {place}: '{text.visible(value)[:80]}' holds a control or invisible "
                "character (shown escaped); names and values must be printable text"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _printable(key, source, where)
            _printable(item, source, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _printable(item, source, (*where, i))


def _count(value: Any, source: str, depth: int, seen: dict[int, int]) -> int:
    """Values in `value` with aliases expanded (each shared node counted once per use)."""
    if not isinstance(value, dict | list):
        return 1
    if depth > MAX_DEPTH:
        raise LossbenchError(f"{source}: nested more than {MAX_DEPTH} deep; a config needs 5")
    if id(value) not in seen:
        items = value.values() if isinstance(value, dict) else value
        seen[id(value)] = 1 + sum(_count(item, source, depth + 1, seen) for item in items)
        if seen[id(value)] > MAX_VALUES:
            raise LossbenchError(
                f"{source}: more than {MAX_VALUES:,} values once its YAML aliases are "
                "expanded; a config needs hundreds"
            )
    return seen[id(value)]


def read_text(path: str | Path, source: str) -> str:
    """A config's text: at most `MAX_BYTES`, UTF-8 (a byte-order mark allowed)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        if source.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise LossbenchError(
                f"{source}: no such config file (flags such as --quick take no value)"
            ) from None
        raise LossbenchError(
            f"{source}: no such config file (try `lossbench init {source}`)"
        ) from None
    except IsADirectoryError:
        raise LossbenchError(f"{source}: a directory, not a config file") from None
    except OSError as error:
        raise LossbenchError(f"{source}: cannot read the config ({error.strerror})") from None
    if len(data) > MAX_BYTES:
        raise LossbenchError(
            f"{source}: larger than {MAX_BYTES // 1_000_000} MB; a config is a few kB"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LossbenchError(
            f"{source}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None
