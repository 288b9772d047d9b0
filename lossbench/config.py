"""The run configuration: pydantic models of the schema in DESIGN.md, and loading it.

`load` reads YAML (or the embedded default), applies ``--set`` overrides and validates; every
mistake becomes a `LossbenchError` naming the file, the field path and what was expected.
Datasets and losses are checked by `lossbench.experiments.tasks`, with the same paths.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    create_model,
    model_validator,
)

from lossbench.errors import LossbenchError

__all__ = [
    "DEFAULT",
    "Config",
    "Experiment",
    "FitOptions",
    "PyperfOptions",
    "Timing",
    "cap",
    "default_text",
    "dump",
    "load",
    "quick",
    "set_values",
    "validate",
]  # fmt: skip

DEFAULT = "<embedded default>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FitOptions(_Strict):
    """How models are fitted: L-BFGS (default) or gradient descent."""

    method: Literal["lbfgs", "gd"] = "lbfgs"
    max_iter: PositiveInt = 1000
    tol: PositiveFloat = 1e-10
    lr: PositiveFloat | None = Field(None, description="gd's fixed step; none: line search")
    # robust losses' δ in linear fits: in units of the residuals' MAD scale (mad), of a scale
    # fitted jointly (joint, L-BFGS only), or of y itself (fixed)
    scale: Literal["mad", "joint", "fixed"] = "mad"

    @model_validator(mode="after")
    def _joint_needs_lbfgs(self) -> FitOptions:
        if self.scale == "joint" and self.method != "lbfgs":
            raise ValueError("scale: joint needs method: lbfgs")
        return self


class Experiment(_Strict):
    """What every experiment has: a name, a kind, the datasets and losses it crosses, how it
    fits, and its trials. Each kind (`lossbench.experiments.kinds`) subclasses this with its
    own options; a config's experiments are validated as the kind they name."""

    name: str
    kind: str = "fit"
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    losses: list[str | dict[str, Any]]
    fit: FitOptions = Field(default_factory=FitOptions)
    trials: PositiveInt | None = Field(None, description="overrides the config's trials")
    # what verdicts compare: the mean (a mean dominated by single trials falls back to the
    # median, said in a note) or the median
    statistic: Literal["mean", "median"] = "mean"
    # the region of practical equivalence: relative differences within ±equivalence are no
    # difference at all
    equivalence: float = Field(0.01, ge=0.0, lt=1.0)


def _as_kind(item: Any) -> Any:
    """A config mapping validated as the experiment kind it names (a registry look-up, so a
    kind registered at run time validates like a built-in one)."""
    if not isinstance(item, dict):
        return item  # pydantic says what is wrong with it
    from lossbench.experiments.kind import KINDS

    kind = _kind_chooser(tuple(KINDS)).model_validate(item).kind
    return KINDS[kind].model_validate(item)


@functools.lru_cache(maxsize=8)
def _kind_chooser(names: tuple[str, ...]) -> type[BaseModel]:
    """A model of just `kind`, so that an unknown kind is refused at `experiments[i].kind` with
    the registered names (made once per set of kinds)."""
    return create_model(
        "ExperimentKindName", __config__=ConfigDict(extra="ignore"),
        kind=(Literal[names], "fit"),  # type: ignore[valid-type]
    )  # fmt: skip


class PyperfOptions(_Strict):
    """pyperf's knobs: worker processes, values per process (fewer for a call slower than
    0.5 s / values, at least one), untimed warm-up values (at least one full-size call is
    always made), minimum time per value, fixed loops (skips calibration); `fast` halves
    processes and values, `rigorous` doubles processes. Peers are timed in half the
    processes (rounded up)."""

    processes: PositiveInt = 2
    values: PositiveInt = 3
    warmups: int = Field(1, ge=0)
    min_time: PositiveFloat = 0.02
    loops: PositiveInt | None = None
    fast: bool = False
    rigorous: bool = False


class Timing(_Strict):
    """The kernel timing matrix: losses × ops × impls at each (size, dtype), plus probes."""

    losses: list[str | dict[str, Any]] = Field(
        default_factory=lambda: ["mse", "huber", "bce", "bce_logits"]
    )
    ops: list[Literal["value", "gradient", "value_and_gradient"]] = Field(
        default_factory=lambda: ["value", "value_and_gradient"]
    )
    impls: list[str] = Field(
        default_factory=lambda: ["numpy", "fused", "seed", "scipy", "sklearn", "torch"]
    )
    sizes: list[PositiveInt] = Field(default_factory=lambda: [1000, 10_000_000])
    dtypes: list[Literal["float64", "float32"]] = Field(default_factory=lambda: ["float64"])
    pyperf: PyperfOptions = Field(default_factory=PyperfOptions)


class Config(_Strict):
    """A lossbench run: experiments, and kernel timing."""

    name: str = "default"
    seed: int = 0
    trials: PositiveInt = 50
    # the directory relative paths in the config are relative to (None: the working dir)
    _source_dir: Path | None = PrivateAttr(None)
    # (the config as JSON, its units of work): see lossbench.experiments.tasks
    _planned: tuple[str, list] | None = PrivateAttr(None)

    experiments: list[SerializeAsAny[Annotated[Experiment, BeforeValidator(_as_kind)]]] = Field(
        default_factory=list
    )
    timing: Timing | None = None


def default_text() -> str:
    """The embedded default config (identical to configs/default.yaml)."""
    return resources.files("lossbench").joinpath("default.yaml").read_text(encoding="utf-8")


def load(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """The config at `path` (None: the embedded default), with ``KEY=VALUE`` overrides."""
    source = DEFAULT if path is None else str(path)
    if path is None:
        text = default_text()
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LossbenchError(
                f"{source}: no such config file (try `lossbench init {source}`)"
            ) from None
        except OSError as error:
            raise LossbenchError(f"{source}: cannot read the config ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise LossbenchError(f"{source}: {problem}{where}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LossbenchError(f"{source}: expected a mapping of settings; got {type(raw).__name__}")
    config = validate(set_values(raw, overrides), source)
    if path is not None:
        config._source_dir = Path(path).resolve().parent
    return config


def validate(raw: dict[str, Any], source: str = "config") -> Config:
    """A Config from a mapping; the first problem as one line naming `source` and the field."""
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        )
        where = where.lstrip(".") or "(top level)"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown setting (see `lossbench init` for a commented example)"
        given = f"; got {first['input']!r}" if first["type"] != "missing" else ""
        raise LossbenchError(f"{source}: {where}: {message}{given}") from None


def set_values(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `raw` with each ``dotted.path=value`` applied (value parsed as YAML; list items
    by index: ``experiments.0.trials=5``)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise LossbenchError(f"--set {item!r}: expected KEY=VALUE, e.g. --set trials=10")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise LossbenchError(f"--set {item!r}: the value is not valid YAML") from None
        node: Any = raw
        parts = key.strip().split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(parts[:depth]) or "the config"
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise LossbenchError(
                        f"--set {item!r}: {here} has no item {part!r} (it has {len(node)})"
                    )
                part = int(part)
            elif not isinstance(node, dict):
                raise LossbenchError(f"--set {item!r}: {here} is a value, not a section")
            if last:
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw


def quick(config: Config) -> Config:
    """The same experiments, smaller: for a first look or CI (few trials, small samples)."""
    small = config.model_copy(deep=True)
    small.trials = min(small.trials, 5)
    if small.timing is not None:  # the same matrix at small sizes, one worker per benchmark
        small.timing.sizes = sorted({min(n, 100_000) for n in small.timing.sizes})
        # lossbench's own kernels only: a peer's worker spends seconds importing its package
        from lossbench.losses.impls import own

        small.timing.impls = [impl for impl in small.timing.impls if impl in own()]
        small.timing.pyperf.processes = 1
        small.timing.pyperf.values = min(small.timing.pyperf.values, 2)
    small.experiments = [experiment.quick() for experiment in small.experiments]
    return small


def cap(value: Any, limit: int) -> Any:
    """`value` (or each of a list's values) at most `limit`; non-numbers unchanged."""
    if isinstance(value, list):
        return sorted({cap(v, limit) for v in value})
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(value, limit)
    return value


def dump(config: Config) -> str:
    """The resolved config as YAML: every default filled in, so rerunning it reproduces a run."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
