"""The one way a numeric hyperparameter is checked, for losses and datasets alike: a `Range`.

Plain comparisons rather than a pydantic model: a loss is made in every timing worker and
`lossbench.losses` loads numpy only, where importing pydantic would cost about 140 ms a
process (measured). The config's own settings are pydantic's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lossbench.errors import LossbenchError

__all__ = ["Range"]


@dataclass(frozen=True)
class Range:
    """Where a number may lie: between `low` and `high` (each excluded when open), whole
    when `integer`, always finite; a bool or a text is not a number. `expected` says it in
    words for errors ("a number > 0").

    >>> Range(0, 0.5, "a number in (0, 0.5)", low_open=True, high_open=True).check(0.25)
    0.25
    >>> Range(2, 10_000, "an integer ≥ 2", integer=True).check(100.0)
    100
    >>> Range(0, math.inf, "a number ≥ 0").check(math.inf)
    Traceback (most recent call last):
    ...
    lossbench.errors.LossbenchError: expected a number ≥ 0, finite; got inf
    """

    low: float
    high: float
    expected: str
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def check(self, value: Any, name: str | None = None) -> float | int:
        """`value` as this range's type; a `LossbenchError` saying what was expected if not
        ("`name` must be ..." when the parameter is named)."""
        if hasattr(value, "item") and not isinstance(value, bool | str):  # numpy scalars
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._refused(value, name)
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise self._refused(value, name, finite=True) from None
        if not math.isfinite(number):
            raise self._refused(value, name, finite=True)
        above = self.low < number if self.low_open else self.low <= number
        below = number < self.high if self.high_open else number <= self.high
        if not (above and below) or (self.integer and not number.is_integer()):
            raise self._refused(value, name)
        return int(number) if self.integer else number

    def _refused(self, value: Any, name: str | None, finite: bool = False) -> LossbenchError:
        said = f"{self.expected}, finite" if finite else self.expected
        shown = "a huge integer" if isinstance(value, int) and abs(value) >= 10**20 else repr(value)
        wanted = f"{name} must be {said}" if name else f"expected {said}"
        return LossbenchError(f"{wanted}; got {shown}")
