"""The one exception lossbench raises for anything a user can get wrong, and where it was.

A location is data, not text: ``where`` is the path of the config field at fault
(``("experiments", 0, "datasets", 1, "kind")``) and ``source`` the file or ``--set`` that gave
it; `located` adds the outer part of the path as an error passes through, and ``str(error)``
spells it all out: ``my.yaml: experiments[0].datasets[1].kind: unknown dataset 'gausian'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from lossbench.text import elided

__all__ = ["MAX_MESSAGE", "LossbenchError", "located", "location", "one_line", "require"]

MAX_MESSAGE = 500  # characters of an error line: a value quoted in it may be megabytes


class LossbenchError(ValueError):
    """A user mistake: bad input, bad config, unreadable file.

    The message says what was expected and what was given; the CLI prints it as one line.
    """

    def __init__(
        self, message: str = "", *, where: tuple[str | int, ...] = (), source: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = tuple(where)
        self.source = source

    def __str__(self) -> str:
        return ": ".join(p for p in (self.source, location(self.where), self.message) if p)

    def __reduce__(self):  # across processes (joblib, dask) with its location
        return _rebuild, (self.message, self.where, self.source)

    def within(self, *outer: str | int) -> LossbenchError:
        """The same error, located inside `outer` (the outer part of the field path)."""
        return LossbenchError(self.message, where=(*outer, *self.where), source=self.source)

    def from_source(self, source: str) -> LossbenchError:
        """The same error, said to come from `source` (a file, or a ``--set``)."""
        return LossbenchError(self.message, where=self.where, source=source)


def _rebuild(message: str, where: tuple, source: str | None) -> LossbenchError:
    return LossbenchError(message, where=where, source=source)


def location(where: tuple[str | int, ...]) -> str:
    """A field path as the config reads it: ``experiments[0].losses[2]``.

    >>> location(("experiments", 0, "datasets", 1, "kind"))
    'experiments[0].datasets[1].kind'
    """
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where)
    return text.lstrip(".")


@contextmanager
def located(*where: str | int) -> Iterator[None]:
    """Errors raised inside are located within `where`."""
    try:
        yield
    except LossbenchError as error:
        raise error.within(*where) from None


# a quoted name or value of more than 40 characters and no spaces (an unknown loss
# 'yyyy…' of 400): its middle elided, the words around it kept
_LONG_QUOTED = re.compile(r"(['\"])([^\s'\"]{41,})\1")


def _elided(match: re.Match) -> str:
    quote, value = match.groups()
    return f"{quote}{elided(value, 37)}{quote} ({len(value):,} characters)"


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    r"""`message` as one line of at most about `limit` characters, saying how long it was.

    >>> one_line("a\nb"), one_line("x" * 1000, limit=40)
    ('a b', 'xxxxxxxxxx … (1,000 characters in all)')
    """
    message = " ".join(message.split())  # one line, whatever the value held
    message = _LONG_QUOTED.sub(_elided, message)
    if len(message) <= limit:
        return message
    return f"{message[: limit - 30]} … ({len(message):,} characters in all)"


def require(module: str, install: str):
    """The optional dependency `module`, imported, or a `LossbenchError` saying `install` (what
    needs it and the pip command that brings it)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise LossbenchError(install) from None
