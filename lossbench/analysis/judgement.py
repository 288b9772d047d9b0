"""Two result sets against each other: the timing rows (`lossbench.analysis.timings`), the
quality rows (each summary mean old → new, ``changed`` when the 95% intervals no longer
overlap), the notes a reader needs, and whether CI fails: a `Judgement`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossbench.analysis.constants import TIMING_ALPHA, TIMING_THRESHOLD, TimingVerdict
from lossbench.analysis.frames import keyed, unkeyed
from lossbench.analysis.timings import (
    COUNTS_AGREE,
    MIN_PROCESSES,
    Side,
    compare_timings,
    host_differences,
)
from lossbench.errors import LossbenchError

__all__ = ["Judgement", "compare_quality", "judge"]


def compare_quality(base: Side, new: Side) -> pd.DataFrame:
    """Each summary mean old → new; ``changed`` when the 95% intervals do not overlap."""
    if base.summary is None or new.summary is None:
        return pd.DataFrame()
    old, young = keyed(base.summary), keyed(new.summary)
    # a side written before summaries named their model pairs on the rest
    named = (old["model"] != "").any() and (young["model"] != "").any()
    keys = ["experiment", "dataset", *(["model"] if named else []), "loss", "metric", "x"]
    cols = [*keys, "mean", "ci_low", "ci_high"]
    both = old[cols].merge(young[cols], on=keys, suffixes=("_base", "_new"))
    both = both[both["metric"] != "fit_seconds"]  # wall time is not a quality
    both["x"] = unkeyed(both["x"])
    apart = (both["ci_high_new"] < both["ci_low_base"]) | (
        both["ci_low_new"] > both["ci_high_base"]
    )
    both["changed"] = apart.fillna(False).astype(bool)
    return both


@dataclass
class Judgement:
    """Everything a comparison found: the rows, the notes, and whether it fails CI."""

    timings: pd.DataFrame
    quality: pd.DataFrame
    notes: list[str]
    comparable: bool  # timing verdicts hold (same machine, or normalized)
    regressed: bool  # a slower benchmark on comparable sides (or, strict, a likely one)
    quality_changed: bool
    threshold: float = TIMING_THRESHOLD  # the one the verdicts were judged at

    def exit_code(self, *, no_fail: bool = False, fail_on_quality: bool = False) -> int:
        """1 for a regression (or a changed quality result when asked), else 0."""
        failing = self.regressed or (fail_on_quality and self.quality_changed)
        return 1 if failing and not no_fail else 0


def judge(
    base: Side,
    new: Side,
    *,
    threshold: float = TIMING_THRESHOLD,
    alpha: float = TIMING_ALPHA,
    normalize: bool = False,
    strict: bool = False,
) -> Judgement:
    """Compare two sides: timing rows, quality rows, and what fails (see the module docs)."""
    timings = compare_timings(base, new, threshold=threshold, alpha=alpha, normalize=normalize)
    quality = compare_quality(base, new)
    common = (timings["verdict"] != TimingVerdict.missing).sum() if len(timings) else 0
    if common == 0 and not len(quality):
        if normalize and (base.runs or new.runs) and not (base.floors or new.floors):
            raise LossbenchError(
                f"--normalize: no benchmark of {base.path} or {new.path} is named like "
                "lossbench's (loss.op.impl.dtype.n) with a read probe to divide by; compare "
                "them without --normalize"
            )
        raise LossbenchError(f"{base.path} and {new.path} have no benchmark or result in common")
    notes = [f"comparing {base.path} → {new.path}"]
    differences = host_differences(base, new)
    comparable = normalize or not differences
    if differences:
        notes.append("the machines differ: " + "; ".join(differences))
        if not normalize:
            notes.append("timing verdicts are not comparable across machines (use --normalize)")
    slower = np.array(timings["verdict"] == TimingVerdict.slower, dtype=bool)
    counted = np.array(timings["unit"] == "instructions", dtype=bool)
    inconclusive = np.array(timings["verdict"] == TimingVerdict.inconclusive, dtype=bool)
    if (counted & inconclusive).any():
        notes.append(
            f"{int((counted & inconclusive).sum())} instruction count row(s) whose processes "
            f"disagree by more than {COUNTS_AGREE:.1%}: no verdict"
        )
    # an interval, but one that straddles a bound: stable or not (a stable row is no longer
    # called same for it)
    interval = np.array(timings["ratio_ci_low"].notna(), dtype=bool)
    timed = ~counted & np.array(timings["verdict"] != TimingVerdict.missing, dtype=bool)
    fewest = timings[["base_processes", "new_processes"]].min(axis=1).to_numpy(float)
    few = timed & (fewest < MIN_PROCESSES)
    withheld = inconclusive & ~counted & interval & ~few
    if strict:  # also fail where the estimate alone is beyond the threshold
        beyond = np.array(timings["ratio"] > 1 + threshold, dtype=bool)
        slower |= (withheld | (few & interval)) & beyond
    if few.any():
        notes.append(_too_few(int(few.sum()), fewest[few].min(), fewest[timed].max()))
    if withheld.any():
        notes.append(
            f"{int(withheld.sum())} row(s) whose interval straddles the threshold: no verdict "
            "(more processes would narrow it); a whole interval beyond it fails"
        )
    changed = bool(len(quality) and quality["changed"].any())
    return Judgement(
        timings,
        quality,
        notes,
        comparable,
        bool(comparable and slower.any()),
        changed,
        threshold,
    )


def _too_few(rows: int, least: float, most: float) -> str:
    """The note on rows with fewer than `MIN_PROCESSES` processes a side, with the setting
    that gives them enough: lossbench times its peers in half the processes (rounded up), so
    a row with fewer than the most needs twice the minimum."""
    needed, why = MIN_PROCESSES, ""
    if least < most:
        needed, why = 2 * MIN_PROCESSES, ": peers are timed in half the processes"
    return (
        f"{rows} row(s) timed with fewer than {MIN_PROCESSES} processes a side: no verdict "
        f"(time both sides with timing.pyperf.processes: {needed} or more{why})"
    )
