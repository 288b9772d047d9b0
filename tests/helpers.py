"""What the tests share: running the CLI in process or as a real subprocess, checking a
refusal, waiting on a condition with a deadline, copying a finished run, and running a config
serially and in parallel (the fixtures that make runs once per session are conftest's)."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lossbench.cli import app

ROOT = Path(__file__).resolve().parents[1]
# a run of a few hundred milliseconds: one punishment experiment
FAST = "experiments:\n  - {name: p, kind: punishment, losses: [mse, bce]}\n"


def invoke(args, cwd: Path | None = None, columns: int = 200):
    """`lossbench ARGS` in this process (typer's CliRunner), from `cwd` if given."""
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(app, [str(arg) for arg in args], env={"COLUMNS": str(columns)})
    finally:
        os.chdir(old)


def assert_refused(result, out: Path | None = None, *needles: str) -> None:
    """Exit 2 with one line on stderr (``error: ...`` holding each needle), no traceback, and
    nothing left in `out`."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


def start(args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """`lossbench ARGS` as a real process (signals reach it as they would a user's run)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lossbench.cli", *map(str, args)],
        cwd=cwd, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def copy_of(run: Path, where: Path) -> Path:
    """A copy of a finished run under `where`, for a test that changes or adds to it."""
    return Path(shutil.copytree(run, where / run.name))


def serial_and_parallel(tmp_path: Path, text: str, columns: int = 200):
    """Run config `text` in one process and with `--jobs 2`; assert both give the same trials
    (timings aside) and return them, the parallel run's directory and its output."""
    (tmp_path / "c.yaml").write_text(text)
    found = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        result = invoke(["run", "c.yaml", "--out", out, "--jobs", jobs], tmp_path, columns)
        assert result.exit_code == 0, result.output
        run = next(out.iterdir())
        trials = pd.read_csv(run / "trials.csv")
        found[jobs] = trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)
    pd.testing.assert_frame_equal(found[1], found[2])
    return found[1], run, result.output
