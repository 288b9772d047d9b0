"""Compare two result sets: timing (is it slower, for real?) and quality (did a number move?).

Inputs are lossbench run directories or any pyperf JSON suite. For each benchmark in both:

- the ratio of medians, new / base, with a 95% bootstrap interval (seeded);
- a two-sided Mann-Whitney U test on the raw values (unequal sample sizes are fine). Its
  default alpha, 0.002, is asv's: identical code should not be flagged. When the samples are too
  small for any outcome to reach alpha (3 values against 3 cannot go below p = 0.1), the test
  falls back to complete separation (every new value above every base value, or below);
- the verdict: ``slower`` only when significant and the ratio exceeds 1 + threshold, ``faster``
  when significant and below 1 / (1 + threshold), else ``same``; ``missing`` when a benchmark is
  in one input only.

``normalize`` divides each kernel's values by its own run's ``read`` probe at the same dtype and
size, so that runs from two machines can be compared. Quality (both inputs lossbench runs): each
summary mean old → new, ``changed`` when the 95% intervals no longer overlap.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossbench.errors import LossbenchError
from lossbench.results import files as results
from lossbench.timing.bench import PROBE, Benchmark

__all__ = ["ALPHA", "Side", "compare_quality", "compare_timings", "host_differences", "load"]

ALPHA = 0.002
VERDICTS = ("slower", "faster", "same", "missing")


@dataclass
class Side:
    """One input: its pyperf suite (maybe None), its summary (runs only) and its host."""

    path: Path
    suite: Any
    summary: pd.DataFrame | None
    host: dict[str, Any]


def load(path: str | Path) -> Side:
    """A run directory or a pyperf JSON file; refuses what it cannot read."""
    path = Path(path)
    if path.is_dir():
        record, _, summary, _ = results.read_run(path)
        suite_file = path / results.PYPERF
        suite = _load_suite(suite_file) if suite_file.is_file() else None
        host = {
            **record.get("host", {}),
            "python": record.get("python"),
            **(record.get("packages") or {}),
        }
        return Side(path, suite, summary if len(summary) else None, host)
    if not path.is_file():
        raise LossbenchError(f"{path}: no such run directory or pyperf file")
    suite = _load_suite(path)
    meta = suite.get_metadata()
    host = {"cpu": meta.get("cpu_model_name"), "python": meta.get("python_version")}
    return Side(path, suite, None, host)


def _load_suite(path: Path):
    import pyperf

    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except Exception as error:  # pyperf raises many kinds for a corrupt file; all mean unreadable
        raise LossbenchError(
            f"{path}: not a readable pyperf suite ({type(error).__name__}: {error})"
        ) from None


def host_differences(base: Side, new: Side) -> list[str]:
    """The host facts (CPU, Python, package versions) that differ, as "key: a → b"."""
    keys = sorted(set(base.host) | set(new.host))
    return [
        f"{key}: {base.host.get(key)} → {new.host.get(key)}"
        for key in keys
        if base.host.get(key) is not None
        and new.host.get(key) is not None
        and base.host.get(key) != new.host.get(key)
    ]


def _values(suite) -> dict[str, np.ndarray]:
    return {b.get_name(): np.asarray(b.get_values(), dtype=float) for b in suite.get_benchmarks()}


def _normalized(values: dict[str, np.ndarray], where: Path) -> dict[str, np.ndarray]:
    """Each kernel's values over the median of its run's `read` probe at the same dtype and n."""
    out = {}
    for name, v in values.items():
        try:
            bench = Benchmark.parse(name)
        except ValueError:
            continue  # another tool's benchmark: nothing to normalize by
        if bench.is_probe:
            continue
        floor = Benchmark(PROBE, "read", "numba", bench.dtype, bench.n).name
        probe = values.get(floor)
        if probe is None:
            raise LossbenchError(f"{where}: --normalize needs the read probe '{floor}' for {name}")
        out[name] = v / np.median(probe)
    return out


def _min_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann-Whitney U test can give for these sizes."""
    return 2.0 / comb(n1 + n2, n1) if n1 + n2 < 60 else 0.0


def _test(base: np.ndarray, new: np.ndarray, alpha: float) -> tuple[float, str, bool]:
    """(p-value, test name, significant?): Mann-Whitney U, or complete separation when the
    samples are too small for U to reach alpha."""
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(new, base, alternative="two-sided").pvalue)
    if _min_p(len(base), len(new)) > alpha:
        separated = bool(new.min() > base.max() or new.max() < base.min())
        return p, "separation", separated
    return p, "mann-whitney", p < alpha


def _ratio_interval(base: np.ndarray, new: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of median(new) / median(base)."""
    rng = np.random.default_rng(seed)
    b = np.median(rng.choice(base, (1000, base.size)), axis=1)
    n = np.median(rng.choice(new, (1000, new.size)), axis=1)
    low, high = np.percentile(n / b, [2.5, 97.5])
    return float(low), float(high)


def compare_timings(
    base: Side, new: Side, *, threshold: float = 0.10, alpha: float = ALPHA, normalize: bool = False
) -> pd.DataFrame:
    """One row per benchmark in either input (see the module docstring)."""
    if threshold < 0:
        raise LossbenchError(f"--threshold must be ≥ 0; got {threshold}")
    if not 0 < alpha < 1:
        raise LossbenchError(f"--alpha must be in (0, 1); got {alpha}")
    if base.suite is None or new.suite is None:
        return pd.DataFrame(columns=_TIMING_COLUMNS)
    a, b = _values(base.suite), _values(new.suite)
    if normalize:
        a, b = _normalized(a, base.path), _normalized(b, new.path)
    rows = []
    for name in list(dict.fromkeys([*a, *b])):
        if name not in a or name not in b:
            only = a.get(name, b.get(name))
            rows.append(
                {
                    "benchmark": name,
                    "verdict": "missing",
                    "base_median_s": float(np.median(only)) if name in a else math.nan,
                    "new_median_s": float(np.median(only)) if name in b else math.nan,
                }
            )
            continue
        va, vb = a[name], b[name]
        ratio = float(np.median(vb) / np.median(va))
        p, test, significant = _test(va, vb, alpha)
        low, high = _ratio_interval(va, vb)
        verdict = "same"
        if significant and ratio > 1 + threshold:
            verdict = "slower"
        elif significant and ratio < 1 / (1 + threshold):
            verdict = "faster"
        rows.append(
            {
                "benchmark": name,
                "base_median_s": float(np.median(va)),
                "new_median_s": float(np.median(vb)),
                "ratio": ratio,
                "verdict": verdict,
                "p_value": p,
                "test": test,
                "ratio_ci_low": low,
                "ratio_ci_high": high,
                "base_stdev_s": float(np.std(va, ddof=1)) if va.size > 1 else math.nan,
                "new_stdev_s": float(np.std(vb, ddof=1)) if vb.size > 1 else math.nan,
                "base_values": int(va.size),
                "new_values": int(vb.size),
            }
        )
    return pd.DataFrame(rows, columns=_TIMING_COLUMNS)


_TIMING_COLUMNS = [
    "benchmark",
    "base_median_s",
    "new_median_s",
    "ratio",
    "verdict",
    "p_value",
    "test",
    "ratio_ci_low",
    "ratio_ci_high",
    "base_stdev_s",
    "new_stdev_s",
    "base_values",
    "new_values",
]


def compare_quality(base: Side, new: Side) -> pd.DataFrame:
    """Each summary mean old → new; ``changed`` when the 95% intervals do not overlap."""
    if base.summary is None or new.summary is None:
        return pd.DataFrame()
    keys = ["experiment", "dataset", "loss", "metric", "x"]
    cols = [*keys, "mean", "ci_low", "ci_high"]
    a = base.summary[cols].assign(x=base.summary["x"].fillna(-1e308))
    b = new.summary[cols].assign(x=new.summary["x"].fillna(-1e308))
    both = a.merge(b, on=keys, suffixes=("_base", "_new"))
    both = both[both["metric"] != "fit_seconds"]  # wall time is not a quality
    both["x"] = both["x"].replace(-1e308, math.nan)
    apart = (both["ci_high_new"] < both["ci_low_base"]) | (
        both["ci_low_new"] > both["ci_high_base"]
    )
    both["changed"] = apart.fillna(False).astype(bool)
    return both


def summary_line(timings: pd.DataFrame) -> str:
    """Geometric mean of the ratios and the count of each verdict."""
    ratios = timings["ratio"].dropna()
    geo = float(np.exp(np.mean(np.log(ratios)))) if len(ratios) else math.nan
    counts = ", ".join(f"{(timings['verdict'] == v).sum()} {v}" for v in VERDICTS)
    return f"geometric mean of ratios {geo:.3f}; {counts}"


def to_json(timings: pd.DataFrame) -> str:
    """The timing comparisons as a JSON list: benchmark, base_median_s, new_median_s, ratio,
    verdict, plus p_value, test, ratio_ci_low/high, stdevs and sample sizes (null when absent)."""
    records = timings.astype(object).where(timings.notna(), None).to_dict("records")
    return json.dumps(records, indent=2)


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def describe(row: pd.Series) -> str:
    """pyperf's style: "1.50 ms ± 0.05 ms → 2.00 ms ± 0.05 ms: 1.33× slower"."""
    if row["verdict"] == "missing":
        side = "base" if not math.isnan(row["base_median_s"]) else "new"
        return f"only in {side}"

    def one(median, stdev):
        return f"{_time(median)} ± {_time(stdev)}" if not math.isnan(stdev) else _time(median)

    ratio = row["ratio"]
    change = f"{ratio:.2f}× slower" if ratio >= 1 else f"{1 / ratio:.2f}× faster"
    note = "" if row["verdict"] != "same" else " (not significant)" if ratio != 1 else ""
    before = one(row["base_median_s"], row["base_stdev_s"])
    after = one(row["new_median_s"], row["new_stdev_s"])
    return f"{before} → {after}: {change}{note}"


def markdown(timings: pd.DataFrame, quality: pd.DataFrame, notes: list[str]) -> str:
    """A report fit for a pull-request comment or $GITHUB_STEP_SUMMARY."""
    lines = ["## lossbench compare", ""]
    lines += [f"> {note}" for note in notes]
    if notes:
        lines.append("")
    if len(timings):
        lines += ["| benchmark | base → new | verdict | p |", "| --- | --- | --- | --- |"]
        for _, row in timings.iterrows():
            p = "" if pd.isna(row.get("p_value")) else f"{row['p_value']:.2g}"
            mark = {"slower": "🔴 slower", "faster": "🟢 faster"}.get(
                row["verdict"], row["verdict"]
            )
            lines.append(f"| `{row['benchmark']}` | {describe(row)} | {mark} | {p} |")
        lines += ["", summary_line(timings), ""]
    if quality is not None and len(quality):
        header, *changed = quality_lines(quality)
        lines += [header, *(f"- {line}" for line in changed)]
    return "\n".join(lines) + "\n"


def quality_lines(quality: pd.DataFrame) -> list[str]:
    """A count of the changed quality results, then one line for each: old → new mean."""
    changed = quality[quality["changed"]]
    lines = [f"quality: {len(changed)} of {len(quality)} results changed (95% intervals apart)"]
    for _, row in changed.iterrows():
        lines.append(
            f"{row['experiment']} / {row['dataset']} / {row['loss']} / {row['metric']}: "
            f"{row['mean_base']:.4g} → {row['mean_new']:.4g}"
        )
    return lines
