"""Damaged runs and full disks: show, report and compare name the damaged file and exit 2; a
disk that fills mid-run is one line, the run marked failed, what finished kept."""

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest
from helpers import FAST, assert_refused, copy_of, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    original = results.files._write_temporary

    def failing(path, content):
        if Path(path).name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, content)

    monkeypatch.setattr(results.files, "_write_temporary", failing)


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


TWO = (
    "experiments:\n  - {name: p, kind: punishment, losses: [mse, bce]}\n"
    "  - {name: q, trials: 3, datasets: [{kind: gaussian, n_samples: 50}], losses: [mse, huber]}\n"
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(failing_write=st.integers(0, 14), errno_code=st.sampled_from([errno.ENOSPC, errno.EFBIG]))
def test_the_files_a_failed_run_keeps_agree_with_its_run_json(
    tmp_path, monkeypatch, failing_write, errno_code
):
    """The disk fills at the k-th file written (any of them: config, run.json, a result
    table, summary.md): the run is one line, and what it keeps is what run.json and `show`
    say it kept."""
    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "out"  # hypothesis replays an example
    (tmp_path / "c.yaml").write_text(TWO)
    original, count = results.files._write_temporary, [0]

    def failing(path, content):
        count[0] += 1
        if count[0] - 1 == failing_write and Path(path).name != ".reserved":
            raise OSError(errno_code, os.strerror(errno_code), str(path))
        return original(path, content)

    monkeypatch.setattr(results.files, "_write_temporary", failing)
    result = invoke(["run", "c.yaml", "--out", out, "--quiet"], tmp_path)
    monkeypatch.undo()
    assert "Traceback" not in result.output
    runs = list(out.iterdir()) if out.exists() else []
    if result.exit_code == 0:
        assert json.loads((runs[0] / "run.json").read_text())["status"] == "complete"
        return
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    if not runs:  # failed before the run began: nothing kept
        return
    (run,) = runs
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and "marked failed" in result.output
    kept = record["experiments_finished"]
    _, trials, summary, _ = results.read_run(run)
    comparisons = results.read_comparisons(run, trials, summary)
    for table in (trials, summary):
        assert list(dict.fromkeys(table["experiment"])) == ["p", "q"][:kept]
    assert list(dict.fromkeys(comparisons["experiment"])) == ["q"][: max(kept - 1, 0)]
    if kept:  # the answer is the one the kept comparisons give
        from lossbench.report import answer

        assert (run / "summary.md").read_text() == answer.markdown(comparisons)
    shown = invoke(["show", run])
    assert shown.exit_code == 0 and f"{kept} of 2 experiments finished" in shown.output


@pytest.mark.slow  # a fresh lossbench process
def test_a_real_file_size_limit_mid_run_keeps_what_run_json_says(tmp_path):
    """`ulimit -f 16` (16 kB a file): the second experiment's trials.csv cannot be written."""
    import resource
    import subprocess
    import sys

    (tmp_path / "c.yaml").write_text("trials: 30\n" + TWO.replace("trials: 3, ", ""))

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    done = subprocess.run(
        [sys.executable, "-m", "lossbench.cli", "run", "c.yaml", "--out", "out", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, preexec_fn=limited, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and "File too large" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    (run,) = (tmp_path / "out").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["experiments_finished"] == 1
    _, trials, summary, _ = results.read_run(run)
    assert set(trials["experiment"]) == set(summary["experiment"]) == {"p"}
