"""Where a benchmark's trend steps: change points over commits, robust to a disturbed run.

Detection is PELT (Killick, Fearnhead and Eckley 2012, as implemented by `ruptures`' kernel
change point search with a linear kernel) on the normal scores of the ranks of the per-commit
values (a rank cost, as in Lung-Yut-Fong, Lévy-Leduc and Cappé 2015): a run slowed by a
neighbour is one high rank, not a step. The penalty is BIC-like, ``BETA · s² · log n``, with
``s`` the scores' noise from the median absolute difference of neighbours (which a step moves
by one difference only). Each change found is then placed by least squares on the log values,
outliers clipped at two noise widths around a running median, within ``SHIFT`` commits of
where the ranks put it; a step smaller than `min_change` is not reported (instruction counts
are exact: any jitter would be a "step").

Calibrated by simulation (`benchmarks/bench_history.py`, docs/history.md): over 200 commits
with four processes a commit at 5% noise, no false step in 400 series without one, and a 10%
step placed within one commit in 99.5% of 400 (97.8% with one process in twenty slowed 30%).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.stats import norm, rankdata

__all__ = ["BETA", "MIN_COMMITS", "Change", "changes"]

BETA = 6.0  # the penalty's multiple: see the calibration in docs/history.md
MIN_SEGMENT = 2  # commits on each side of a change: one commit is a blip, not a step
MIN_COMMITS = 2 * MIN_SEGMENT + 1
SHIFT = 5  # how far least squares may move a change the ranks found
_NOISE_FLOOR = 1e-3  # relative: what an exact count's noise is taken to be at least


@dataclass(frozen=True)
class Change:
    """A step at commit `index` (the first commit after it): `ratio` = the median of the
    commits from there to the next change over the median of those since the previous one."""

    index: int
    ratio: float
    before: int  # commits in the segment before
    after: int


def changes(values: np.ndarray, *, min_change: float = 0.01) -> list[Change]:
    """The steps in a series of positive per-commit values (in commit order)."""
    logs = np.log(np.asarray(values, dtype=float))
    if logs.size < MIN_COMMITS:
        return []
    found = _placed(logs, _detected(logs))
    while True:  # drop the smallest step below min_change, then measure the rest again
        steps = _steps(logs, found)
        small = [i for i, step in enumerate(steps) if abs(step.ratio - 1) < min_change]
        if not small:
            return steps
        del found[min(small, key=lambda i: abs(steps[i].ratio - 1))]


def _detected(logs: np.ndarray) -> list[int]:
    import ruptures

    scores = norm.ppf(rankdata(logs) / (logs.size + 1))
    penalty = BETA * _noise(scores) ** 2 * np.log(logs.size)
    search = ruptures.KernelCPD(kernel="linear", min_size=MIN_SEGMENT, jump=1)
    return [int(b) for b in search.fit(scores).predict(pen=penalty)[:-1]]


def _noise(values: np.ndarray) -> float:
    """The noise of one value, from neighbours' differences (robust to steps and outliers)."""
    differences = np.diff(values)
    spread = 1.4826 * np.median(np.abs(differences - np.median(differences))) / np.sqrt(2)
    return max(float(spread), _NOISE_FLOOR)


def _placed(logs: np.ndarray, found: list[int]) -> list[int]:
    """Each change moved to where it best splits its two segments in least squares."""
    noise, centre = _noise(logs), median_filter(logs, size=9, mode="nearest")
    clipped = centre + np.clip(logs - centre, -2 * noise, 2 * noise)
    edges, placed = [0, *found, logs.size], list[int]()
    for i, where in enumerate(found):
        low, high = (placed[-1] if placed else edges[i]), edges[i + 2]
        candidates = range(
            max(low + MIN_SEGMENT, where - SHIFT), min(high - MIN_SEGMENT, where + SHIFT) + 1
        )
        cost = [_split_cost(clipped[low:high], c - low) for c in candidates]
        placed.append(candidates[int(np.argmin(cost))] if cost else where)
    return placed


def _split_cost(segment: np.ndarray, at: int) -> float:
    left, right = segment[:at], segment[at:]
    return float(left.var() * left.size + right.var() * right.size)


def _ratio(log_ratio: float) -> float:
    with np.errstate(over="ignore"):  # beyond the float range: infinite
        return float(np.exp(log_ratio))


def _steps(logs: np.ndarray, found: list[int]) -> list[Change]:
    edges = [0, *found, logs.size]
    medians = [np.median(logs[a:b]) for a, b in itertools.pairwise(edges)]
    return [
        Change(
            index=found[i],
            ratio=_ratio(medians[i + 1] - medians[i]),
            before=edges[i + 1] - edges[i],
            after=edges[i + 2] - edges[i + 1],
        )
        for i in range(len(found))
    ]
