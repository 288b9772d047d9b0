"""Comparing two timing runs, and two result sets: the statistics and the verdict rules.

For each benchmark in both sides (`Side`: the values of each pyperf worker process), one
procedure decides:

- the **process is the unit**: a pyperf worker's values share its address layout, hash seed
  and page placement, so each process contributes one number, the median of its values
  (robust to the values a busy neighbour's preemption hit; `process_medians`);
- **Welch's t on the logs** of those per-process medians (scipy's ``ttest_ind``, unequal
  variances): the ratio is the ratio of their geometric means, new / base, and its interval
  at level 1 − alpha (`TIMING_ALPHA` = 0.02 per benchmark, two-sided) is the interval that
  decides. A verdict needs 4 processes a side (`MIN_PROCESSES`): with one process in four
  disturbed (30% slower for its life), fewer let false alarms reach 3.1% and catch a 2×
  regression in a third of pairs, 4 hold them ≤ 1.2% and catch it in 99.4%; false alarms
  stay far below alpha because a verdict needs the interval beyond the threshold, not only
  beyond 1 (`benchmarks/calibrate_compare.py`);
- the **verdict**, with threshold t: ``slower`` when the whole interval lies above 1 + t,
  ``faster`` when wholly below 1 / (1 + t) — beyond the threshold at the interval's level,
  whether or not the row is unstable; ``same`` when it lies wholly within those bounds. An
  interval that straddles a bound is ``inconclusive``, with about how many processes would
  settle it (`processes_to_settle`), as with fewer than 4 processes a side (``strict``: a
  judgement that also fails on such a row whose ratio lies beyond the threshold, a likely
  slowdown, named apart);
  ``missing`` when a benchmark is in one side only;
- ``unstable`` when either side's per-process medians vary by more than `UNSTABLE_CV`
  (coefficient of variation).

The medians and the two-level bootstrap interval of the ratio of medians are reported beside
it for reading, not for deciding. ``normalize`` divides each kernel's values by its own side's
``read`` probe at the same dtype and size (`Side.floors` names it), so that runs from two
machines can be compared. `lossbench.analysis.judgement` puts these rows together with the
quality rows into what fails CI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossbench.analysis.constants import TIMING_ALPHA, TIMING_THRESHOLD, UNSTABLE_CV, TimingVerdict
from lossbench.errors import LossbenchError

__all__ = [
    "COUNTS_AGREE",
    "MIN_PROCESSES",
    "TIMING_ALPHA",
    "TIMING_COLUMNS",
    "UNSTABLE_CV",
    "VERDICTS",
    "Side",
    "between_cv",
    "compare_timings",
    "host_differences",
    "needed_processes",
    "processes_to_settle",
    "runs_of",
]

VERDICTS = tuple(TimingVerdict)


def runs_of(suite: Any) -> dict[str, list[np.ndarray]]:
    """Per benchmark of a pyperf suite, the values of each worker process (pyperf keeps a
    worker's values as one run; calibration runs, which have none, are left out)."""
    return {
        b.get_name(): [np.asarray(r.values, dtype=float) for r in b.get_runs() if r.values]
        for b in suite.get_benchmarks()
    }


@dataclass
class Side:
    """One input of a comparison: its timing runs (None: it has none), the floor benchmark of
    each kernel (its ``read`` probe, for `normalize`), its summary (lossbench runs only) and
    the facts of its host."""

    path: Path
    runs: dict[str, list[np.ndarray]] | None
    summary: pd.DataFrame | None = None
    host: dict[str, Any] = field(default_factory=dict)
    floors: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # pyperf's: "integer" = instructions
    started: str | None = None  # when it ran (run.json's start, or pyperf's date)

    @classmethod
    def of_suite(cls, path: Path, suite: Any, **rest: Any) -> Side:
        """A side from a loaded pyperf suite."""
        units = {b.get_name(): b.get_unit() for b in suite.get_benchmarks()}
        return cls(path, runs_of(suite), units=units, **rest)


def process_medians(processes: list[np.ndarray]) -> np.ndarray:
    """Each worker process's one number: the median of its values. Other work on the machine
    only ever adds time, in bursts: a value that a preemption hit is an outlier, which a mean
    carries into the process's number (on a 2-core VM with a busy neighbour, one of 3 values
    made a process's mean 10x its median) and a median does not."""
    return np.array([np.median(values) for values in processes])


def between_cv(processes: list[np.ndarray]) -> float:
    """Coefficient of variation of the per-process medians (NaN with fewer than 2 processes):
    how much pyperf's worker processes disagree."""
    if len(processes) < 2:
        return math.nan
    means = process_medians(processes)
    return float(np.std(means, ddof=1) / np.mean(means))


def host_differences(base: Side, new: Side) -> list[str]:
    """The host facts (CPU, Python, package versions) that differ, as "key: a → b"."""
    keys = sorted(set(base.host) | set(new.host))
    return [
        f"{key}: {base.host.get(key)} → {new.host.get(key)}"
        for key in keys
        if base.host.get(key) is not None
        and new.host.get(key) is not None
        and base.host.get(key) != new.host.get(key)
    ]


def _normalized(side: Side) -> dict[str, list[np.ndarray]]:
    """Each kernel's values over the median of its side's `read` probe at the same dtype and
    n (benchmarks without a floor, probes and other tools' benchmarks, are left out)."""
    out = {}
    runs = side.runs or {}
    for name, processes in runs.items():
        if name not in side.floors:
            continue
        probe = runs.get(side.floors[name])
        if probe is None:
            raise LossbenchError(
                f"{side.path}: --normalize needs the read probe {side.floors[name]!r} for {name}"
            )
        scale = np.median(np.concatenate(probe))
        out[name] = [values / scale for values in processes]
    return out


# per side, for a verdict: the least count at which false alarms stay ≤ 2.5% and a 2×
# regression is caught in ≥ 95% with disturbed processes (docs/compare.md); Welch's t itself
# needs 2 (a variance on each side), from which the ratio and its interval are shown
MIN_PROCESSES = 4
_WELCH_PROCESSES = 2


def needed_processes(alpha: float) -> int:
    """How many processes per side a timing verdict needs (`MIN_PROCESSES`, measured by
    `benchmarks/calibrate_compare.py --disturbed`).

    >>> needed_processes(0.02)
    4
    """
    return MIN_PROCESSES


@dataclass(frozen=True)
class Ratio:
    """new / base from Welch's t on the logs of per-process medians: the ratio of geometric
    means, its interval at 1 − alpha, and the p-value of "no change"."""

    ratio: float
    low: float
    high: float
    p: float


def process_ratio(base: list[np.ndarray], new: list[np.ndarray], alpha: float) -> Ratio | None:
    """`Ratio` of two sides' processes (None below 2 a side, where Welch's t has no
    variance, or with a non-positive mean, whose log does not exist)."""
    from scipy.stats import ttest_ind

    a, b = process_medians(base), process_medians(new)
    if min(len(a), len(b)) < _WELCH_PROCESSES or not ((a > 0).all() and (b > 0).all()):
        return None
    la, lb = np.log(a), np.log(b)
    d = float(lb.mean() - la.mean())
    if la.var() == 0 and lb.var() == 0:  # every process the same: a point, exact
        return Ratio(_exp(d), _exp(d), _exp(d), 1.0 if d == 0 else 0.0)
    result = ttest_ind(lb, la, equal_var=False)
    interval = result.confidence_interval(1 - alpha)
    low, high = float(interval.low), float(interval.high)
    return Ratio(_exp(d), _exp(low), _exp(high), float(result.pvalue))


def _exp(x: float) -> float:
    """e**x, infinite beyond the float range rather than an OverflowError: subnormal times
    (5e-324 s) against ordinary ones are ratios of 1e300 and more."""
    with np.errstate(over="ignore"):
        return float(np.exp(x))


def decide(r: Ratio | None, threshold: float) -> TimingVerdict:
    """The verdict from the deciding interval (see the module docstring)."""
    if r is None or math.isnan(r.low) or math.isnan(r.high):
        return TimingVerdict.inconclusive  # an infinite bound decides as any other
    up, down = 1 + threshold, 1 / (1 + threshold)
    if r.low > up:
        return TimingVerdict.slower
    if r.high < down:
        return TimingVerdict.faster
    if down <= r.low and r.high <= up:
        return TimingVerdict.same
    # an interval that reaches across a bound decides nothing, stable or not: not "same" (a
    # true 2× slowdown measured at [0.94, 3.91] is not the same speed), and not "slower" from
    # the estimate alone (beyond 1 with the ratio beyond the bound called a true 1.08× slower
    # in up to 11.8% of pairs at threshold 0.10); `--strict` fails on such a row whose ratio
    # is beyond
    return TimingVerdict.inconclusive


def processes_to_settle(
    ratio: float, low: float, high: float, processes: int, alpha: float, threshold: float
) -> int | None:
    """About how many processes a side would narrow the interval `[low, high]` around `ratio`
    (from `processes` a side) to clear the threshold's nearer bound, if the ratio and the
    spread between processes stay as measured: the standard error scales as 1/√n and Welch's
    t quantile falls with the degrees of freedom (2n − 2 at equal spread). None when the ratio
    sits on a bound, or beyond `MAX_SETTLE` processes."""
    from scipy.stats import t

    values = (ratio, low, high)
    if processes < 2 or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    centre, bound = math.log(ratio), math.log1p(threshold)
    gap = abs(abs(centre) - bound)
    half = (math.log(high) - math.log(low)) / 2
    if gap <= 0 or half <= 0:
        return None
    se = half / t.ppf(1 - alpha / 2, max(1, 2 * processes - 2))
    n = np.arange(processes + 1, MAX_SETTLE + 1)  # every count at once: one quantile call
    settled = n[t.ppf(1 - alpha / 2, 2 * n - 2) * se * np.sqrt(processes / n) < gap]
    return int(settled[0]) if settled.size else None


MAX_SETTLE = 1000


def _ratio_interval(
    base: list[np.ndarray], new: list[np.ndarray], seed: int = 0, resamples: int = 1000
) -> tuple[float, float]:
    """95% interval of median(new) / median(base) from a two-level bootstrap: processes
    resampled, then values within each chosen process (the process is the unit)."""
    rng = np.random.default_rng(seed)

    def medians(processes: list[np.ndarray]) -> np.ndarray:
        k = len(processes)
        m = min(len(values) for values in processes)
        # pyperf gives every process the same number of values; a longer one is trimmed
        table = np.stack([values[:m] for values in processes])  # k processes × m values
        chosen = rng.integers(0, k, (resamples, k, 1))
        step = max(1, 2_000_000 // (k * m))  # resamples at a time: memory stays ~50 MB
        out = []
        for i in range(0, resamples, step):
            picked = chosen[i : i + step]
            within = rng.integers(0, m, (len(picked), k, m))
            out.append(np.median(table[picked, within].reshape(len(picked), -1), axis=1))
        return np.concatenate(out)

    low, high = np.percentile(medians(new) / medians(base), [2.5, 97.5])
    return float(low), float(high)


TIMING_COLUMNS = [
    "benchmark",
    "base_median_s",
    "new_median_s",
    "ratio",
    "verdict",
    "p_value",
    "test",
    "ratio_ci_low",
    "ratio_ci_high",
    "base_stdev_s",
    "new_stdev_s",
    "base_values",
    "new_values",
    "base_processes",
    "new_processes",
    "base_between_cv",
    "new_between_cv",
    "unstable",
    "needed_processes",
    "unit",
    "confidence",
    "median_ratio",
    "median_ratio_low",
    "median_ratio_high",
]


def compare_timings(
    base: Side,
    new: Side,
    *,
    threshold: float = TIMING_THRESHOLD,
    alpha: float = TIMING_ALPHA,
    normalize: bool = False,
) -> pd.DataFrame:
    """One row per benchmark in either side (`TIMING_COLUMNS`; see the module docstring)."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise LossbenchError(f"--threshold must be a finite number ≥ 0; got {threshold}")
    if not 0 < alpha < 1:
        raise LossbenchError(f"--alpha must be in (0, 1); got {alpha}")
    if base.runs is None or new.runs is None:
        return pd.DataFrame(columns=TIMING_COLUMNS)
    a, b = (_normalized(base), _normalized(new)) if normalize else (base.runs, new.runs)
    unit = "read probe" if normalize else "s"
    rows = []
    for name in list(dict.fromkeys([*a, *b])):
        if name not in a or name not in b or not a[name] or not b[name]:
            only = float(
                np.median(np.concatenate(a.get(name) or b.get(name) or [np.array([math.nan])]))
            )
            rows.append(
                {
                    "benchmark": name,
                    "verdict": TimingVerdict.missing,
                    "unit": unit,
                    "base_median_s": only if a.get(name) else math.nan,
                    "new_median_s": only if b.get(name) else math.nan,
                }
            )
            continue
        va, vb = a[name], b[name]
        if base.units.get(name) == new.units.get(name) == "integer":
            rows.append(_counted(name, va, vb, threshold))
            continue
        pooled_a, pooled_b = np.concatenate(va), np.concatenate(vb)
        cv_a, cv_b = between_cv(va), between_cv(vb)
        unstable = bool(max(np.nan_to_num(cv_a), np.nan_to_num(cv_b)) > UNSTABLE_CV)
        decided = process_ratio(va, vb, alpha)
        enough = min(len(va), len(vb)) >= MIN_PROCESSES
        verdict = decide(decided, threshold) if enough else TimingVerdict.inconclusive
        median_low, median_high = _ratio_interval(va, vb)
        median_ratio = float(np.median(pooled_b) / np.median(pooled_a))
        ratio = decided.ratio if decided is not None else median_ratio
        rows.append(
            {
                "benchmark": name,
                "base_median_s": float(np.median(pooled_a)),
                "new_median_s": float(np.median(pooled_b)),
                "ratio": ratio,
                "verdict": verdict,
                "p_value": decided.p if decided is not None else math.nan,
                "test": "welch t on log process medians",
                "ratio_ci_low": decided.low if decided is not None else math.nan,
                "ratio_ci_high": decided.high if decided is not None else math.nan,
                "confidence": 1 - alpha,
                "median_ratio": median_ratio,
                "median_ratio_low": median_low,
                "median_ratio_high": median_high,
                "base_stdev_s": float(np.std(pooled_a, ddof=1)) if pooled_a.size > 1 else math.nan,
                "new_stdev_s": float(np.std(pooled_b, ddof=1)) if pooled_b.size > 1 else math.nan,
                "base_values": int(pooled_a.size),
                "new_values": int(pooled_b.size),
                "base_processes": len(va),
                "new_processes": len(vb),
                "base_between_cv": cv_a,
                "new_between_cv": cv_b,
                "unstable": unstable,
                "needed_processes": needed_processes(alpha),
                "unit": unit,
            }
        )
    return pd.DataFrame(rows, columns=TIMING_COLUMNS)


COUNTS_AGREE = 0.001  # instruction counts of identical code: processes this close, or no verdict


def _counted(name: str, base: list[np.ndarray], new: list[np.ndarray], threshold: float) -> dict:
    """Instruction counts: no statistics beyond checking that each side's processes agree (to
    `COUNTS_AGREE`, on each process's smallest count: one process's values jitter upwards by
    a few hundred instructions, as the interpreter's allocator takes a slower path now and
    then); then the ratio of the medians of those is the verdict, from one process a side."""
    a = np.array([values.min() for values in base])
    b = np.array([values.min() for values in new])
    spread = max(float(a.max() / a.min() - 1), float(b.max() / b.min() - 1))
    ratio = float(np.median(b) / np.median(a))
    if spread > COUNTS_AGREE:
        verdict = TimingVerdict.inconclusive
    elif ratio > 1 + threshold:
        verdict = TimingVerdict.slower
    elif ratio < 1 / (1 + threshold):
        verdict = TimingVerdict.faster
    else:
        verdict = TimingVerdict.same
    return {
        "benchmark": name,
        "base_median_s": float(np.median(a)),
        "new_median_s": float(np.median(b)),
        "ratio": ratio,
        "verdict": verdict,
        "p_value": math.nan,
        "test": "instruction counts",
        "ratio_ci_low": ratio,
        "ratio_ci_high": ratio,
        "base_values": sum(map(len, base)),
        "new_values": sum(map(len, new)),
        "base_processes": len(base),
        "new_processes": len(new),
        "base_between_cv": spread,
        "new_between_cv": spread,
        "unstable": spread > COUNTS_AGREE,
        "needed_processes": 1,
        "unit": "instructions",
    }
