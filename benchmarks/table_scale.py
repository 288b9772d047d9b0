"""A large table through `lossbench run`: time and peak memory of the whole process (issue 13).

Writes a CSV of `--rows` rows × 20 numeric feature columns plus a target (heavy-tailed noise)
into a temporary directory, a config that fits 3 losses on it with 5-fold cross-validation ×
1 repeat, and runs ``lossbench run CONFIG --only experiments`` under ``/usr/bin/time -v``;
prints the wall time and the maximum resident set size. The file is read once per run (when
the config is checked), not once per trial.

Usage: python benchmarks/table_scale.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG = """\
name: table-scale
seed: 0
experiments:
  - name: big
    datasets: [{{kind: table, path: {path}, target: y}}]
    losses: [mse, {{name: huber, delta: 1.345}}, log_cosh]
    cv: {{folds: 5, repeats: 1}}
"""


def timed(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak resident GB, stdout) of `command` run under ``/usr/bin/time -v``."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr).group(1)
    minutes, _, seconds = wall.rpartition(":")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return float(minutes or 0) * 60 + float(seconds), peak / 1e6, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lossbench-table-") as work:
        work = Path(work)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((args.rows, 20))
        y = X @ rng.standard_normal(20) + 1.0 + rng.standard_t(3, args.rows)
        start = time.perf_counter()
        pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]).assign(y=y).to_csv(
            work / "big.csv", index=False, float_format="%.6g"
        )
        size = (work / "big.csv").stat().st_size / 1e6
        print(f"wrote {args.rows} × 21 CSV ({size:.0f} MB) in {time.perf_counter() - start:.1f} s")
        (work / "big.yaml").write_text(CONFIG.format(path="big.csv"))
        command = [sys.executable, "-m", "lossbench.cli", "run", str(work / "big.yaml"),
                   "--only", "experiments", "--out", str(work / "runs"), "--quiet"]  # fmt: skip
        wall, peak, _ = timed(command)
        print(f"lossbench run --only experiments: wall {wall:.1f} s, peak memory {peak:.2f} GB")
        summary = pd.read_csv(next((work / "runs").glob("*/comparisons.csv")))
        print(summary[["loss", "metric", "estimate", "low", "high", "verdict"]].to_string())


if __name__ == "__main__":
    main()
