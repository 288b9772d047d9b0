"""The built-in experiment kinds, one module each; importing this package registers them."""

from lossbench.experiments.kinds import fit, influence, landscape, punishment  # noqa: F401
