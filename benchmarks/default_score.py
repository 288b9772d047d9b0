"""Why real regression data are judged on both errors by default: over simulated tables with
skewed, mean-zero noise (a centred exponential; least squares is the better estimate of the
mean), how often each score calls huber better than mse, through the real paths (lossbench's
cross-validated fits, paired verdicts and corrections), with 95% Clopper–Pearson intervals.

    python benchmarks/default_score.py [--tables 100]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from lossbench import experiments


def _table(where: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((600, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 2.0 + (rng.exponential(2.0, 600) - 2.0)
    path = where / f"t{seed}.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(price=y).to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=100)
    tables = parser.parse_args().tables
    said: dict[str, list[str]] = {"test_rmse": [], "test_mae": []}
    with tempfile.TemporaryDirectory() as where:
        for seed in range(tables):
            path = _table(Path(where), seed)
            config = {
                "seed": seed,
                "experiments": [
                    {
                        "name": "t",
                        "losses": ["mse", {"name": "huber", "delta": 1.345}],
                        "datasets": [{"kind": "table", "path": str(path), "target": "price"}],
                        "cv": {"folds": 5, "repeats": 2},
                    }
                ],
            }
            trials = experiments.run(config)
            rows = experiments.comparisons(trials, experiments.summarize(trials), config)
            for row in rows.itertuples():
                said[row.metric].append(row.verdict)
    print(f"{tables} tables of 600 rows, skewed mean-zero noise, 5 folds x 2 repeats:")
    for metric, verdicts in said.items():
        for verdict in ("better", "worse", "equivalent", "inconclusive"):
            k = verdicts.count(verdict)
            ci = binomtest(k, len(verdicts)).proportion_ci()
            print(
                f"  {metric}: huber {verdict:<12} {k:>3} of {len(verdicts)}  "
                f"{k / len(verdicts):6.1%} [{ci.low:.1%}, {ci.high:.1%}]"
            )


if __name__ == "__main__":
    main()
