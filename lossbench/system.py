"""What the machine has: memory available now, cores."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available_memory", "cores"]


def available_memory() -> int:
    """Bytes that can be allocated without swapping (Linux's MemAvailable), about."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
