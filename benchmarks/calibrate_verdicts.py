"""Calibration of lossbench's verdicts under an exact null, by simulation.

Every simulated dataset is one experiment in which all losses draw their metric from the same
law over the same trials: a shared per-trial effect (trials differ in difficulty, as paired
fits on one sample do) times independent noise per loss. Nothing is better than anything, so
every ``better`` or ``worse`` is a false verdict. The trials go through the real pipeline
(`lossbench.experiments.compare`: paired interval, Wilcoxon test, Holm over the experiment,
equivalence margin) and the script reports, per number of trials:

- per comparison: the share of false decisive verdicts with 2 losses (one comparison) and
  with 5 losses (four comparisons, Holm-adjusted);
- familywise: the share of 5-loss datasets with any false decisive verdict;
- how often the verdict is ``equivalent`` (a true statement under this null).

Two laws: ``lognormal`` (a skewed, positive metric such as coef_error) and ``cauchy`` (|Cauchy|
noise: heavy tails, where the mean falls back to the median). Usage:

    python benchmarks/calibrate_verdicts.py [--datasets 1000] [--trials 3,5,10,20,50]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from lossbench import experiments

LAWS = {
    "lognormal": lambda rng, size: rng.lognormal(0.0, 0.3, size),
    "cauchy": lambda rng, size: np.abs(rng.standard_cauchy(size)) + 0.1,
}


def null_trials(law: str, losses: int, trials: int, datasets: int, seed: int) -> pd.DataFrame:
    """`datasets` experiments, each with `losses` exchangeable losses over `trials` trials."""
    rng = np.random.default_rng(seed)
    shared = rng.lognormal(0.0, 0.5, (datasets, 1, trials))
    values = shared * LAWS[law](rng, (datasets, losses, trials))
    d, j, t = np.meshgrid(range(datasets), range(losses), range(trials), indexing="ij")
    return pd.DataFrame({
        "experiment": [f"null{i}" for i in d.ravel()], "dataset": "d",
        "loss": [f"loss{k}" for k in j.ravel()], "trial": t.ravel(), "metric": "coef_error",
        "value": values.ravel(), "kind": "fit", "x": math.nan, "note": "",
    })  # fmt: skip


def rates(law: str, losses: int, trials: int, datasets: int, seed: int) -> dict[str, float]:
    frame = null_trials(law, losses, trials, datasets, seed)
    table = experiments.compare(frame, {f"null{i}": ["coef_error"] for i in range(datasets)})
    decisive = table["verdict"].isin(["better", "worse"])
    return {
        "per_comparison": float(decisive.mean()),
        "familywise": float(decisive.groupby(table["experiment"]).any().mean()),
        "equivalent": float((table["verdict"] == "equivalent").mean()),
        "fallback_to_median": float((table["statistic"] == "median").mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--trials", default="3,5,10,20,50")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(n) for n in args.trials.split(",")]
    print(f"{args.datasets} null datasets per cell; false decisive verdicts (target ≤ 5%)")
    header = "law        trials  2 losses  5 losses/comparison  5 losses/familywise  equivalent"
    print(header)
    start = time.perf_counter()
    for law in LAWS:
        for trials in sizes:
            two = rates(law, 2, trials, args.datasets, args.seed)
            five = rates(law, 5, trials, args.datasets, args.seed + 1)
            print(
                f"{law:<10} {trials:>6}  {two['per_comparison']:>8.1%}  "
                f"{five['per_comparison']:>19.1%}  {five['familywise']:>19.1%}  "
                f"{five['equivalent']:>10.1%}"
                + (
                    f"  (median used in {five['fallback_to_median']:.0%})"
                    if law == "cauchy"
                    else ""
                )
            )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
