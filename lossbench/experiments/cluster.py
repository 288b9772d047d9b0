"""Trials on a dask.distributed cluster: an existing scheduler, or a local one for a trial.

`connect("tcp://host:8786")` joins a running scheduler; `connect("local:N")` starts a
`LocalCluster` of N single-threaded worker processes on this machine. `run_on` submits each
unit of work as one future (dask's own client, not joblib's dask backend: the futures are what
progress, cancellation and retries need) and returns the rows in the units' order, so that a
run on a cluster writes the trials a serial run writes. A unit lost with its worker is run
again elsewhere (`retries`); Ctrl-C cancels what has not finished.

Each worker process imports lossbench once and loads the fused kernels from numba's cache on
its first fused call; the cache lives beside the installed package, so a worker on a machine
that never ran lossbench compiles them first (a few seconds, once per machine).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lossbench.errors import LossbenchError

__all__ = ["RETRIES", "connect", "run_on"]

RETRIES = 2  # times a unit is resubmitted when the worker running it is lost
_LOCAL = re.compile(r"^local:(\d+)$")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise LossbenchError(
            "--cluster needs dask.distributed: pip install 'lossbench[dask]'"
        ) from None
    return distributed


@contextmanager
def connect(address: str, timeout: float = 5.0) -> Iterator[Any]:
    """A dask client for `address` (``tcp://host:port`` or ``local:N``), closed on exit."""
    local = _LOCAL.match(address)
    if not local and not re.match(r"^(tcp|tls|ucx|inproc)://", address):
        raise LossbenchError(
            f"--cluster {address!r}: expected a scheduler address (tcp://host:8786) or local:N"
        )
    distributed = _distributed()
    cluster = None
    try:
        if local:
            workers = int(local.group(1))
            if not 1 <= workers <= 256:
                raise LossbenchError(f"--cluster {address}: expected 1 to 256 local workers")
            # its processes get the terminal's Ctrl-C too: their dying words are not ours
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.CRITICAL,
            )  # fmt: skip
            client = distributed.Client(cluster, timeout=timeout)
        else:
            client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        raise LossbenchError(
            f"--cluster {address}: cannot reach the scheduler ({str(error)[:150]}); start "
            "one with `dask scheduler` and workers with `dask worker <address>`"
        ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_on(
    client: Any,
    function: Callable[[Any], list],
    units: list,
    progress: Callable[[int], None] | None = None,
) -> Iterator[list]:
    """`function(unit)` for every unit on the cluster, yielded in the units' order as they
    become available (`progress(n)` as each finishes, in any order).

    Observed data (a table: the same rows in every fold) goes to the workers once, scattered
    to all of them, rather than pickled with each unit; synthetic datasets are only their
    parameters."""
    distributed = _distributed()
    shared: dict[int, Any] = {}
    bare, data = [], []
    for unit in units:
        dataset = getattr(unit, "dataset", None)
        if dataset is not None and getattr(dataset, "cross_validated", False):
            if id(dataset) not in shared:  # on every worker: a lost worker loses no data
                shared[id(dataset)] = client.scatter(dataset, broadcast=True, hash=False)
            bare.append(dataclasses.replace(unit, dataset=None))
            data.append(shared[id(dataset)])
        else:
            bare.append(unit)
            data.append(None)
    futures = client.map(_call, [function] * len(bare), bare, data, pure=False,
                         retries=RETRIES)  # fmt: skip
    position = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, list] = {}
    following = 0
    try:
        for done, future in enumerate(distributed.as_completed(futures), start=1):
            results[position[future.key]] = future.result()
            if progress is not None:
                progress(done)
            while following in results:
                yield results.pop(following)
                following += 1
    except BaseException:  # Ctrl-C, or a unit that failed: nothing left running for us
        client.cancel(futures)
        raise


def _call(function: Callable[[Any], list], unit: Any, dataset: Any) -> list:
    """`function(unit)` on a worker, its scattered dataset put back first."""
    if dataset is not None:
        unit = dataclasses.replace(unit, dataset=dataset)
    return function(unit)
