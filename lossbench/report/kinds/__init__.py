"""How each experiment kind's results read: its tables, plain-words verdicts and figures.

A view is a class registered under a kind's name (`register`); `view_of` finds the one for an
experiment's summary rows by their ``kind`` column. The base `View` shows the kind's headline
metric (`ExperimentKind.headline`) as a loss × dataset table, so a kind registered without a
view of its own still prints its numbers. Views read only the result tables, so `show` and
`report` render a stored run exactly as `run` printed it.
"""

from lossbench.report.kinds import (  # noqa: F401  (register)
    fit,
    influence,
    landscape,
    punishment,
    restarts,
)
from lossbench.report.kinds.base import (
    VIEWS,
    View,
    curve_table,
    figure_name,
    headline_table,
    register,
    slug,
    view_of,
)

__all__ = [
    "VIEWS",
    "View",
    "curve_table",
    "figure_name",
    "headline_table",
    "register",
    "slug",
    "view_of",
]
