"""``lossbench init --table FILE --target COLUMN``: a commented config for a user's table.

The table is read as a run reads it, each column described as the run will treat it (numbers,
text encoded per fold, text left out and why, a numeric column with stray text, missing
values), and the config chooses what a first run needs: the task's losses, scores that do
not favour one loss by construction, cross-validation, ``exclude`` for columns that would
stop the run and ``missing: drop`` where values are missing. What it chose is said in a
comment beside it, with how to choose otherwise.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lossbench import text
from lossbench.experiments.datasets import encoding
from lossbench.experiments.datasets.observed import MAX_CLASSES, choose_task, read_table
from lossbench.experiments.kinds.fit import REAL_REGRESSION_SCORES

__all__ = ["TableStarter", "describe"]

# what each task compares, and the pair of scores that judge it: each favours one loss's own
# training objective, so a verdict that holds on both does not rest on that
_TASKS = {
    "regression": (
        "[mse, {name: huber, delta: 1.345}, mae]",
        f"[{', '.join(REAL_REGRESSION_SCORES)}]",
        "rmse rewards predicting the mean, mae the median",
    ),
    "classification": (
        "[bce_logits, mse]",
        "[log_loss, brier]",
        "log_loss is what bce_logits minimizes, brier what mse does",
    ),
    "multiclass": (
        "[cross_entropy, mse]",
        "[log_loss, brier]",
        "log_loss is what cross_entropy minimizes, brier what mse does",
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "numbers", "text", "stray" (numbers but for a few values), "left out"
    said: str  # how the run treats it, in words
    missing: int


@dataclass(frozen=True)
class TableStarter:
    """What `describe` found in a table, and the config text it writes for it."""

    path: Path
    target: str
    rows: int
    task: str
    columns: tuple[Column, ...]
    target_said: str = ""  # said of the target beyond its task

    def config(self, written_to: Path) -> str:
        """The config's YAML, with `path` relative to where the config is written."""
        path = Path(os.path.relpath(self.path, written_to.resolve().parent)).as_posix()
        losses, scores, why = _TASKS[self.task]
        excluded = [c.name for c in self.columns if c.kind == "stray"]
        missing = {c.name: c.missing for c in self.columns if c.missing and c.kind != "stray"}
        repeats = 4 if self.rows <= 10_000 else 2 if self.rows <= 100_000 else 1
        stem = _yaml_text(self.path.stem)
        lines = [
            f"# lossbench config for {_commented(self.path.name)}: which loss gives the better "
            "model on it.",
            f"# Run it: lossbench run {_commented(written_to.name)}   (--quick for a first look "
            "in seconds)",
            "#",
            f"# What lossbench saw in {_commented(self.path.name)}: {self.rows:,} rows, "
            f"{len(self.columns) + 1} columns.",
            *(f"#   {line}" for line in self._column_lines()),
            f"name: {stem}",
            "seed: 0",
            "experiments:",
            f"  - name: {stem}",
            "    kind: fit",
            "    datasets:",
            "      - kind: table",
            f"        path: {_yaml_text(path)}   # relative to this file",
            f"        target: {_yaml_text(self.target)}",
        ]
        if excluded:
            names = ", ".join(map(_yaml_text, excluded))
            lines.append(
                f"        exclude: [{names}]   # stray text: clean the column, or "
                "list it under categorical instead"
            )
        if missing:
            listed = ", ".join(f"{name}: {count}" for name, count in missing.items())
            lines.append(
                f"        missing: drop   # rows with a missing value ({listed}) are "
                "dropped; remove this line to be told instead"
            )
        lines += [
            f"    losses: {losses}",
            "    # each trial is one held-out fold, the same folds for every loss",
            f"    cv: {{folds: 5, repeats: {repeats}}}",
            f"    # what 'better' is judged on, each score on its own: {why}",
            f"    score: {scores}",
            "    equivalence: 0.01   # differences within ±1% count as no difference",
        ]
        return "\n".join(lines) + "\n"

    def _column_lines(self) -> list[str]:
        shown = [(_commented(c.name), _commented(c.said)) for c in (self._target(), *self.columns)]
        width = min(24, max(len(name) for name, _ in shown))
        return [f"{name:<{width}}  {said}" for name, said in shown]

    def _target(self) -> Column:
        said = {
            "regression": "the target: numbers, so task: regression",
            "classification": "the target: two classes, so task: classification",
            "multiclass": "the target: 3 classes or more, so task: multiclass",
        }[self.task]
        return Column(self.target, "target", said + self.target_said, 0)


def describe(path: Path, target: str) -> TableStarter:
    """Read the table at `path` as a run would and describe its columns for `target`."""
    import numpy as np
    import pandas as pd

    from lossbench.errors import LossbenchError

    frame, _ = read_table(path.resolve(), ("--table",))
    if target not in frame.columns:
        raise LossbenchError(
            f"--target: {path.name} has no column {target!r}; it has "
            f"{', '.join(map(str, frame.columns))}"
        )
    y = frame[target].dropna()
    levels = y.nunique()
    if levels < 2:
        raise LossbenchError(f"--target: {target!r} holds one value only; nothing to predict")
    # the run's own choice (two values: classes; numbers: regression; text: classes), with its
    # refusal of a text column with more values than classes can be
    _, task, _ = choose_task(y.to_numpy(), "auto", ("--target",), target)
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        values, missing = frame[name], int(frame[name].isna().sum())
        tail = f"; {missing} missing" if missing else ""
        if pd.api.types.is_numeric_dtype(values):
            columns.append(Column(str(name), "numbers", f"numbers{tail}", missing))
            continue
        strays = encoding.stray_text(values.dropna())
        if strays:
            shown = ", ".join(repr(s) for s in strays)
            columns.append(
                Column(str(name), "stray", f"numbers but for {shown}: excluded below", missing)
            )
            continue
        column = encoding.TextColumn.of(str(name), values.dropna())
        why = encoding.unusable(column)
        distinct = len(np.unique(column.values))
        if why:
            columns.append(
                Column(str(name), "left out", f"text, {distinct} values: left out ({why})", 0)
            )
        else:
            columns.append(
                Column(
                    str(name),
                    "text",
                    f"text, {distinct} values: one-hot encoded on each training fold{tail}",
                    missing,
                )
            )
    said = ""
    if task == "regression" and 3 <= levels <= MAX_CLASSES and np.allclose(y, np.round(y)):
        said = f" ({levels} integers: class codes? then add task: multiclass)"
    return TableStarter(path.resolve(), target, len(frame), task, tuple(columns), said)


# what YAML allows in a file, comments included (YAML 1.2, 5.1)
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _commented(value: str) -> str:
    """`value` as text a YAML comment can hold on one line: line breaks and characters YAML
    refuses shown as escapes."""
    shown = text.visible(value).replace("\n", "\\n").replace("\r", "\\r")
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", shown)


def _yaml_text(value: str) -> str:
    """`value` as one YAML flow item that reads back as this exact text (PyYAML's emitter
    chooses plain or quoted; a flow item is also valid where a block value is). A value
    PyYAML would fold over lines is written double-quoted, its line breaks escaped."""
    import yaml

    def dumped(**style) -> str:
        flow = yaml.safe_dump(
            [value], default_flow_style=True, width=math.inf, allow_unicode=False, **style
        )
        return flow.strip()[1:-1]

    item = dumped()
    return dumped(default_style='"') if "\n" in item else item
