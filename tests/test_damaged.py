"""Damaged runs and full disks: show, report and compare name the damaged file and exit 2; a
disk that fills mid-run is one line, the run marked failed, what finished kept."""

import errno
import json
import os
from pathlib import Path

import pytest
from conftest import FAST, assert_refused, copy_of, invoke

from lossbench import results

DAMAGE = {
    "binary run.json": ("run.json", b"\xff\xfe\x00garbage"),
    "run.json null": ("run.json", b"null"),
    "run.json a list": ("run.json", b"[1, 2]"),
    "host not an object": ("run.json", None),
    "empty summary.csv": ("summary.csv", b""),
    "summary.csv without its columns": ("summary.csv", b"a,b\n1,2\n"),
    "non-numeric means": ("summary.csv", "mean"),
    "empty trials.csv": ("trials.csv", b""),
    "empty comparisons.csv": ("comparisons.csv", b""),
}


@pytest.mark.parametrize(
    "command, case",
    [
        (command, case)
        for command in ("show", "report", "compare")
        for case in DAMAGE
        # compare reads run.json and the tables, not comparisons.csv
        if not (command == "compare" and case == "empty comparisons.csv")
    ],
)
def test_a_damaged_run_names_the_damaged_file(tmp_path, small_run, case, command):
    run = copy_of(small_run, tmp_path)
    name, content = DAMAGE[case]
    if case == "host not an object":
        record = json.loads((run / name).read_text())
        content = json.dumps({**record, "host": "x"}).encode()
    elif isinstance(content, str):  # a numeric column made text
        lines = (run / name).read_text().splitlines()
        column = lines[0].split(",").index(content)
        cells = lines[1].split(",")
        cells[column] = "lots"
        content = "\n".join([lines[0], ",".join(cells), *lines[2:]]).encode()
    (run / name).write_bytes(content)
    args = {"show": ["show", str(run)], "report": ["report", str(run)],
            "compare": ["compare", str(small_run), str(run)]}[command]  # fmt: skip
    result = invoke(args, tmp_path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and name in result.output, result.output


def test_show_reads_a_run_cut_short_before_its_summary(tmp_path, small_run):
    run = copy_of(small_run, tmp_path)
    for name in ("trials.csv", "summary.csv", "comparisons.csv", "summary.md"):
        (run / name).unlink()
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    shown = invoke(["show", str(run)], tmp_path)
    assert shown.exit_code == 0, shown.output
    assert "interrupted" in shown.output


def test_report_on_a_read_only_run_is_one_line(tmp_path, small_run):
    run = copy_of(small_run, tmp_path)
    run.chmod(0o555)
    try:
        if os.access(run, os.W_OK):  # root writes anywhere: make the write itself fail
            (run / "plots").write_text("a file where the plots folder goes")
        result = invoke(["report", str(run)], tmp_path)
    finally:
        run.chmod(0o755)
    assert result.exit_code == 2 and "cannot write the report" in result.output, result.output
    assert "Traceback" not in result.output


def _full_disk_at(monkeypatch, name):
    original = results.files.write_atomic

    def failing(path, content):
        if Path(path).name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, content)

    monkeypatch.setattr(results.files, "write_atomic", failing)
    monkeypatch.setattr(results, "write_atomic", failing)


def test_a_full_disk_mid_run_marks_it_failed_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(FAST)
    _full_disk_at(monkeypatch, "comparisons.csv")
    result = invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2 and "No space left on device" in result.output, result.output
    assert "Traceback" not in result.output
    run = next((tmp_path / "out").iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_a_full_disk_at_the_start_leaves_no_directory(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(FAST)
    _full_disk_at(monkeypatch, "config.yaml")
    result = invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    assert_refused(result, tmp_path / "out", "No space left on device")
