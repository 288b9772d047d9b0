"""Numbers as people read them, the one place they are formatted: a table cell (`fmt`), an
estimate with its interval (`estimate`), a relative difference (`percent`) or one in points
(`points`, `difference`), an interval's level and its Bonferroni family (`level`,
`family_size`), a duration (`seconds`)."""

from __future__ import annotations

import math

from lossbench.analysis.constants import FAMILYWISE_ALPHA

__all__ = [
    "difference",
    "estimate",
    "family_size",
    "fmt",
    "level",
    "percent",
    "points",
    "seconds",
]


def fmt(x: float | None) -> str:
    """A number for a table cell: 3 significant digits, n/a for NaN, ∞ for infinities.

    >>> fmt(0.123456), fmt(12345.0), fmt(0.0001234), fmt(float("inf")), fmt(float("nan"))
    ('0.123', '1.23e+04', '1.23e-04', '∞', 'n/a')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def estimate(r, statistic: str = "mean") -> str:
    """A summary row as "mean [low, high]" ("median [low, high]" where the dataset's declared
    statistic is the median), a mean dominated by a few trials marked "*": flagged, never
    swapped for another statistic."""
    if statistic == "median":
        value, low, high, mark = r["median"], r["median_low"], r["median_high"], ""
    else:
        mark = "*" if bool(r.get("mean_unstable", False)) else ""
        value, low, high = r["mean"], r["ci_low"], r["ci_high"]
    if math.isnan(low) or math.isnan(high):
        return f"{fmt(value)}{mark}"
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]{mark}"


DOMINATED_MARK = "* the mean is dominated by a few trials; statistic: median would be steadier"


def declared(comparisons) -> dict[str, str]:
    """dataset -> the statistic its comparisons were decided on (``mean`` where none)."""
    if comparisons is None or not len(comparisons) or "statistic" not in comparisons:
        return {}
    return dict(zip(comparisons["dataset"], comparisons["statistic"], strict=True))


def percent(x: float) -> str:
    """A signed relative difference ("n/a" when not finite).

    >>> percent(-0.2791), percent(0.025), percent(float("nan"))
    ('−27.9%', '+2.5%', 'n/a')
    """
    return f"{x:+.1%}".replace("-", "−") if math.isfinite(x) else "n/a"


def difference(x: float, statistic: str = "mean") -> str:
    """A signed difference as its statistic measures it: a relative one in percent, or, for
    a difference of shares ("paired share"), in percentage points.

    >>> difference(-0.2791), difference(-0.5625, "paired share")
    ('−27.9%', '−56.2 points')
    """
    if statistic != "paired share" or not math.isfinite(x):
        return percent(x)
    return f"{points(x)} points"


def points(x: float) -> str:
    """A signed difference of shares in percentage points, without the unit.

    >>> points(-0.5625), points(0.0)
    ('−56.2', '+0.0')
    """
    return f"{100 * x:+.1f}".replace("-", "−")


def family_size(confidence) -> int:
    """m of the Bonferroni family an interval's level 1 − alpha / m belongs to (0: unknown)."""
    if not (isinstance(confidence, float) and math.isfinite(confidence) and confidence < 1):
        return 0
    return round(FAMILYWISE_ALPHA / (1 - confidence))


def level(confidence: float) -> str:
    """0.95 → "95%", 0.98333 → "98.33%": the level an interval is at."""
    return f"{confidence * 100:.4g}%"


_TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


def time_unit(x: float) -> tuple[float, str] | None:
    """(scale, unit) of the largest unit that keeps the duration `x` ≥ 1; None below 1 ns.

    >>> time_unit(0.0015), time_unit(1e-12)
    ((0.001, 'ms'), None)
    """
    return next(((scale, unit) for unit, scale in _TIME_UNITS if abs(x) >= scale), None)


def seconds(x: float) -> str:
    """A duration in the largest unit that keeps it ≥ 1, pyperf's way.

    >>> seconds(0.0015), seconds(2.5e-8), seconds(3.0)
    ('1.5 ms', '25 ns', '3 s')
    """
    scale, unit = time_unit(x) or (1.0, "s")
    return f"{x / scale:.3g} {unit}"
