"""The signals that end a run, and the two ways lossbench treats them: a run turns the first
into an interrupt (`stops_as_interrupts`), and a file write holds them until it is done
(`interrupts_deferred`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOP_SIGNALS", "interrupts_deferred", "stops_as_interrupts"]

# the signals that end a run as Ctrl-C does (SIGHUP where the platform has it)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def stops_as_interrupts() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP end what runs inside alike, as a KeyboardInterrupt. Only the
    first counts: later ones are ignored until the process ends, so that a second Ctrl-C
    cannot cut short the putting away of an interrupted run (main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def interrupt(signum, frame):
        if not stopping:
            stopping.append(signum)
            for each in STOP_SIGNALS:  # from now on until the process ends
                signal.signal(each, signal.SIG_IGN)
            raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        if not stopping:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


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
