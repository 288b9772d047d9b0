"""mkdocs hooks: the config and CLI references generated from the code at build time, and a
strict build's check that every public API object the docs show has a docstring.

A page holding ``<!-- generated: config -->`` gets the config reference (from the pydantic
models' field docstrings and the registries of datasets, losses and metrics), one holding
``<!-- generated: cli -->`` the command reference (from the Typer app), so neither can drift
from what lossbench accepts.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

log = logging.getLogger("mkdocs.plugins.lossbench")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if "<!-- generated: config -->" in markdown:
        markdown = markdown.replace("<!-- generated: config -->", config_reference())
    if "<!-- generated: cli -->" in markdown:
        markdown = markdown.replace("<!-- generated: cli -->", cli_reference())
    for path in re.findall(r"^::: ([\w.]+)", markdown, flags=re.MULTILINE):
        _check_docstrings(path, page.file.src_path)
    return markdown


def _check_docstrings(path: str, where: str) -> None:
    """Warn (a failure under --strict) for each public name of `path` without a docstring."""
    try:
        module = importlib.import_module(path)
        names = getattr(module, "__all__", [])
    except ModuleNotFoundError:  # an object, not a module
        parent, _, name = path.rpartition(".")
        module, names = importlib.import_module(parent), [name]
    for name in names:
        value = getattr(module, name)
        if callable(value) and not (getattr(value, "__doc__", None) or "").strip():
            log.warning("%s: %s.%s has no docstring", where, module.__name__, name)


def _cell(value: Any) -> str:
    """`value` as text in a markdown table cell."""
    text = str(value).replace("\n", " ")
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _type(annotation: Any) -> str:
    """A field's type in words: "integer", "one of a, b", "list of text", "number or none"."""
    import types
    import typing

    from pydantic import BaseModel

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in args) if len(args) > 1 else str(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [_type(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or none" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kind = annotation.model_fields.get("kind")
        if annotation.__name__ == "Experiment":
            return "experiment"
        return f"{{kind: {kind.default}, ...}}" if kind is not None else "section"
    words = {int: "integer", float: "number", str: "text", bool: "true or false"}
    return words.get(annotation, "any")


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if hasattr(value, "model_dump"):
        return "see below"
    return "none" if value is None else f"`{value}`"


def _fields(model: Any, skip: tuple[str, ...] = ()) -> str:
    rows = [[f"`{name}`", _type(field.annotation), _default(field), field.description or ""]
            for name, field in model.model_fields.items() if name not in skip]  # fmt: skip
    return _table(["setting", "type", "default", "what it does"], rows)


def _rich_rows(table: Any) -> list[list[str]]:
    from rich.text import Text

    columns = [[Text.from_markup(str(cell)).plain for cell in column._cells]
               for column in table.columns]  # fmt: skip
    return [list(row) for row in zip(*columns, strict=True)]


def config_reference() -> str:
    """The config schema as markdown: a table per section, and what a config can name."""
    import lossbench.experiments  # noqa: F401  (registers the kinds)
    from lossbench.config.schema import KINDS, Config, Experiment, FitOptions, PyperfOptions, Timing
    from lossbench.experiments.kinds.fit import CrossValidation
    from lossbench.experiments.models import GbmModel, MlpModel
    from lossbench.report import catalog

    parts = ["## The run", _fields(Config), "## Every experiment", _fields(Experiment)]
    for kind, model in KINDS.items():
        own = [name for name in model.model_fields if name not in Experiment.model_fields]
        doc = model.__doc__ or importlib.import_module(model.__module__).__doc__ or ""
        parts += [f"### `kind: {kind}`", doc.strip().split("\n\n")[0]]
        if own:
            skip = tuple(n for n in model.model_fields if n not in own)
            parts.append(_fields(model, skip))
    parts += [
        "## `fit`", _fields(FitOptions), "## `cv`", _fields(CrossValidation),
        "## `model: {kind: gbm}`", _fields(GbmModel, ("kind",)),
        "## `model: {kind: mlp}`", _fields(MlpModel, ("kind",)),
        "## `timing`", _fields(Timing), "## `timing.pyperf`", _fields(PyperfOptions),
    ]  # fmt: skip
    for title, make in (("Datasets", catalog.datasets_table), ("Losses", catalog.losses_table),
                        ("Metrics", catalog.metrics_table)):  # fmt: skip
        table = make()
        parts += [f"## {title}", _table([c.header for c in table.columns], _rich_rows(table))]
        if table.caption:
            parts.append(str(table.caption))
    return "\n\n".join(parts)


def _commands(group, context):
    """(name, command, parent context) of every command, a group's commands by their path
    (``history show``)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of its own: `lossbench history ...`
            inner = command.context_class(command, info_name=name, parent=context)
            for sub, found, parent in _commands(command, inner):
                yield f"{name} {sub}", found, parent
        else:
            yield name, command, context


def cli_reference() -> str:
    """Every command's usage, help and options, from the Typer app itself."""
    import typer

    from lossbench.cli import app

    group = typer.main.get_command(app)
    parts = []
    context = group.context_class(group, info_name="lossbench")
    for name, command, parent in _commands(group, context):
        sub = command.context_class(command, info_name=name.split()[-1], parent=parent)
        usage = command.get_usage(sub).removeprefix("Usage: ")
        rows = []
        for param in command.params:
            if param.param_type_name == "argument":
                name = (param.metavar or param.name).upper()
                rows.append([f"`{name}`", "argument", param.help or ""])
            elif not param.hidden:
                names = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
                flag = getattr(param, "is_flag", False)
                default = "" if flag or param.default in (None, (), False) else f"`{param.default}`"
                rows.append([names, default, (param.help or "").strip()])
        parts += [f"## `lossbench {name}`", f"```\n{usage}\n```", (command.help or "").strip()]
        if rows:
            parts.append(_table(["option", "default", "what it does"], rows))
    return "\n\n".join(parts)
