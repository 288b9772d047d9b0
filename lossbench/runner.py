"""`lossbench run` as a library call: resolve the config once, run that, keep its results.

`resolve` loads the config and plans it (`Resolved`: the config, the experiments' plan and the
timing plan); everything that can be refused is refused there, before the run directory is
made, so a refused run leaves nothing behind. `execute` runs the plan: experiments one at a
time, the files rewritten after each, so an interrupted or failed run keeps every finished
experiment and says how it ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lossbench import config as config_module
from lossbench import experiments, results, system
from lossbench.config import Config
from lossbench.errors import LossbenchError
from lossbench.experiments.cluster import chosen, connect
from lossbench.losses import user as user_code
from lossbench.report import answer
from lossbench.signals import interrupts_deferred
from lossbench.timing import driver as timing
from lossbench.timing import planning as timing_planning
from lossbench.timing import table as timing_table

__all__ = ["Outcome", "Resolved", "execute", "plan", "resolve"]


@dataclass(frozen=True)
class Resolved:
    """What a run will do: its config, the plan of its experiments and of its timing."""

    config: Config
    experiments: experiments.Plan
    timing: timing_planning.Plan | None
    search: tuple[str, ...] = ()  # where user losses are imported from (`losses.user`)


def resolve(
    path: str | Path | None = None,
    *,
    overrides: Sequence[str] = (),
    quick: bool = False,
    seed: int | None = None,
    name: str | None = None,
) -> Resolved:
    """The run a config asks for: loaded, shrunk with `quick`, overridden (an explicit
    ``--set`` wins over `quick`), and planned; errors name the file, or the ``--set`` that
    gave the field."""
    # user losses ('module:function') beside the config, then here; only they are looked
    # for there (losses.user): a numba.py beside a config is not what `import numba` finds
    search = (_directory_of(path), str(Path.cwd())) if path is not None else (str(Path.cwd()),)
    with user_code.searched(search):
        return _resolve(path, search, overrides, quick, seed, name)


def _directory_of(path: str | Path) -> str:
    return str(Path(path).resolve().parent)


def _resolve(path, search, overrides, quick, seed, name) -> Resolved:
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
    return dataclasses.replace(plan(config, source, overrides), search=tuple(search))


def plan(config: Config, source: str = "config", overrides: Sequence[str] = ()) -> Resolved:
    """Plan `config`: every dataset and loss checked, the timing matrix built; an error at a
    field names `source` or the ``--set`` in `overrides` that gave it."""
    directory = config._source_dir
    search = (str(directory), str(Path.cwd())) if directory is not None else (str(Path.cwd()),)
    try:
        with user_code.searched(search):
            timing_plan = timing_planning.plan(config.timing) if config.timing is not None else None
            return Resolved(config, experiments.plan(config), timing_plan, tuple(search))
    except LossbenchError as error:
        if error.where and error.source is None:
            raise error.from_source(config_module.blame(source, overrides, error.where)) from None
        raise


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
    run_plan: Resolved | Config,
    out: str | Path = "results",
    *,
    only: str | None = None,
    jobs: int = 1,
    cluster: str | None = None,
    command: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_start: Callable[[Path], object] | None = None,
) -> Outcome:
    """Run a resolved config (a `Config` is planned first) into a new directory under `out`:
    its experiments, then its timing (`only` picks one). Trials run in `jobs` processes, or
    on the dask cluster at `cluster` (timing always runs here; a config's ``cluster:`` is
    refused unless `cluster` is given: a config alone never sends data off the machine).
    `progress(phase, done, total)` follows the work; `on_start(path)` learns the run
    directory as soon as it exists.

    On KeyboardInterrupt the directory is marked ``interrupted`` and the interrupt re-raised;
    on any other error it is marked ``failed`` and the error re-raised.
    """
    resolved = run_plan if isinstance(run_plan, Resolved) else plan(run_plan)
    config = resolved.config
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
    timing_plan = resolved.timing if only != "experiments" else None
    if timing_plan is not None:
        timing_planning.check_memory(timing_plan.benchmarks)
    sections = [list(s) for s in resolved.experiments.sections if s] if only != "timing" else []
    units = [unit for section in sections for unit in section]
    total = len(units)
    address = chosen(cluster, config.cluster) if units else None
    # connected before the directory is made: an unreachable scheduler writes nothing
    with connect(address) if address else contextlib.nullcontext() as client:
        path = results.create_run_dir(Path(out), config.name)
        try:
            resolved_config = resolved.experiments.resolved_config(config)
            results.write_atomic(path / results.CONFIG, config_module.dump(resolved_config))
            run = results.Run(path, config.name, command)
        except OSError as error:  # a full disk, say: a directory holding nothing is not kept
            shutil.rmtree(path, ignore_errors=True)
            raise LossbenchError(f"{path}: cannot write the run ({error.strerror})") from None
        if on_start is not None:
            on_start(path)
        provenance = resolved.experiments.provenance if units else []
        if provenance:  # which data the results came from
            run.record["data"] = provenance
            run.save()
        data_notes = resolved.experiments.notes if units else []
        # per finished experiment: (trials, summary, comparisons); each is summarized once
        frames: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
        trials, summary, comparisons = (
            _save(path, frames, config, resolved.experiments) if not sections else (None,) * 3
        )
        timings, timing_notes = None, []
        status = "failed"
        try:
            done_before = 0
            for section in sections:
                step = (
                    (lambda d, base=done_before: progress("experiments", base + d, total))
                    if progress
                    else None
                )
                finished = _analyse(
                    experiments.run_tasks(section, jobs=jobs, progress=step, client=client),
                    config,
                    resolved.experiments,
                )
                done_before += len(section)
                # counted as finished once its files are written, not before, and a stop waits
                # until both are done: files and count always agree
                with interrupts_deferred():
                    trials, summary, comparisons = _save(
                        path, [*frames, finished], config, resolved.experiments
                    )
                    frames.append(finished)
            if timing_plan is not None:
                timing_step = (lambda d, n: progress("timing", d, n)) if progress else None
                suite = path / results.PYPERF
                try:
                    with user_code.searched(resolved.search):  # calibration imports them
                        timing_notes = timing.run(
                            timing_plan, suite, progress=timing_step, search=resolved.search
                        )
                finally:  # interrupted, the benchmarks that finished are kept
                    if suite.exists():
                        timings = timing_table.table(suite)
                        results.write_atomic(path / results.TIMINGS, timings)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except LossbenchError as error:  # mid-run: say where the finished part is
            raise LossbenchError(
                f"{error}; finished experiments are kept in {path}, marked failed"
            ) from None
        except OSError as error:  # a full disk, say: what finished stays, the run says failed
            where = f" ({error.filename})" if error.filename else ""
            raise LossbenchError(
                f"{path}: {error.strerror or error}{where}; finished experiments are kept and "
                "the run is marked failed"
            ) from None
        finally:
            try:
                run.finish(
                    status,
                    experiments_finished=len(frames),
                    experiments_total=len(sections),
                    timing=_timing_state(timing_plan, timings, status),
                )
            except OSError as error:
                if status != "interrupted":  # the message must not say "marked failed"
                    raise LossbenchError(
                        f"{path}: cannot update run.json ({error.strerror}): it still says "
                        f"running; {len(frames)} of {len(sections)} experiments were written"
                    ) from None
        notes = (
            job_notes
            + data_notes
            + [f"timing: {note}" for note in (timing_plan.notes if timing_plan else [])]
            + [f"timing: {note}" for note in timing_notes]
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
    trials: pd.DataFrame, config: Config, planned: experiments.Plan
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One experiment's trials, summary and comparisons."""
    if not len(trials):
        return trials, pd.DataFrame(columns=experiments.SUMMARY_COLUMNS), _no_comparisons()
    summary = experiments.summarize(trials)
    if config.correction == "run":  # decided over the whole run's families, in `_save`
        return trials, summary, _no_comparisons()
    return trials, summary, experiments.comparisons(trials, summary, config, planned)


def _no_comparisons() -> pd.DataFrame:
    return pd.DataFrame(columns=experiments.COMPARISON_COLUMNS)


def _save(
    path: Path,
    frames: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    config: Config,
    planned: experiments.Plan,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write the finished experiments' files; what they hold. With ``correction: run`` the
    comparisons are decided again over every finished experiment: the run's families are
    those of what it holds (an interrupted run's, of what finished)."""
    empty = (
        pd.DataFrame(columns=experiments.COLUMNS),
        pd.DataFrame(columns=experiments.SUMMARY_COLUMNS),
        _no_comparisons(),
    )
    tables = [
        pd.concat([part[i] for part in frames], ignore_index=True) if frames else empty[i]
        for i in range(3)
    ]
    if config.correction == "run" and frames:
        tables[2] = experiments.comparisons(tables[0], tables[1], config, planned)
    names = (results.TRIALS, results.SUMMARY, results.COMPARISONS)
    files = {path / name: table for name, table in zip(names, tables, strict=True)}
    files[path / results.ANSWER] = answer.markdown(tables[2])
    results.write_all_atomic(files)  # the four files agree, or none changed
    return tables[0], tables[1], tables[2]
