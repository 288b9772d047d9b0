"""The statistics behind every interval, verdict and comparison lossbench prints: pure
functions over numbers and tables, importing nothing else of lossbench.

`statistics` (intervals, paired tests, Bonferroni, verdicts), `aggregate` (``summary.csv`` and
``comparisons.csv`` from trials), `frames` (group keys and baseline pairing), `timings`
(compare's process-level statistics and verdict rules for two timing runs).
"""
