"""Run directories (`files`: created, written atomically, read back) and comparing two result
sets (`compare`). The file-handling names are re-exported here: ``results.write_atomic``."""

from lossbench.results.files import (
    ANSWER,
    COMPARISONS,
    CONFIG,
    PYPERF,
    RUN,
    STOP_SIGNALS,
    SUMMARY,
    TIMINGS,
    TRIALS,
    Run,
    create_run_dir,
    host_info,
    interrupts_deferred,
    latest_run,
    read_comparisons,
    read_record,
    read_run,
    sanitize,
    write_atomic,
)

__all__ = [
    "ANSWER", "COMPARISONS", "CONFIG", "PYPERF", "RUN", "STOP_SIGNALS", "SUMMARY", "TIMINGS",
    "TRIALS", "Run",
    "create_run_dir", "host_info", "interrupts_deferred", "latest_run", "read_comparisons",
    "read_record", "read_run", "sanitize", "write_atomic",
]  # fmt: skip
