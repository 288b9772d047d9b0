"""A history of timing runs over commits, in one SQLite file: record runs into it, read each
benchmark's trend and the steps in it, and draw them on one HTML page.

>>> import lossbench.history as history
>>> sorted(history.__all__)
['Change', 'Trend', 'check_recordable', 'record', 'trends']
"""

from __future__ import annotations

from pathlib import Path

from lossbench.errors import LossbenchError
from lossbench.history import sources, store
from lossbench.history.changes import Change
from lossbench.history.trends import Trend
from lossbench.history.trends import trends as _trends

__all__ = ["Change", "Trend", "check_recordable", "record", "trends"]


def record(
    db: str | Path,
    path: str | Path,
    *,
    commit: str | None = None,
    machine: str | None = None,
    repo: str | Path = ".",
) -> bool:
    """Record the timings of a run directory or a pyperf JSON file into the history `db`
    (made if missing) under `commit` (None: the HEAD of the git checkout `repo`, if any) and
    `machine` (None: its CPU model and core count); False if it was recorded before."""
    made = sources.recording(Path(path), commit=commit, machine=machine, repo=Path(repo))
    return store.write(Path(db), made)


def check_recordable(db: str | Path, resolved, *, only: str | None, commit: str | None) -> None:
    """Before a run: refuse `--record` where the run will have nothing to record, a commit
    git does not know, or a file that is not a history (a run of minutes is not wasted)."""
    if only == "experiments" or resolved.timing is None:
        raise LossbenchError(
            "--record keeps timings, and this run times nothing (add a timing section, or "
            "drop --only experiments)"
        )
    sources.commit_of(commit, Path("."))
    with store.connect(Path(db), create=True):
        pass


def trends(
    db: str | Path,
    *,
    benchmark: str | None = None,
    machine: str | None = None,
    last: int | None = None,
    min_change: float = 0.01,
) -> list[Trend]:
    """Each benchmark's trend in the history `db` (a glob `benchmark`, one `machine`, the
    `last` commits), with the steps of at least `min_change` (relative) found in it."""
    if last is not None and last < 1:
        raise LossbenchError(f"last: at least 1 commit; got {last}")
    if not 0 <= min_change < 10:
        raise LossbenchError(f"min_change: a relative step from 0 to 10; got {min_change}")
    frame = store.processes(Path(db))
    return _trends(frame, benchmark=benchmark, machine=machine, last=last, min_change=min_change)
