"""Coverage of lossbench's intervals on cross-validated tables, against a truth known by
simulation.

A table is `--rows` rows drawn from one population (a linear model with `--noise`:
student_t(df=3) or gaussian); lossbench cross-validates it as a run does (5 folds x 2
repeats, mse, huber, mae, test_mae). The truth is the expected test MAE of each loss's fit
trained on as many rows as a fold trains on, over the population: the mean of the fold test
MAEs over `--reference` independent tables (an unbiased estimate of it). On `--tables` other
tables the script counts how often each 95% interval covers the truth:

- the relative difference against mse (`statistics.paired`, Nadeau & Bengio's corrected
  variance, as the verdicts use), and the same with the folds treated as independent;
- each loss's mean test MAE (`statistics.mean_interval`, corrected as in summary.csv and the
  plots), and the same uncorrected.

Prints coverage with Clopper-Pearson 95% intervals (scipy) and the mean interval width.
Usage: python benchmarks/cv_coverage.py [--tables 1000] [--reference 2000] [--rows 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from calibrate_verdicts import cv_tables  # the same tables, made one way (benchmarks/)
from scipy.stats import binomtest

from lossbench.analysis import statistics
from lossbench.analysis.frames import test_train


def _covered(hits: list[bool]) -> str:
    low, high = binomtest(sum(hits), len(hits)).proportion_ci(0.95, method="exact")
    return f"{np.mean(hits):6.1%} [{low:.1%}, {high:.1%}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", choices=["student_t", "gaussian"], default="student_t")
    args = parser.parse_args()
    start = time.perf_counter()
    reference, _ = cv_tables(args.reference, 10**6, args.rows, args.jobs, args.seed, args.noise)
    truth = reference[reference["metric"] == "test_mae"].groupby("loss")["value"].mean()
    frame, _ = cv_tables(args.tables, 0, args.rows, args.jobs, args.seed, args.noise)
    ratios = test_train(frame)
    scores = frame[frame["metric"] == "test_mae"]
    labels = list(dict.fromkeys(scores["loss"]))
    base = labels[0]
    hits: dict[tuple[str, str], list[bool]] = {}
    widths: dict[tuple[str, str], list[float]] = {}
    for (table, loss), mine in scores.groupby(["dataset", "loss"], sort=False):
        ratio = ratios[(table, table)]
        values = mine.sort_values("trial")["value"].to_numpy(float)
        for way, r in (("corrected", ratio), ("independent", 0.0)):
            low, high = statistics.mean_interval(values, test_train=r)
            hits.setdefault((f"mean test_mae of {loss}", way), []).append(
                low <= truth[loss] <= high
            )
            widths.setdefault((f"mean test_mae of {loss}", way), []).append(
                (high - low) / truth[loss]
            )
            if loss == base:
                continue
            theirs = scores[(scores["dataset"] == table) & (scores["loss"] == base)]
            theirs = theirs.sort_values("trial")["value"].to_numpy(float)
            result = statistics.paired(values, theirs, "mean", test_train=r)
            low, high = result.interval(0.05)
            key = (f"{loss} against {base}", way)
            hits.setdefault(key, []).append(low <= truth[loss] / truth[base] - 1 <= high)
            widths.setdefault(key, []).append(high - low)
    print(f"{args.tables} tables of {args.rows} rows ({args.noise} noise), 5 folds x 2 "
          f"repeats; truth from {args.reference} other tables")  # fmt: skip
    for loss in labels[1:]:
        print(f"true difference {loss} against {base}: "
              f"{truth[loss] / truth[base] - 1:+.2%}")  # fmt: skip
    print(f"{'95% interval':<52} {'variance':<12} {'coverage [95% CI]':<22} mean width")
    for (what, way), covered in sorted(hits.items(), key=lambda item: item[0][0]):
        width = np.mean(widths[(what, way)])
        print(f"{what:<52} {way:<12} {_covered(covered):<22} {width:.3f}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
