"""Result directories: created without ever overwriting, written atomically, read back.

A run lives in ``<out>/<YYYYmmdd-HHMMSS>-<name>[-N]/`` with ``run.json`` (status ``running``,
then ``complete``, ``interrupted`` or ``failed``), ``config.yaml``, ``trials.csv`` and
``summary.csv``. Every file is written to a temporary name in the same directory and renamed
into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import stat
import sys
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from lossbench import __version__
from lossbench import text as text_module
from lossbench.analysis import frames
from lossbench.errors import LossbenchError
from lossbench.signals import interrupts_deferred

__all__ = [
    "Run",
    "create_run_dir",
    "host_info",
    "latest_run",
    "latest_runs",
    "output_file",
    "read_comparisons",
    "read_record",
    "read_run",
    "read_run_record",
    "write_all_atomic",
    "write_atomic",
    "write_new",
]

TRIALS, SUMMARY, CONFIG, RUN = "trials.csv", "summary.csv", "config.yaml", "run.json"
TIMINGS, PYPERF, COMPARISONS = "timings.csv", "timings.pyperf.json", "comparisons.csv"
ANSWER = "summary.md"


def sanitize(name: str) -> str:
    """A run name safe as one path component: letters, digits, '.', '_', '-' only."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:64]
    return safe or "run"


def create_run_dir(out: Path, name: str, now: datetime | None = None) -> Path:
    """A new, empty run directory under `out`; an existing one is never reused."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LossbenchError(
            f"--out {out}: cannot create the directory ({error.strerror})"
        ) from None
    stem = f"{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}-{sanitize(name)}"
    for attempt in range(1, 1000):
        path = out / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            path.mkdir()  # atomic: fails if it exists, so two runs never share a directory
            return path
        except FileExistsError:
            continue
        except OSError as error:
            raise LossbenchError(
                f"--out {out}: cannot create a run directory ({error.strerror})"
            ) from None
    raise LossbenchError(f"--out {out}: too many runs named {stem!r}")


def output_file(path: Path, option: str = "--output") -> Path:
    """Where a file the user named is written: the file itself, or through a symlink its
    target, never over a FIFO, a device or a directory (a rename would replace it)."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as error:
        raise LossbenchError(f"{option} {path}: cannot use it ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        kinds = [
            (stat.S_ISDIR, "a directory"),
            (stat.S_ISFIFO, "a FIFO"),
            (stat.S_ISCHR, "a device"),
            (stat.S_ISBLK, "a device"),
        ]
        kind = next((name for test, name in kinds if test(mode)), "not a file")
        raise LossbenchError(f"{option} {path}: {kind}, not a regular file; name a file")
    return target


def write_atomic(path: Path, content: str | bytes | pd.DataFrame) -> None:
    """Write text, bytes or a DataFrame (as CSV) to `path` via a temporary file and a rename.

    Ctrl-C, SIGTERM and SIGHUP wait until the file is in place (they arrive right after), so an
    interrupt never leaves a temporary file behind.
    """
    write_all_atomic({Path(path): content})


def write_all_atomic(contents: dict[Path, str | bytes | pd.DataFrame]) -> None:
    """Write several files so that all change or none does: every one to a temporary file
    first (a full disk fails here, before any is replaced), then all renamed into place."""
    with interrupts_deferred():
        written: list[tuple[str, Path]] = []
        try:
            for path, content in contents.items():
                written.append((_write_temporary(Path(path), content), Path(path)))
            for temporary, path in written:
                os.replace(temporary, path)
        except BaseException:
            for temporary, _ in written:
                Path(temporary).unlink(missing_ok=True)
            raise


def write_new(contents: dict[Path, str]) -> None:
    """Write files that must not exist yet, all or none: each to a temporary file, then each
    linked into place (a link never replaces a file, so one that appeared meanwhile is kept
    and named); a `LossbenchError` if one exists or cannot be written."""
    with interrupts_deferred():
        written: list[tuple[str, Path]] = []
        placed: list[Path] = []
        path = next(iter(contents))
        try:
            for path in contents:
                if os.path.lexists(path):
                    raise FileExistsError
                path.parent.mkdir(parents=True, exist_ok=True)
            for path, content in contents.items():
                written.append((_write_temporary(path, content), path))
            for temporary, path in written:
                os.link(temporary, path)
                placed.append(path)
        except OSError as error:
            for done in placed:
                done.unlink(missing_ok=True)
            if isinstance(error, FileExistsError):
                raise LossbenchError(f"{path} exists; choose another path or remove it") from None
            raise LossbenchError(f"{path}: cannot write ({error.strerror})") from None
        finally:
            for temporary, _ in written:
                Path(temporary).unlink(missing_ok=True)


def _write_temporary(path: Path, content: str | bytes | pd.DataFrame) -> str:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                if isinstance(content, pd.DataFrame):
                    safe = _for_spreadsheets(content)
                    # pandas leaves a lone \r unquoted, which readers take as a line end
                    quoting = csv.QUOTE_ALL if _holds_return(safe) else csv.QUOTE_MINIMAL
                    safe.to_csv(handle, index=False, quoting=quoting)
                else:
                    handle.write(content)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; results are not
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def _for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas (``=…``) prefixed with a quote (OWASP);
    `read_table` takes it off again."""
    text = [c for c in frame.columns if _holds_text(frame[c])]
    header = [text_module.csv_cell(str(c)) for c in frame.columns]
    if not text and header == [str(c) for c in frame.columns]:
        return frame
    safe = frame.copy()
    for column in text:
        safe[column] = safe[column].map(text_module.csv_cell)
    safe.columns = header
    return safe


def _from_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [text_module.from_csv_cell(str(c)) for c in frame.columns]
    for column in (c for c in frame.columns if _holds_text(frame[c])):
        frame[column] = frame[column].map(text_module.from_csv_cell)
    return frame


def _holds_return(frame: pd.DataFrame) -> bool:
    cells = [frame[c].astype(str) for c in frame.columns if _holds_text(frame[c])]
    return any("\r" in str(c) for c in frame.columns) or any(
        column.str.contains("\r", regex=False).any() for column in cells
    )


def _holds_text(column: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def host_info() -> dict[str, Any]:
    """CPU model and cores, Python and the versions of the packages that shape the numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages: dict[str, str | None] = {}
    for package in ("numpy", "numba", "llvmlite", "scipy", "pandas", "pyperf", "joblib"):
        try:
            packages[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            packages[package] = None
    return {
        "host": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "machine": platform.machine(),
            "system": platform.system(),
        },
        "python": platform.python_version(),
        "packages": packages,
    }


RESERVE = ".reserved"  # room kept on the disk for the run's last run.json
_RESERVE_BYTES = 16 * 1024  # run.json is 1-3 kB


class Run:
    """A run directory being written: its run.json is kept current. Room for its last
    version is reserved when it starts, so a disk that fills during the run still lets the
    run say how it ended."""

    def __init__(self, path: Path, name: str, command: list[str] | None = None) -> None:
        try:
            (path / RESERVE).write_bytes(b"\0" * _RESERVE_BYTES)
        except OSError:  # no room even for that (or files this size are not allowed)
            (path / RESERVE).unlink(missing_ok=True)
        self.path = path
        self.record: dict[str, Any] = {
            "id": path.name,
            "name": name,
            "status": "running",
            "started": _now(),
            "finished": None,
            "lossbench": __version__,
            "command": " ".join(command if command is not None else sys.argv),
            **host_info(),
        }
        self.save()

    def save(self) -> None:
        write_atomic(self.path / RUN, json.dumps(self.record, indent=2) + "\n")

    def finish(self, status: str, **extra: Any) -> None:
        self.record.update(status=status, finished=_now(), **extra)
        try:
            self.save()
        except OSError:  # a full disk: the reserved room is what this write needs
            (self.path / RESERVE).unlink(missing_ok=True)
            self.save()
        (self.path / RESERVE).unlink(missing_ok=True)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def latest_runs(out: Path, count: int = 1) -> list[Path]:
    """The newest `count` run directories under `out` (by their time-stamped names), oldest
    first; a `LossbenchError` saying how many there are when there are fewer."""
    runs = sorted(p for p in Path(out).glob("*/") if (p / RUN).is_file())
    if len(runs) < count:
        needed = "a run is" if count == 1 else f"{count} runs are"
        raise LossbenchError(
            f"{needed} needed under {out}/; found {len(runs)} (make one with `lossbench run`)"
        )
    return runs[-count:]


def latest_run(out: Path) -> Path:
    """The newest run directory under `out`."""
    return latest_runs(out)[0]


# the result tables' columns that hold numbers
_NUMERIC = {
    "trial",
    "value",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "median_s",
    "mean_s",
    "stdev_s",
    "values",
    "ns_per_element",
    "gb_per_s",
    "roofline",
    "estimate",
    "low",
    "high",
    "p",
    "p_adjusted",
}


def _contract(name: str) -> list[str]:
    """A result table's contract columns (docs/output.md), from the lists that write them."""
    from lossbench.experiments import COLUMNS, COMPARISON_COLUMNS, SUMMARY_COLUMNS
    from lossbench.timing.table import COLUMNS as TIMING_COLUMNS

    return {
        TRIALS: COLUMNS[: COLUMNS.index("value") + 1],
        SUMMARY: SUMMARY_COLUMNS[: SUMMARY_COLUMNS.index("ci_high") + 1],
        TIMINGS: TIMING_COLUMNS,
        COMPARISONS: COMPARISON_COLUMNS[: COMPARISON_COLUMNS.index("n") + 1],
    }[name]


def read_run(path: Path) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(run.json, trials, summary, timings) of a run directory; a table not written (a run cut
    short) is empty, with its columns. A damaged file is a `LossbenchError` naming it."""
    record = read_run_record(path)
    trials, summary, timings = (read_table(path / name) for name in (TRIALS, SUMMARY, TIMINGS))
    if len(summary) and "kind" not in summary:  # written before results carried the kind
        _add_kind(trials, summary)
    summary = frames.with_label_columns(summary)  # written before they carried its labels'
    return record, trials, summary, timings


def read_run_record(path: Path) -> dict[str, Any]:
    """The run.json of the run directory `path` alone (none of its tables)."""
    path = Path(path)
    if not (path / RUN).is_file():
        raise LossbenchError(f"{path}: not a lossbench run directory (no {RUN})")
    return read_record(path / RUN)


def read_record(file: Path) -> dict[str, Any]:
    """A run's run.json, checked: a JSON object whose host and packages are objects."""
    try:
        record = json.loads(file.read_bytes().decode("utf-8"))
    # ValueError: JSON's own errors, and an integer of thousands of digits
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise LossbenchError(f"{file}: unreadable ({str(error)[:200]})") from None
    if not isinstance(record, dict):
        raise LossbenchError(
            f"{file}: damaged: expected a JSON object; got {type(record).__name__}"
        )
    for key in ("host", "packages"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            raise LossbenchError(
                f"{file}: damaged: {key}: expected an object; got {record[key]!r:.60}"
            )
    return record


def read_table(file: Path) -> pd.DataFrame:
    """One result table, checked against its contract columns; absent: empty, with them."""
    columns = _contract(file.name)
    if not file.is_file():
        return pd.DataFrame(columns=columns)
    try:
        frame = pd.read_csv(file, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise LossbenchError(f"{file}: damaged: the file is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise LossbenchError(f"{file}: unreadable ({str(error)[:200]})") from None
    frame = _from_spreadsheets(frame)
    missing = [column for column in columns if column not in frame]
    if missing:
        raise LossbenchError(f"{file}: damaged: no column {', '.join(missing)}")
    for column in (c for c in columns if c in _NUMERIC):
        if not pd.api.types.is_numeric_dtype(frame[column]) and frame[column].notna().any():
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][converted.isna() & frame[column].notna()]
            line = bad.index[0] + 2  # the header is line 1
            raise LossbenchError(
                f"{file}: damaged: column {column} holds {bad.iloc[0]!r:.40} (line {line})"
            )
    if "note" in frame:
        frame["note"] = frame["note"].astype(object).fillna("")
    return frame


def _add_kind(trials: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Infer each experiment's kind from its metrics, once, for runs without a kind column."""
    from lossbench.experiments import infer_kind

    kinds = {
        experiment: infer_kind(set(rows["metric"]))
        for experiment, rows in summary.groupby("experiment", sort=False)
    }
    for frame in (trials, summary):
        if "experiment" in frame:
            frame["kind"] = frame["experiment"].map(kinds).fillna("")


def read_comparisons(path: Path, trials: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """A run's ``comparisons.csv``; for a run written before it existed, computed from its
    trials with the default statistic and margin."""
    from lossbench import experiments

    file = Path(path) / COMPARISONS
    if file.is_file():  # written before they carried the names of its labels: named here
        found = read_table(file)
        return frames.with_names(found, "loss", "baseline")
    if not len(trials) or "kind" not in summary:
        return pd.DataFrame(columns=experiments.COMPARISON_COLUMNS)
    return experiments.comparisons(trials, summary)
