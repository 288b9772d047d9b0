"""The signals that end a run, and the two ways lossbench treats them: a run turns the first
into an interrupt (`stops_as_interrupts`), and a file write holds them until it is done
(`interrupts_deferred`). A run's loops call `raise_if_stopped` between units of work: an
interrupt raised where Python cannot pass it on (in a finalizer, say, which prints and drops
it) would otherwise leave the run going, deaf to every later signal."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOP_SIGNALS", "interrupts_deferred", "raise_if_stopped", "stops_as_interrupts"]

# the signals that end a run as Ctrl-C does (SIGHUP where the platform has it)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# the signal that stopped the run inside `stops_as_interrupts`, once one has
_stopped_by: list[int] = []


def raise_if_stopped() -> None:
    """Raise the run's interrupt again if a stop signal has come: called between units of work,
    where work goes on after a stop only if its interrupt was lost."""
    if _stopped_by:
        raise KeyboardInterrupt(signal.Signals(_stopped_by[0]).name)


@contextmanager
def stops_as_interrupts() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP end what runs inside alike, as a KeyboardInterrupt. Only the
    first counts: later ones are ignored until the process ends, so that a second Ctrl-C
    cannot cut short the putting away of an interrupted run (main thread; elsewhere a no-op).
    An interrupt that lands in a finalizer is dropped quietly there (not printed) and raised
    again by the next `raise_if_stopped`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stopped_by.clear()

    def interrupt(signum, frame):
        if not _stopped_by:
            _stopped_by.append(signum)
            for each in STOP_SIGNALS:  # from now on until the process ends
                signal.signal(each, signal.SIG_IGN)
            raise KeyboardInterrupt(signal.Signals(signum).name)

    def unraisable(record):
        if not (_stopped_by and isinstance(record.exc_value, KeyboardInterrupt)):
            hook(record)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = {signum: signal.signal(signum, interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        sys.unraisablehook = hook
        if not _stopped_by:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        _stopped_by.clear()  # what follows in this process is not the stopped run


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP held for the duration and delivered after it (main thread;
    elsewhere a no-op). A Python handler, not a blocked signal mask: a signal may reach any
    thread (a BLAS thread, say), but Python runs every handler in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: held.append(signum))
        for signum in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:  # now, to the handler it was meant for
            signal.raise_signal(held[0])
