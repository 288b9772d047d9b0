"""`lossbench run` as a library call: resolve the config, run it, keep its results.

Everything that can be refused is checked before the run directory is made, so a refused run
leaves nothing behind. Experiments run one at a time and the files are rewritten after each,
so an interrupted or failed run keeps every finished experiment and says how it ended.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pandas as pd

from lossbench import config as config_module
from lossbench import experiments, results, system
from lossbench.config import Config
from lossbench.errors import LossbenchError
from lossbench.experiments.cluster import connect
from lossbench.report import answer
from lossbench.timing import driver as timing

__all__ = ["Outcome", "execute", "resolve"]


def resolve(
    path: str | Path | None = None,
    *,
    overrides: list[str] = (),
    quick: bool = False,
    seed: int | None = None,
    name: str | None = None,
) -> Config:
    """The config a run will use: loaded, shrunk with `quick`, overridden (an explicit
    ``--set`` wins over `quick`), and checked."""
    if path is not None:  # user losses ('module:function') beside the config, then here
        for directory in (str(Path.cwd()), str(Path(path).resolve().parent)):
            if directory not in sys.path:
                sys.path.insert(0, directory)
    source = config_module.DEFAULT if path is None else str(path)
    overrides = list(overrides)
    config = config_module.load(path, [] if quick else overrides)
    if quick:
        config = config_module.quick(config)
        if overrides:
            directory = config._source_dir
            raw = config_module.set_values(config.model_dump(mode="json"), overrides)
            config = config_module.validate(raw, source, overrides)
            config._source_dir = directory
    if seed is not None:
        if not 0 <= seed < 2**63:
            raise LossbenchError(f"--seed: expected 0 to 2**63 - 1; got {seed}")
        config.seed = seed
    if name is not None:
        config.name = name
    try:
        experiments.tasks(config)  # checks every dataset and loss, and the timing matrix
        if config.timing is not None:
            timing.plan(config.timing)
    except LossbenchError as error:
        where = str(error).partition(":")[0]
        if where.startswith(("experiments[", "timing.")):  # the file, or the --set that set it
            raise LossbenchError(
                f"{config_module.blame(source, overrides, where)}: {error}"
            ) from None
        raise
    return config


@dataclass
class Outcome:
    path: Path
    status: str  # complete | interrupted | failed
    trials: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    timings: pd.DataFrame | None = None
    notes: list[str] | None = None  # what was left out or changed (data, timing), and why


def execute(
    config: Config,
    out: str | Path = "results",
    *,
    only: str | None = None,
    jobs: int = 1,
    cluster: str | None = None,
    command: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[Path], object] | None = None,
) -> Outcome:
    """Run `config` into a new directory under `out`: its experiments, then its timing
    (`only` picks one). Trials run in `jobs` processes, or on the dask cluster at `cluster`
    (default: the config's ``cluster``; timing always runs here). `progress(phase, done,
    total)` follows the work; `on_start(path)` learns the run directory as soon as it exists.

    On KeyboardInterrupt the directory is marked ``interrupted`` and the interrupt re-raised;
    on any other error it is marked ``failed`` and the error re-raised.
    """
    if jobs < 1:
        raise LossbenchError(f"--jobs must be at least 1; got {jobs}")
    job_notes = []
    if jobs > system.cores():  # more processes than cores only share them, at a cost
        job_notes = [f"--jobs {jobs}: {system.cores()} cores here, so {system.cores()} processes"]
        jobs = system.cores()
    if only == "timing" and config.timing is None:
        raise LossbenchError(
            "--only timing: the config has no timing section (see `lossbench init`)"
        )
    if not config.experiments and config.timing is None:
        raise LossbenchError(
            "the config has nothing to run: no experiments and no timing section "
            "(see `lossbench init` for both)"
        )
    plan = None
    if only != "experiments" and config.timing is not None:
        plan = timing.plan(config.timing)
        timing.check_memory(plan.benchmarks)
    # built once for the whole config, so that errors name experiments[i] as in the file
    units = experiments.tasks(config) if only != "timing" else []
    sections = [list(group) for _, group in groupby(units, key=lambda u: id(u.experiment))]
    total = len(units)
    address = cluster or config.cluster
    # connected before the directory is made: an unreachable scheduler writes nothing
    with connect(address) if address and units else contextlib.nullcontext() as client:
        path = results.create_run_dir(Path(out), config.name)
        try:
            results.write_atomic(path / results.CONFIG, config_module.dump(config))
            run = results.Run(path, config.name, command)
        except OSError as error:  # a full disk, say: a directory holding nothing is not kept
            shutil.rmtree(path, ignore_errors=True)
            raise LossbenchError(f"{path}: cannot write the run ({error.strerror})") from None
        if on_start is not None:
            on_start(path)
        datasets = list({id(u.dataset): u.dataset for u in units if u.dataset is not None}.values())
        provenance = [d.info for d in datasets if getattr(d, "info", None)]
        if provenance:  # which data the results came from
            run.record["data"] = provenance
            run.save()
        data_notes = [note for d in datasets for note in getattr(d, "notes", [])]
        # per finished experiment: (trials, summary, comparisons); each is summarized once
        frames: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
        trials, summary, comparisons = _save(path, frames) if not sections else (None,) * 3
        timings = None
        status = "failed"
        try:
            done_before = 0
            for section in sections:
                step = (
                    (lambda d, base=done_before: progress("experiments", base + d, total))
                    if progress
                    else None
                )
                frames.append(
                    _analyse(
                        experiments.run_tasks(section, jobs=jobs, progress=step, client=client),
                        config,
                    )
                )
                done_before += len(section)
                trials, summary, comparisons = _save(path, frames)
            if plan is not None:
                step = (lambda d, n: progress("timing", d, n)) if progress else None
                suite = path / results.PYPERF
                try:
                    timing.run(plan, suite, progress=step)
                finally:  # interrupted, the benchmarks that finished are kept
                    if suite.exists():
                        timings = timing.table(suite)
                        results.write_atomic(path / results.TIMINGS, timings)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except OSError as error:  # a full disk, say: what finished stays, the run says failed
            where = f" ({error.filename})" if error.filename else ""
            raise LossbenchError(
                f"{path}: {error.strerror or error}{where}; finished experiments are kept and "
                "the run is marked failed"
            ) from None
        finally:
            try:
                run.finish(
                    status, experiments_finished=len(frames), experiments_total=len(sections),
                    timing=_timing_state(plan, timings, status),
                )  # fmt: skip
            except OSError:
                pass  # run.json stays as it was (running); `show` says so
        notes = (
            job_notes + data_notes + [f"timing: {note}" for note in (plan.notes if plan else [])]
        )
        return Outcome(path, status, trials, summary, comparisons, timings, notes)


def _timing_state(plan, timings: pd.DataFrame | None, status: str) -> str:
    if plan is None:
        return "not run"
    if timings is None:
        return "unfinished"
    return (
        "done"
        if status == "complete"
        else f"partial: {len(timings)} of {len(plan.benchmarks)} benchmarks"
    )


def _analyse(
    trials: pd.DataFrame, config: Config
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One experiment's trials, summary and comparisons."""
    if not len(trials):
        return trials, pd.DataFrame(columns=experiments.SUMMARY_COLUMNS), _no_comparisons()
    summary = experiments.summarize(trials)
    return trials, summary, experiments.comparisons(trials, summary, config)


def _no_comparisons() -> pd.DataFrame:
    return pd.DataFrame(columns=experiments.COMPARISON_COLUMNS)


def _save(
    path: Path, frames: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write the finished experiments' files; what they hold."""
    empty = (
        pd.DataFrame(columns=experiments.COLUMNS),
        pd.DataFrame(columns=experiments.SUMMARY_COLUMNS),
        _no_comparisons(),
    )
    tables = [
        pd.concat([part[i] for part in frames], ignore_index=True) if frames else empty[i]
        for i in range(3)
    ]
    names = (results.TRIALS, results.SUMMARY, results.COMPARISONS)
    with results.interrupts_deferred():  # the four files agree, or none changed
        for name, table in zip(names, tables, strict=True):
            results.write_atomic(path / name, table)
        results.write_atomic(path / results.ANSWER, answer.markdown(tables[2]))
    return tables[0], tables[1], tables[2]
