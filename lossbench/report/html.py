"""A run as one self-contained HTML file, readable offline and short enough to print: the
answer first, then per experiment its figure, its verdicts and a compact table of its headline
metric; every number in collapsed sections, the result files linked, the config collapsed."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pandas as pd

from lossbench import config as config_module
from lossbench import results, text
from lossbench.errors import LossbenchError
from lossbench.report import numbers, plots, terminal, verdicts
from lossbench.report.kinds import view_of
from lossbench.report.numbers import DOMINATED_MARK, estimate, fmt

__all__ = ["img", "write_report"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1180px; margin: 1.5em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; } h2 { margin-top: 1.4em; font-size: 1.15em;
     border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; margin: .6em 0; max-width: 100%; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
.wide { overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
table.verdicts td { text-align: left; } tr.better td { background: #e8f5e8; }
tr.worse td { background: #fbe9e9; } tr.equivalent td { background: #eef2f8; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: 11px; }
.answer { background: #f3f8f3; border-left: 4px solid #4a4; padding: .4em 1em; }
.verdict { margin: .15em 0; font-size: 13px; } dl { display: grid; grid-template-columns:
     max-content auto; gap: 0 1em; font-size: 12px; color: #555; } dt { font-weight: 600; }
details { margin: .4em 0; } summary { cursor: pointer; color: #357; }
@page { size: A4; margin: 12mm; }
@media print { details:not([open]) { display: none; } img { max-height: 300px; }
               h2 { break-after: avoid; } }
"""


def write_report(run_dir: Path) -> tuple[Path, list[Path]]:
    """Write `plots/*.png` and `report.html` into a run directory; their paths."""
    plots.require_matplotlib()
    run_dir = Path(run_dir)
    record, trials, summary, timings = results.read_run(run_dir)
    comparisons = results.read_comparisons(run_dir, trials, summary)
    config = config_module.load(run_dir / results.CONFIG)
    try:
        return _write(run_dir, record, config, trials, summary, comparisons, timings)
    except OSError as error:  # a read-only or full run directory
        raise LossbenchError(
            f"{run_dir}: cannot write the report there ({error.strerror}); copy the run "
            "somewhere writable and report on the copy"
        ) from None


def _write(run_dir, record, config, trials, summary, comparisons, timings):
    plot_dir = run_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    images: dict[str, list[tuple[str, bytes]]] = {}  # section -> its (name, PNG) in order
    written = []
    drawn = plots.figures(trials, summary, timings if len(timings) else None, comparisons)
    for section, name, figure in drawn:
        data = plots.png(figure)
        results.write_atomic(plot_dir / f"{name}.png", data)
        images.setdefault(section, []).append((name, data))
        written.append(plot_dir / f"{name}.png")
    present = {path.name for path in run_dir.iterdir()}
    page = _page(record, config, summary, comparisons, timings, images, present)
    results.write_atomic(run_dir / "report.html", page)
    return run_dir / "report.html", written


def img(name: str, data: bytes) -> str:
    """An <img> holding PNG bytes itself (the page stays one file), `name` as its alt text."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{text.html(name)}" src="data:image/png;base64,{encoded}">'


def _page(
    record: dict,
    config,
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    timings: pd.DataFrame,
    images: dict[str, list[tuple[str, bytes]]],
    present: set[str],
) -> str:
    from lossbench.report.answer import answer

    esc = text.html
    title = f"lossbench run {esc(str(record.get('id', '')))}"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        _facts(record),
    ]
    lines = answer(comparisons)
    if lines:
        items = "".join(f"<li>{esc(line)}</li>" for line in lines)
        parts.append(
            "<div class='answer'><strong>What to use</strong> (paired comparisons with each "
            f"experiment's first loss)<ul>{items}</ul></div>"
        )
    if images.get("losses"):
        parts += ["<h2>The losses</h2>", *(img(n, d) for n, d in images["losses"])]
    for experiment, frame in summary.groupby("experiment", sort=False) if len(summary) else []:
        parts.append(f"<h2>{esc(str(experiment))}</h2>")
        view = view_of(frame)
        mine = terminal.comparisons_of(comparisons, experiment)
        parts += [img(name, data) for name, data in images.get(f"experiment:{experiment}", [])]
        parts += [img(name, data) for name, data in images.get(f"verdicts:{experiment}", [])]
        parts.append(verdicts.table_html(mine))
        lines = view.verdicts(frame, mine) if view is not None else []
        words = "".join(f"<p class='verdict'>{esc(line)}</p>" for line in lines)
        parts.append(_details("the verdicts in words", words) if len(mine) else words)
        metric = view.headline(frame) if view is not None else None
        if metric is not None:
            parts.append(_compact(frame, metric, numbers.declared(mine)))
        full = frame.drop(columns=["experiment", "kind"], errors="ignore").dropna(axis=1, how="all")
        parts.append(_details("every number", _table(full)))
    if len(timings):
        parts.append("<h2>Timing</h2>")
        parts += [img(name, data) for name, data in images.get("timing", [])]
        lines = terminal.timing_verdicts(timings)
        parts += [f"<p class='verdict'>{esc(line)}</p>" for line in lines]
        parts.append(_compact_timings(timings))
        parts.append(_details("every timing", _table(timings)))
    files = (
        results.ANSWER,
        results.COMPARISONS,
        results.SUMMARY,
        results.TRIALS,
        results.TIMINGS,
        results.CONFIG,
        results.RUN,
    )
    # only what this run has: an --only experiments run has no timings.csv
    links = " · ".join(f"<a href='{name}'>{name}</a>" for name in files if name in present)
    parts += [
        f"<h2>Files</h2><p>{links}</p>",
        _details("the config", f"<pre>{esc(config_module.dump(config))}</pre>"),
        "</body></html>",
    ]
    return "\n".join(parts)


def _facts(record: dict) -> str:
    """Where and when the run was made, as a small definition list."""
    host = record.get("host") or {}
    facts = {
        "status": record.get("status"),
        "started": record.get("started"),
        "lossbench": record.get("lossbench"),
        "python": record.get("python"),
        **{str(k): v for k, v in host.items()},
    }
    rows = "".join(
        f"<dt>{text.html(k)}</dt><dd>{text.html(str(v))}</dd>"
        for k, v in facts.items()
        if v not in (None, "")
    )
    return f"<dl>{rows}</dl>"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{text.html(summary)}</summary>{body}</details>"


def _table(frame: pd.DataFrame) -> str:
    numbers = frame.select_dtypes("number").columns
    shown = frame.copy()
    for column in numbers:
        shown[column] = [fmt(x) for x in shown[column]]
    return "<div class='wide'>" + shown.to_html(index=False, na_rep="", border=0) + "</div>"


def _compact(frame: pd.DataFrame, metric: str, statistic: dict[str, str]) -> str:
    """The headline metric, loss × dataset (or × x), mean [95% CI] (the median where it is the
    dataset's declared statistic) to 3 significant digits."""
    rows = frame[frame["metric"] == metric]
    across = "x" if rows["x"].notna().any() and rows["dataset"].nunique() <= 1 else "dataset"
    models = rows["model"].dropna().astype(str) if "model" in rows else pd.Series(dtype=str)
    grid = models.nunique() > 1  # a model grid: a row per model and loss
    cells: dict[Any, Any] = {}
    for _, r in rows.iterrows():
        shown = estimate(r, statistic.get(r["dataset"], "mean"))
        value = shown if not pd.isna(r["mean"]) else "n/a"
        column = fmt(r["x"]) if across == "x" else str(r["dataset"])
        name = f"{r['model']} with {r['loss']}" if grid else r["loss"]
        cells.setdefault(name, {})[column] = value
    table = pd.DataFrame.from_dict(cells, orient="index").rename_axis(f"{metric}: loss")
    marked = any(value.endswith("*") for row in cells.values() for value in row.values())
    notes = [
        f"median [95% CI] on {d}: the statistic declared there"
        for d in dict.fromkeys(rows["dataset"])
        if statistic.get(d) == "median"
    ]
    notes += [DOMINATED_MARK] if marked else []
    html_table = table.reset_index().to_html(index=False, na_rep="", border=0)
    paragraphs = "".join(f"<p class='verdict'>{text.html(note)}</p>" for note in notes)
    return f"<div class='wide'>{html_table}</div>" + paragraphs


def _compact_timings(timings: pd.DataFrame) -> str:
    """As the terminal shows them: per op and size, ns per element (median ± stdev) by
    implementation and loss, fused's speed-up and roofline, "!" marking what is unstable."""
    kernels = timings[timings["loss"] != "probe"]
    impls = list(dict.fromkeys(kernels["impl"]))
    out = []
    marked: set[str] = set()
    for (dtype, n, op), cells in kernels.groupby(["dtype", "n", "op"], sort=False):
        cell, unstable = terminal.timing_cells(cells, n)
        marked |= unstable
        rows = terminal.timing_rows(cells, impls)
        losses = list(dict.fromkeys(cells["loss"]))
        table = pd.DataFrame(
            [[cell.get((row, loss), "—") for loss in losses] for row in rows],
            index=rows,
            columns=losses,
        )
        table.index.name = f"{op}, {dtype}, n={n:.0e}: ns per element"
        out.append(table.reset_index().to_html(index=False, na_rep="—", border=0))
    note = "".join(
        f"<p class='verdict'>{text.html(line)}</p>"
        for line in terminal.unstable_note(marked).splitlines()
    )
    return "<div class='wide'>" + "".join(out) + "</div>" + note
