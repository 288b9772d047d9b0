"""Every table of a default run fits 80 columns with no cell split over lines, and wider
terminals get the wide layout."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from lossbench.cli import app
from lossbench.report import terminal


@pytest.fixture(scope="module")
def a_default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("width")
    done = CliRunner().invoke(app, ["run", "--quick", "--only", "experiments", "--quiet",
                                    "--out", str(out)])  # fmt: skip
    assert done.exit_code == 0, done.output
    return next(out.iterdir())


def _timings() -> pd.DataFrame:
    """A timing table as a default run with every peer writes it (two ops, six impls)."""
    rows = []
    rng = np.random.default_rng(0)
    for op in ("value", "value_and_gradient"):
        for probe in ("read", "read_write", "log"):
            rows.append(("probe", probe, "numba", rng.uniform(0.5, 7)))
        for loss in ("mse", "huber(delta=1.345)", "bce", "bce_logits"):
            for impl in ("numpy", "fused", "seed", "scipy", "sklearn", "torch"):
                rows.append((loss, op, impl, rng.uniform(0.5, 200)))
    frame = pd.DataFrame(rows, columns=["loss", "op", "impl", "ns_per_element"])
    frame["dtype"], frame["n"] = "float64", 4_000_000
    frame["median_s"] = frame["ns_per_element"] * 4e-3
    frame["stdev_s"] = frame["median_s"] * 0.0123456
    frame["roofline"] = np.where(frame["loss"] == "probe", np.nan, 0.734)
    frame["unstable"] = False
    return frame


def _rendered(parts, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    for part in parts:
        console.print(part)
    return console.export_text().splitlines()


def _check(lines: list[str], width: int) -> None:
    assert max(map(len, lines)) <= width, [line for line in lines if len(line) > width]
    for line in lines:
        if line.startswith("│"):  # a table row: every cell whole on it
            for cell in line.strip("│").split("│"):
                assert cell.count("[") == cell.count("]"), line
                assert not re.search(r"±\s*$", cell.rstrip()), line


@pytest.mark.parametrize("width", [80, 120])
def test_every_table_fits_and_no_cell_is_split(a_default_run, width):
    result = CliRunner().invoke(app, ["show", str(a_default_run)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    _check(lines, width)
    _check(_rendered(terminal.render_timings(_timings()), width), width)
    wide = any("gaussian" in line and "cauchy" in line for line in lines)
    assert wide == (width == 120)  # the room is used when there is room
    assert any("¹ huber(delta=1.345, scale=mad)" in line for line in lines)  # the legend


def test_the_long_form_keeps_every_number(a_default_run):
    narrow = "\n".join(_rendered(terminal.render_timings(_timings()), 60))
    timings = _timings()
    for row in timings[timings["loss"] != "probe"].itertuples():
        assert f"{row.ns_per_element:.3g} ±" in narrow


def _check_answer(run_dir) -> int:
    """Each answer line agrees with the verdicts: "use X" where X's verdict is better, "keep X"
    where X is the baseline, nothing is better and something worse, "undecided" where no loss
    is better. Returns how many datasets got an answer line."""
    result = CliRunner().invoke(app, ["show", str(run_dir)], env={"COLUMNS": "300"})
    comparisons = pd.read_csv(run_dir / "comparisons.csv")
    block = result.output.split("What to use")[-1].splitlines()[1:]
    answered = [line.strip() for line in block if line.startswith("  ")]
    for line in answered:
        dataset = line.split(" (")[0]
        here = comparisons[comparisons["dataset"] == dataset]
        verdicts = dict(zip(here["loss"], here["verdict"], strict=True))
        if ": use " in line:
            loss = re.search(r": use (.+?):", line).group(1)
            assert verdicts.get(loss) == "better", (line, verdicts)
        if ": keep " in line:
            loss = re.search(r": keep (.+?):", line).group(1)
            assert loss == here["baseline"].iloc[0], (line, verdicts)
            assert "better" not in verdicts.values() and "worse" in verdicts.values()
        if ": undecided" in line:
            assert "better" not in verdicts.values(), (line, verdicts)
    assert {line.split(" (")[0] for line in answered} == set(comparisons["dataset"])
    return len(answered)


def test_the_answer_names_the_loss_the_verdicts_support(a_default_run, tmp_path):
    _check_answer(a_default_run)  # the default config, quick: mostly too few trials to say
    root = Path(__file__).resolve().parents[1]
    done = CliRunner().invoke(app, ["run", str(root / "configs" / "my-data.yaml"), "--quiet",
                                    "--out", str(tmp_path)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert _check_answer(next(tmp_path.iterdir())) == 1  # the own-data example's one dataset


def test_help_keeps_each_paragraph_of_a_command_s_text_whole():
    """A docstring's line breaks are not the help's: at any width a paragraph is wrapped as
    one (they cut sentences in two at 80 columns, 'With --table and' / '--target, ...')."""
    import inspect

    from helpers import invoke

    from lossbench.cli import app

    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        shown = invoke([name, "--help"], columns=400).output
        lines = {" ".join(line.strip(" │").split()) for line in shown.splitlines()}
        for paragraph in inspect.cleandoc(command.callback.__doc__).split("\n\n"):
            assert " ".join(paragraph.split()) in lines, (name, paragraph)


def test_help_shows_no_type_beside_a_flag():
    from helpers import invoke

    from lossbench.cli import app

    assert "<bool>" not in invoke(["--help"], columns=80).output
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        shown = invoke([name, "--help"], columns=80).output
        assert "<bool>" not in shown, name
        assert "--help" in shown
