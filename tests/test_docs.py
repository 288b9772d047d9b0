"""The documentation runs: the docs build strictly, and every code block in the README and
docs/ is run (Python executed, configs planned, commands invoked), so no example drifts from
what lossbench does."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import invoke
from markdown_it import MarkdownIt

from lossbench import config as config_module
from lossbench import runner

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# shell lines the test does not run, each with why; a new line that cannot run must be added
# here, so that no example goes unchecked by accident
NOT_RUN = {
    "python -m pytest": "this test suite itself",
    "dask scheduler": "a cluster of machines: tests/test_cluster.py runs one locally",
    "dask worker tcp://HOST:8786": "a cluster of machines: tests/test_cluster.py",
    "lossbench run my.yaml --cluster tcp://HOST:8786": "a placeholder scheduler address",
    "python benchmarks/bench_kernels.py --fast -o out.json": "a benchmark: minutes of timing",
    "python benchmarks/bench_kernels.py --losses mse,huber --sizes 1e7 -o out.json":
        "a benchmark: minutes of timing",
    "python -m pyperf stats out.json": "reads the benchmark's output",
    "python -m pyperf compare_to base.json out.json": "reads the benchmark's outputs",
}  # fmt: skip
KERNEL = "def squared(y_true, y_pred):\n    return (y_pred - y_true) ** 2\n"


def _blocks(*languages: str) -> list[tuple[str, str]]:
    parser = MarkdownIt("commonmark")
    return [(f"{page.relative_to(ROOT)}:{token.map[0] + 1}", token.content)
            for page in PAGES for token in parser.parse(page.read_text(encoding="utf-8"))
            if token.type == "fence" and token.info.strip() in languages]  # fmt: skip


def _lines(block: str) -> list[str]:
    joined = block.replace("\\\n", " ")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A copy of what the docs' commands name (examples, configs), and the README's kernel."""
    for folder in ("examples", "configs"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "kernels.py").write_text(KERNEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _shell_blocks() -> list[tuple[str, str]]:
    """The shell blocks, less those whose every command an earlier block runs (the Quick
    start's `lossbench run` is on three pages; once is enough)."""
    seen, kept = set(), []
    for where, block in _blocks("bash"):
        commands = {part.strip() for line in _lines(block) for part in line.split("&&")}
        if commands - seen:
            kept.append((where, block))
        seen |= commands
    return kept


@pytest.mark.slow
@pytest.mark.parametrize(("where", "block"), _shell_blocks(), ids=lambda v: str(v)[:40])
def test_every_shell_example_runs(workdir, where, block):
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])  # fmt: skip
    for line in _lines(block):
        for command in (part.strip() for part in line.split("&&")):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"]:
                named = re.findall(r"\[([\w,-]+)\]", command)
                assert all(set(n.split(",")) <= extras for n in named), f"{where}: {command}"
                continue
            if command in NOT_RUN:
                continue
            assert words[0] == "lossbench", f"{where}: {command!r} is neither run nor in NOT_RUN"
            args = words[1:]
            if args[:1] == ["run"]:
                args += ["--quick", "--out", str(workdir / "results")]
            result = invoke(args, cwd=workdir)
            assert result.exit_code == 0, f"{where}: {command}\n{result.output}"


@pytest.mark.slow  # whole experiments, as the docs show them
@pytest.mark.parametrize(("where", "block"), _blocks("python"), ids=lambda v: str(v)[:40])
def test_every_python_example_runs(workdir, where, block):
    exec(compile(block, where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize(("where", "block"), _blocks("yaml"), ids=lambda v: str(v)[:40])
def test_every_config_example_is_a_config_lossbench_plans(workdir, where, block):
    raw = yaml.safe_load(block)
    if "jobs" in raw:  # a GitHub Actions workflow: its lossbench lines are lossbench's
        steps = [s["run"] for job in raw["jobs"].values() for s in job["steps"] if "run" in s]
        for command in (line for step in steps for line in _lines(step)):
            if command.startswith("lossbench "):
                words = command.split()
                sub = words[1:3] if words[1] == "history" else words[1:2]
                help_text = invoke([*sub, "--help"], columns=400)
                assert help_text.exit_code == 0, f"{where}: {command}"
                for option in re.findall(r"(?<!\S)--[\w-]+", command):
                    assert option in help_text.output, f"{where}: {option} is no option of {sub}"
        return
    config = config_module.validate(raw, where)
    config._source_dir = workdir
    runner.plan(config, where)


@pytest.mark.slow
def test_the_docs_build_strictly(tmp_path):
    """mkdocs build --strict: a broken link, a missing page or an API name without a
    docstring fails it; the config and command references are generated in it."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    assert "min_data_in_leaf" in reference and "Training rows a leaf holds at least" in reference
    commands = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "--table" in commands and "lossbench compare" in commands
    assert "lossbench history show" in commands and "--min-change" in commands


def test_the_readme_fits_a_screen_and_opens_with_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    quick = text.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quick.strip().splitlines() == ["pip install . && lossbench run",
                                          "pip install '.[test]' && python -m pytest"]  # fmt: skip
    assert "bash .ci/run" not in quick
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install '.[test]'" in ci and "python -m pytest" in ci
