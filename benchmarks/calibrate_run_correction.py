"""Calibration of ``correction: run``: the chance that a whole run holds any false verdict.

Each simulated run has `--experiments` fit experiments, each of 5 losses whose coef_error
laws are the same (a per-trial effect shared by the losses, times independent lognormal
noise: an exchangeable null, so every ``better`` or ``worse`` is false), over `--trials`
trials. Every run goes through the real comparison path (`experiments.comparisons` with the
run's config: summaries, families, Bonferroni, the equivalence margin) twice: with
``correction: family`` (each family at 5%; the run at up to k × 5%) and ``correction: run``
(each family at 5% / k). The script prints, per correction, the share of runs with any false
verdict and its Clopper-Pearson 95% interval (scipy), and the families per run.

Usage: python benchmarks/calibrate_run_correction.py [--runs 1000] [--experiments 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from lossbench import config as config_module
from lossbench import experiments
from lossbench.analysis.comparisons import families

LOSSES = [
    "mse",
    "mae",
    "log_cosh",
    {"name": "huber", "delta": 1.345},
    {"name": "pseudo_huber", "delta": 1.0},
]
LABELS = ["mse", "mae", "log_cosh", "huber(delta=1.345)", "pseudo_huber(delta=1.0)"]


def _config(count: int, correction: str):
    return config_module.validate({
        "correction": correction,
        "experiments": [
            {"name": f"e{i}", "datasets": [{"kind": "gaussian"}], "losses": LOSSES}
            for i in range(count)
        ],
    })  # fmt: skip


def _trials(rng: np.random.Generator, count: int, trials: int) -> pd.DataFrame:
    rows = []
    for i in range(count):
        shared = rng.lognormal(0.0, 0.5, trials)
        for loss in LABELS:
            values = shared * rng.lognormal(0.0, 0.2, trials)
            rows += [(f"e{i}", "gaussian", loss, t, "coef_error", values[t], "fit", np.nan, "",
                      "linear") for t in range(trials)]  # fmt: skip
    return pd.DataFrame(rows, columns=experiments.COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--experiments", type=int, default=4)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.perf_counter()
    configs = {c: _config(args.experiments, c) for c in ("family", "run")}
    planned = experiments.plan(configs["family"])
    rng = np.random.default_rng(args.seed)
    false = dict.fromkeys(configs, 0)
    seen = dict.fromkeys(configs, 0)
    for _ in range(args.runs):
        trials = _trials(rng, args.experiments, args.trials)
        summary = experiments.summarize(trials)
        for correction, config in configs.items():
            table = experiments.comparisons(trials, summary, config, planned)
            false[correction] += bool(table["verdict"].isin(["better", "worse"]).any())
            seen[correction] = max(seen[correction], families(table))
    print(f"{args.runs} runs of {args.experiments} experiments × 5 losses × {args.trials} "
          "trials, every loss the same law (an exchangeable null):")  # fmt: skip
    for correction in configs:
        low, high = binomtest(false[correction], args.runs).proportion_ci(0.95, method="exact")
        print(f"  correction: {correction:<7} runs with any false verdict "
              f"{false[correction] / args.runs:6.1%} [{low:.1%}, {high:.1%}]  "
              f"(up to {seen[correction]} families seen in a run)")  # fmt: skip
    print(f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
