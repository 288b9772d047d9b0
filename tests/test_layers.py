"""The package's layering, checked on its source (ast): each part imports only the parts
below it, and no two modules import each other, even through a chain or inside a function."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lossbench"

# bottom to top: a module may import its own layer and the ones before it
LAYERS = [
    {
        "lossbench",
        "lossbench._version",
        "lossbench.errors",
        "lossbench.system",
        "lossbench.text",
        "lossbench.signals",
        "lossbench.params",
    },
    {"lossbench.losses"},
    {"lossbench.config"},
    {"lossbench.analysis"},
    {"lossbench.experiments"},
    {"lossbench.timing"},
    {"lossbench.results"},
    {"lossbench.report"},
    {"lossbench.history"},
    {"lossbench.runner"},
    {"lossbench.starters"},
    {"lossbench.cli", "lossbench.cli_history", "lossbench.console"},
]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(
            module == top or module.startswith(top + ".") for top in layer if top != "lossbench"
        ):
            return i
    assert module in LAYERS[0], f"{module} is in no layer"
    return 0


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(module: str) -> set[str]:
    """The lossbench modules `module` imports anywhere (functions included; not the imports
    only a type checker sees)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and _is_type_checking(n)]
    skipped = {id(n) for node in guarded for child in node.body for n in ast.walk(child)}
    found = set()
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                parts = module.split(".")
                parts = parts if is_package else parts[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_module_imports_only_its_layer_and_those_below():
    upward = [
        f"{module} ({_layer(module)}) imports {other} ({_layer(other)})"
        for module, others in GRAPH.items()
        for other in sorted(others)
        if _layer(other) > _layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_two_modules_import_each_other_even_through_others():
    def reach(start):
        seen, stack = set(), list(GRAPH[start])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack += GRAPH[current]
        return seen

    cycles = sorted(module for module in GRAPH if module in reach(module))
    assert not cycles, f"modules on an import cycle: {', '.join(cycles)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_formatter_lays_out_every_line(module):
    # no line is packed by hand past ruff format (a cap on module length once invited that:
    # 240 such lines); a module grows by its job, and is split by job, not by length
    text = MODULES[module].read_text(encoding="utf-8")
    assert "fmt: " + "skip" not in text and "fmt: " + "off" not in text, module


def test_the_checks_see_imports_inside_functions_and_packages():
    # the check itself: lazy imports count, and known edges are found
    assert "lossbench.experiments.plan" in GRAPH["lossbench.experiments"]
    assert "lossbench.report.kinds.base" in GRAPH["lossbench.report.terminal"] or (
        "lossbench.report.kinds" in GRAPH["lossbench.report.terminal"]
    )
    assert any(other.startswith("lossbench.report") for other in GRAPH["lossbench.cli"])
