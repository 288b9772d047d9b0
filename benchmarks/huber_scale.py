"""Is Huber's efficiency against MSE invariant to the unit of y? (issue 12)

Fits MSE and Huber(δ = 1.345) on Gaussian, Student-t(3) and 10%-contaminated (outliers at 10σ)
noise at σ ∈ {0.01, 1, 100}, n = 400, and prints the relative efficiency (MSE's mean squared
coefficient error over Huber's) with its 95% paired bootstrap interval, for each ``fit.scale``.
With ``mad`` (δ in units of the residuals' MAD scale) the efficiency should not depend on σ and
should sit near the asymptotic values 0.950 / 1.890 / 7.525; with ``fixed`` (δ in units of y)
it does depend on σ.

Usage: python benchmarks/huber_scale.py [--trials 500] [--scales mad,fixed] [--jobs 2]
"""

from __future__ import annotations

import argparse
import time

from lossbench import experiments
from lossbench.analysis import statistics

ASYMPTOTIC = {"gaussian": 0.950, "student_t": 1.890, "contaminated": 7.525}
NOISES = [0.01, 1.0, 100.0]


def efficiencies(scale: str, trials: int, jobs: int) -> list[tuple[str, float, tuple]]:
    common = {"n_samples": 400, "n_features": 1, "noise": NOISES, "n_test": 10}
    config = {
        "seed": 0, "trials": trials,
        "experiments": [{
            "name": "scale",
            "datasets": [{"kind": "gaussian", **common}, {"kind": "student_t", "df": 3, **common},
                         {"kind": "contaminated", "fraction": 0.1, "outlier_scale": 10,
                          **common}],
            "losses": ["mse", {"name": "huber", "delta": 1.345}],
            "fit": {"scale": scale},
        }],
    }  # fmt: skip
    trials_frame = experiments.run(config, jobs=jobs)
    errors = trials_frame[trials_frame["metric"] == "coef_error"]
    out = []
    for dataset, rows in errors.groupby("dataset", sort=False):
        mse = rows[rows["loss"] == "mse"].sort_values("trial")["value"].to_numpy()
        huber = rows[rows["loss"] != "mse"].sort_values("trial")["value"].to_numpy()
        out.append((dataset, *statistics.efficiency(huber, mse)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--scales", default="mad,fixed")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    for scale in args.scales.split(","):
        print(f"scale: {scale}  (efficiency = MSE's mean squared coef error / Huber's)")
        for dataset, estimate, low, high in efficiencies(scale, args.trials, args.jobs):
            kind = dataset.split("(")[0]
            gap = estimate / ASYMPTOTIC[kind] - 1
            print(
                f"  {dataset:<58} {estimate:6.3f} [{low:6.3f}, {high:6.3f}]  "
                f"vs asymptotic {ASYMPTOTIC[kind]:.3f}: {gap:+.1%}"
            )
    print(f"({time.perf_counter() - start:.0f} s, {args.trials} trials each)")


if __name__ == "__main__":
    main()
