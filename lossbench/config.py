"""The run configuration: pydantic models of the schema in DESIGN.md.

Datasets are checked by `lossbench.datasets.expand` and losses by `lossbench.losses.get` when
an experiment runs, so their messages name the config path (``experiments[0].datasets[1]``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

__all__ = ["Config", "Experiment", "FitOptions"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FitOptions(_Strict):
    """How models are fitted: L-BFGS (default) or gradient descent."""

    method: Literal["lbfgs", "gd"] = "lbfgs"
    max_iter: PositiveInt = 1000
    tol: PositiveFloat = 1e-10
    lr: PositiveFloat | None = Field(None, description="gd's fixed step; none: line search")


class Experiment(_Strict):
    """One experiment: a kind, the datasets and losses it crosses, and kind options."""

    name: str
    kind: Literal["fit", "punishment", "influence", "landscape"] = "fit"
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    losses: list[str | dict[str, Any]]
    fit: FitOptions = Field(default_factory=FitOptions)
    trials: PositiveInt | None = Field(None, description="overrides the config's trials")
    # punishment: the predicted probabilities of the true class (y = 1) to evaluate at
    predictions: list[float] = Field(default_factory=lambda: [0.5, 0.1, 1e-2, 1e-4, 1e-8, 0.0])
    # influence: where the one moving point's residual goes, in units of the noise σ
    offsets: list[float] = Field(default_factory=lambda: [float(x) for x in range(0, 101, 5)])
    # landscape: random starts per trial, and the spread of their coefficients
    starts: PositiveInt = 40
    start_scale: PositiveFloat = 10.0


class Config(_Strict):
    """A lossbench run: experiments (and, later, timing)."""

    name: str = "default"
    seed: int = 0
    trials: PositiveInt = 50
    experiments: list[Experiment] = Field(default_factory=list)
