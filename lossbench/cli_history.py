"""`lossbench history`: its commands (import, show, page), thin over `lossbench.history`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lossbench import console as term
from lossbench.console import Format, err, out, user_errors
from lossbench.errors import LossbenchError
from lossbench.text import markup as escape

__all__ = ["CommitOption", "RecordOption", "check_record", "history_app", "record_run"]

RecordOption = Annotated[
    Path | None,
    typer.Option(
        metavar="DB",
        help="Record the timings into this history file (see `lossbench history`) when the run "
        "completes.",
    ),
]
CommitOption = Annotated[
    str | None,
    typer.Option(help="The commit --record files the run under (default: git's HEAD here)."),
]


def check_record(record: Path | None, resolved, *, only: str | None, commit: str | None) -> None:
    """Before a run: what `run --record` needs, refused now rather than after the run."""
    if record is not None:
        from lossbench import history

        history.check_recordable(record, resolved, only=only, commit=commit)
    elif commit is not None:
        raise LossbenchError("--commit names the commit for --record; add --record DB")


def record_run(record: Path, run_dir: Path, *, commit: str | None) -> bool:
    """After a complete run: its timings into the history `record`; False (said on stderr)
    when they could not be, the run itself being kept."""
    from lossbench import history

    try:
        new = history.record(record, run_dir, commit=commit)
    except LossbenchError as error:
        err.print(
            f"[bold red]error:[/] not recorded: {escape(str(error))}",
            highlight=False,
            soft_wrap=True,
        )
        return False
    said = "recorded into" if new else "already recorded in"
    err.print(f"{said} {escape(str(record))}", highlight=False, soft_wrap=True)
    return True


history_app = typer.Typer(
    name="history",
    help="A history of timing runs over commits, in one SQLite file: record runs, show each "
    "benchmark's trend and the steps in it, draw them on a page.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

HistoryArgument = Annotated[Path, typer.Argument(metavar="DB", help="The history file.")]
BenchmarkOption = Annotated[
    str | None, typer.Option(metavar="GLOB", help="Only benchmarks matching this glob.")
]
MachineOption = Annotated[
    str | None, typer.Option(help="Only this machine (as `history show` names it).")
]
LastOption = Annotated[
    int | None, typer.Option(min=1, metavar="N", help="Only each benchmark's last N commits.")
]
MinChangeOption = Annotated[
    float,
    typer.Option(
        min=0.0, max=10.0, help="Report steps of at least this relative size (0.01 = 1%)."
    ),
]


@history_app.command("import")
def history_import(
    db: HistoryArgument,
    paths: Annotated[
        list[Path], typer.Argument(metavar="RUN...", help="Run directories or pyperf JSON files.")
    ],
    commit: Annotated[
        str | None,
        typer.Option(help="The commit they measured (default: git's HEAD here, if any)."),
    ] = None,
    machine: Annotated[
        str | None, typer.Option(help="The machine they ran on (default: CPU model, cores).")
    ] = None,
) -> None:
    """Record run directories or pyperf JSON files into the history DB (made if missing).

    A run already recorded is skipped. Runs are ordered by their commit's time (or, without
    a commit, by when they ran); runs of one commit are pooled.
    """
    from lossbench import history

    with user_errors():
        added = sum(history.record(db, path, commit=commit, machine=machine) for path in paths)
        skipped = len(paths) - added
        tail = f" ({skipped} already there)" if skipped else ""
        out.print(
            f"recorded {added} of {len(paths)} into {escape(str(db))}{tail}",
            highlight=False,
            soft_wrap=True,
        )


@history_app.command("show")
def history_show(
    db: HistoryArgument,
    benchmark: BenchmarkOption = None,
    machine: MachineOption = None,
    last: LastOption = None,
    min_change: MinChangeOption = 0.01,
    output_format: Annotated[
        Format, typer.Option("--format", help="Output format.")
    ] = Format.table,
) -> None:
    """Each benchmark's trend over commits and the steps in it, those with a step first.

    A step is found by PELT on the ranks of the per-commit medians (a disturbed run is one
    high rank, not a step), placed by least squares; its size is the ratio of the medians
    on either side.
    """
    from lossbench import history
    from lossbench.history import view

    with user_errors():
        found = history.trends(
            db, benchmark=benchmark, machine=machine, last=last, min_change=min_change
        )
        if output_format is not Format.table:
            made = view.to_json if output_format is Format.json else view.markdown
            out.print(made(found), markup=False, highlight=False, soft_wrap=True)
            return
        out.print(escape(view.answer(found)), highlight=False)
        for table in view.tables(found):
            out.print(table)


@history_app.command("page")
def history_page(
    db: HistoryArgument,
    output: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("history.html"),
    benchmark: BenchmarkOption = None,
    machine: MachineOption = None,
    last: LastOption = None,
    min_change: MinChangeOption = 0.01,
) -> None:
    """Write a self-contained HTML page: one small trend plot per benchmark, steps marked
    (needs lossbench\\[plot])."""
    from lossbench import history, results
    from lossbench.history.page import write_page
    from lossbench.report.figures import require_matplotlib

    with user_errors():
        require_matplotlib()
        target = results.output_file(output)
        found = history.trends(
            db, benchmark=benchmark, machine=machine, last=last, min_change=min_change
        )
        write_page(found, target, source=str(db))
        out.print(f"history page: {output}", highlight=False, soft_wrap=True, markup=False)


term.readable_help(history_app)
