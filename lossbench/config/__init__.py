"""The run configuration: the schema (docs/reference/config.md is made from it), and loading it.

`load` reads YAML (or the embedded default, `default_text`), applies ``--set`` overrides and
validates; every mistake becomes a `LossbenchError` naming the file (or the ``--set``), the
field path and what was expected. Datasets and losses are checked when a run is planned
(`lossbench.experiments.plan`), with the same paths.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from lossbench import text
from lossbench.config.overrides import blame, set_values
from lossbench.config.reading import DEFAULT, parse_yaml, read_text, short
from lossbench.config.schema import (
    KINDS,
    MAX_TRIALS,
    Config,
    Experiment,
    FitOptions,
    PyperfOptions,
    Timing,
    register,
)
from lossbench.errors import LossbenchError

__all__ = [
    "DEFAULT",
    "KINDS",
    "MAX_TRIALS",
    "Config",
    "Experiment",
    "FitOptions",
    "PyperfOptions",
    "Timing",
    "blame",
    "cap",
    "default_text",
    "dump",
    "load",
    "parse_yaml",
    "quick",
    "read_text",
    "register",
    "section",
    "set_values",
    "validate",
]


def default_text() -> str:
    """The embedded default config (identical to configs/default.yaml)."""
    return resources.files("lossbench").joinpath("default.yaml").read_text(encoding="utf-8")


def load(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """The config at `path` (None: the embedded default), with ``KEY=VALUE`` overrides."""
    source = DEFAULT if path is None else str(path)
    document = default_text() if path is None else read_text(path, source)
    raw = parse_yaml(document, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LossbenchError(f"{source}: expected a mapping of settings; got {type(raw).__name__}")
    config = validate(set_values(raw, overrides), source, overrides)
    if path is not None:
        config._source_dir = Path(path).resolve().parent
    return config


M = TypeVar("M")


def validate(raw: dict[str, Any], source: str = "config", overrides: Sequence[str] = ()) -> Config:
    """A Config from a mapping; the first problem as one line naming `source` (or the
    ``--set`` that gave the field) and the field."""
    return _validated(Config, raw, source, overrides)


def section(model: type[M], raw: dict[str, Any], where: tuple[str, ...]) -> M:
    """A config section (`model`, e.g. `FitOptions`) from the arguments a library function
    was given: what a config would refuse is refused in the same words, located at `where`
    (``fit.method: ...``)."""
    try:
        return _validated(model, raw, None, ())
    except LossbenchError as error:
        raise error.within(*where) from None


def _validated(model, raw, source, overrides):
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = tuple(first["loc"])
        message = first["msg"]
        if first["type"] == "value_error":  # one of lossbench's own checks: its words only
            message = str(first["ctx"]["error"])
        if first["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(where[-1]), _settings_at(raw, where[:-1]), n=1)
            hint = f"did you mean {close[0]}?" if close else "see `lossbench init` for an example"
            message = f"unknown setting ({hint})"
        shown = first["type"] not in ("missing", "value_error")  # its own words name the value
        given = f"; got {text.elided(short.repr(first['input']), 60)}" if shown else ""
        raise LossbenchError(
            f"{message}{given}" if where or source is None else f"(top level): {message}{given}",
            where=where,
            source=blame(source, overrides, where),
        ) from None


def _settings_at(raw: Any, where: tuple) -> list[str]:
    """The settings the section at `where` takes (an experiment's: its kind's), for a
    did-you-mean; [] where the path leads to no section."""
    from pydantic import BaseModel

    from lossbench.config.schema import KINDS, Experiment

    def section(annotation: Any) -> type[BaseModel] | None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        return next((m for a in typing.get_args(annotation) if (m := section(a))), None)

    model: type[BaseModel] | None = Config
    value: Any = raw
    for key in where:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and 0 <= key < len(value) else None
        else:
            field = model.model_fields.get(key) if model is not None else None
            model = section(field.annotation) if field is not None else None
            value = value.get(key) if isinstance(value, dict) else None
        if model is Experiment and isinstance(value, dict):
            model = KINDS.get(value.get("kind", "fit"), Experiment)
    return list(model.model_fields) if model is not None else []


def quick(config: Config) -> Config:
    """The same experiments, smaller: for a first look or CI (few trials, small samples)."""
    small = config.model_copy(deep=True)
    small.trials = min(small.trials, 5)
    if small.timing is not None:  # the same matrix at small sizes, one worker process
        small.timing.sizes = sorted({min(n, 100_000) for n in small.timing.sizes})
        # lossbench's own kernels only: a peer's worker spends seconds importing its package
        from lossbench.losses.impls import own

        small.timing.impls = [impl for impl in small.timing.impls if impl in own()]
        small.timing.pyperf.processes = 1
        small.timing.pyperf.values = min(small.timing.pyperf.values, 2)
    small.experiments = [experiment.quick() for experiment in small.experiments]
    return small


def cap(value: Any, limit: int) -> Any:
    """`value` (or each of a list of numbers) at most `limit`; anything else unchanged, for
    validation to refuse."""
    if isinstance(value, list):
        return sorted({cap(v, limit) for v in value}) if all(map(_is_number, value)) else value
    return min(value, limit) if _is_number(value) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def dump(config: Config | dict[str, Any]) -> str:
    """A config as YAML with every default filled in (a mapping: as given, e.g. a plan's
    resolved config), so that rerunning it reproduces a run."""
    raw = config.model_dump(mode="json") if isinstance(config, Config) else config
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
