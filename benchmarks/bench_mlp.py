"""Time lossbench's mlp fit against a plain torch training loop on the same data, with pyperf.

    python benchmarks/bench_mlp.py --fast -o mlp.json

Both train the same network (the same initial weights, batches, optimizer, validation pass
per epoch and kept best weights) for a fixed number of epochs on 10,000 rows. The plain loop
computes its loss with torch: ``mse_loss``, ``binary_cross_entropy_with_logits``, and
log-cosh written out in torch. lossbench's fit uses torch's form of mse and bce_logits too,
and log_cosh, which torch lacks, through its autograd function (lossbench's numpy value and
gradient per batch): the third pair is what that costs. The main process prints each pair's
times and lossbench's overhead (its time over the plain loop's, − 1).
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pyperf

ROWS, FEATURES, EPOCHS = 10_000, 10, 5
CASES = {"regression": "mse", "classification": "bce_logits", "robust": "log_cosh"}


def _task(case: str) -> str:
    return "classification" if case == "classification" else "regression"


def _data(case: str):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, FEATURES))
    signal = np.sin(X[:, 0]) * 2 + X[:, 1] * X[:, 2]
    if _task(case) == "regression":
        return X, signal + rng.standard_normal(ROWS)
    return X, (signal + rng.standard_normal(ROWS) > 0).astype(np.float64)


def _options():
    from lossbench.experiments.mlp import MlpOptions

    return MlpOptions(epochs=EPOCHS, patience=EPOCHS + 1)  # every epoch runs


def lossbench_fit(case: str, X, y) -> None:
    from lossbench.experiments.mlp import fit_mlp
    from lossbench.losses import get

    fit_mlp(get(CASES[case]), X, y, _task(case), _options(), seed=0, scale="fixed")


def _log_cosh(out, target):
    import torch

    return torch.log(torch.cosh(out - target)).mean()


def plain_fit(case: str, X, y) -> None:
    """What a torch user writes: the fit's loop with torch's own loss."""
    import torch

    from lossbench.experiments.mlp import _deterministic, network

    options = _options()
    F = torch.nn.functional
    loss = {"regression": F.mse_loss, "classification": F.binary_cross_entropy_with_logits,
            "robust": _log_cosh}[case]  # fmt: skip
    if _task(case) == "regression":
        y = (y - y.mean()) / y.std()
    inputs = torch.from_numpy(np.ascontiguousarray((X - X.mean(axis=0)) / X.std(axis=0)))
    targets = torch.from_numpy(y)
    with _deterministic(torch):
        generator = torch.Generator().manual_seed(0)
        order = torch.randperm(len(y), generator=generator)
        held = round(options.validation * len(y))
        train, check = order[held:], order[:held]
        model = network(torch, X.shape[1], 1, options, generator)
        step = torch.optim.Adam(model.parameters(), lr=options.lr)
        best, state = math.inf, None
        for _ in range(options.epochs):
            shuffled = train[torch.randperm(len(train), generator=generator)]
            for start in range(0, len(shuffled), options.batch_size):
                batch = shuffled[start : start + options.batch_size]
                step.zero_grad()
                loss(model(inputs[batch])[:, 0], targets[batch]).backward()
                step.step()
            with torch.no_grad():
                validation = float(loss(model(inputs[check])[:, 0], targets[check]))
            if validation < best:
                best, state = validation, copy.deepcopy(model.state_dict())
        model.load_state_dict(state)
        with torch.no_grad():
            float(loss(model(inputs)[:, 0], targets))


@functools.cache
def _prepared(impl: str, case: str):
    """The case's data and its fit, warmed (imported, first run done): once per worker
    process, not before every value pyperf asks for."""
    X, y = _data(case)
    run = lossbench_fit if impl == "lossbench" else plain_fit
    run(case, X, y)
    return run, X, y


def _time(loops: int, impl: str, case: str) -> float:
    run, X, y = _prepared(impl, case)
    start = pyperf.perf_counter()
    for _ in range(loops):
        run(case, X, y)
    return pyperf.perf_counter() - start


def main() -> None:
    runner = pyperf.Runner(processes=12, values=3, warmups=1)
    results = {}
    for case in CASES:
        for impl in ("plain", "lossbench"):
            bench = runner.bench_time_func(f"mlp.{case}.{impl}", _time, impl, case, inner_loops=1)
            if bench is not None and not runner.args.worker:
                results[(case, impl)] = bench.median()
    for case in CASES:
        if (case, "lossbench") in results:
            plain, ours = results[(case, "plain")], results[(case, "lossbench")]
            print(f"{case} ({CASES[case]}), {ROWS:,} rows, {EPOCHS} epochs: plain torch "
                  f"{plain:.3f} s, lossbench {ours:.3f} s, "
                  f"overhead {ours / plain - 1:+.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
