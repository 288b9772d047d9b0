"""Kernel timing, planned: a config's ``timing:`` section turned into benchmarks (`plan`:
unavailable peers skipped, each said once; a user's implementation checked against the loss
it computes) and sizes refused that would not fit in memory (`check_memory`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lossbench import losses, system
from lossbench.config import PyperfOptions, Timing
from lossbench.errors import LossbenchError, located
from lossbench.losses import impls, user_impls
from lossbench.timing import bench as matrix
from lossbench.timing.bench import Benchmark

__all__ = ["Plan", "check_memory", "plan"]


@dataclass
class Plan:
    benchmarks: list[Benchmark]
    options: PyperfOptions
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    measure: str = "time"  # or "instructions", counted under valgrind

    def counts(self) -> tuple[int, int, int]:
        """(processes, values, warmups), with `fast` (half the processes, two thirds of the
        values) and `rigorous` (twice the processes) applied as pyperf's options do."""
        o = self.options
        processes, values = o.processes, o.values
        if o.fast:
            processes, values = max(1, processes // 2), max(1, values * 2 // 3)
        if o.rigorous:
            processes *= 2
        return processes, values, o.warmups


def plan(timing: Timing) -> Plan:
    """The benchmarks a timing section asks for; errors name the field."""
    chosen_losses: list[losses.AnyLoss] = []
    for i, entry in enumerate(timing.losses):
        with located("timing", "losses", i):
            for loss in losses.expand(entry):
                if loss in chosen_losses:
                    raise LossbenchError(f"{loss} is listed twice")
                chosen_losses.append(loss)
    known = tuple(impls.IMPLEMENTATIONS)
    notes, chosen = [], []
    for i, impl in enumerate(timing.impls):
        if user_impls.is_user_impl(impl):
            with located("timing", "impls", i):
                _check_user_impl(user_impls.implementation(impl), chosen_losses)
            chosen.append(impl)
            continue
        if impl not in known:
            raise LossbenchError(
                f"unknown impl {impl!r}; expected one of {', '.join(known)} or a user "
                "implementation 'package.module:function'",
                where=("timing", "impls", i),
            )
        reason = user_impls.implementation(impl).unavailable()
        if reason is None:
            chosen.append(impl)
        else:
            notes.append(f"{impl}: {reason}; skipped")
    if timing.measure == "instructions":
        from lossbench.timing import valgrind

        valgrind.require()  # refused before the run: one line with the install command
    if "all" in timing.threads and timing.measure == "instructions":
        raise LossbenchError(
            "threads: all times the all-core kernels, and instructions count one core's "
            "work: use measure: time with it",
            where=("timing", "threads"),
        )
    benches = matrix.matrix(
        chosen_losses, timing.ops, chosen, timing.sizes, timing.dtypes, threads=timing.threads
    )
    return Plan(benches, timing.pyperf, notes, timing.measure)


def _check_user_impl(impl, chosen_losses: list[losses.AnyLoss]) -> None:
    """A user implementation must compute a loss the config times, and compute it right."""
    targets = [loss for loss in chosen_losses if impl.supports(loss, "value")]
    if not targets:
        raise LossbenchError(
            f"user implementation {impl.name} computes {impl.target}, which timing.losses "
            f"does not list; add {impl.target} there"
        )
    for loss in targets:
        impl.check(loss, *matrix.inputs(loss, 1000, "float64"))
        name = Benchmark(str(loss), "value", impl.name, "float64", 1000).name
        if Benchmark.parse(name).impl != impl.name:  # the op's name inside the module path
            raise LossbenchError(
                f"user implementation {impl.name}: rename its module so that "
                "no part of the path is an op (value, gradient, ...)"
            )


def check_memory(benches: list[Benchmark], available: int | None = None) -> None:
    """Refuse sizes whose arrays would not fit (one benchmark runs at a time)."""
    if not benches:
        return
    largest = max(benches, key=lambda b: b.working_set)
    need = largest.working_set
    available = system.available_memory() if available is None else available
    if need > available:
        raise LossbenchError(
            f"n={largest.n} ({largest.dtype}) needs about {need / 1e9:.1f} GB "
            f"of memory; {available / 1e9:.1f} GB are available; lower timing.sizes",
            where=("timing", "sizes"),
        )
