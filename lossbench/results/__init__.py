"""Run directories: created without ever overwriting, written atomically, read back
(`files`, re-exported here: ``results.write_atomic``), and the inputs of a comparison read
(`inputs`)."""

from lossbench.results.files import (
    ANSWER,
    COMPARISONS,
    CONFIG,
    PYPERF,
    RUN,
    SUMMARY,
    TIMINGS,
    TRIALS,
    Run,
    create_run_dir,
    host_info,
    latest_run,
    latest_runs,
    output_file,
    read_comparisons,
    read_record,
    read_run,
    sanitize,
    write_all_atomic,
    write_atomic,
)

__all__ = [
    "ANSWER",
    "COMPARISONS",
    "CONFIG",
    "PYPERF",
    "RUN",
    "SUMMARY",
    "TIMINGS",
    "TRIALS",
    "Run",
    "create_run_dir",
    "host_info",
    "latest_run",
    "latest_runs",
    "output_file",
    "read_comparisons",
    "read_record",
    "read_run",
    "sanitize",
    "write_all_atomic",
    "write_atomic",
]
