"""Every table of a default run fits 80 columns with no cell split over lines, and wider
terminals get the wide layout."""

import re

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
