"""Synthetic histories with known steps: what the change detection is calibrated and measured
on (tests/test_history.py, benchmarks/bench_history.py, docs/history.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from lossbench import __version__
from lossbench.history.store import Recording, write

__all__ = ["processes", "write_history"]


def processes(
    rng: np.random.Generator,
    commits: int,
    *,
    per_commit: int = 4,
    noise: float = 0.05,
    step: float = 0.0,
    at: int | None = None,
    disturbed: float = 0.0,
    disturbance: float = 0.30,
) -> np.ndarray:
    """(commits, per_commit) process medians around 1: lognormal `noise`, times 1 + `step`
    from commit `at` on, and each process slowed by `disturbance` with probability
    `disturbed` (a neighbour on the machine)."""
    logs = rng.normal(0.0, noise, (commits, per_commit))
    if at is not None:
        logs[at:] += np.log1p(step)
    logs += np.where(rng.random((commits, per_commit)) < disturbed, np.log1p(disturbance), 0.0)
    return np.exp(logs)


def write_history(
    db: Path,
    *,
    commits: int = 200,
    benchmarks: int = 30,
    stepped: dict[int, tuple[int, float]] | None = None,
    seed: int = 0,
    **noise,
) -> None:
    """A history of `commits` commits of `benchmarks` benchmarks (``bench.00`` ...), each
    commit one run; `stepped` maps a benchmark's number to (commit, relative step)."""
    rng = np.random.default_rng(seed)
    stepped = stepped or {}
    values = []
    for b in range(benchmarks):
        at, step = stepped.get(b, (None, 0.0))
        values.append(1e-3 * processes(rng, commits, step=step, at=at, **noise))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for c in range(commits):
        sha = hashlib.sha1(f"{seed}-{c}".encode()).hexdigest()
        rows = [
            (f"bench.{b:02d}", "time", p, float(values[b][c, p]))
            for b in range(benchmarks)
            for p in range(values[b].shape[1])
        ]
        write(
            db,
            Recording(
                source=f"synthetic/{c}",
                commit_sha=sha,
                at=(start + timedelta(hours=c)).isoformat(),
                machine="synthetic",
                config_hash=None,
                digest=f"synthetic-{seed}-{c}",
                lossbench=__version__,
                rows=rows,
            ),
        )
