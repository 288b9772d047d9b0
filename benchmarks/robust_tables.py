"""Do robust fits settle on real tables, and do they agree with statsmodels? (issue 33)

On real tables (scikit-learn's diabetes; statsmodels' stackloss, engel, longley, fair, randhie
and star98), each cross-validated as a run does (`--folds` x `--repeats`, the folds of
`Observed.split`), fits huber(delta=1.345) with ``fit.scale: mad`` and ``joint`` on every
training fold and prints, per table and scale:

- how many fits are called unconverged, and how many settled at a jump of the MAD or at a
  scale of 0 (said in the fit's note);
- for ``mad``: the largest relative difference of the coefficients (and of a positive scale) from
  statsmodels' ``RLM(HuberT(t=1.345))`` with its default MAD scale, refitted on the same
  training rows (max |ours − RLM| / max |RLM|);
- for ``joint``: the largest relative excess of scikit-learn's ``HuberRegressor`` concomitant
  objective over ours (positive: ours is lower, as an optimum must be), on folds with a
  positive scale;
- the seconds lossbench's fits took.

Usage: python benchmarks/robust_tables.py [--folds 5] [--repeats 10] [--tables diabetes,...]
Run it on another checkout (git worktree) to compare revisions in one sitting.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from lossbench import losses
from lossbench.experiments.datasets.observed import Observed
from lossbench.experiments.fitting import fit

HUBER = losses.get("huber", delta=1.345)
TABLES = ["diabetes", "stackloss", "engel", "longley", "fair", "randhie", "star98"]


def table(name: str) -> Observed:
    """One of TABLES as lossbench holds a table: X, y, regression."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
    else:
        from statsmodels import datasets

        data = getattr(datasets, name).load_pandas()
        endog = data.endog if name != "star98" else data.endog.iloc[:, 0]
        X, y = data.exog.to_numpy(float), endog.to_numpy(float)
    return Observed({}, name, X, y, "regression")


def rlm(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """statsmodels' RLM with Huber's t = 1.345 and the MAD scale: (w, b) and its scale."""
    import statsmodels.api as sm

    with warnings.catch_warnings():  # "scale is 0.0" where the fit is exact: said by us too
        warnings.simplefilter("ignore")
        model = sm.RLM(y, sm.add_constant(X, has_constant="add"), M=sm.robust.norms.HuberT(1.345))
        # statsmodels' coefficient test is absolute: 1e-9 of the target's size
        result = model.fit(conv="coefs", tol=1e-9 * np.abs(y).max(), maxiter=5000)
    return np.append(result.params[1:], result.params[0]), float(result.scale)


def concomitant(X, y, w, b, sigma) -> float:
    """HuberRegressor's objective per row with alpha = 0: σ + 2σ mean ρ(r / σ)."""
    return sigma + 2 * sigma * float(HUBER.value(y / sigma, (X @ w + b) / sigma))


def peer_excess(X: np.ndarray, y: np.ndarray, ours) -> float:
    """How much higher HuberRegressor's optimum is than ours, relative (on standardized X, as
    it needs to converge; our fit is equivariant)."""
    from sklearn.linear_model import HuberRegressor

    mean, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    Xs = (X - mean) / sd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = HuberRegressor(epsilon=1.345, alpha=0.0, tol=1e-12, max_iter=100_000).fit(Xs, y)
    theirs = concomitant(Xs, y, peer.coef_, peer.intercept_, peer.scale_)
    mine = concomitant(X, y, ours.coef, ours.intercept, ours.scale)
    return (theirs - mine) / abs(mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tables", default=",".join(TABLES))
    args = parser.parse_args()
    trials = args.folds * args.repeats
    print(f"{'table':10} {'rows':>6} {'scale':6} {'unconverged':>11} {'noted':>6} "
          f"{'vs peer':>9} {'seconds':>8}")  # fmt: skip
    for name in args.tables.split(","):
        data = table(name)
        for scale in ("mad", "joint"):
            failed = noted = 0
            agreement, seconds = [], 0.0
            for trial in range(trials):
                sample = data.split(trial, args.folds, seed=0)
                start = time.perf_counter()
                ours = fit(HUBER, sample.X, sample.y, scale=scale)
                seconds += time.perf_counter() - start
                failed += not ours.converged
                noted += bool(getattr(ours, "note", ""))
                if scale == "mad":
                    theta, their_scale = rlm(sample.X, sample.y)
                    difference = np.max(np.abs(ours.theta - theta)) / np.max(np.abs(theta))
                    if ours.scale > 0:  # at 0 RLM stops on a tiny scale ("scale is 0.0")
                        difference = max(difference, abs(ours.scale / their_scale - 1))
                    agreement.append(difference)
                elif ours.scale > 0:
                    agreement.append(-peer_excess(sample.X, sample.y, ours))
            worst = max(agreement) if agreement else float("nan")
            print(f"{name:10} {len(data.y):6d} {scale:6} {f'{failed}/{trials}':>11} "
                  f"{noted:6d} {worst:9.1e} {seconds:8.2f}", flush=True)  # fmt: skip
    print(
        "vs peer: mad, max relative difference from RLM (coefficients, scale); joint, max "
        "relative excess of our objective over HuberRegressor's (negative: ours is lower)"
    )


if __name__ == "__main__":
    main()
