"""The history file: one SQLite database (stdlib `sqlite3`), its schema versioned and migrated.

A recording is one transaction: a run's row and each benchmark's per-process medians, all or
none. The file is in WAL mode with a busy timeout, so two CI jobs recording at once wait for
each other instead of failing or corrupting it. A file that is not a lossbench history (another
program's database, damaged bytes, a newer schema) is refused in one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lossbench.errors import LossbenchError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "Recording", "connect", "processes", "write"]

APPLICATION_ID = 0x4C424853  # "LBHS" in the file's header: this file is a lossbench history
_BUSY_MS = 60_000  # a second writer waits this long for the first one's transaction

# Each entry moves the schema from version i to i + 1 (`PRAGMA user_version`); a file is
# brought up to date when it is opened for writing, in one transaction.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        commit_sha TEXT,                 -- NULL: no commit known (ordered by `at`)
        at TEXT NOT NULL,                -- the commit's time, else the run's (ISO 8601)
        recorded TEXT NOT NULL,
        machine TEXT NOT NULL,
        config_hash TEXT,
        source TEXT NOT NULL,            -- the run directory or pyperf file it came from
        digest TEXT NOT NULL UNIQUE,     -- of the timings recorded: one run is recorded once
        lossbench TEXT NOT NULL
    );
    CREATE TABLE processes (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        benchmark TEXT NOT NULL,
        measure TEXT NOT NULL CHECK (measure IN ('time', 'instructions')),
        process INTEGER NOT NULL,
        median REAL NOT NULL CHECK (median > 0),  -- seconds, or instructions per call
        PRIMARY KEY (run_id, benchmark, process)
    );
    CREATE INDEX processes_by_benchmark ON processes (benchmark, measure);
    """,
]


@dataclass(frozen=True)
class Recording:
    """One run as the history keeps it: where and when it ran, and per benchmark the median
    of each worker process's values (`rows`: benchmark, measure, process, median)."""

    source: str
    commit_sha: str | None
    at: str
    machine: str
    config_hash: str | None
    digest: str
    lossbench: str
    rows: list[tuple[str, str, int, float]]


@contextmanager
def connect(path: Path, *, create: bool) -> Iterator[sqlite3.Connection]:
    """An open history, brought to the current schema; `create`: a new file if none is there."""
    path = Path(path)
    if path.is_dir():
        raise LossbenchError(f"{path}: a directory, not a history file")
    if not create and not path.is_file():
        raise LossbenchError(f"{path}: no such history (record into it with `run --record`)")
    try:
        connection = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)
    except sqlite3.Error as error:
        raise LossbenchError(f"{path}: cannot open the history ({error})") from None
    with closing(connection):
        try:
            _prepare(connection, path)
            yield connection
        except sqlite3.DatabaseError as error:
            raise LossbenchError(_unreadable(path, error)) from None


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    connection.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    application, version = _header(connection)
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application != APPLICATION_ID and (application != 0 or tables):
        raise LossbenchError(
            f"{path}: not a lossbench history (an SQLite database of another program); "
            "name a new file"
        )
    if version > len(MIGRATIONS):
        raise LossbenchError(
            f"{path}: written by a newer lossbench (history schema {version}; this one reads "
            f"up to {len(MIGRATIONS)}); upgrade lossbench"
        )
    connection.execute("PRAGMA foreign_keys = ON")
    if version < len(MIGRATIONS):
        _migrate(connection)
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        connection.execute("PRAGMA journal_mode = WAL")  # two writers wait, never corrupt


def _header(connection: sqlite3.Connection) -> tuple[int, int]:
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    return application, connection.execute("PRAGMA user_version").fetchone()[0]


@contextmanager
def _writing(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (a second writer waits for it, up to the busy
    timeout), committed on leaving, rolled back on any exception."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _migrate(connection: sqlite3.Connection) -> None:
    """Apply the migrations the file lacks, in one write transaction (a second process doing
    the same waits, then finds nothing left to do)."""
    with _writing(connection):
        _, version = _header(connection)  # again: another process may have done it
        for step in range(version, len(MIGRATIONS)):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


def _unreadable(path: Path, error: sqlite3.DatabaseError) -> str:
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return f"{path}: the history stayed locked by another writer for {_BUSY_MS // 1000} s"
    if isinstance(error, sqlite3.OperationalError) and "readonly" in str(error):
        return f"{path}: the history cannot be written here (read-only)"
    if isinstance(error, sqlite3.OperationalError) and "unable to open" in str(error):
        return f"{path}: cannot open or create the history there"
    if "disk is full" in str(error):
        return f"{path}: the disk is full; nothing of this recording was kept"
    return f"{path}: not a readable history ({error}); it is damaged or not a lossbench history"


def write(path: Path, recording: Recording) -> bool:
    """Record a run (all or nothing); False when that run was recorded before."""
    with connect(path, create=True) as connection, _writing(connection):
        known = "SELECT 1 FROM runs WHERE digest = ?"
        if connection.execute(known, (recording.digest,)).fetchone():
            return False  # the empty transaction commits
        cursor = connection.execute(
            "INSERT INTO runs (commit_sha, at, recorded, machine, config_hash, source, "
            "digest, lossbench) VALUES (?, ?, datetime('now'), ?, ?, ?, ?, ?)",
            (
                recording.commit_sha,
                recording.at,
                recording.machine,
                recording.config_hash,
                recording.source,
                recording.digest,
                recording.lossbench,
            ),
        )
        connection.executemany(
            "INSERT INTO processes VALUES (?, ?, ?, ?, ?)",
            [(cursor.lastrowid, *row) for row in recording.rows],
        )
    return True


_COLUMNS = ["run", "commit", "at", "machine", "benchmark", "measure", "process", "median"]


def processes(path: Path) -> pd.DataFrame:
    """Every recorded process median with its run's commit, time and machine."""
    with connect(path, create=False) as connection:
        rows = connection.execute(
            "SELECT r.id, r.commit_sha, r.at, r.machine, p.benchmark, p.measure, p.process, "
            "p.median FROM processes p JOIN runs r ON r.id = p.run_id"
        ).fetchall()
    return pd.DataFrame(rows, columns=_COLUMNS)
