"""A run as one self-contained HTML file: every image embedded, the config, the tables and
the verdicts, readable offline."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from lossbench import config as config_module
from lossbench import results
from lossbench.errors import LossbenchError
from lossbench.report import plots, terminal

__all__ = ["write_report"]

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 1em 0; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
.verdict { margin: .2em 0; } .meta { color: #666; }
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
    for section, name, figure in plots.figures(trials, summary, timings if len(timings) else None):
        data = plots.png(figure)
        results.write_atomic(plot_dir / f"{name}.png", data)
        images.setdefault(section, []).append((name, data))
        written.append(plot_dir / f"{name}.png")
    page = _page(record, config, summary, comparisons, timings, images)
    results.write_atomic(run_dir / "report.html", page)
    return run_dir / "report.html", written


def _img(name: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'


def _page(
    record: dict,
    config,
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    timings: pd.DataFrame,
    images: dict[str, list[tuple[str, bytes]]],
) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>lossbench {esc(record.get('id', ''))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>lossbench run {esc(record.get('id', ''))}</h1>",
        "<p class='meta'>" + esc(_meta(record)) + "</p>",
    ]
    if images.get("losses"):
        parts += ["<h2>The losses</h2>", *(_img(n, d) for n, d in images["losses"])]
    for experiment, frame in summary.groupby("experiment", sort=False) if len(summary) else []:
        parts.append(f"<h2>{esc(experiment)}</h2>")
        kind = terminal.kind_of(frame)
        mine = terminal.comparisons_of(comparisons, experiment)
        lines = kind.verdicts(frame, mine) if kind is not None else []
        parts += [f"<p class='verdict'>{esc(line)}</p>" for line in lines]
        parts += [_img(name, data) for name, data in images.get(f"experiment:{experiment}", [])]
        table = frame.drop(columns=["experiment"]).round(6)
        parts.append(table.to_html(index=False, na_rep="", border=0))
    if len(timings):
        parts.append("<h2>Timing</h2>")
        lines = terminal.timing_verdicts(timings)
        parts += [f"<p class='verdict'>{esc(line)}</p>" for line in lines]
        parts += [_img(name, data) for name, data in images.get("timing", [])]
        parts.append(timings.round(9).to_html(index=False, na_rep="", border=0))
    parts += ["<h2>Config</h2>", f"<pre>{esc(config_module.dump(config))}</pre>", "</body></html>"]
    return "\n".join(parts)


def _meta(record: dict) -> str:
    get = record.get
    host = json.dumps(get("host", {}))
    return (
        f"status {get('status')}; started {get('started')}; lossbench {get('lossbench')}; "
        f"{host}; Python {get('python')}"
    )
