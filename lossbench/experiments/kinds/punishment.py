"""``punishment``: loss and gradient at y = 1 as the predicted probability p goes to 0.

The gradient with respect to p (``gradient``) and through the sigmoid, with respect to the logit
(``logit_gradient``); BCE both as lossbench clips it and unclipped (infinite at 0). MSE stays
≤ 1 with a vanishing logit gradient; cross-entropy grows without bound and keeps pushing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from lossbench.experiments.kind import ExperimentKind, Task, TrialRow, register
from lossbench.losses import Loss
from lossbench.losses.labels import UNCLIPPED, format_label

__all__ = ["PunishmentExperiment"]


@register
class PunishmentExperiment(ExperimentKind):
    kind: Literal["punishment"] = "punishment"
    predictions: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: [0.5, 0.1, 1e-2, 1e-4, 1e-8, 0.0], min_length=1
    )
    """The predicted probabilities of the true class (y = 1) to evaluate at."""

    needs_dataset = False
    no_dataset_label = "y=1"

    def run_task(self, task: Task) -> list[TrialRow]:
        rows = []
        for loss in task.elementwise():
            for p in self.predictions:
                for label, value, grad, logit_grad in _at(loss, p):
                    rows += [
                        task.row(label, "value", value, x=p),
                        task.row(label, "gradient", grad, x=p),
                        task.row(label, "logit_gradient", logit_grad, x=p),
                    ]
        return rows

    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return "logit_gradient" in metrics


def _at(loss: Loss, p: float) -> Iterable[tuple[str, float, float, float]]:
    """(label, value, d value / d p, d value / d z) of `loss` at y = 1 and prediction p, where
    z is the logit of p; a loss on probabilities also as the formula has it, unclipped."""
    one = np.ones(1)
    link = loss.link("classification")
    u = link.from_probability(p)
    if not math.isfinite(u):  # a loss on logits at p = 0: z = −∞, d/dz taken at its limit
        _, limit = loss.value_and_gradient(one, np.array([-40.0]), reduction="sum")
        yield str(loss), math.inf, -math.inf, float(limit[0])
        return
    value, grad = loss.value_and_gradient(one, np.array([u]), reduction="sum")
    grad = float(grad[0])
    yield str(loss), value, link.per_probability(grad, p), float(link.chain(grad, u))
    if loss.prediction == "probability":  # BCE as the formula has it: -log p, unbounded
        raw, value = (-1.0 / p, -math.log(p)) if p > 0 else (-math.inf, math.inf)
        yield format_label(loss.name, {}, variant=UNCLIPPED), value, raw, raw * p * (1.0 - p)
