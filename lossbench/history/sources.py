"""What is recorded of a run directory or a pyperf JSON file, and of the commit it measured."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from lossbench import __version__, text
from lossbench.analysis.timings import process_medians
from lossbench.errors import LossbenchError
from lossbench.history.store import Recording
from lossbench.results import CONFIG, inputs

__all__ = ["commit_of", "recording"]


def recording(path: Path, *, commit: str | None, machine: str | None, repo: Path) -> Recording:
    """The timings of `path` (a run directory or a pyperf JSON file) as the history keeps them;
    `commit` (a SHA or any name git resolves in `repo`; None: `repo`'s HEAD, if a git
    checkout) dates them by its commit time."""
    path = Path(path)
    side = inputs.load(path, quality=False)  # the timings: a run's tables are not read
    if not side.runs:
        raise LossbenchError(
            f"{path}: no timings to record (run with timing, not --only experiments)"
        )
    rows = []
    for name in sorted(side.runs):
        measure = "instructions" if side.units.get(name) == "integer" else "time"
        for process, median in enumerate(process_medians(side.runs[name])):
            rows.append((name, measure, process, float(median)))
    sha, committed = commit_of(commit, repo)
    config = path / CONFIG if path.is_dir() else None
    return Recording(
        source=str(path),
        commit_sha=sha,
        at=committed or _iso(side.started) or datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine or _machine(side.host),
        config_hash=_digest(config.read_bytes()) if config and config.is_file() else None,
        digest=_digest(json.dumps([sha, rows]).encode()),
        lossbench=__version__,
        rows=rows,
    )


def _machine(host: dict) -> str:
    """Which runs may share a trend: times are comparable on one CPU model and core count."""
    cpu, cores = host.get("cpu") or "unknown CPU", host.get("cores")
    return f"{cpu}, {cores} cores" if cores else str(cpu)


def _iso(when: str | None) -> str | None:
    """run.json's ISO time, or pyperf's ``2026-12-04 17:36:30.279782``, in ISO 8601 (UTC)."""
    if not when:
        return None
    try:
        parsed = datetime.fromisoformat(str(when))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # pyperf writes the local time without a zone
        parsed = parsed.astimezone()
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def commit_of(commit: str | None, repo: Path) -> tuple[str | None, str | None]:
    """The full SHA and committer time (ISO 8601, UTC) of `commit` in the git checkout
    `repo` (None: its HEAD). Outside a checkout: `commit` as given and no time; no commit
    named and no checkout: nothing."""
    if commit is not None and not re.fullmatch(r"\w[\w.+/@{}^~-]{0,99}", commit):
        raise LossbenchError(
            f"--commit {text.elided(text.visible(commit), 48)!r}: not a commit name (a SHA, a "
            "branch or a tag)"
        )
    try:
        named = f"{commit or 'HEAD'}^{{commit}}"
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", "-s", "--format=%H %cI", named, "--"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git here
        shown = None
    if shown is not None and shown.returncode == 0 and shown.stdout.strip():
        sha, when = shown.stdout.split()[:2]
        return sha, _iso(when)
    if commit is None:
        return None, None
    if shown is not None and "not a git repository" not in shown.stderr:
        raise LossbenchError(f"--commit {commit}: not a commit of the git checkout {repo}")
    return commit, None
