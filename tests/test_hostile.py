"""Hostile input, damaged files, signals and full disks: one line, exit 2, nothing half-written.

Each case of issue 15 is here; the signal cases run lossbench as a real subprocess. A fuzz test
(hypothesis) draws settings and checks the promise itself for every draw."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lossbench import results
from lossbench.cli import app

FAST = "experiments:\n  - {name: p, kind: punishment, losses: [mse, bce]}\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
)


def _invoke(args, cwd):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, args, env={"COLUMNS": "200"})
    finally:
        os.chdir(old)


def _assert_refused(result, out: Path, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


CONFIGS = {
    "latin-1 text": ("# caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "UTF-16 text": ("name: x\n".encode("utf-16"), "not UTF-8 text (byte 0xff"),
    "20,000-deep nesting": ("a: " + "[" * 20000 + "]" * 20000, "nested too deep"),
    "5000-digit integer": ("seed: " + "9" * 5000, "digits"),
    "alias bomb": (BOMB + "name: *g\n", "more than 100,000 values"),
    "a 5 MB file": ("name: x\n#" + "x" * 5_000_000, "larger than 1 MB"),
    "duplicate keys": ("name: a\nname: b\n", "duplicate key 'name' at line 2"),
    "grid [100, abc] with --quick": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: [100, abc]}], "
        "losses: [mse]}\n",
        "experiments[0].datasets[0].n_samples",
    ),
    "noise .inf": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, noise: .inf}], losses: [mse]}\n",
        "noise: expected a number ≥ 0, finite; got inf",
    ),
    "outlier_scale .nan": (
        "experiments:\n  - {name: a, datasets: [{kind: contaminated, outlier_scale: .nan}], "
        "losses: [mse]}\n",
        "outlier_scale",
    ),
    "df .inf": (
        "experiments:\n  - {name: a, datasets: [{kind: student_t, df: .inf}], losses: [mse]}\n",
        "df",
    ),
    "offsets .inf": (
        "experiments:\n  - {name: a, kind: influence, offsets: [0, .inf], losses: [mse]}\n",
        "experiments[0].offsets[1]",
    ),
    "start_scale 1e308": (
        "experiments:\n  - {name: a, kind: landscape, start_scale: 1e308, losses: [mse]}\n",
        "experiments[0].start_scale",
    ),
    "fit.lr .inf": (
        "experiments:\n  - {name: a, fit: {method: gd, lr: .inf}, datasets: [{kind: gaussian}], "
        "losses: [mse]}\n",
        "experiments[0].fit.lr",
    ),
    "predictions [2.0]": (
        "experiments:\n  - {name: a, kind: punishment, predictions: [2.0], losses: [mse]}\n",
        "experiments[0].predictions[0]",
    ),
    "10^7 × 10^4 samples": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: 10000000, "
        "n_features: 10000}], losses: [mse]}\n",
        "GB for one trial",
    ),
    "min_time 100000": ("timing: {pyperf: {min_time: 100000}}\n", "timing.pyperf.min_time"),
    "impls listed twice": ("timing: {impls: [numpy, numpy]}\n", "'numpy' is listed twice"),
    "sizes listed twice": ("timing: {sizes: [100, 100]}\n", "100 is listed twice"),
    "losses listed twice": ("timing: {losses: [mse, mse]}\n", "mse is listed twice"),
    "two experiments named alike": (
        FAST + "  - {name: p, kind: punishment, losses: [mse]}\n",
        "'p' names two experiments",
    ),
    "nothing to run": ("experiments: []\n", "nothing to run"),
    "a user loss that raises": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['mylosses:raises']}\n",
        "user loss mylosses:raises raised ValueError: boom",
    ),
    "a user loss returning strings": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['mylosses:words']}\n",
        "must return numbers",
    ),
    "a user loss with a syntax error": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['badsyntax:f']}\n",
        "badsyntax.py, line 2",
    ),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_a_hostile_config_is_one_line_naming_file_and_field(tmp_path, case):
    text, needle = CONFIGS[case]
    (tmp_path / "c.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "mylosses.py").write_text(
        "def raises(y, p):\n    raise ValueError('boom')\n\ndef words(y, p):\n    return 'ab'\n"
    )
    (tmp_path / "badsyntax.py").write_text("def f(y, p):\n    return (\n")
    sys.modules.pop("mylosses", None)
    args = [
        "run",
        "c.yaml",
        "--out",
        str(tmp_path / "out"),
        *(["--quick"] if "quick" in case else []),
    ]
    result = _invoke(args, tmp_path)
    _assert_refused(result, tmp_path / "out", needle, "c.yaml" if case != "nothing to run" else "")


def test_numbers_read_as_yaml_1_2_and_set_errors_blame_the_set(tmp_path):
    (tmp_path / "c.yaml").write_text(FAST.replace("kind: punishment,", "kind: punishment, "
                                                  "fit: {tol: 1e-8},"))  # fmt: skip
    done = _invoke(["run", "c.yaml", "--out", str(tmp_path / "out"), "--quiet"], tmp_path)
    assert done.exit_code == 0, done.output
    config = yaml.safe_load(next((tmp_path / "out").glob("*/config.yaml")).read_text())
    assert config["experiments"][0]["fit"]["tol"] == 1e-8
    refused = _invoke(["run", "--set", "trials=-1", "--out", str(tmp_path / "o2")], tmp_path)
    _assert_refused(refused, tmp_path / "o2", "--set trials=-1: trials")
    refused = _invoke(["run", "--seed", "-1", "--out", str(tmp_path / "o3")], tmp_path)
    _assert_refused(refused, tmp_path / "o3", "--seed")


def test_jobs_beyond_the_cores_are_capped_and_said(tmp_path):
    (tmp_path / "c.yaml").write_text(FAST)
    done = _invoke(["run", "c.yaml", "--jobs", "64", "--out", str(tmp_path / "out")], tmp_path)
    assert done.exit_code == 0, done.output
    assert "--jobs 64:" in done.output and "cores here" in done.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--only", "bogus"], "'bogus' is not one of 'experiments', 'timing'"),
        (["run", "--seed", "abc"], "Invalid value for '--seed'"),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_usage_mistakes_are_one_line_from_the_console_command(tmp_path, args, needle):
    done = subprocess.run([sys.executable, "-m", "lossbench.cli", *args], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr


# damaged runs: show, report and compare name the file, exit 2


@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    (base / "c.yaml").write_text(FAST)
    done = _invoke(["run", "c.yaml", "--out", str(base / "out"), "--quiet"], base)
    assert done.exit_code == 0, done.output
    return next((base / "out").iterdir())


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
def test_a_damaged_run_names_the_damaged_file(tmp_path, a_run, case, command):
    import shutil

    run = tmp_path / a_run.name
    shutil.copytree(a_run, run)
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
            "compare": ["compare", str(a_run), str(run)]}[command]  # fmt: skip
    result = _invoke(args, tmp_path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and name in result.output, result.output


def test_show_reads_a_run_cut_short_before_its_summary(tmp_path, a_run):
    import shutil

    run = tmp_path / a_run.name
    shutil.copytree(a_run, run)
    for name in ("trials.csv", "summary.csv", "comparisons.csv", "summary.md"):
        (run / name).unlink()
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    shown = _invoke(["show", str(run)], tmp_path)
    assert shown.exit_code == 0, shown.output
    assert "interrupted" in shown.output


# signals, as real subprocesses

SLOW = (
    "experiments:\n"
    "  - {name: a, datasets: [{kind: gaussian, n_samples: 2000}], losses: [mse, huber],"
    " trials: 400}\n"
    "  - {name: b, datasets: [{kind: cauchy, n_samples: 2000}], losses: [mse, huber],"
    " trials: 400}\n"
)
TIMING = (
    "timing: {losses: [mse, huber, bce], ops: [value, value_and_gradient], impls: [numpy, fused], "
    "sizes: [2000000], pyperf: {processes: 3, values: 3}}\n"
)


def _interrupted(tmp_path, text, wait, signals):
    (tmp_path / "c.yaml").write_text(text)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    process = subprocess.Popen(
        [sys.executable, "-m", "lossbench.cli", "run", "c.yaml", "--out", "out", "--quiet"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not wait(tmp_path) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.05)
    _, stderr = process.communicate(timeout=60)
    run = next((tmp_path / "out").iterdir())
    record = json.loads((run / "run.json").read_text())
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert record["status"] == "interrupted"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no partial files
    assert not list(scratch.iterdir())  # no work files left
    return run, record, stderr


def _running(tmp_path):
    return any((tmp_path / "out").glob("*/run.json")) if (tmp_path / "out").exists() else False


def test_ctrl_c_three_times_still_ends_interrupted(tmp_path):
    _, _, stderr = _interrupted(tmp_path, SLOW, _running, [signal.SIGINT] * 3)
    assert "of 2 experiments finished" in stderr


def test_sigterm_and_sighup_end_the_run_interrupted(tmp_path):
    _interrupted(tmp_path, SLOW, _running, [signal.SIGTERM])
    other = tmp_path / "again"
    other.mkdir()
    _interrupted(other, SLOW, _running, [signal.SIGHUP])


def test_an_interrupt_during_timing_keeps_what_finished_and_leaves_no_worker(tmp_path):
    def timing_started(path):
        return any(path.glob("tmp/lossbench-timing-*/spec-1.json"))  # the second worker's

    run, record, _ = _interrupted(tmp_path, TIMING, timing_started, [signal.SIGINT])
    assert record["timing"].startswith("partial")
    table = (run / "timings.csv").read_text().splitlines()
    assert len(table) > 1  # the first worker's runs
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_write_waits_for_the_write(tmp_path, monkeypatch, signum):
    """Whichever thread takes the signal (a BLAS thread, say), the file is written whole and the
    interrupt comes after (to the handler a run installs, which ends it as Ctrl-C does)."""
    import threading

    import pandas as pd

    frame = pd.DataFrame({"a": range(1000)})
    original = pd.DataFrame.to_csv

    def slow_to_csv(self, *args, **kwargs):
        thread = threading.Thread(target=lambda: os.kill(os.getpid(), signum))
        thread.start()
        thread.join()
        time.sleep(0.05)
        return original(self, *args, **kwargs)

    def interrupt(number, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", slow_to_csv)
    previous = signal.signal(signum, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            results.write_atomic(tmp_path / "t.csv", frame)
    finally:
        signal.signal(signum, previous)
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 1001
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


# a full disk


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
    result = _invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2 and "No space left on device" in result.output, result.output
    assert "Traceback" not in result.output
    run = next((tmp_path / "out").iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_a_full_disk_at_the_start_leaves_no_directory(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(FAST)
    _full_disk_at(monkeypatch, "config.yaml")
    result = _invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    _assert_refused(result, tmp_path / "out", "No space left on device")


# the promise itself, for settings drawn at random

PATHS = [
    "name", "seed", "trials", "experiments.0.kind", "experiments.0.losses",
    "experiments.0.predictions", "experiments.0.trials", "experiments.0.datasets",
    "experiments.0.fit", "experiments.0.fit.tol", "experiments.0.statistic",
    "experiments.0.equivalence", "timing", "timing.sizes", "timing.impls", "timing.pyperf",
    "timing.pyperf.min_time", "bogus",
]  # fmt: skip
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["mse", "huber", "gaussian", "fit", "punishment", "numpy", "1e-8", ".inf"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_any_setting_is_run_or_refused_in_one_line(tmp_path, changes):
    (tmp_path / "c.yaml").write_text(FAST)
    out = tmp_path / f"out-{time.monotonic_ns()}"
    sets = [f"{path}={json.dumps(value)}" for path, value in changes]
    args = ["run", "c.yaml", "--out", str(out), "--quiet", "--only", "experiments"]
    result = _invoke([*args, *(part for s in sets for part in ("--set", s))], tmp_path)
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (sets, result.output)
    assert "Traceback" not in result.output, (sets, result.output)
    if result.exit_code == 2:
        _assert_refused(result, out)


def test_report_on_a_read_only_run_is_one_line(tmp_path, a_run):
    import shutil

    run = tmp_path / a_run.name
    shutil.copytree(a_run, run)
    run.chmod(0o555)
    try:
        if os.access(run, os.W_OK):  # root writes anywhere: make the write itself fail
            (run / "plots").write_text("a file where the plots folder goes")
        result = _invoke(["report", str(run)], tmp_path)
    finally:
        run.chmod(0o755)
    assert result.exit_code == 2 and "cannot write the report" in result.output, result.output
    assert "Traceback" not in result.output


def test_an_interrupt_between_a_run_s_files_waits_for_all_of_them(tmp_path):
    import threading

    with pytest.raises(KeyboardInterrupt):
        with results.interrupts_deferred():
            results.write_atomic(tmp_path / "a.csv", "first\n")
            thread = threading.Thread(target=lambda: os.kill(os.getpid(), signal.SIGINT))
            thread.start()
            thread.join()
            time.sleep(0.05)  # Python has run its handler by now
            results.write_atomic(tmp_path / "b.csv", "second\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


EXPERIMENT_KEYS = ["name", "kind", "losses", "datasets", "trials", "fit", "predictions", "offsets",
                   "starts", "statistic", "equivalence"]  # fmt: skip
EXPERIMENTS = st.lists(
    st.dictionaries(st.sampled_from(EXPERIMENT_KEYS), VALUES, max_size=5)
    | st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=5),
            "kind": st.sampled_from(["punishment", "fit"]),
            "losses": st.lists(st.sampled_from(["mse", "bce", "huber", "x:y", "nope"]), max_size=2),
        }
    ),
    max_size=2,
)
CONFIG_FILES = st.fixed_dictionaries(
    {},
    optional={
        "name": VALUES,
        "seed": VALUES,
        "trials": VALUES,
        "experiments": EXPERIMENTS,
        "timing": VALUES,
        "extra": VALUES,
    },
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CONFIG_FILES)
def test_any_config_file_is_run_or_refused_in_one_line(tmp_path, raw):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / f"out-{time.monotonic_ns()}"
    args = ["run", "c.yaml", "--out", str(out), "--quiet", "--quick", "--only", "experiments"]
    result = _invoke(args, tmp_path)
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (raw, result.output)
    assert "Traceback" not in result.output, (raw, result.output)
    if result.exit_code == 2:
        _assert_refused(result, out)


def test_an_error_quoting_a_huge_value_stays_one_short_line(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: '"
        + "x" * 900_000
        + "'}], losses: [mse]}\n"
    )
    result = _invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    _assert_refused(result, tmp_path / "out", "n_samples", "characters in all")
    assert len(result.output) < 600
