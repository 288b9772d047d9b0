"""Links: how what a loss sees follows from a model's linear predictor z = X w + b.

A linear model's losses see z itself (`IDENTITY`). A binary model predicts p = sigmoid(z): a
loss on probabilities sees p (`SIGMOID`), a loss on logits sees z (`IDENTITY`). The chain
rule through the link is written once, here, and used by fitting, experiments, plots and
timing inputs alike. `Loss.link(task)` picks the link.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

__all__ = ["IDENTITY", "SIGMOID", "Link"]

# a link maps arrays, or one number as the punishment tables do
Values = TypeVar("Values", np.ndarray, float)


@dataclass(frozen=True)
class Link:
    """u = g(z): `__call__` maps z to the loss's input u, `chain` turns d loss / d u into
    d loss / d z, `from_probability` is the u that predicts P(y = 1) = p, and `per_probability`
    turns d loss / d u into d loss / d p."""

    name: str

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.name == "identity":
            return z
        return _expit()(z)

    def chain(self, grad_u: Values, u: Values) -> Values:
        # sigmoid'(z) = u (1 − u), written in u so that z need not be kept
        return grad_u if self.name == "identity" else grad_u * u * (1.0 - u)

    def from_probability(self, p: float) -> float:
        if self.name == "sigmoid":
            return p
        # the logit; at p = 1 a large finite z (sigmoid(40) rounds to 1), at p = 0 −∞
        if p <= 0.0:
            return -math.inf
        return math.log(p) - math.log1p(-p) if p < 1.0 else 40.0

    def per_probability(self, grad_u: float, p: float) -> float:
        if self.name == "sigmoid":
            return grad_u
        return grad_u / (p * (1.0 - p)) if 0.0 < p < 1.0 else 0.0  # dz/dp = 1 / (p (1 − p))


@functools.cache
def _expit():
    """scipy's sigmoid, imported on first use (a timing worker never needs scipy)."""
    from scipy.special import expit

    return expit


IDENTITY = Link("identity")
SIGMOID = Link("sigmoid")
