"""Time lossbench's mlp fit against a plain torch training loop on the same data, with pyperf.

    python benchmarks/bench_mlp.py --fast -o mlp.json

Both train the same network (the same initial weights, batches, optimizer, validation pass
per epoch and kept best weights) for a fixed number of epochs on 10,000 rows; the plain
loop computes its loss with torch (``mse_loss``, ``binary_cross_entropy_with_logits``),
lossbench's fit with lossbench's loss through its autograd function. The main process
prints each pair's times and lossbench's overhead (its time over the plain loop's, − 1).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pyperf

ROWS, FEATURES, EPOCHS = 10_000, 10, 5
CASES = {"regression": "mse", "classification": "bce_logits"}


def _data(task: str):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, FEATURES))
    signal = np.sin(X[:, 0]) * 2 + X[:, 1] * X[:, 2]
    if task == "regression":
        return X, signal + rng.standard_normal(ROWS)
    return X, (signal + rng.standard_normal(ROWS) > 0).astype(np.float64)


def _options():
    from lossbench.experiments.mlp import MlpOptions

    return MlpOptions(epochs=EPOCHS, patience=EPOCHS + 1)  # every epoch runs


def lossbench_fit(task: str, X, y) -> None:
    from lossbench.experiments.mlp import fit_mlp
    from lossbench.losses import get

    fit_mlp(get(CASES[task]), X, y, task, _options(), seed=0)


def plain_fit(task: str, X, y) -> None:
    """What a torch user writes: the fit's loop with torch's own loss."""
    import torch

    from lossbench.experiments.mlp import _deterministic, network

    options = _options()
    F = torch.nn.functional
    loss = F.mse_loss if task == "regression" else F.binary_cross_entropy_with_logits
    if task == "regression":
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


def _time(loops: int, impl: str, task: str) -> float:
    X, y = _data(task)
    run = lossbench_fit if impl == "lossbench" else plain_fit
    run(task, X, y)  # imported and warmed before the clock starts
    start = pyperf.perf_counter()
    for _ in range(loops):
        run(task, X, y)
    return pyperf.perf_counter() - start


def main() -> None:
    runner = pyperf.Runner(processes=8, values=5, warmups=1)
    results = {}
    for task in CASES:
        for impl in ("plain", "lossbench"):
            bench = runner.bench_time_func(f"mlp.{task}.{impl}", _time, impl, task, inner_loops=1)
            if bench is not None and not runner.args.worker:
                results[(task, impl)] = bench.median()
    for task in CASES:
        if (task, "lossbench") in results:
            plain, ours = results[(task, "plain")], results[(task, "lossbench")]
            print(f"{task} ({CASES[task]}), {ROWS:,} rows, {EPOCHS} epochs: plain torch "
                  f"{plain:.3f} s, lossbench {ours:.3f} s, overhead {ours / plain - 1:+.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
