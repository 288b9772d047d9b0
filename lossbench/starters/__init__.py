"""Starters: configs (and a CI workflow) written for a user's own table or kernel, by
``lossbench init``. Each is checked as a run would check it before anything is written, and
nothing is overwritten."""

from __future__ import annotations

from pathlib import Path

from lossbench import text
from lossbench.errors import LossbenchError

# the run's machinery (pandas, scipy) loads when a starter is written, not when the command
# line reads `ci.WORKFLOW` for its help

__all__ = ["write", "write_ci", "write_default", "write_table"]


def write(path: Path | None, table: Path | None, target: str | None, kernel: str | None):
    """`lossbench init`'s starter for its options: the default config, a table's (`table`
    and `target`) or a kernel's CI gate (`kernel`); the lines to print."""
    if table is not None and kernel is not None:
        raise LossbenchError("--table and --ci write different starters; give one")
    if (table is None) != (target is None):
        raise LossbenchError(
            "--table and --target go together: the table, and the column to predict"
        )
    if kernel is not None:
        return write_ci(kernel, path or Path("lossbench-ci.yaml"))
    if table is not None and target is not None:
        return [write_table(table, target, path or Path("lossbench.yaml"))]
    return [write_default(path or Path("lossbench.yaml"))]


def write_default(path: Path) -> str:
    """Write the embedded default config to `path`; what to do next."""
    from lossbench.config import default_text
    from lossbench.results.files import write_new

    write_new({path: default_text()})
    return f"wrote {text.visible(path)}: edit it, then `lossbench run {text.visible(path)}`"


def write_table(source: Path, target: str, path: Path) -> str:
    """Write a config for the table `source` predicting `target`; what to do next."""
    from lossbench.results.files import write_new
    from lossbench.starters import table

    starter = table.describe(source, target)
    config = starter.config(path)
    _check(config, path)
    write_new({path: config})
    shown, data = text.visible(path), text.visible(source.name)
    return (
        f"wrote {shown} for {data} ({starter.rows:,} rows, {starter.task}): read its "
        f"comments, then `lossbench run {shown}`"
    )


def write_ci(spec: str, path: Path) -> list[str]:
    """Write a timing config for the kernel `spec` to `path` and the workflow that runs it;
    what was written and what to do next."""
    from lossbench.results.files import write_new
    from lossbench.starters import ci

    root = Path.cwd().resolve()
    if not Path(path).resolve().is_relative_to(root):
        raise LossbenchError(
            f"{path}: write the config inside this repository (the workflow "
            "runs from its root, the working directory)"
        )
    starter = ci.starter(spec, (str(root),))
    config = starter.config()
    _check(config, path)
    workflow = Path(ci.WORKFLOW)
    relative = Path(path).resolve().relative_to(root).as_posix()
    write_new({path: config, workflow: starter.workflow(relative)})
    return [
        f"wrote {path}: the timing of {spec}",
        f"wrote {workflow}: instruction counts gate each pull request, time is reported",
        f"try it here first: lossbench run {path} --only timing --quick",
        "then commit both files",
    ]


def _check(config: str, path: Path) -> None:
    """Plan the config's text as if it were at `path` (relative paths and user code resolve
    from there), so that a config is never written that its run would refuse."""
    from lossbench import config as config_module
    from lossbench import runner
    from lossbench.config.reading import parse_yaml

    directory = Path(path).resolve().parent
    if not directory.is_dir():
        raise LossbenchError(f"{path}: no such directory {directory}")
    checked = config_module.validate(parse_yaml(config, str(path)), str(path))
    checked._source_dir = directory  # what `config.load` sets for a file read from there
    runner.plan(checked, str(path))
