"""Power and consistency of lossbench's verdicts on the default config, over several seeds.

- Huber(δ = 1.345) against MSE on the default robustness datasets (50 trials): how often each
  verdict comes out, per dataset, across seeds.
- The same with ``--quick`` (5 trials): never a decisive verdict that the full run contradicts.
- Huber(δ = 1.345) against Huber(δ = 1.3451) on every dataset of the default and the
  robust-regression configs: never decisive.

Usage: python benchmarks/verdict_power.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from lossbench import config as config_module
from lossbench import experiments

ROOT = Path(__file__).resolve().parents[1]


def verdicts(cfg: config_module.Config) -> dict[tuple[str, str], str]:
    """(dataset, loss) -> verdict against the experiment's baseline on the headline metric."""
    trials = experiments.run(cfg)
    summary = experiments.summarize(trials)
    table = experiments.comparisons(trials, summary, cfg)
    return {(r.dataset, r.loss): r.verdict for r in table.itertuples()}


def robustness(seed: int, quick: bool) -> dict[tuple[str, str], str]:
    cfg = config_module.load()
    cfg.experiments = [e for e in cfg.experiments if e.name == "robustness"]
    cfg.seed = seed
    return verdicts(config_module.quick(cfg) if quick else cfg)


def near_twins(seed: int) -> dict[tuple[str, str], str]:
    default = config_module.load()
    robust = config_module.load(ROOT / "configs" / "robust-regression.yaml")
    specs = [d for e in [*default.experiments, *robust.experiments] for d in e.datasets]
    specs = [d for d in specs if d.get("kind") != "logistic"] or specs
    cfg = config_module.validate({
        "seed": seed, "trials": 50,
        "experiments": [{
            "name": "twins", "datasets": specs,
            "losses": [{"name": "huber", "delta": 1.345}, {"name": "huber", "delta": 1.3451}],
        }],
    })  # fmt: skip
    return verdicts(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    full: dict[str, Counter] = {}
    contradictions = 0
    opposite = {"better": "worse", "worse": "better"}
    for seed in range(args.seeds):
        big, small = robustness(seed, quick=False), robustness(seed, quick=True)
        for (dataset, loss), verdict in big.items():
            if loss.startswith("huber"):
                full.setdefault(dataset, Counter())[verdict] += 1
            contradictions += small.get((dataset, loss)) == opposite.get(verdict)
    print(f"huber(delta=1.345) vs mse, default robustness, 50 trials, {args.seeds} seeds:")
    for dataset, counts in full.items():
        shown = ", ".join(f"{v} {counts[v]}" for v in ("better", "worse", "equivalent",
                                                      "inconclusive") if counts[v])  # fmt: skip
        print(f"  {dataset}: {shown}")
    print(f"--quick verdicts that contradict the full run's: {contradictions}")
    twins = Counter()
    datasets = 0
    for seed in range(args.seeds):
        found = near_twins(seed)
        datasets = len(found)
        twins.update(found.values())
    print(
        f"huber(delta=1.3451) vs huber(delta=1.345), {datasets} datasets × {args.seeds} seeds: "
        + ", ".join(f"{v} {n}" for v, n in twins.items())
    )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
