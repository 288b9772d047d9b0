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

import asyncio
import dataclasses
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lossbench.errors import LossbenchError, one_line
from lossbench.signals import raise_if_stopped

__all__ = ["NO_WORKERS_S", "RETRIES", "check_address", "chosen", "connect", "run_on"]

RETRIES = 2  # times a unit is resubmitted when the worker running it is lost
NO_WORKERS_S = 60.0  # a cluster without a worker this long ends the run (a restart fits)
_POLL_S = 2.0
_LOCAL = re.compile(r"^local:(\d+)$")
_TCP = re.compile(r"^tcp://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


def chosen(given: str | None, configured: str | None) -> str | None:
    """The cluster trials run on: the one the caller names. A config's ``cluster:`` alone
    would send its data off this machine, which only the command line may do: refused."""
    if configured and given is None:
        raise LossbenchError(
            f"the config names cluster: {configured}, and a config alone never sends data off "
            f"this machine: pass --cluster {configured} to run there, or remove cluster: from "
            "the config"
        )
    return given


def check_address(address: str) -> None:
    """Refuse, in one line, an address lossbench cannot use: ``tcp://host:port`` or
    ``local:N`` only."""
    local = _LOCAL.match(address)
    if local:
        if not 1 <= int(local.group(1)) <= 256:
            raise LossbenchError(f"--cluster {address}: expected 1 to 256 local workers")
        return
    tcp = _TCP.match(address)
    if tcp and 1 <= int(tcp.group("port")) <= 65535:
        return
    scheme = address.partition("://")[0] if "://" in address else None
    if scheme == "tcp":
        why = "a scheduler address is tcp://host:port, with a port from 1 to 65535"
    elif scheme:
        why = (
            f"{scheme}:// is not supported: tcp://host:port or local:N (tls would need "
            "certificates lossbench does not set up)"
        )
    else:
        why = "expected a scheduler address (tcp://host:8786) or local:N"
    raise LossbenchError(f"--cluster {address!r}: {why}")


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
    check_address(address)
    local = _LOCAL.match(address)
    distributed = _distributed()
    if not local:
        with _quiet_dask():
            yield from _connected(distributed, address, local, timeout)
        return
    import dask

    scratch = tempfile.mkdtemp(prefix="lossbench-dask-")
    try:  # the scheduler and workers keep their files here, not in $TMPDIR's scratch space
        with dask.config.set({"temporary-directory": scratch}), _quiet_dask():
            yield from _connected(distributed, address, local, timeout, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """dask logs a lost connection as errors with tracebacks; lossbench says it in one line."""
    names = [
        "distributed",
        *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
    ]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _connected(distributed, address, local, timeout, scratch=None) -> Iterator[Any]:
    cluster = None
    try:
        if local:
            # its processes get the terminal's Ctrl-C too: their dying words are not ours
            cluster = distributed.LocalCluster(
                n_workers=int(local.group(1)),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
                local_directory=scratch,
            )
            client = distributed.Client(cluster, timeout=timeout)
        else:
            client = distributed.Client(address, timeout=timeout)
    except LossbenchError:
        raise
    except Exception as error:  # unreachable, or something else answering on that port
        if cluster is not None:
            cluster.close()
        reached = not isinstance(error, OSError | TimeoutError)
        raise LossbenchError(
            f"--cluster {address}: "
            + (
                "what answers there is not a dask scheduler"
                if reached
                else "cannot reach the scheduler"
            )
            + f" ({type(error).__name__}: {one_line(str(error))[:150]}); start one with "
            "`dask scheduler` and workers with `dask worker <address>`"
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
    futures = client.map(_call, [function] * len(bare), bare, data, pure=False, retries=RETRIES)
    position = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, list] = {}
    following = 0
    try:
        for done, future in enumerate(_completed(client, futures), start=1):
            try:
                results[position[future.key]] = future.result()
            except _lost(distributed) as error:
                raise _lost_error(error) from None
            raise_if_stopped()
            if progress is not None:
                progress(done)
            while following in results:
                yield results.pop(following)
                following += 1
    except BaseException:  # Ctrl-C, or a unit that failed: nothing left running for us
        try:
            client.cancel(futures)
        except Exception:  # the scheduler is gone: nothing runs there to cancel
            pass
        raise


def _completed(client: Any, futures: list) -> Iterator[Any]:
    """The futures as they finish; a LossbenchError once the cluster has had no worker for
    `NO_WORKERS_S` (dask itself would wait for one forever)."""
    distributed = _distributed()
    pending, alone_since = set(futures), None
    while pending:
        try:
            with client.as_current():  # wait() asks for the default client, which may differ
                done, pending = distributed.wait(
                    list(pending), timeout=_POLL_S, return_when="FIRST_COMPLETED"
                )
        except TimeoutError:
            done = set()
        except _lost(distributed) as error:
            raise _lost_error(error) from None
        pending = set(pending)
        yield from done
        if done or not pending:
            alone_since = None
            continue
        try:
            workers = client.scheduler_info().get("workers", {})
        except Exception:  # the scheduler itself is gone
            workers = {}
        if workers:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > NO_WORKERS_S:
            raise LossbenchError(
                f"the cluster has had no worker for {NO_WORKERS_S:.0f} s, with "
                f"{len(pending)} unit(s) of work left; start workers (`dask worker <address>`) "
                "and run again"
            )


def _call(function: Callable[[Any], list], unit: Any, dataset: Any) -> list:
    """`function(unit)` on a worker, its scattered dataset put back first."""
    if dataset is not None:
        unit = dataclasses.replace(unit, dataset=dataset)
    return function(unit)


def _lost(distributed) -> tuple[type[BaseException], ...]:
    """What dask raises when the scheduler or the connection to it is gone."""
    names = [
        (distributed.client, "FutureCancelledError"),
        (distributed.client, "FuturesCancelledError"),
        (distributed, "CancelledError"),
        (distributed.comm, "CommClosedError"),
    ]
    found = tuple(getattr(module, name) for module, name in names if hasattr(module, name))
    return (*found, OSError, asyncio.CancelledError)


def _lost_error(error: BaseException) -> LossbenchError:
    said = one_line(str(error))
    reason = re.search(r"reason: ([\w-]+)", said)  # not the thousands of future keys after it
    why = reason.group(1) if reason else said[:120]
    return LossbenchError(f"the cluster was lost mid-run ({type(error).__name__}: {why})")
