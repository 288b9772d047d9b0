"""The run configuration: pydantic models of the schema in DESIGN.md, and loading it.

`load` reads YAML (or the embedded default), applies ``--set`` overrides and validates; every
mistake becomes a `LossbenchError` naming the file, the field path and what was expected.
Datasets and losses are checked by `lossbench.experiments.tasks`, with the same paths.
"""

from __future__ import annotations

import copy
import functools
import re
import reprlib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    create_model,
    field_validator,
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
MAX_BYTES = 1_000_000  # a config file; lossbench's own are under 3 kB
MAX_VALUES = 100_000  # values in a config once YAML's aliases are expanded
MAX_DEPTH = 32  # nesting; lossbench's schema needs 5


class _Loader(yaml.SafeLoader):
    """YAML as people write configs: numbers like 1e-8 are numbers (YAML 1.2; YAML 1.1 read
    them as strings), and a key given twice is an error rather than silently the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 60, 60, 4, 4, 2


def parse_yaml(text: str, source: str) -> Any:
    """YAML text as Python values; every problem (syntax, a duplicate key, a number too long,
    nesting too deep, aliases that expand too far) one `LossbenchError` naming `source`."""
    try:
        value = yaml.load(text, Loader=_Loader)  # a SafeLoader: no code runs
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise LossbenchError(f"{source}: {problem}{where}") from None
    except RecursionError:
        raise LossbenchError(f"{source}: nested too deeply to be a config") from None
    except ValueError as error:  # an integer of thousands of digits
        raise LossbenchError(f"{source}: {str(error)[:200]}") from None
    _count(value, source, 0, {})
    return value


def _count(value: Any, source: str, depth: int, seen: dict[int, int]) -> int:
    """Values in `value` with aliases expanded (each shared node counted once per use)."""
    if not isinstance(value, dict | list):
        return 1
    if depth > MAX_DEPTH:
        raise LossbenchError(f"{source}: nested more than {MAX_DEPTH} deep; a config needs 5")
    if id(value) not in seen:
        items = value.values() if isinstance(value, dict) else value
        seen[id(value)] = 1 + sum(_count(item, source, depth + 1, seen) for item in items)
        if seen[id(value)] > MAX_VALUES:
            raise LossbenchError(
                f"{source}: more than {MAX_VALUES:,} values once its YAML aliases are "
                "expanded; a config needs hundreds"
            )
    return seen[id(value)]


def read_text(path: str | Path, source: str) -> str:
    """A config's text: at most `MAX_BYTES`, UTF-8 (a byte-order mark allowed)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        if source.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise LossbenchError(
                f"{source}: no such config file (flags such as --quick take no value)"
            ) from None
        raise LossbenchError(
            f"{source}: no such config file (try `lossbench init {source}`)"
        ) from None
    except IsADirectoryError:
        raise LossbenchError(f"{source}: a directory, not a config file") from None
    except OSError as error:
        raise LossbenchError(f"{source}: cannot read the config ({error.strerror})") from None
    if len(data) > MAX_BYTES:
        raise LossbenchError(
            f"{source}: larger than {MAX_BYTES // 1_000_000} MB; a config is a few kB"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LossbenchError(
            f"{source}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # no setting is infinite


class FitOptions(_Strict):
    """How models are fitted: L-BFGS (default) or gradient descent."""

    method: Literal["lbfgs", "gd"] = "lbfgs"
    max_iter: int = Field(1000, ge=1, le=10**7)
    tol: float = Field(1e-10, gt=0, lt=1)
    # gd's fixed step (the data are standardized: a step beyond a few diverges); none: search
    lr: float | None = Field(None, gt=0, le=1e3)
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

    processes: int = Field(2, ge=1, le=1000)
    values: int = Field(3, ge=1, le=1000)
    warmups: int = Field(1, ge=0, le=100)
    min_time: float = Field(0.02, gt=0, le=10)  # seconds per value
    loops: int | None = Field(None, ge=1, le=10**6)
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

    @field_validator("ops", "impls", "sizes", "dtypes")
    @classmethod
    def _each_once(cls, values: list) -> list:
        repeated = [value for i, value in enumerate(values) if value in values[:i]]
        if repeated:
            raise ValueError(f"{repeated[0]!r} is listed twice")
        return values


class Config(_Strict):
    """A lossbench run: experiments, and kernel timing."""

    name: str = "default"
    seed: int = Field(0, ge=0, lt=2**63)  # numpy's seeds are non-negative
    trials: PositiveInt = 50
    # the directory relative paths in the config are relative to (None: the working dir)
    _source_dir: Path | None = PrivateAttr(None)
    # (the config as JSON, its units of work): see lossbench.experiments.tasks
    _planned: tuple[str, list] | None = PrivateAttr(None)

    experiments: list[SerializeAsAny[Annotated[Experiment, BeforeValidator(_as_kind)]]] = Field(
        default_factory=list
    )
    timing: Timing | None = None
    # where trials run: a dask scheduler (tcp://host:8786) or local:N; none: this process
    # (`--cluster` overrides it)
    cluster: str | None = None

    @field_validator("experiments")
    @classmethod
    def _names_differ(cls, experiments: list) -> list:
        names = [experiment.name for experiment in experiments]
        repeated = [name for i, name in enumerate(names) if name in names[:i]]
        if repeated:
            raise ValueError(f"{repeated[0]!r} names two experiments; give each its own name")
        return experiments


def default_text() -> str:
    """The embedded default config (identical to configs/default.yaml)."""
    return resources.files("lossbench").joinpath("default.yaml").read_text(encoding="utf-8")


def load(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """The config at `path` (None: the embedded default), with ``KEY=VALUE`` overrides."""
    source = DEFAULT if path is None else str(path)
    text = default_text() if path is None else read_text(path, source)
    raw = parse_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LossbenchError(f"{source}: expected a mapping of settings; got {type(raw).__name__}")
    config = validate(set_values(raw, overrides), source, overrides)
    if path is not None:
        config._source_dir = Path(path).resolve().parent
    return config


def validate(raw: dict[str, Any], source: str = "config", overrides: list[str] = ()) -> Config:
    """A Config from a mapping; the first problem as one line naming `source` (or the
    ``--set`` that gave the field) and the field."""
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        )
        where = where.lstrip(".") or "(top level)"
        message = first["msg"]
        if first["type"] == "value_error":  # one of lossbench's own checks: its words only
            message = str(first["ctx"]["error"])
        if first["type"] == "extra_forbidden":
            message = "unknown setting (see `lossbench init` for a commented example)"
        shown = first["type"] not in ("missing", "value_error")  # its own words name the value
        given = f"; got {_short.repr(first['input'])}" if shown else ""
        raise LossbenchError(
            f"{blame(source, overrides, where)}: {where}: {message}{given}"
        ) from None


def blame(source: str, overrides: list[str], where: str) -> str:
    """`source`, or the ``--set`` that set the field at `where` (``experiments[0].trials``)."""
    dotted = re.sub(r"\[(\d+)\]", r".\1", where)
    for item in reversed(overrides):
        key = item.partition("=")[0].strip()
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {item}"
    return source


def set_values(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `raw` with each ``dotted.path=value`` applied (value parsed as YAML; list items
    by index: ``experiments.0.trials=5``)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise LossbenchError(f"--set {item!r}: expected KEY=VALUE, e.g. --set trials=10")
        value = parse_yaml(text, f"--set {item!r}")
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


def dump(config: Config) -> str:
    """The resolved config as YAML: every default filled in, so rerunning it reproduces a run."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
