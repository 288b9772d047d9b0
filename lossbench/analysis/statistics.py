"""The statistics behind every interval and verdict lossbench prints. Small pure functions;
distributions and bootstraps from scipy and numpy, seeded.

- `mean_interval`: 95% BCa bootstrap interval of a mean (inside the data's range, so never
  below zero for a non-negative metric).
- `median_interval`: the distribution-free order-statistic interval of a median
  (`scipy.stats.quantile_test`); NaN below 6 values, where no such interval reaches 95%.
- `mean_unstable`: whether a mean is dominated by single trials (heavy tails): flagged, never
  a reason to change the statistic.
- `paired`: a loss against the baseline over the same trials, on the declared statistic: the
  ratio of means by a t test on its log (delta method; Nadeau & Bengio's correction on
  cross-validation folds), the ratio of medians by a paired bootstrap. One procedure gives
  the estimate, the p-value and the interval at any level (`Paired.interval`).
- `bonferroni`: the family's adjustment; its intervals (at 1 − alpha / m) decide as its
  p-values do.
- `verdict`: ``better``, ``worse``, ``equivalent`` or ``inconclusive`` from the deciding
  interval and an equivalence margin.
- `efficiency`: relative efficiency, the baseline's mean squared error over the loss's.

References: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13–14;
Conover, *Practical Nonparametric Statistics* (1999), §3.2 (quantile intervals); Nadeau &
Bengio, "Inference for the generalization error" (2003); Kruschke, "Rejecting or accepting
parameter values" (2018) for the region of practical equivalence.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lossbench.analysis.constants import FAMILYWISE_ALPHA, Verdict

__all__ = [
    "FAMILYWISE_ALPHA",
    "Paired",
    "PairedShares",
    "bonferroni",
    "efficiency",
    "mean_interval",
    "mean_unstable",
    "median_interval",
    "paired",
    "verdict",
]

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
                data,
                statistic,
                paired=paired,
                vectorized=True,
                n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if math.isfinite(low) and math.isfinite(high):
            return float(low), float(high)
    return math.nan, math.nan


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def mean_interval(
    values: np.ndarray, seed: int = 0, test_train: float = 0.0
) -> tuple[float, float]:
    """95% interval of the mean; NaN below 3 values. Independent trials: a BCa bootstrap.
    Cross-validation folds (`test_train` = n_test / n_train > 0), whose training sets overlap:
    a t interval with Nadeau & Bengio's corrected variance (1/J + n_test/n_train) s², the
    correction the verdicts use."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return math.nan, math.nan
    if test_train > 0:
        from scipy.stats import t as student_t

        mean, spread = float(np.mean(values)), float(np.std(values, ddof=1))
        half = (
            student_t.ppf(0.975, len(values) - 1) * spread * math.sqrt(1 / len(values) + test_train)
        )
        return mean - half, mean + half
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


# a bootstrap of medians is coarse below this many trials: resampled medians take few values
MEDIAN_FEWEST = 10
MEDIAN_RESAMPLES = 9999  # enough replicates for an interval at 0.05 / 20 (25 beyond each end)


@dataclass(frozen=True)
class Paired:
    """A loss against the baseline over the same trials, on one statistic (mean or median):
    the relative difference stat(loss) / stat(base) − 1, the two-sided p-value of "no
    difference" (unadjusted), and what gives the interval at any level (`interval`), so that
    an interval at the level a family decides at excludes 0 exactly when p is below it."""

    estimate: float
    p: float
    n: int
    statistic: str
    log_ratio: float = math.nan  # log(stat(loss) / stat(base))
    se: float = math.nan  # its standard error (mean: delta method; median: none)
    df: int = 0
    replicates: np.ndarray | None = None  # median: bootstrap log ratios, sorted
    note: str = ""

    def interval(self, alpha: float) -> tuple[float, float]:
        """(low, high) of the relative difference at confidence 1 − alpha, inside (−1, ∞)."""
        if self.replicates is not None:
            # order statistics k and B + 1 − k, k = ⌈alpha B / 2⌉: low > 0 exactly when fewer
            # than alpha B / 2 replicates are ≤ 0, i.e. when p < alpha (and so for high < 0)
            b = len(self.replicates)
            k = max(1, math.ceil(alpha * b / 2))
            low, high = self.replicates[k - 1], self.replicates[b - k]
        elif math.isfinite(self.se):
            from scipy.stats import t as student_t

            half = float(student_t.ppf(1 - alpha / 2, self.df)) * self.se if self.se else 0.0
            low, high = self.log_ratio - half, self.log_ratio + half
        else:
            return math.nan, math.nan
        return float(np.expm1(low)), float(np.expm1(high))


@dataclass(frozen=True)
class PairedShares:
    """Two losses' yes/no outcomes over the same pairs (restart r of both from the same
    weights): the difference of their shares of yes, loss's − base's, = (b − c) / n for the
    b pairs where only the loss says yes and the c where only the base does.

    Its interval at level 1 − alpha: q = (b + c) / n, the share of discordant pairs, and
    π = b / (b + c) each get a Clopper-Pearson interval at 1 − alpha / 2 (scipy's `binomtest`;
    π's is [0, 1] without discordant pairs), and the difference q (2π − 1) ranges over their
    corners. It excludes 0 exactly when π's interval excludes ½, i.e. when McNemar's exact
    test, made central and doubled for the split of alpha, is below alpha: that is `p`. No
    discordant pair is no difference seen, and the interval ±q's upper bound shrinks with n:
    equivalence within a margin needs enough pairs."""

    b: int
    c: int
    n: int
    statistic: str = "share"
    note: str = ""

    @property
    def estimate(self) -> float:
        return (self.b - self.c) / self.n if self.n else math.nan

    @property
    def p(self) -> float:
        from scipy.stats import binom

        m = self.b + self.c
        if not m:
            return 1.0
        tail = min(float(binom.cdf(self.b, m, 0.5)), float(binom.sf(self.b - 1, m, 0.5)))
        return min(1.0, 4 * tail)

    def interval(self, alpha: float) -> tuple[float, float]:
        from scipy.stats import binomtest

        if not self.n:
            return math.nan, math.nan
        m = self.b + self.c
        q = binomtest(m, self.n).proportion_ci(1 - alpha / 2, method="exact")
        pi = binomtest(self.b, m).proportion_ci(1 - alpha / 2, method="exact") if m else None
        shares = (pi.low, pi.high) if pi is not None else (0.0, 1.0)
        corners = [share * (2 * side - 1) for share in (q.low, q.high) for side in shares]
        return float(min(corners)), float(max(corners))


def _finite_pairs(loss, base) -> tuple[np.ndarray, np.ndarray]:
    loss, base = np.asarray(loss, dtype=float), np.asarray(base, dtype=float)
    keep = np.isfinite(loss) & np.isfinite(base)
    return loss[keep], base[keep]


def paired(
    loss: np.ndarray,
    base: np.ndarray,
    statistic: str = "mean",
    *,
    test_train: float = 0.0,
    seed: int = 0,
) -> Paired:
    """Compare paired values (trial i of `loss` with trial i of `base`; NaN pairs dropped) on
    the ratio of their means or medians.

    mean: a t test and interval on the log ratio of means, its standard error by the delta
    method (the mean of ψᵢ = loss_i / mean(loss) − base_i / mean(base) linearizes it). For
    cross-validation folds, whose training sets overlap, `test_train` = n_test / n_train
    inflates the variance as Nadeau & Bengio's corrected resampled t-test does: (1/J +
    n_test/n_train) s² instead of s²/J. median: a paired percentile bootstrap of the log
    ratio of medians (trials resampled together), its p-value the interval inverted.
    Both means (medians) must be positive: a ratio of a signed metric is not a relative
    difference."""
    loss, base = _finite_pairs(loss, base)
    n = len(loss)
    stat = np.mean if statistic == "mean" else np.median
    empty = Paired(math.nan, math.nan, n, statistic)
    if n < 3:
        return dataclasses.replace(empty, note="fewer than 3 paired trials")
    top, bottom = float(stat(loss)), float(stat(base))
    if np.array_equal(loss, base):
        return Paired(0.0, 1.0, n, statistic, 0.0, 0.0, n - 1)
    if not (top > 0 and bottom > 0):
        return dataclasses.replace(empty, note=f"the {statistic}s must be positive for a ratio")
    log_ratio = math.log(top / bottom)
    if statistic == "median":
        if n < MEDIAN_FEWEST:
            return dataclasses.replace(
                empty,
                estimate=math.expm1(log_ratio),
                note=f"fewer than {MEDIAN_FEWEST} trials: too few to bootstrap medians",
            )
        return _median_ratio(loss, base, log_ratio, seed)
    from scipy.stats import t as student_t

    psi = loss / top - base / bottom
    se = math.sqrt((1.0 / n + test_train) * float(np.var(psi, ddof=1)))
    if se == 0:  # loss = c · base, trial by trial: the ratio is known exactly
        p = 1.0 if log_ratio == 0 else 0.0
    else:
        p = float(2.0 * student_t.sf(abs(log_ratio) / se, n - 1))
    return Paired(math.expm1(log_ratio), p, n, "mean", log_ratio, se, n - 1)


def _median_ratio(loss: np.ndarray, base: np.ndarray, log_ratio: float, seed: int) -> Paired:
    rng = np.random.default_rng(seed)
    n = len(loss)
    picks = rng.integers(0, n, size=(MEDIAN_RESAMPLES, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = np.log(np.median(loss[picks], axis=1) / np.median(base[picks], axis=1))
    replicates = np.sort(np.nan_to_num(replicates, nan=0.0))
    b = len(replicates)
    below, above = int(np.sum(replicates <= 0)), int(np.sum(replicates >= 0))
    p = min(1.0, 2.0 * min(below, above) / b)
    return Paired(math.expm1(log_ratio), p, n, "median", log_ratio, replicates=replicates)


def bonferroni(p_values: np.ndarray, m: int | None = None) -> np.ndarray:
    """Bonferroni-adjusted p-values (NaN stays NaN): each multiplied by the family's size `m`
    (default: the count of finite ones), capped at 1. With intervals at 1 − alpha / m it is
    the adjustment whose intervals decide exactly as its p-values do (Holm's step-down has no
    such intervals)."""
    p = np.asarray(p_values, dtype=float)
    m = int(np.isfinite(p).sum()) if m is None else m
    return np.minimum(p * max(1, m), 1.0)


def verdict(low: float, high: float, margin: float, higher_is_better: bool = False) -> str:
    """From the interval that decides (at the family's level): ``better`` / ``worse`` when it
    lies wholly beyond the margin on one side, ``equivalent`` when wholly within ±margin,
    else ``inconclusive``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return Verdict.inconclusive
    if -margin <= low and high <= margin:
        return Verdict.equivalent
    if high < -margin or low > margin:
        lower = high < -margin
        return Verdict.better if lower != higher_is_better else Verdict.worse
    return Verdict.inconclusive


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
