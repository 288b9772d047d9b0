"""The `lossbench` command: thin commands over the library. Only this module prints.

Heavy modules (numba, pandas, scipy) are imported inside commands, so `lossbench --help` is fast.
"""

from __future__ import annotations

import io
import os
import signal
import sys


def _stopped_while_starting(signum, frame) -> None:
    """Before `main` runs there is nothing to put away: a stop ends the process as an
    interrupt (exit 130), not as death by the signal."""
    os.write(2, b"interrupted\n")
    os._exit(130)


# as the command (not when imported as a library), before the imports below, which take a
# good part of a second
if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "lossbench":
    for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_signum, _stopped_while_starting)

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lossbench import __version__
from lossbench import console as term
from lossbench.analysis.constants import TIMING_ALPHA, TIMING_THRESHOLD, UNSTABLE_CV
from lossbench.cli_history import CommitOption, RecordOption, check_record, history_app, record_run
from lossbench.console import (
    Format,
    click_exceptions,
    debug_mode,
    err,
    exit_now,
    out,
    user_errors,
)
from lossbench.errors import LossbenchError
from lossbench.starters.ci import WORKFLOW as WORKFLOW_PATH
from lossbench.text import markup as escape
from lossbench.text import visible

__all__ = ["app", "main"]

app = typer.Typer(
    name="lossbench",
    help="Which loss gives the better model on data like mine, and what does each loss cost?",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"lossbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", metavar="", help="Show tracebacks for errors.")
    ] = False,
) -> None:
    debug_mode["on"] = debug


class Topic(StrEnum):
    losses = "losses"
    datasets = "datasets"
    metrics = "metrics"
    impls = "impls"


@app.command("list")
def list_(
    topic: Annotated[Topic | None, typer.Argument(help="What to list; none: all four.")] = None,
) -> None:
    """Document what a config can name: losses (with parameters and formula), datasets,
    metrics, impls."""
    from lossbench.report.catalog import TABLES

    with user_errors():
        for chosen in [topic] if topic is not None else list(Topic):
            out.print(TABLES[chosen.value]())


class Only(StrEnum):
    experiments = "experiments"
    timing = "timing"


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Argument(help="A YAML config (see `lossbench init`); none: the embedded default."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where run directories are made.")] = Path(
        "results"
    ),
    name: Annotated[
        str | None, typer.Option(help="The run's name (default: the config's).")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", metavar="", help="The same experiments, smaller: a first look, or CI."
        ),
    ] = False,
    only: Annotated[Only | None, typer.Option(help="Run only this part.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a setting: KEY=VALUE, dotted, value as YAML.",
            metavar="KEY=VALUE",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(help="Parallel worker processes for the trials.")] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Run the trials on a dask scheduler (tcp://host:8786) or on local:N worker "
            "processes (needs lossbench\\[dask]); timing still runs here.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's master seed.")] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", metavar="", help="No progress bar and no tables; just the last line."
        ),
    ] = False,
    with_report: Annotated[
        bool,
        typer.Option(
            "--report",
            metavar="",
            help="Also write plots/ and report.html (needs lossbench\\[plot]).",
        ),
    ] = False,
    record: RecordOption = None,
    commit: CommitOption = None,
) -> None:
    """Run the experiments of a config and keep the results.

    Prints a table per experiment with its verdicts, then "What to use" per dataset, then,
    as its last line, `results: <run directory>` (run.json, config.yaml, trials.csv,
    summary.csv, comparisons.csv, summary.md; timings.csv with timing).
    """
    from lossbench import runner
    from lossbench.report import terminal as report
    from lossbench.signals import stops_as_interrupts

    with user_errors():
        resolved = runner.resolve(config, overrides=set_ or [], quick=quick, seed=seed, name=name)
        if with_report:
            from lossbench.report.plots import require_matplotlib

            require_matplotlib()  # before the run, not after it
        check_record(record, resolved, only=only, commit=commit)
        if cluster is not None and resolved.experiments.units and only != "timing":
            from lossbench.experiments.cluster import check_address

            check_address(cluster)
            where = "worker processes here" if cluster.startswith("local:") else "there"
            err.print(
                f"cluster: {escape(visible(cluster))}: the trials and their data go {where}",
                highlight=False,
                soft_wrap=True,
            )
        started: dict[str, Path] = {}
        progress = report.progress_bar(err, disable=quiet or not err.is_terminal)
        try:
            with stops_as_interrupts(), progress:
                task = progress.add_task("experiments", total=None, unit="trials")

                def advance(phase: str, done: int, total: int) -> None:
                    unit = "trials" if phase == "experiments" else "benchmarks"
                    progress.update(task, description=phase, unit=unit, completed=done, total=total)

                outcome = runner.execute(
                    resolved,
                    out_dir,
                    only=only,
                    jobs=jobs,
                    cluster=cluster,
                    progress=advance,
                    on_start=lambda path: started.setdefault("path", path),
                )
        except KeyboardInterrupt:
            path = started.get("path")
            kept = report.kept(path)
            err.print(f"interrupted: {escape(kept)}", soft_wrap=True, highlight=False)
            if path is not None:
                term.results_line(path)
            raise typer.Exit(code=130) from None
        if not quiet:
            tables = report.render(outcome.summary, outcome.comparisons)
            for part in [*tables, *report.render_timings(outcome.timings)]:
                out.print(part)
                out.print()
            term.print_answer(outcome.comparisons)
        for note in outcome.notes or []:
            err.print(escape(note), highlight=False)  # wrapped to the width
        if with_report:
            from lossbench.report.html import write_report

            page, _ = write_report(outcome.path)
            out.print(f"report: {page}", highlight=False, soft_wrap=True, markup=False)
        recorded = record is None or record_run(record, outcome.path, commit=commit)
        term.results_line(outcome.path)
        if not recorded:
            raise typer.Exit(code=2)


RunArgument = Annotated[
    Path | None,
    typer.Argument(metavar="RUN", help="A run directory; none: the newest under --out."),
]
RunsOption = Annotated[Path, typer.Option("--out", help="Where runs are (for the newest).")]


def _chosen_run(run_dir: Path | None, out_dir: Path) -> Path:
    from lossbench import results

    return run_dir if run_dir is not None else results.latest_run(out_dir)


@app.command()
def show(run_dir: RunArgument = None, out_dir: RunsOption = Path("results")) -> None:
    """Re-render a stored run's tables and verdicts."""
    from lossbench import results
    from lossbench.report import terminal as report

    with user_errors():
        path = _chosen_run(run_dir, out_dir)
        record, trials, summary, timings = results.read_run(path)
        comparisons = results.read_comparisons(path, trials, summary)
        status = record.get("status", "?")
        # run.json is a file: anything in it is shown as text
        run_id, started = escape(record.get("id", path.name)), escape(record.get("started"))
        out.print(f"run {run_id} ({escape(status)}, started {started})", highlight=False)
        if status != "complete":
            done, total = record.get("experiments_finished"), record.get("experiments_total")
            if done is None:  # never finished: killed, or still running elsewhere
                out.print(f"[yellow]{escape(status)}: no finished experiment recorded[/]")
            else:
                out.print(
                    f"[yellow]{escape(status)}: {escape(done)} of {escape(total)} experiments "
                    "finished[/]"
                )
        for part in [*report.render(summary, comparisons), *report.render_timings(timings)]:
            out.print(part)
            out.print()
        term.print_answer(comparisons)
        term.results_line(path)


_CI_HELP = (
    f"Write a timing config and a GitHub Actions workflow ({WORKFLOW_PATH}) that gate "
    "this loss kernel of yours on every pull request."
)


@app.command()
def init(
    path: Annotated[Path | None, typer.Argument(help="Where to write the config.")] = None,
    table: Annotated[Path | None, typer.Option(help="A CSV, TSV or Parquet file.")] = None,
    target: Annotated[str | None, typer.Option(help="The column of --table to predict.")] = None,
    ci: Annotated[str | None, typer.Option(metavar="MODULE:FUNCTION", help=_CI_HELP)] = None,
) -> None:
    """Write a commented starter config to PATH; never overwrites.

    With no option, the embedded default (synthetic data) to lossbench.yaml. With --table and
    --target, a config for your table, its columns described, to lossbench.yaml. With --ci, a
    CI gate for your kernel: lossbench-ci.yaml and the workflow.
    """
    from lossbench import starters

    with user_errors():
        for line in starters.write(path, table, target, ci):
            out.print(line, highlight=False, soft_wrap=True, markup=False)


@app.command("report")
def report_command(run_dir: RunArgument = None, out_dir: RunsOption = Path("results")) -> None:
    """Write plots/*.png and a self-contained report.html into a run directory."""
    from lossbench.report.html import write_report

    with user_errors():
        path = _chosen_run(run_dir, out_dir)
        page, images = write_report(path)
        out.print(
            f"wrote {len(images)} plot{'s' if len(images) != 1 else ''} to {page.parent / 'plots'}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"report: {page}", highlight=False, soft_wrap=True, markup=False)


@app.command()
def compare(
    base: Annotated[
        Path | None,
        typer.Argument(help="A run directory or pyperf JSON; none: the newest two runs."),
    ] = None,
    new: Annotated[Path | None, typer.Argument(help="The run or pyperf JSON to judge.")] = None,
    threshold: Annotated[
        float,
        typer.Option(
            help="Slower when the ratio's interval lies above 1 + threshold (see --strict)."
        ),
    ] = TIMING_THRESHOLD,
    alpha: Annotated[
        float,
        typer.Option(
            help="Level of Welch's t on the log process medians: the deciding interval is at "
            "1 - alpha."
        ),
    ] = TIMING_ALPHA,
    normalize: Annotated[
        bool,
        typer.Option(
            "--normalize",
            metavar="",
            help="Compare times relative to each run's read probe (across machines).",
        ),
    ] = False,
    output_format: Annotated[
        Format, typer.Option("--format", help="Output format.")
    ] = Format.table,
    output: Annotated[Path | None, typer.Option(help="Also write the report to this file.")] = None,
    no_fail: Annotated[
        bool, typer.Option("--no-fail", metavar="", help="Exit 0 even on a regression.")
    ] = False,
    fail_on_quality: Annotated[
        bool,
        typer.Option("--fail-on-quality", metavar="", help="Exit 1 when a quality result changed."),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            metavar="",
            help="Also fail on a benchmark whose ratio is beyond the threshold though its "
            "interval straddles it (a likely slowdown; unstable ones too: processes disagree "
            f"by > {UNSTABLE_CV:.0%}).",
        ),
    ] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the newest runs are.")] = Path(
        "results"
    ),
) -> None:
    """Compare two result sets; exit 1 on a real timing regression (or, with --fail-on-quality,
    a changed quality result)."""
    from lossbench import results
    from lossbench.report import compare as cmp

    with user_errors():
        target = results.output_file(output) if output is not None else None
        if base is None or new is None:
            if base is not None or new is not None:
                raise LossbenchError("compare takes two inputs, or none (the newest two runs)")
            base, new = results.latest_runs(out_dir, 2)
        found = cmp.compare(
            base, new, threshold=threshold, alpha=alpha, normalize=normalize, strict=strict
        )
        if output_format is Format.json:
            text = cmp.to_json(found.timings)
        elif output_format is Format.markdown:
            text = cmp.markdown(found)
        else:
            text = None
            term.print_compare(found)
        if text is not None:
            out.print(text, markup=False, highlight=False, soft_wrap=True)
        if target is not None:
            try:
                results.write_atomic(target, text if text is not None else cmp.markdown(found))
            except OSError as error:
                message = f"--output {output}: cannot write ({error.strerror})"
                raise LossbenchError(message) from None
        code = found.exit_code(no_fail=no_fail, fail_on_quality=fail_on_quality)
        if code:
            raise typer.Exit(code=code)


app.add_typer(history_app)


term.readable_help(app)


def main() -> None:
    """Console-script entry point: a usage mistake (an unknown option, a bad value) is one
    line and exit 2, as every other mistake is."""
    from lossbench.signals import stops_as_interrupts

    if not sys.warnoptions:  # numpy's and matplotlib's warnings are not for the user (-W shows)
        import warnings

        warnings.simplefilter("ignore")
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 locale shows a name, not a traceback
        try:
            if isinstance(stream, io.TextIOWrapper):  # a replaced stream may be another kind
                stream.reconfigure(errors="backslashreplace")
        except ValueError:
            pass
    usage, abort = click_exceptions()
    stops: tuple[type[BaseException], ...] = (KeyboardInterrupt, *abort)
    try:
        with stops_as_interrupts():  # SIGTERM while still importing is an interrupt too
            code = app(standalone_mode=False)
    except OSError as error:  # the output itself failed (a full disk, a closed pipe)
        try:
            err.print(
                f"error: cannot write the output ({error.strerror or error})",
                markup=False,
                highlight=False,
            )
        except OSError:
            pass
        exit_now(2)
    except usage as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # plain `lossbench`: the help
            out.print(error.ctx.get_help(), markup=False, highlight=False)
            sys.exit(0)
        command = error.ctx.command_path if error.ctx is not None else "lossbench"
        message = " ".join(error.format_message().replace("Value error, ", "").split())
        err.print(
            f"[bold red]error:[/] {escape(message)} (see `{command} --help`)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except stops:
        err.print("interrupted")
        code = 130
    if code == 130:  # interrupted: the run is put away; a signal during the interpreter's
        exit_now(130)  # own shutdown must not turn exit 130 into death by signal
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
