"""Signals: Ctrl-C, SIGTERM and SIGHUP end a run keeping what finished (exit 130, the run
marked interrupted, no partial file, no worker or work file left), a later signal changes
nothing, and a signal that arrives while a file is written waits for the write.

The runs are real subprocesses (the slow lane); the writes are tested in process, where a
test can choose the thread that takes the signal."""

import json
import os
import signal
import subprocess
import threading

import pandas as pd
import pytest
from helpers import start, wait_for

from lossbench import results, signals

# a punishment experiment that finishes at once, then one that would take hours
TWO_EXPERIMENTS = (
    "name: slow\ntrials: 2\nexperiments:\n"
    "  - {name: first, kind: punishment, losses: [mse]}\n"
    "  - {name: slow, kind: landscape, losses: [mse], starts: 40, trials: 100000}\n"
)
TIMING = (
    "timing: {losses: [mse, huber, bce], ops: [value, value_and_gradient], impls: [numpy, fused], "
    "sizes: [2000000], pyperf: {processes: 3, values: 3}}\n"
)


def _interrupt(tmp_path, text, ready, what, stops):
    """Run `text` as a config, send `stops` (back to back) once `ready(tmp_path)`, and check
    what every interrupted run promises; the run directory, run.json, stdout and stderr."""
    (tmp_path / "c.yaml").write_text(text)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = start(["run", "c.yaml", "--out", "out"], tmp_path, {"TMPDIR": str(scratch)})
    wait_for(lambda: ready(tmp_path) or process.poll() is not None, what)
    for signum in stops:
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (process.returncode, stderr)
    run = next((tmp_path / "out").iterdir())
    record = json.loads((run / "run.json").read_text())
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr
    assert record["status"] == "interrupted" and record["finished"]
    assert stdout.strip().splitlines()[-1] == f"results: {run.relative_to(tmp_path)}"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no partial files
    assert not list(scratch.iterdir())  # no work files left
    return run, record, stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "stops",
    [[signal.SIGINT] * 3, [signal.SIGTERM], [signal.SIGHUP]],
    ids=["ctrl-c three times", "SIGTERM", "SIGHUP"],
)
def test_a_stopped_run_keeps_its_finished_experiments_and_exits_130(tmp_path, stops):
    def first_saved(path):
        return any(path.glob("out/*/trials.csv"))

    run, record, stderr = _interrupt(
        tmp_path, TWO_EXPERIMENTS, first_saved, "the first experiment's results", stops
    )
    assert record["experiments_finished"] == 1 and record["experiments_total"] == 2
    assert "1 of 2 experiments finished" in stderr
    assert set(pd.read_csv(run / "trials.csv")["experiment"]) == {"first"}


@pytest.mark.slow
def test_an_interrupt_during_timing_keeps_what_finished_and_leaves_no_worker(tmp_path):
    def second_worker_started(path):
        return any(path.glob("tmp/lossbench-timing-*/spec-1.json"))

    run, record, _ = _interrupt(
        tmp_path, TIMING, second_worker_started, "the second timing worker", [signal.SIGINT]
    )
    assert record["timing"].startswith("partial")
    assert len((run / "timings.csv").read_text().splitlines()) > 1  # the first worker's runs
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout


def _signal_from_another_thread(signum):
    # the kernel may give a process signal to any thread (a BLAS thread, say); Python runs the
    # handler in the main thread at its next bytecode, which follows the join at once
    thread = threading.Thread(target=lambda: os.kill(os.getpid(), signum))
    thread.start()
    thread.join()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_write_waits_for_the_write(tmp_path, monkeypatch, signum):
    """Whichever thread takes the signal, the file is written whole and the interrupt comes
    after (to the handler a run installs, which ends it as Ctrl-C does)."""
    frame = pd.DataFrame({"a": range(1000)})
    original = pd.DataFrame.to_csv

    def to_csv_signalled(self, *args, **kwargs):
        _signal_from_another_thread(signum)
        return original(self, *args, **kwargs)

    def interrupt(number, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv_signalled)
    previous = signal.signal(signum, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            results.write_atomic(tmp_path / "t.csv", frame)
    finally:
        signal.signal(signum, previous)
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 1001
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_an_interrupt_between_a_run_s_files_waits_for_all_of_them(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with signals.interrupts_deferred():
            results.write_atomic(tmp_path / "a.csv", "first\n")
            _signal_from_another_thread(signal.SIGINT)
            results.write_atomic(tmp_path / "b.csv", "second\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_only_the_first_stop_counts_while_a_run_is_put_away():
    previous = {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS}
    caught = []
    try:
        with signals.stops_as_interrupts():
            try:
                _signal_from_another_thread(signal.SIGTERM)
            except KeyboardInterrupt as interrupt:
                caught.append(str(interrupt))
            _signal_from_another_thread(signal.SIGINT)  # ignored from now on
            _signal_from_another_thread(signal.SIGHUP)
        assert caught == ["SIGTERM"]
        assert all(signal.getsignal(s) is signal.SIG_IGN for s in signals.STOP_SIGNALS)
    finally:  # a run's process ends here; this one goes on
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _TakesTheSignal:
    """Its finalizer is where the stop lands: Python drops an exception raised there."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # bytecodes, at which the main thread runs the handler
            pass


def test_a_stop_lost_in_a_finalizer_still_ends_the_run_at_its_next_unit(capsys):
    """The interrupt raised in a finalizer is dropped there (quietly: no "Exception ignored"
    on stderr); the run's next unit of work raises it again, so the run cannot go on deaf to
    every later signal (all ignored by then)."""
    from lossbench import experiments

    config = {
        "seed": 0,
        "trials": 50,
        "experiments": [{"name": "e", "kind": "punishment", "losses": ["mse"]}],
    }
    previous = {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS}
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            with signals.stops_as_interrupts():
                _TakesTheSignal()  # collected at once: the interrupt is lost in __del__
                finished.append("past the finalizer")
                experiments.run(config)
                finished.append("the run")
    finally:  # a run's process ends here; this one goes on
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert finished == ["past the finalizer"]
    assert "Exception ignored" not in capsys.readouterr().err
    assert len(experiments.run(config)) > 0  # a later run in this process is not stopped
