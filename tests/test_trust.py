"""The trust boundary (docs/configs.md): a config is data. It sends data off the
machine only when the command line says so, its names are shown as text wherever they are
shown, and a cluster that breaks ends the run in one line, marked failed."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from helpers import assert_refused, invoke, start, wait_for
from markdown_it import MarkdownIt

from lossbench import config as config_module
from lossbench import experiments
from lossbench.errors import LossbenchError

CLUSTERED = (
    "cluster: tcp://198.51.100.7:8786\nexperiments:\n"
    "  - {name: p, kind: punishment, losses: [mse, bce]}\n"
)


def test_a_configs_cluster_is_refused_without_the_flag(tmp_path):
    (tmp_path / "c.yaml").write_text(CLUSTERED)
    out = tmp_path / "out"
    result = invoke(["run", "c.yaml", "--out", out], tmp_path)
    assert_refused(result, out, "pass --cluster tcp://198.51.100.7:8786")
    with pytest.raises(LossbenchError, match="never sends data off this machine"):
        experiments.run(config_module.load(tmp_path / "c.yaml"))


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("tls://10.0.0.1:8786", "tls:// is not supported"),
        ("ucx://10.0.0.1:8786", "ucx:// is not supported"),
        ("inproc://x", "inproc:// is not supported"),
        ("tcp://10.0.0.1", "tcp://host:port, with a port"),
        ("tcp://10.0.0.1:99999", "tcp://host:port, with a port"),
        ("local:0", "1 to 256 local workers"),
    ],
)
def test_addresses_lossbench_cannot_use_are_one_line(tmp_path, address, said):
    out = tmp_path / "out"
    assert_refused(invoke(["run", "--cluster", address, "--out", out], tmp_path), out, said)


@pytest.mark.slow  # dask's client
def test_something_else_on_the_port_is_one_line_not_a_3_eib_allocation(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():  # an HTTP server, say: not dask's protocol
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + b"\xff" * 64)
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    out = tmp_path / "out"
    try:
        result = invoke(["run", "--cluster", f"tcp://127.0.0.1:{port}", "--out", out], tmp_path)
    finally:
        server.close()
    assert result.exit_code == 2 and "not a dask scheduler" in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.slow  # a dask scheduler
def test_a_cluster_without_workers_ends_the_run_marked_failed(tmp_path, monkeypatch):
    import distributed

    from lossbench import runner
    from lossbench.experiments import cluster

    monkeypatch.setattr(cluster, "NO_WORKERS_S", 1.0)
    monkeypatch.setattr(cluster, "_POLL_S", 0.2)
    config = config_module.validate(
        {
            "name": "t",
            "experiments": [{"name": "p", "kind": "punishment", "losses": ["mse", "bce"]}],
        }
    )
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as local:
        with pytest.raises(LossbenchError, match="no worker for 1 s") as caught:
            runner.execute(config, tmp_path / "out", cluster=local.scheduler_address)
    (run,) = (tmp_path / "out").iterdir()
    assert "marked failed" in str(caught.value)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.mark.slow  # a dask scheduler and worker as processes, killed
def test_a_scheduler_killed_mid_run_is_one_line_and_the_run_failed(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([*dask, "distributed.cli.dask_scheduler", "--port",
                                  str(port), "--no-dashboard"], **quiet)  # fmt: skip
    worker = subprocess.Popen([*dask, "distributed.cli.dask_worker", address, "--nthreads",
                               "1", "--no-dashboard", "--no-nanny"], **quiet)  # fmt: skip
    try:
        (tmp_path / "c.yaml").write_text(
            "name: long\ntrials: 20000\nexperiments:\n  - name: r\n    datasets: [{kind: "
            "gaussian, n_samples: 1000}]\n    losses: [mse, huber]\n"
        )
        run = start(["run", "c.yaml", "--out", "out", "--quiet", "--cluster", address], tmp_path)
        wait_for(lambda: list((tmp_path / "out").glob("*/run.json")), "the run to start", 120)
        scheduler.send_signal(signal.SIGKILL)
        _, stderr = run.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            process.kill()
            process.wait()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert run.returncode == 2, stderr
    assert lines[0].startswith("cluster: ") and len(lines) == 2, stderr
    assert "the cluster was lost mid-run" in lines[1] and "marked failed" in lines[1]
    (made,) = (tmp_path / "out").iterdir()
    assert json.loads((made / "run.json").read_text())["status"] == "failed"


@pytest.mark.slow  # a LocalCluster
def test_a_local_cluster_leaves_no_scratch_space(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: p, kind: punishment, losses: [mse, bce]}\n"
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = start(["run", "c.yaml", "--out", "out", "--quiet", "--cluster", "local:1"], tmp_path,
                env={"TMPDIR": str(scratch)})  # fmt: skip
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert "cluster: local:1: the trials and their data go worker processes here" in stderr
    assert list(scratch.iterdir()) == []


NASTY = (
    "=HYPERLINK(1)[/][link=http://evil.example]click me[/link]<script>x</script>$\\frac{$|a`b`# h"
)


@pytest.fixture(scope="module")
def nasty_run(tmp_path_factory):
    """A run whose experiment and run names hold markup, HTML, markdown, a formula and
    mathtext, with --report."""
    base = tmp_path_factory.mktemp("nasty")
    (base / "c.yaml").write_text(
        f"name: '=cmd [/] $\\frac{{$'\ntrials: 4\nexperiments:\n  - name: '{NASTY}'\n"
        "    datasets: [{kind: gaussian, n_samples: 100}]\n    losses: [mse, huber]\n"
    )
    result = invoke(["run", "c.yaml", "--out", base / "out", "--report"], base)
    assert result.exit_code == 0, result.output
    (run,) = (base / "out").iterdir()
    return run, result.output


def test_names_are_shown_as_their_characters_in_the_terminal(nasty_run):
    run, output = nasty_run
    flat = " ".join(output.split())
    assert "click me[/link]<script>x</script>$\\frac{$|a`b`# h" in flat
    shown = invoke(["show", run])
    assert shown.exit_code == 0 and "[link=http://evil.example]" in shown.output


def test_names_in_summary_md_are_text(nasty_run):
    run, _ = nasty_run
    page = MarkdownIt("commonmark").enable("table").render((run / "summary.md").read_text())
    assert "<script>" not in page and "<a " not in page and page.count("<h1>") == 1
    assert "&lt;script&gt;" in page


def test_names_in_csv_files_start_no_formula(nasty_run):
    run, _ = nasty_run
    for name in ("trials.csv", "summary.csv", "comparisons.csv"):
        rows = (run / name).read_text().splitlines()[1:]
        assert rows and all(row.startswith("'=HYPERLINK") for row in rows), name
    from lossbench import results

    _, trials, _, _ = results.read_run(run)
    assert set(trials["experiment"]) == {NASTY}  # read back as written


def test_names_in_the_html_report_are_text(nasty_run):
    run, _ = nasty_run
    page = (run / "report.html").read_text()
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert os.path.getsize(run / "plots" / "losses.png") > 0


def _pyperf_pair(tmp_path):
    import pyperf

    paths = []
    for name, value in (("a.json", 1.0e-3), ("b.json", 1.0e-3)):
        runs = [pyperf.Run([value * (1 + 0.001 * i)], metadata={"name": "k", "loops": 1})
                for i in range(3)]  # fmt: skip
        pyperf.BenchmarkSuite([pyperf.Benchmark(runs)]).dump(str(tmp_path / name))
        paths.append(tmp_path / name)
    return paths


def test_compare_output_never_replaces_a_fifo_or_a_device_and_writes_through_a_link(tmp_path):
    base, new = _pyperf_pair(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, kind in ((fifo, "a FIFO"), ("/dev/null", "a device"), (tmp_path, "a directory")):
        assert_refused(invoke(["compare", base, new, "--output", target]), None, kind)
    assert fifo.is_fifo()
    (tmp_path / "real.md").write_text("old")
    (tmp_path / "link.md").symlink_to("real.md")
    assert invoke(["compare", base, new, "--output", tmp_path / "link.md"]).exit_code == 0
    assert (tmp_path / "link.md").is_symlink()
    assert (tmp_path / "real.md").read_text().startswith("## lossbench compare")


# -- one line, not a traceback, wherever the input or the output is odd -----------------------


def _two_fold_table(tmp_path, name: str, content: str) -> None:
    """`content` as the table `name` beside c.yaml, which fits mse and huber on it (2 folds)."""
    (tmp_path / name).write_text(content)
    (tmp_path / "c.yaml").write_text(
        f"experiments:\n  - name: t\n    datasets: [{{kind: table, path: {name}, target: y}}]\n"
        "    losses: [mse, huber]\n    cv: {folds: 2, repeats: 1}\n"
    )


def _lossbench(args, cwd, env=None, **streams):
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **streams}
    return subprocess.run(
        [sys.executable, "-m", "lossbench.cli", *map(str, args)], cwd=cwd,
        env={**os.environ, **(env or {})}, text=True, timeout=300, **streams,
    )  # fmt: skip


def test_a_huge_integer_in_run_json_is_one_line(tmp_path, nasty_run):
    from helpers import copy_of

    run = copy_of(nasty_run[0], tmp_path)
    record = (run / "run.json").read_text()
    (run / "run.json").write_text(record.replace('"id"', '"n": ' + "9" * 5001 + ', "id"', 1))
    assert_refused(invoke(["show", run]), None, "run.json: unreadable", "5001 digits")


def test_infinite_means_in_summary_csv_still_make_a_report(tmp_path, nasty_run):
    import pandas as pd
    from helpers import copy_of

    run = copy_of(nasty_run[0], tmp_path)
    summary = pd.read_csv(run / "summary.csv")
    summary["mean"] = float("inf")
    summary.to_csv(run / "summary.csv", index=False)
    assert invoke(["show", run]).exit_code == 0
    reported = invoke(["report", run])
    assert reported.exit_code == 0 and "Traceback" not in reported.output, reported.output


@pytest.mark.slow  # a fresh lossbench process
def test_output_on_a_full_device_is_one_line(tmp_path, nasty_run):
    with open("/dev/full", "w") as full:
        done = _lossbench(["show", nasty_run[0]], tmp_path, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: cannot write the output (No space left on device)"


@pytest.mark.slow  # a fresh lossbench process
def test_a_non_ascii_table_path_in_an_ascii_locale_is_one_line(tmp_path):
    _two_fold_table(tmp_path, "dätä.csv", "x,y\n1,2\n2,3\n3,5\n4,4\n")
    done = _lossbench(["run", "c.yaml", "--out", "out"], tmp_path,
                      env={"LC_ALL": "POSIX", "PYTHONUTF8": "0"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "run with LC_ALL=C.UTF-8" in done.stderr


@pytest.mark.slow  # fresh lossbench processes
@pytest.mark.parametrize("columns", ["0", "20"])
def test_a_narrow_or_zero_terminal_width_hides_nothing(tmp_path, nasty_run, columns):
    done = _lossbench(["show", nasty_run[0]], tmp_path, env={"COLUMNS": columns})
    assert done.returncode == 0 and "results: " in done.stdout
    assert "…" not in done.stdout and "0.2" in done.stdout  # the estimates, whole


@pytest.mark.slow  # a fresh lossbench process
def test_sigterm_while_lossbench_starts_is_exit_130(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: p, kind: punishment, losses: [mse]}\n"
    )
    process = start(["run", "c.yaml", "--out", "out"], tmp_path)
    # as soon as lossbench catches SIGTERM: while it still imports, before the run begins
    wait_for(lambda: _catches(process.pid, signal.SIGTERM), "the SIGTERM handler", 60)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert not (tmp_path / "out").exists()  # it stopped while starting


def _catches(pid: int, signum: int) -> bool:
    try:
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)


@pytest.mark.slow  # a fresh lossbench process
def test_numpy_warnings_do_not_reach_stderr(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "trials: 3\nexperiments:\n  - name: t\n    datasets: [{kind: cauchy, n_samples: 30}]\n"
        "    losses: [mse, huber]\n"
    )
    done = _lossbench(["run", "c.yaml", "--out", "out", "--quiet"], tmp_path)
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr


def test_normalize_with_names_it_cannot_read_says_so(tmp_path):
    import pyperf

    for name in ("a.json", "b.json"):
        runs = [pyperf.Run([1e-3], metadata={"name": "weird", "loops": 1})] * 2
        pyperf.BenchmarkSuite([pyperf.Benchmark(runs)]).dump(str(tmp_path / name))
    result = invoke(["compare", tmp_path / "a.json", tmp_path / "b.json", "--normalize"])
    assert_refused(result, None, "--normalize: no benchmark", "compare them without --normalize")


@pytest.mark.slow  # a fresh lossbench process
def test_a_column_name_with_escapes_and_a_line_break_is_shown_escaped(tmp_path):
    _two_fold_table(tmp_path, "t.csv", '"a\x1b[2Jb\nc",x,y\nq,1,2\nr,2,3\ns,3,5\nt,4,4\n')
    done = _lossbench(["run", "c.yaml", "--out", "out", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "non-numeric columns left out: a\\x1b[2Jb\\nc" in done.stderr
    assert "\x1b" not in done.stderr + done.stdout
