"""Back-to-back pairs of the CI recipe (docs/ci.md) on identical code: how often compare fails.

Each pair times `configs/ci.yaml` (`--only timing`) as the recipe does: base and head
alternating, two rounds each, each side's rounds merged with ``pyperf convert --add`` (8 worker
processes a side), then ``lossbench compare base.json head.json``. The code is the same on both
sides, so every exit 1 is a false alarm.

Usage: python benchmarks/ci_pairs.py [--pairs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ci.yaml"


def _run(*args: str) -> subprocess.CompletedProcess:
    wide = {**os.environ, "COLUMNS": "400"}  # one line per result, summary included
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=wide)


def one_pair(work: Path) -> tuple[int, str]:
    for round_ in (1, 2):
        for side in ("base", "head"):
            done = _run("-m", "lossbench.cli", "run", str(CONFIG), "--only", "timing", "--out",
                        str(work / side), "--name", f"{side}-{round_}", "--quiet")  # fmt: skip
            if done.returncode != 0:
                sys.exit(done.stderr[-2000:])
    merged = []
    for side in ("base", "head"):
        first, second = (next((work / side).glob(f"*-{side}-{r}")) for r in (1, 2))
        target = work / f"{side}.json"
        _run("-m", "pyperf", "convert", str(first / "timings.pyperf.json"), "--add",
             str(second / "timings.pyperf.json"), "-o", str(target))  # fmt: skip
        merged.append(str(target))
    done = _run("-m", "lossbench.cli", "compare", *merged)
    summary = [line for line in done.stdout.splitlines() if line.startswith("geometric mean")]
    return done.returncode, summary[-1] if summary else done.stdout[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    codes: Counter = Counter()
    start = time.perf_counter()
    for pair in range(args.pairs):
        with tempfile.TemporaryDirectory(prefix="lossbench-ci-") as work:
            code, summary = one_pair(Path(work))
        codes[code] += 1
        print(f"pair {pair + 1}: exit {code}; {summary}", flush=True)
    print(f"exit 0 in {codes[0]} of {args.pairs} pairs ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
