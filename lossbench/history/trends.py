"""Each benchmark's trend over commits: per commit, the median of every recorded process's
median (all runs of that commit pooled), on one machine, with the steps found in it."""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossbench.history.changes import Change, changes

__all__ = ["Trend", "trends"]


@dataclass(frozen=True)
class Trend:
    """One benchmark on one machine: `commits` (short SHAs, or ``run N`` where no commit was
    known) in commit order, `values` (per commit: the median process median), `processes`
    (per commit: every process median) and the `changes` found."""

    benchmark: str
    measure: str  # "time" (seconds) or "instructions" (per call)
    machine: str
    commits: list[str]
    at: list[str]
    values: np.ndarray
    processes: list[np.ndarray]
    changes: list[Change]


def trends(
    frame: pd.DataFrame,
    *,
    benchmark: str | None = None,
    machine: str | None = None,
    last: int | None = None,
    min_change: float = 0.01,
) -> list[Trend]:
    """The trends in a history's process frame (`store.processes`), for the benchmarks whose
    name matches the glob `benchmark`, on `machine`, over the `last` commits of each."""
    if benchmark is not None:
        frame = frame[[fnmatch.fnmatchcase(name, benchmark) for name in frame["benchmark"]]]
    if machine is not None:
        frame = frame[frame["machine"] == machine]
    if frame.empty:
        return []
    unnamed = "run " + frame["run"].astype(str)
    frame = frame.assign(commit=frame["commit"].where(frame["commit"].notna(), unnamed))
    # commits in order of their time (a commit's first run), then of recording
    first = frame.groupby("commit", sort=False).agg(at=("at", "min"), run=("run", "min"))
    first = first.sort_values(["at", "run"])
    position = pd.Series(np.arange(len(first)), index=first.index)
    frame = frame.assign(position=frame["commit"].map(position).to_numpy())
    frame = frame.sort_values(["position", "run", "process"], kind="stable")
    found = []
    for (name, measure, where), series in frame.groupby(
        ["benchmark", "measure", "machine"], sort=True
    ):
        positions = series["position"].to_numpy()
        starts = np.flatnonzero(np.r_[True, positions[1:] != positions[:-1]])
        if last is not None:
            starts = starts[-last:]
        medians = series["median"].to_numpy()
        processes = np.split(medians[starts[0] :], starts[1:] - starts[0])
        commits = first.index[positions[starts]]
        found.append(
            Trend(
                benchmark=name,
                measure=measure,
                machine=where,
                commits=[_short(c) for c in commits],
                at=first["at"].to_numpy()[positions[starts]].tolist(),
                values=np.array([np.median(p) for p in processes]),
                processes=processes,
                changes=[],
            )
        )
    return [dataclasses.replace(t, changes=changes(t.values, min_change=min_change)) for t in found]


def _short(commit: str) -> str:
    return commit[:10] if len(commit) == 40 and not commit.startswith("run ") else commit
