"""A config's experiments as a frozen plan: every unit of work in a fixed order, and what the
data are. Planning reads tables and checks every dataset and loss (errors located at the field
that names them); it never changes the config, and a run plans once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lossbench import losses as losses_module
from lossbench.config import Config
from lossbench.errors import LossbenchError, located
from lossbench.experiments.datasets import Dataset, expand
from lossbench.experiments.kind import Task, kinds_of

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """The units of work of a config's experiments, grouped by experiment (`sections`, in the
    config's order), and the settings a resolved config records for its datasets (a table's
    absolute path and SHA-256), keyed by (experiment index, dataset index)."""

    sections: tuple[tuple[Task, ...], ...]
    resolved: tuple[tuple[tuple[int, int], dict[str, Any]], ...] = ()
    remarks: tuple[str, ...] = ()  # what the experiments make of their losses on these data

    @property
    def units(self) -> list[Task]:
        """Every unit of work, in order."""
        return [unit for section in self.sections for unit in section]

    @property
    def datasets(self) -> list[Dataset]:
        """The distinct datasets the units draw from, in order of first use."""
        found = {id(u.dataset): u.dataset for u in self.units if u.dataset is not None}
        return list(found.values())

    @property
    def provenance(self) -> list[dict[str, Any]]:
        """Where each dataset with a source came from (file, SHA-256, shape), for run.json."""
        return [dataset.info for dataset in self.datasets if dataset.info]

    @property
    def notes(self) -> list[str]:
        """What the data made of the config (columns left out, rows dropped, a changed file,
        a loss that is another on these data)."""
        return [note for dataset in self.datasets for note in dataset.notes] + list(self.remarks)

    def resolved_config(self, config: Config) -> dict[str, Any]:
        """The config as plain data with every default filled in and the datasets' resolved
        settings applied: rerunning it reproduces the run, from any directory."""
        raw = config.model_dump(mode="json")
        for (e, i), settings in self.resolved:
            raw["experiments"][e]["datasets"][i].update(settings)
        return raw


def plan(config: Config) -> Plan:
    """The plan of `config`'s experiments; a `LossbenchError` located at the field at fault."""
    sections, resolved, remarks = [], [], []
    for e, experiment in enumerate(kinds_of(config)):
        with located("experiments", e):
            losses = _losses(experiment.losses)
            datasets = []
            for i, entry in enumerate(experiment.datasets):
                found = expand(entry, ("datasets", i), config._source_dir)
                resolved += [((e, i), d.resolved) for d in found[:1] if d.resolved]
                datasets += found
            _once(datasets, "dataset", ("datasets",))
            if experiment.statistic == "median" and any(d.cross_validated for d in datasets):
                raise LossbenchError(
                    "statistic: median cannot be compared across cross-validation folds (their "
                    "training sets overlap and the correction is for means); use mean",
                    where=("statistic",),
                )
            trials = experiment.trials or config.trials
            sections.append(tuple(experiment.tasks(losses, datasets, trials, config.seed)))
            remarks += [f"{experiment.name}: {r}" for r in experiment.remarks(losses, datasets)]
    return Plan(tuple(sections), tuple(resolved), tuple(remarks))


def _losses(entries: list) -> tuple[losses_module.AnyLoss, ...]:
    chosen = []
    for j, entry in enumerate(entries):
        with located("losses", j):
            chosen += losses_module.expand(entry)
    if not chosen:
        raise LossbenchError("name at least one loss", where=("losses",))
    _once(chosen, "loss", ("losses",))
    return tuple(chosen)


def _once(items: list, what: str, where: tuple) -> None:
    """Refuse a list that names the same loss or dataset twice (by label, which is its
    identity in the results): its trials would be pooled under one label."""
    labels = [str(getattr(item, "label", item)) for item in items]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise LossbenchError(
                f"the {what} {label} is named twice (a repeated name, grid value or the same "
                f"settings written two ways); its trials would be pooled: name it once",
                where=where,
            )
