"""The levels lossbench's verdicts are decided at and the verdicts themselves, named once
(this module imports only the standard library, so the command line can show them in its
help without loading the statistics)."""

from enum import StrEnum


class Verdict(StrEnum):
    """A loss against its baseline (``comparisons.csv``'s ``verdict``)."""

    better = "better"
    worse = "worse"
    equivalent = "equivalent"
    inconclusive = "inconclusive"


class TimingVerdict(StrEnum):
    """A benchmark from one run to another (``lossbench compare``)."""

    slower = "slower"
    faster = "faster"
    same = "same"
    inconclusive = "inconclusive"
    missing = "missing"


FAMILYWISE_ALPHA = 0.05  # per experiment, over its comparisons (Bonferroni)
TIMING_ALPHA = 0.02  # per benchmark, two-sided: the deciding interval is at 98%
TIMING_THRESHOLD = 0.10  # compare's default: a slowdown that matters is beyond 1.10
UNSTABLE_CV = 0.05  # between-process variation above which a timing is not trusted alone
ROOFLINE_LIMIT = 1.05  # a kernel this much faster than its memory floor was not measured right
