"""`lossbench report`: PNG plots that decode, one HTML file that embeds them all."""

import base64
import io
import re
import sys

import browser
import numpy as np
import pytest
from helpers import copy_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lossbench.cli import app

runner = CliRunner()


@pytest.mark.slow  # the quick run times kernels in real worker processes
def test_report_of_a_quick_run_writes_valid_pngs_and_an_html_that_embeds_each(tmp_path, quick_run):
    from matplotlib import image

    run_dir = copy_of(quick_run, tmp_path)
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pngs = sorted((run_dir / "plots").glob("*.png"))
    names = {p.stem for p in pngs}
    assert {"losses", "fit-robustness", "fit-classification", "influence",
            "punishment", "landscape", "timing"} <= names  # fmt: skip
    page = (run_dir / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(pngs)
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, png
        pixels = image.imread(io.BytesIO(data))  # decodes
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500 and pixels.std() > 0.05, png
        assert base64.b64encode(data).decode() in embedded
    assert "cauchy: huber(delta=1.345, scale=mad) vs mse on coef_error is inconclusive" in page
    # the answer first, host facts as a list, every number and the config collapsed, files linked
    assert page.index("What to use") < page.index("<h2>") and "<dl>" in page
    assert "<summary>the config</summary>" in page and "<summary>every number</summary>" in page
    assert "<a href='trials.csv'>" in page and "<a href='comparisons.csv'>" in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert oct((run_dir / "trials.csv").stat().st_mode & 0o777) != "0o600"  # readable results


def test_run_with_report_writes_it_at_the_end(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\ntrials: 2\nexperiments:\n  - {name: p, kind: punishment, losses: [mse, bce]}\n"
    )
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path), "--report", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "report: " in result.output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert (run_dir / "report.html").is_file() and (
        run_dir / "plots" / "punishment-p.png"
    ).is_file()


def test_without_matplotlib_one_line_names_the_extra_and_exits_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\ntrials: 2\nexperiments:\n  - {name: p, kind: punishment, losses: [mse]}\n"
    )
    ran = runner.invoke(app, ["run", str(config), "--out", str(tmp_path), "--quiet"])
    assert ran.exit_code == 0, ran.output
    for args in (
        ["report", "--out", str(tmp_path)],
        ["run", str(config), "--out", str(tmp_path / "r"), "--report"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "pip install 'lossbench[plot]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()  # refused before the run


def test_the_html_timing_tables_carry_what_the_terminal_shows():
    import pandas as pd

    from lossbench.report import html, terminal

    def row(loss, impl, median, roofline=float("nan"), unstable=False, op="value"):
        n = 100_000
        return {"benchmark": f"{loss}.{op}.{impl}", "loss": loss, "op": op, "impl": impl,
                "dtype": "float64", "n": n, "median_s": median, "mean_s": median,
                "stdev_s": median / 10, "values": 9, "ns_per_element": median / n * 1e9,
                "gb_per_s": 1.0, "roofline": roofline, "unstable": unstable}  # fmt: skip

    timings = pd.DataFrame([
        row("mse", "numpy", 2e-4), row("mse", "fused", 2e-5, roofline=1.55, unstable=True),
        row("probe", "numba", 2e-5, op="read"),
    ])  # fmt: skip
    page = html._compact_timings(timings)
    assert "2 ±0.2" in page and "fused roofline" in page and "155% !" in page
    # above 100% reads as what it is, noise in the measurement, not as an alarm
    assert "10.0×" in page and "faster than the memory floor" in page and "not a fault" in page
    assert "disagree" not in page
    (verdict,) = terminal.timing_verdicts(timings)
    assert "1.55 of memory bandwidth ! (faster than the floor can be: timing noise" in verdict
    busy = timings.assign(roofline=[float("nan"), 0.8, float("nan")])
    page = html._compact_timings(busy)
    assert "80% !" in page and "disagree by more than 5%" in page and "not a fault" not in page
    (verdict,) = terminal.timing_verdicts(busy)
    assert "0.80 of memory bandwidth ! (its processes disagree" in verdict


def test_an_instruction_count_run_shows_instructions_not_nan():
    import pandas as pd

    from lossbench.report import terminal

    nan = float("nan")
    rows = [{"benchmark": f"mse.value.{impl}", "loss": "mse", "op": "value", "impl": impl,
             "dtype": "float64", "n": 100_000, "median_s": nan, "mean_s": nan, "stdev_s": nan,
             "values": 3, "ns_per_element": nan, "gb_per_s": nan, "roofline": nan,
             "unstable": False, "instructions": count * 100_000,
             "instructions_per_element": count}
            for impl, count in (("numpy", 11.2), ("fused", 1.36))]  # fmt: skip
    timings = pd.DataFrame(rows)
    cells, _ = terminal.timing_cells(timings, 100_000)
    assert cells["fused", "mse"] == "1.36 instr" and cells["fused vs numpy", "mse"] == "8.2×"
    assert terminal.timing_verdicts(timings) == []
    # counts have no memory floor: no roofline row of dashes
    assert terminal.timing_rows(timings, ["numpy", "fused"]) == ["numpy", "fused", "fused vs numpy"]


@pytest.mark.slow  # a whole --quick run
def test_a_loss_has_one_colour_in_every_figure_of_a_run(quick_run):
    """huber was grey in the loss shapes ("huber(delta=1.345)") and orange in the experiments'
    figures ("huber(delta=1.345, scale=mad)"): every line or bar of a loss is its colour."""
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex

    from lossbench import results
    from lossbench.errors import LossbenchError
    from lossbench.losses import labels
    from lossbench.report import plots

    _, trials, summary, _ = results.read_run(quick_run)
    seen: dict[str, set[str]] = {}
    for _, _, figure in plots.figures(trials, summary, None):
        for ax in figure.axes:
            for line in ax.get_lines():
                name = line.get_label()
                if name.startswith("_"):
                    continue
                try:
                    loss = labels.parse(name.split(" on ")[0]).loss_label
                except LossbenchError:  # a reference line, not a loss
                    continue
                seen.setdefault(loss, set()).add(to_hex(line.get_color()))
    assert {"mse", "huber(delta=1.345)"} <= set(seen)
    assert all(len(colours) == 1 for colours in seen.values()), seen
    assert "#808080" not in set().union(*seen.values())  # no loss left grey


@pytest.mark.slow  # the quick run times kernels in real worker processes
def test_the_forest_plot_draws_every_comparison_at_its_own_interval(quick_run):
    pytest.importorskip("matplotlib")
    from lossbench import results
    from lossbench.report import verdicts
    from lossbench.report.figures import Palette

    _, trials, summary, _ = results.read_run(quick_run)
    comparisons = results.read_comparisons(quick_run, trials, summary)
    rows = comparisons[comparisons["experiment"] == "robustness"]
    figure = verdicts.forest("robustness", rows, Palette(list(summary["loss"])))
    (ax,) = figure.axes
    assert len(ax.get_yticks()) == len(rows)  # every comparison has its row, shown or said
    drawn = {tuple(np.round(line.get_xdata(), 9)) for line in ax.get_lines()
             if len(line.get_xdata()) == 2}  # fmt: skip
    expected = {tuple(np.round((1 + r.low, 1 + r.high), 9)) for r in rows.itertuples()
                if np.isfinite(r.low) and np.isfinite(r.high)}  # fmt: skip
    assert expected and expected <= drawn
    margin = rows["margin"].iloc[0]
    (band,) = ax.patches
    assert np.allclose(band.get_x(), 1 - margin) and np.allclose(band.get_width(), 2 * margin)


def test_an_experiments_only_report_links_no_file_the_run_lacks(tmp_path, small_run):
    pytest.importorskip("matplotlib")
    from lossbench.report.html import write_report

    run_dir = copy_of(small_run, tmp_path)
    page, _ = write_report(run_dir)
    linked = re.findall(r"href='([^']+)'", page.read_text())
    assert linked and all((run_dir / name).exists() for name in linked)
    assert "timings.csv" not in linked


@pytest.mark.slow
def test_the_report_in_a_real_browser(tmp_path, quick_run):
    """Headless chromium at 1280 px: no console error, every image loaded, every link to a
    file the run has, nothing wider than the window, every figure drawn large enough to read,
    the answer on the first screen and a verdict table per compared experiment."""
    pytest.importorskip("matplotlib")
    from lossbench.report.html import write_report

    run_dir = copy_of(quick_run, tmp_path)
    page_path, _ = write_report(run_dir)
    facts = browser.shown(page_path, tmp_path / "report.png")
    errors, images, links = facts["errors"], facts["images"], facts["links"]
    width, answer, tables = facts["width"], facts["answer"], facts["tables"]
    assert errors == []
    assert images and all(complete and natural > 0 for _, complete, natural, _ in images)
    # drawn at its natural size or across the page: a figure's text stays legible
    assert all(shown >= min(natural, 900) - 1 for _, _, natural, shown in images), images
    assert links and all((run_dir / href).exists() for href in links)
    assert width <= 1280 and answer < 900
    compared = results_experiments(run_dir)
    assert tables == len(compared) and any(alt.startswith("verdicts-") for alt, *_ in images)


def results_experiments(run_dir):
    """The experiments of a run with comparisons (each gets a verdict table)."""
    import pandas as pd

    frame = pd.read_csv(run_dir / "comparisons.csv")
    return set(frame["experiment"])


_EDGES = [float("inf"), -float("inf"), 5e-324, -1e308, 0.0]
_ANY_FLOAT = st.one_of(st.sampled_from(_EDGES), st.floats(allow_nan=True, allow_infinity=True))


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(values=st.lists(_ANY_FLOAT, min_size=3, max_size=3))
def test_a_report_draws_whatever_numbers_summary_csv_holds(tmp_path_factory, small_run, values):
    """Infinite, negative, subnormal or missing means and intervals (a hand-edited or damaged
    summary.csv): the report is written, never a traceback (infinite means made a log axis
    with nothing to draw raise 'Data cannot be log-scaled')."""
    pytest.importorskip("matplotlib")
    import pandas as pd

    from lossbench.errors import LossbenchError
    from lossbench.report.html import write_report

    run_dir = copy_of(small_run, tmp_path_factory.mktemp("summary"))
    summary = pd.read_csv(run_dir / "summary.csv")
    for column, value in zip(("mean", "ci_low", "ci_high"), values, strict=True):
        summary[column] = value
    summary.to_csv(run_dir / "summary.csv", index=False)
    try:
        page, _ = write_report(run_dir)
    except LossbenchError:  # a damaged file said in one line is an answer too
        return
    assert page.read_text().endswith("</html>")
