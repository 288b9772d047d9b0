"""Compare two result sets: timing (is it slower, for real?) and quality (did a number move?).

Inputs are lossbench run directories or any pyperf JSON suite. For each benchmark in both:

- the ratio of medians, new / base, with a 95% two-level bootstrap interval (worker processes
  resampled, then values within them; seeded);
- a two-sided Mann-Whitney U test on the **per-process means**: a pyperf worker's values share
  its address layout, hash seed and page placement, so the process is the sampling unit, not
  the value. Its default alpha, 0.002, is asv's. When there are too few processes for any
  outcome to reach alpha (7 per side are needed at 0.002), the verdict is ``inconclusive`` and
  says how many would do;
- the verdict: ``slower`` only when significant and the ratio exceeds 1 + threshold, ``faster``
  when significant and below 1 / (1 + threshold), ``same`` otherwise, ``inconclusive`` as
  above; ``missing`` when a benchmark is in one input only;
- ``unstable`` when either side's per-process means vary by more than 5% (coefficient of
  variation): such a row alone does not fail CI unless asked (``--strict``).

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
from lossbench.timing.driver import UNSTABLE_CV, between_cv

__all__ = [
    "ALPHA", "Report", "Side", "compare_quality", "compare_timings", "host_differences", "load",
    "report",
]  # fmt: skip

ALPHA = 0.002
VERDICTS = ("slower", "faster", "same", "inconclusive", "missing")


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


def _runs(suite) -> dict[str, list[np.ndarray]]:
    """Per benchmark, the values of each worker process (pyperf keeps a worker's values as one
    run; calibration runs, which have none, are left out)."""
    return {
        b.get_name(): [np.asarray(r.values, dtype=float) for r in b.get_runs() if r.values]
        for b in suite.get_benchmarks()
    }


def _normalized(runs: dict[str, list[np.ndarray]], where: Path) -> dict[str, list[np.ndarray]]:
    """Each kernel's values over the median of its run's `read` probe at the same dtype and n."""
    out = {}
    for name, processes in runs.items():
        try:
            bench = Benchmark.parse(name)
        except ValueError:
            continue  # another tool's benchmark: nothing to normalize by
        if bench.is_probe:
            continue
        floor = Benchmark(PROBE, "read", "numba", bench.dtype, bench.n).name
        probe = runs.get(floor)
        if probe is None:
            raise LossbenchError(f"{where}: --normalize needs the read probe '{floor}' for {name}")
        scale = np.median(np.concatenate(probe))
        out[name] = [values / scale for values in processes]
    return out


def _min_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann-Whitney U test can give for these sizes."""
    return 2.0 / comb(n1 + n2, n1)


def needed_processes(alpha: float) -> int:
    """How many processes per side let the exact test reach `alpha` at all."""
    k = 1
    while _min_p(k, k) > alpha:
        k += 1
    return k


def _test(base: list[np.ndarray], new: list[np.ndarray], alpha: float) -> tuple[float, bool | None]:
    """(p-value, significant?) of a two-sided Mann-Whitney U test on the per-process means;
    significant is None when there are too few processes for any outcome to reach alpha."""
    from scipy.stats import mannwhitneyu

    a = np.array([values.mean() for values in base])
    b = np.array([values.mean() for values in new])
    if _min_p(len(a), len(b)) > alpha:
        return math.nan, None
    p = float(mannwhitneyu(b, a, alternative="two-sided", method="auto").pvalue)
    return p, p < alpha


def _ratio_interval(
    base: list[np.ndarray], new: list[np.ndarray], seed: int = 0, resamples: int = 1000
) -> tuple[float, float]:
    """95% interval of median(new) / median(base) from a two-level bootstrap: processes
    resampled, then values within each chosen process (the process is the unit)."""
    rng = np.random.default_rng(seed)

    def medians(processes: list[np.ndarray]) -> np.ndarray:
        k = len(processes)
        m = min(len(values) for values in processes)
        # pyperf gives every process the same number of values; a longer one is trimmed
        table = np.stack([values[:m] for values in processes])  # k processes × m values
        chosen = rng.integers(0, k, (resamples, k, 1))
        within = rng.integers(0, m, (resamples, k, m))
        return np.median(table[chosen, within].reshape(resamples, -1), axis=1)

    low, high = np.percentile(medians(new) / medians(base), [2.5, 97.5])
    return float(low), float(high)


def compare_timings(
    base: Side, new: Side, *, threshold: float = 0.10, alpha: float = ALPHA, normalize: bool = False
) -> pd.DataFrame:
    """One row per benchmark in either input (see the module docstring)."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise LossbenchError(f"--threshold must be a finite number ≥ 0; got {threshold}")
    if not 0 < alpha < 1:
        raise LossbenchError(f"--alpha must be in (0, 1); got {alpha}")
    if base.suite is None or new.suite is None:
        return pd.DataFrame(columns=_TIMING_COLUMNS)
    a, b = _runs(base.suite), _runs(new.suite)
    if normalize:
        a, b = _normalized(a, base.path), _normalized(b, new.path)
    unit = "read probe" if normalize else "s"
    rows = []
    for name in list(dict.fromkeys([*a, *b])):
        if name not in a or name not in b or not a[name] or not b[name]:
            only = float(np.median(np.concatenate(a.get(name) or b.get(name) or [[math.nan]])))
            rows.append({
                "benchmark": name, "verdict": "missing", "unit": unit,
                "base_median_s": only if a.get(name) else math.nan,
                "new_median_s": only if b.get(name) else math.nan,
            })  # fmt: skip
            continue
        va, vb = a[name], b[name]
        pooled_a, pooled_b = np.concatenate(va), np.concatenate(vb)
        ratio = float(np.median(pooled_b) / np.median(pooled_a))
        p, significant = _test(va, vb, alpha)
        low, high = _ratio_interval(va, vb)
        cv_a, cv_b = between_cv(va), between_cv(vb)
        if significant is None:
            verdict = "inconclusive"
        elif significant and ratio > 1 + threshold:
            verdict = "slower"
        elif significant and ratio < 1 / (1 + threshold):
            verdict = "faster"
        else:
            verdict = "same"
        rows.append({
            "benchmark": name, "base_median_s": float(np.median(pooled_a)),
            "new_median_s": float(np.median(pooled_b)), "ratio": ratio, "verdict": verdict,
            "p_value": p, "test": "mann-whitney on process means", "ratio_ci_low": low,
            "ratio_ci_high": high,
            "base_stdev_s": float(np.std(pooled_a, ddof=1)) if pooled_a.size > 1 else math.nan,
            "new_stdev_s": float(np.std(pooled_b, ddof=1)) if pooled_b.size > 1 else math.nan,
            "base_values": int(pooled_a.size), "new_values": int(pooled_b.size),
            "base_processes": len(va), "new_processes": len(vb),
            "base_between_cv": cv_a, "new_between_cv": cv_b,
            "unstable": bool(max(np.nan_to_num(cv_a), np.nan_to_num(cv_b)) > UNSTABLE_CV),
            "needed_processes": needed_processes(alpha), "unit": unit,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=_TIMING_COLUMNS)


_TIMING_COLUMNS = [
    "benchmark", "base_median_s", "new_median_s", "ratio", "verdict", "p_value", "test",
    "ratio_ci_low", "ratio_ci_high", "base_stdev_s", "new_stdev_s", "base_values", "new_values",
    "base_processes", "new_processes", "base_between_cv", "new_between_cv", "unstable",
    "needed_processes", "unit",
]  # fmt: skip


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

    normalized = row.get("unit") == "read probe"

    def amount(x: float) -> str:  # normalized values are multiples of the read probe
        return f"{x:.3g}× read" if normalized else _time(x)

    def one(median, stdev):
        return f"{amount(median)} ± {amount(stdev)}" if not math.isnan(stdev) else amount(median)

    ratio = row["ratio"]
    change = f"{ratio:.2f}× slower" if ratio >= 1 else f"{1 / ratio:.2f}× faster"
    note = "" if row["verdict"] != "same" else " (not significant)" if ratio != 1 else ""
    if row["verdict"] == "inconclusive":
        note = (
            f" (inconclusive: {row['base_processes']} vs {row['new_processes']} processes; the "
            f"test needs ≥ {row['needed_processes']} per side)"
        )
    if bool(row.get("unstable")):
        note += " [unstable: processes disagree by more than 5%]"
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


@dataclass
class Report:
    """Everything `lossbench compare` says: the rows, the notes, and whether it fails."""

    timings: pd.DataFrame
    quality: pd.DataFrame
    notes: list[str]
    comparable: bool  # timing verdicts hold (same machine, or normalized)
    regressed: bool  # a slower benchmark that counts (comparable, stable or --strict)
    quality_changed: bool

    def exit_code(self, *, no_fail: bool = False, fail_on_quality: bool = False) -> int:
        """1 for a regression (or a changed quality result when asked), else 0."""
        failing = self.regressed or (fail_on_quality and self.quality_changed)
        return 1 if failing and not no_fail else 0

    def to_json(self) -> str:
        """The timing rows as the contract's JSON list of benchmark objects (with every column
        the table shows: intervals, processes, between-process variation, unstable)."""
        return to_json(self.timings)

    def markdown(self) -> str:
        return markdown(self.timings, self.quality, self.notes)


def report(
    base_path: Path,
    new_path: Path,
    *,
    threshold: float = 0.10,
    alpha: float = ALPHA,
    normalize: bool = False,
    strict: bool = False,
) -> Report:
    """Compare two inputs (run directories or pyperf files) into a `Report`."""
    base, new = load(base_path), load(new_path)
    timings = compare_timings(base, new, threshold=threshold, alpha=alpha, normalize=normalize)
    quality = compare_quality(base, new)
    common = (timings["verdict"] != "missing").sum() if len(timings) else 0
    if common == 0 and not len(quality):
        raise LossbenchError(f"{base_path} and {new_path} have no benchmark or result in common")
    notes = [f"comparing {base_path} → {new_path}"]
    differences = host_differences(base, new)
    comparable = normalize or not differences
    if differences:
        notes.append("the machines differ: " + "; ".join(differences))
        if not normalize:
            notes.append("timing verdicts are not comparable across machines (use --normalize)")
    slower = np.array(timings["verdict"] == "slower", dtype=bool)
    unstable = np.array(timings["unstable"].fillna(False), dtype=bool)
    if not strict and (slower & unstable).any():  # an unstable timing alone does not fail CI
        notes.append("slower but unstable rows do not fail without --strict")
        slower &= ~unstable
    changed = bool(len(quality) and quality["changed"].any())
    return Report(timings, quality, notes, comparable, bool(comparable and slower.any()), changed)
