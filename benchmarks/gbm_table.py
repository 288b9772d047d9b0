"""`model: gbm` on a 100,000 × 20 table against scikit-learn doing the same work (issue 25).

Writes a CSV of `--rows` rows × 20 features (a Friedman #1 target on the first five, Student-t
noise), then, each in a process of its own under ``/usr/bin/time -v``:

- ``lossbench run --only experiments`` of a config boosting mse, huber and mae with 5-fold
  cross-validation × 1 repeat (LightGBM as each loss's objective, one thread);
- scikit-learn's ``cross_validate(LGBMRegressor(objective=...))`` for LightGBM's own
  ``regression``, ``huber`` and ``regression_l1``, the same 5 folds' worth of fits, the same
  trees (100, learning rate 0.1, 31 leaves, one thread).

Prints each one's wall time and peak memory, and their ratio.

Usage: python benchmarks/gbm_table.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from table_scale import timed  # the same /usr/bin/time -v reading (run from benchmarks/)

CONFIG = """\
name: gbm-table
seed: 0
experiments:
  - name: big
    datasets: [{{kind: table, path: {path}, target: y}}]
    losses: [mse, {{name: huber, delta: 1.345}}, mae]
    model: {{kind: gbm}}
    cv: {{folds: 5, repeats: 1}}
"""

SKLEARN = """\
import numpy as np, pandas as pd
from lightgbm import LGBMRegressor
from sklearn.model_selection import KFold, cross_validate
frame = pd.read_csv({path!r})
X, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()
for objective in ("regression", "huber", "regression_l1"):
    model = LGBMRegressor(objective=objective, n_estimators=100, learning_rate=0.1,
                          num_leaves=31, min_child_samples=20, n_jobs=1, deterministic=True,
                          force_col_wise=True, verbose=-1)
    scores = cross_validate(model, X, y, cv=KFold(5, shuffle=True, random_state=0),
                            scoring="neg_mean_absolute_error")
    print(objective, -scores["test_score"].mean())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lossbench-gbm-") as work:
        work = Path(work)
        rng = np.random.default_rng(0)
        X = rng.random((args.rows, 20))
        f = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
             + 10 * X[:, 3] + 5 * X[:, 4])  # fmt: skip
        y = f + rng.standard_t(3, args.rows)
        start = time.perf_counter()
        pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]).assign(y=y).to_csv(
            work / "big.csv", index=False, float_format="%.6g"
        )
        print(f"wrote {args.rows} × 21 CSV in {time.perf_counter() - start:.1f} s")
        (work / "big.yaml").write_text(CONFIG.format(path="big.csv"))
        (work / "peer.py").write_text(SKLEARN.format(path=str(work / "big.csv")))
        run = ["run", str(work / "big.yaml"), "--only", "experiments", "--out", str(work / "runs")]
        ours = timed([sys.executable, "-m", "lossbench.cli", *run, "--quiet"])
        theirs = timed([sys.executable, str(work / "peer.py")])
        print(f"lossbench run (3 losses × 5 folds, gbm): {ours[0]:.1f} s, {ours[1]:.2f} GB peak")
        print(f"sklearn cross_validate(LGBMRegressor) × 3 objectives: {theirs[0]:.1f} s, "
              f"{theirs[1]:.2f} GB peak")  # fmt: skip
        print(f"ratio lossbench / sklearn: time {ours[0] / theirs[0]:.2f}, "
              f"memory {ours[1] / theirs[1]:.2f}")  # fmt: skip
        print("sklearn test MAE per objective:\n" + theirs[2])
        comparisons = pd.read_csv(next((work / "runs").glob("*/comparisons.csv")))
        print(comparisons[["loss", "metric", "estimate", "low", "high", "verdict"]].to_string())


if __name__ == "__main__":
    main()
