"""The levels lossbench's verdicts are decided at, named once (this module imports nothing, so
the command line can show them in its help without loading the statistics)."""

FAMILYWISE_ALPHA = 0.05  # per experiment, over its comparisons (Bonferroni)
TIMING_ALPHA = 0.02  # per benchmark, two-sided: the deciding interval is at 98%
TIMING_THRESHOLD = 0.10  # compare's default: a slowdown that matters is beyond 1.10
UNSTABLE_CV = 0.05  # between-process variation above which a timing is not trusted alone
ROOFLINE_LIMIT = 1.05  # a kernel this much faster than its memory floor was not measured right
