"""The statistics behind every interval and verdict lossbench prints. Small pure functions;
intervals and tests come from scipy, seeded.

- `mean_interval`: 95% BCa bootstrap interval of a mean (inside the data's range, so never
  below zero for a non-negative metric).
- `median_interval`: the distribution-free order-statistic interval of a median
  (`scipy.stats.quantile_test`); NaN below 6 values, where no such interval reaches 95%.
- `mean_unstable`: whether a mean is dominated by single trials (heavy tails).
- `paired`: a loss against the baseline over the same trials: the relative difference of the
  statistic with a paired BCa bootstrap interval, and the Wilcoxon signed-rank test.
- `paired_cv`: the same on cross-validation folds, with Nadeau & Bengio's corrected
  resampled t-test (the folds' training sets overlap).
- `holm`: Holm's step-down adjustment of a family of p-values.
- `verdict`: ``better``, ``worse``, ``equivalent`` or ``inconclusive`` against an equivalence
  margin.
- `efficiency`: relative efficiency, the baseline's mean squared error over the loss's.

References: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 14 (BCa);
Conover, *Practical Nonparametric Statistics* (1999), §3.2 (quantile intervals), §5.7
(Wilcoxon signed-rank); Holm, "A simple sequentially rejective multiple test procedure" (1979);
Kruschke, "Rejecting or accepting parameter values" (2018) for the region of practical
equivalence.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lossbench.analysis.constants import FAMILYWISE_ALPHA

__all__ = [
    "FAMILYWISE_ALPHA", "Paired", "efficiency", "holm", "mean_interval", "mean_unstable",
    "median_interval", "paired", "paired_cv", "verdict",
]  # fmt: skip

CONFIDENCE = 0.95
RESAMPLES = 1999
OUTLYING = 1.5  # see mean_unstable


def _bootstrap(data: tuple[np.ndarray, ...], statistic: Callable, seed: int, paired: bool):
    """(low, high) of a BCa bootstrap interval; percentile where BCa is undefined; the point
    itself when the data do not vary."""
    from scipy.stats import bootstrap

    point = float(statistic(*data, axis=-1))
    if all(np.ptp(d) == 0 for d in data) or not math.isfinite(point):
        return point, point
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate resamples: handled by the fallback
            result = bootstrap(
                data, statistic, paired=paired, vectorized=True, n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE, method=method, rng=np.random.default_rng(seed),
            )  # fmt: skip
        low, high = result.confidence_interval
        if math.isfinite(low) and math.isfinite(high):
            return float(low), float(high)
    return math.nan, math.nan


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def mean_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean; NaN below 3 values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return math.nan, math.nan
    return _bootstrap((values,), _mean, seed, paired=False)


def median_interval(values: np.ndarray) -> tuple[float, float]:
    """The order-statistic interval of the median with at least 95% coverage (NaN when the
    sample is too small for one: fewer than 6 values)."""
    values = np.asarray(values, dtype=float)
    low, high = _median_ranks(len(values))
    if math.isnan(low):
        return math.nan, math.nan
    ordered = np.sort(values)
    return float(ordered[int(low)]), float(ordered[int(high)])


@functools.lru_cache(maxsize=256)
def _median_ranks(n: int) -> tuple[float, float]:
    """Which order statistics bound the median's interval for n values: scipy's
    `quantile_test` interval computed on the ranks 0 … n − 1 themselves (once per n)."""
    from scipy.stats import quantile_test

    if n < 6:
        return math.nan, math.nan
    ranks = np.arange(n, dtype=float)
    interval = quantile_test(ranks, q=float(np.median(ranks)), p=0.5).confidence_interval(
        CONFIDENCE
    )
    return float(interval.low), float(interval.high)


def mean_unstable(values: np.ndarray) -> bool:
    """Whether the mean is at the mercy of single trials: some trial lies further from the
    median, in robust standard deviations (1.4826 MAD), than 1.5 × the largest deviation a
    normal sample of that size reaches with 99% probability (Hampel's identifier, made
    conservative). Under Cauchy noise MSE's coefficient error, which has no mean, is flagged in
    nearly every run of 50 trials; Gaussian data almost never. Below 10 trials heavy tails
    cannot be told from chance: never flagged."""
    from scipy.stats import norm

    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 10:
        return False
    if not np.all(np.isfinite(values)):
        return True
    deviation = np.abs(values - np.median(values))
    scale = 1.4826 * np.median(deviation)
    if scale == 0:
        return bool(deviation.max() > 0)
    return bool(deviation.max() / scale > OUTLYING * norm.ppf(1 - 0.005 / n))


@dataclass(frozen=True)
class Paired:
    """A loss against the baseline over the same trials: the relative difference of the
    statistic (loss / baseline − 1) with its interval, the test's p-value and the pair count."""

    estimate: float
    low: float
    high: float
    p: float
    n: int
    statistic: str


def _ratio(stat: Callable) -> Callable:
    def relative(a, b, axis=-1):
        with np.errstate(divide="ignore", invalid="ignore"):
            return stat(a, axis=axis) / stat(b, axis=axis) - 1.0

    return relative


def paired(loss: np.ndarray, base: np.ndarray, statistic: str = "mean", seed: int = 0) -> Paired:
    """Compare paired values (trial i of `loss` with trial i of `base`; NaN pairs dropped).

    The estimate is stat(loss) / stat(base) − 1 for stat = mean or median, with a paired BCa
    bootstrap interval (trials resampled together); the p-value is the two-sided Wilcoxon
    signed-rank test of the paired differences (exact for small samples without ties)."""
    from scipy.stats import wilcoxon

    loss, base = np.asarray(loss, dtype=float), np.asarray(base, dtype=float)
    keep = np.isfinite(loss) & np.isfinite(base)
    loss, base = loss[keep], base[keep]
    n = len(loss)
    stat = np.mean if statistic == "mean" else np.median
    relative = _ratio(stat)
    if n < 2 or stat(base) == 0:
        return Paired(math.nan, math.nan, math.nan, math.nan, n, statistic)
    estimate = float(relative(loss, base))
    low, high = _bootstrap((loss, base), relative, seed, paired=True) if n >= 3 else (math.nan,) * 2
    difference = loss - base
    if np.all(difference == 0):
        p = 1.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when ties force the normal approximation
            p = float(wilcoxon(difference).pvalue)
    return Paired(estimate, low, high, p, n, statistic)


def paired_cv(loss: np.ndarray, base: np.ndarray, test_train: float) -> Paired:
    """Compare paired values from cross-validation folds, whose training sets overlap: Nadeau
    & Bengio's corrected resampled t-test (*Inference for the generalization error*, 2003).
    The variance of the mean difference is (1/J + n_test/n_train) s² instead of s²/J; the
    interval of the relative difference of means is the corrected t interval of the mean
    difference over the baseline's mean."""
    from scipy.stats import t as student_t

    loss, base = np.asarray(loss, dtype=float), np.asarray(base, dtype=float)
    keep = np.isfinite(loss) & np.isfinite(base)
    loss, base = loss[keep], base[keep]
    n = len(loss)
    scale = float(np.mean(base)) if n else math.nan
    if n < 2 or scale == 0:
        return Paired(math.nan, math.nan, math.nan, math.nan, n, "mean")
    difference = loss - base
    mean = float(np.mean(difference))
    se = math.sqrt((1.0 / n + test_train) * float(np.var(difference, ddof=1)))
    if se == 0:
        p = 1.0 if mean == 0 else 0.0
        low = high = mean / scale
    else:
        p = float(2.0 * student_t.sf(abs(mean / se), n - 1))
        half = float(student_t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * se
        low, high = sorted(((mean - half) / scale, (mean + half) / scale))
    return Paired(mean / scale, low, high, p, n, "mean")


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (NaN stays NaN): the k-th smallest of m is multiplied by
    m − k + 1, then made monotone and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def verdict(
    estimate: float,
    low: float,
    high: float,
    p_adjusted: float,
    margin: float,
    higher_is_better: bool = False,
    alpha: float = FAMILYWISE_ALPHA,
) -> str:
    """``better`` / ``worse``: significant after adjustment and the whole interval beyond the
    margin on one side; ``equivalent``: the whole interval within ±margin; else
    ``inconclusive``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    if -margin <= low and high <= margin:
        return "equivalent"
    significant = math.isfinite(p_adjusted) and p_adjusted < alpha
    if significant and (high < -margin or low > margin):
        lower = high < -margin
        return "better" if lower != higher_is_better else "worse"
    return "inconclusive"


def efficiency(loss: np.ndarray, base: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Relative efficiency of `loss` against `base` from paired errors (e.g. coef_error):
    mean(base²) / mean(loss²) with a paired BCa bootstrap interval; 0.95 means the loss needs
    about 1 / 0.95 as many samples for the same mean squared error."""
    loss, base = np.asarray(loss, dtype=float), np.asarray(base, dtype=float)
    keep = np.isfinite(loss) & np.isfinite(base)
    loss, base = loss[keep] ** 2, base[keep] ** 2
    if len(loss) < 3 or np.mean(loss) == 0:
        return math.nan, math.nan, math.nan

    def ratio(a, b, axis=-1):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean(b, axis=axis) / np.mean(a, axis=axis)

    low, high = _bootstrap((loss, base), ratio, seed, paired=True)
    return float(ratio(loss, base)), low, high
