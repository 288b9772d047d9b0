"""One timing worker process: every benchmark of a spec, timed once each as one pyperf run.

``python -m lossbench.timing.worker SPEC`` reads the benchmarks from the JSON file SPEC (written
by `lossbench.timing.driver.run`) and prints one JSON line per benchmark as it finishes: its name,
inner loops, warm-up values and timed values, in seconds per call. The driver starts several of
these processes, one after the other, and turns their lines into a pyperf suite.

It imports only numpy and `lossbench.timing.bench` (numba only for what a benchmark runs), and
times each benchmark in turn, so one process pays for its imports once, not once per benchmark.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from lossbench.losses.user import searched
from lossbench.timing.bench import Benchmark, forget, prepare, time_loops

# Seconds of timed values per benchmark and process: a slower call gets fewer values (at least
# one). The process is the statistical unit (its values share its memory layout), so values
# beyond the first mainly cost time.
BUDGET = 0.5


def measure(bench: Benchmark, inner: int, values: int, warmups: int) -> dict:
    """One run of `bench`: at least one untimed warm-up value, then up to `values` timed ones,
    each of `inner` calls; returned in seconds per call.

    The warm-up is needed even with the kernel loaded (`prepare`): a process's first use of
    fresh memory pays for page faults, which made first calls here 1.3 to 8 times slower than
    the next (numpy's huber value at n = 1e7: 1.25 s, then 0.15 s)."""
    prepare(bench)

    def value() -> float:
        return time_loops(1, bench, inner) / inner

    spent = [value() for _ in range(max(1, warmups))]
    timed = [value()]
    wanted = min(values, max(1, int(BUDGET // (timed[0] * inner))))
    timed += [value() for _ in range(wanted - 1)]
    forget(bench)
    return {"name": bench.name, "inner": inner, "warmups": spent, "values": timed}


def instructions(bench: Benchmark, inner: int, values: int) -> dict:
    """One run of `bench` under callgrind: a warm-up call, then `values` counts of `inner`
    calls each, dumped by callgrind under the benchmark's name and a value number (the
    driver reads the instructions from the dumps; a loop of empty calls is dumped as
    ``loop`` once per process, its cost per call to subtract)."""
    from lossbench.timing import valgrind

    run = prepare(bench)
    run()  # page faults and first-call paths, not counted
    for index in range(values):
        valgrind.count(run, inner, f"{bench.name}#{index}")
    forget(bench)
    return {"name": bench.name, "inner": inner, "warmups": [], "values": [], "counted": values}


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    counting = spec.get("measure") == "instructions"
    if counting:
        from lossbench.timing import valgrind

        valgrind.count(lambda: None, 0, "fixed")  # what a count costs besides its calls
        valgrind.count(lambda: None, 1000, "loop#1000")  # and the loop's own cost per call
    with searched(spec.get("search", ())):  # user code from the config's directory
        for item in spec["benchmarks"]:
            bench = Benchmark(**item["benchmark"])
            # one BLAS thread for a one-core benchmark: a kernel calling BLAS (a user's
            # `r @ r`) gets the one core the others get, not as many as the machine lends it
            with threadpool_limits(None if bench.all_cores else 1):
                if counting:
                    record = instructions(bench, item["inner"], spec["values"])
                else:
                    record = measure(bench, item["inner"], spec["values"], spec["warmups"])
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
