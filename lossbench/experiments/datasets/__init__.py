"""Dataset kinds: a registry of classes, each owning its parameters, its task and whether it
knows the truth.

A config entry names a kind and its parameters: ``{kind: student_t, df: [1, 3]}``. A parameter
given as a list is a grid: `expand` makes one dataset per combination, labelled like
``student_t(df=3)``. Every kind is a `Dataset` subclass registered with `register`; its
`sample(rng)` draws one trial's data. Synthetic kinds (`lossbench.experiments.datasets.
synthetic`) know the true coefficients and a noise-free test target (``truth = True``); a kind
that does not leaves them None, and metrics that need them are skipped with a note.
"""

# the built-in kinds register on import: synthetic first, as `lossbench list` shows them
# isort: off
from lossbench.experiments.datasets import synthetic, observed  # noqa: F401

# isort: on
from lossbench.experiments.datasets.base import (
    DATASETS,
    Choice,
    Dataset,
    Param,
    Sample,
    expand,
    register,
)

__all__ = ["DATASETS", "Choice", "Dataset", "Param", "Sample", "expand", "register"]
