"""The restarts verdict's calibration (`lossbench.analysis.statistics.PairedShares`): how often
it decides when two losses are stuck equally often (it should at most 5% of the time at the
5% level), and how often it does when they are not (its power), over simulated experiments of
paired restarts.

    python benchmarks/calibrate_restarts.py
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from lossbench.analysis.statistics import PairedShares

EXPERIMENTS, ALPHA = 2000, 0.05


@functools.cache
def _decided(b: int, c: int, n: int) -> bool:
    low, high = PairedShares(b, c, n).interval(ALPHA)
    return low > 0 or high < 0


def decided_share(p_loss: float, p_base: float, n: int, rng, correlated: bool = False) -> float:
    """The share of `EXPERIMENTS` simulated experiments of `n` paired restarts with a verdict:
    a restart stuck with probability p_loss for the loss and p_base for the baseline, apart
    or (`correlated`) from one draw, as restarts from the same weights may be."""
    u = rng.random((EXPERIMENTS, n))
    loss = u < p_loss
    base = (u if correlated else rng.random((EXPERIMENTS, n))) < p_base
    b, c = (loss & ~base).sum(axis=1), (~loss & base).sum(axis=1)
    return float(np.mean([_decided(int(x), int(y), n) for x, y in zip(b, c, strict=True)]))


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rng = np.random.default_rng(0)
    for n in (40, 80):
        for rate in (0.1, 0.3, 0.5, 0.8):
            shares = [decided_share(rate, rate, n, rng, correlated) for correlated in (False, True)]
            print(f"n={n} restarts, both stuck at {rate:.0%}: verdicts in {shares[0]:.1%} "
                  f"(apart), {shares[1]:.1%} (correlated)")  # fmt: skip
        for low, high in ((0.1, 0.3), (0.1, 0.5), (0.2, 0.8)):
            print(f"n={n}: {high:.0%} against {low:.0%}: verdicts in "
                  f"{decided_share(high, low, n, rng):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
